//! The fixture accounts' RSA-4096 keys (`proto-core/tests/fixtures`): tests
//! never generate RSA keys.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use gochat_proto::Username;
use gochat_proto::crypto::{self, RsaPrivateKey};

/// The users with fixture keys.
pub const FIXTURE_USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// Each fixture user's PKCS#8 PEM private key and PEM public key.
const FIXTURES: [(&str, &str, &str); 4] = [
    (
        "alice",
        include_str!("../../proto-core/tests/fixtures/alice.priv.pem"),
        include_str!("../../proto-core/tests/fixtures/alice.pub.pem"),
    ),
    (
        "bob",
        include_str!("../../proto-core/tests/fixtures/bob.priv.pem"),
        include_str!("../../proto-core/tests/fixtures/bob.pub.pem"),
    ),
    (
        "carol",
        include_str!("../../proto-core/tests/fixtures/carol.priv.pem"),
        include_str!("../../proto-core/tests/fixtures/carol.pub.pem"),
    ),
    (
        "dave",
        include_str!("../../proto-core/tests/fixtures/dave.priv.pem"),
        include_str!("../../proto-core/tests/fixtures/dave.pub.pem"),
    ),
];

fn fixture(name: &str) -> (&'static str, &'static str) {
    FIXTURES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, private, public)| (*private, *public))
        .unwrap_or_else(|| panic!("no fixture key for {name}"))
}

/// The PKCS#8 PEM private key of fixture user `name`.
pub fn private_pem(name: &str) -> &'static str {
    fixture(name).0
}

/// The PEM public key of fixture user `name`.
pub fn public_pem_text(name: &str) -> &'static str {
    fixture(name).1
}

/// The PEM public key of fixture user `name`, as REG carries it.
pub fn public_pem(name: &str) -> Bytes {
    Bytes::from_static(public_pem_text(name).as_bytes())
}

/// The private key of fixture user `name`, parsed once per process.
pub fn private_key(name: &str) -> RsaPrivateKey {
    static CACHE: OnceLock<Mutex<HashMap<String, RsaPrivateKey>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .entry(name.to_string())
        .or_insert_with(|| {
            crypto::private_key_from_pem(private_pem(name).as_bytes()).expect("fixture key")
        })
        .clone()
}

/// `name` as a username (it must be valid).
pub fn user(name: &str) -> Username {
    Username::parse(name.as_bytes()).expect("a valid username")
}

/// A 4096-bit public key with a pseudo-random modulus from `seed`: valid for
/// REG, free to make, and no one holds its private key.
pub fn random_public_pem(seed: u64) -> Bytes {
    use rsa::BoxedUint;
    let mut bytes = vec![0u8; 512];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for b in bytes.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    bytes[0] |= 0x80;
    bytes[511] |= 1;
    let n = BoxedUint::from_be_slice(&bytes, 4096).expect("modulus");
    let e = BoxedUint::from(65537u32);
    let key = crypto::RsaPublicKey::new(n, e).expect("public key");
    Bytes::from(crypto::public_key_to_pem(&key).expect("PEM"))
}
