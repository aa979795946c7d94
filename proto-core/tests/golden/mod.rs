//! The golden vector files and the fixture keys, for every test that reads
//! them (`vectors/README.md` describes each file). Included with
//! `mod golden;`.
#![allow(dead_code)]

/// `vectors/packets.json`: whole packets of both directions.
pub const PACKETS: &str = include_str!("../vectors/packets.json");
/// `vectors/encode_rejects.json`: what the encoder refuses.
pub const ENCODE_REJECTS: &str = include_str!("../vectors/encode_rejects.json");
/// `vectors/headers.json`: header words and what they read as.
pub const HEADERS: &str = include_str!("../vectors/headers.json");
/// `vectors/stamps.json`: stamps and their encodings.
pub const STAMPS: &str = include_str!("../vectors/stamps.json");
/// `vectors/crypto.json`: the crypto vectors.
pub const CRYPTO: &str = include_str!("../vectors/crypto.json");

/// Alice's private key (PEM).
pub const ALICE_PRIV: &str = include_str!("../fixtures/alice.priv.pem");
/// Alice's public key (PEM).
pub const ALICE_PUB: &str = include_str!("../fixtures/alice.pub.pem");
/// Bob's private key (PEM).
pub const BOB_PRIV: &str = include_str!("../fixtures/bob.priv.pem");
/// Bob's public key (PEM).
pub const BOB_PUB: &str = include_str!("../fixtures/bob.pub.pem");
