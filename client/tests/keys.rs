//! Password hashing and private-key sealing, checked against blobs and hashes
//! made by independent implementations of the original's formats.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gochat_client::ClientError;
use gochat_client::keys::{
    MIN_SEALED_LEN, NONCE_LEN, SALT_LEN, TAG_LEN, hash_password, open_private_key,
    seal_private_key, verify_password,
};
use gochat_testkit::private_pem;

/// A `$2a$12$` hash of "correct horse", made with Python's `bcrypt` module
/// (`hashpw(pw, gensalt(12, prefix=b"2a"))`), as Go's bcrypt writes them.
const GO_STYLE_HASH: &str = "$2a$12$ujBR0neQ7D30WlVx58WrN.YJB/4LqhXrvGBi.Y9Q0v94VgLcaInDa";

/// A blob in the original's layout, made with Python's `hashlib.scrypt`
/// (n=32768, r=8, p=1, dklen=32) and `cryptography`'s AESGCM, with salt
/// 00..1f, nonce 64..6f and password "correct horse" (what Go's
/// `db.EncryptData` does, with fixed randomness).
const INDEPENDENT_BLOB: &str = "6465666768696a6b6c6d6e6fedd27c14f398bd66f9ebac671c99bf9c9b8ffc8d27a402e85ad29b61cfbf4ebeb9ece9aa9a0eadf31411902ec5215b50f9178d20c6e0dbe49e49dbf1362b8f0aa2ca0d90e6c2bf4d14dc85dd02ecddbf16ba07abdad549fb227eb0aa430ebba61f85b121a0a42e000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const INDEPENDENT_PLAINTEXT: &str =
    "-----BEGIN RSA PRIVATE KEY-----\nZ29jaGF0IHRlc3QgdmVjdG9y\n-----END RSA PRIVATE KEY-----\n";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn bcrypt_hashes() {
    let hash = hash_password("s3cret").unwrap();
    assert!(hash.starts_with("$2b$12$"), "{hash}");
    assert!(verify_password("s3cret", &hash));
    assert!(!verify_password("s3cret!", &hash));
    assert!(!verify_password("s3cret", "not a hash"));
    assert!(matches!(
        hash_password(&"x".repeat(73)),
        Err(ClientError::Invalid(_))
    ));
}

#[test]
fn original_2a_hash_verifies() {
    assert!(verify_password("correct horse", GO_STYLE_HASH));
    assert!(!verify_password("correct horsf", GO_STYLE_HASH));
}

#[test]
fn opens_a_blob_sealed_by_another_implementation() {
    let blob = unhex(INDEPENDENT_BLOB);
    assert_eq!(
        open_private_key(&blob, "correct horse").unwrap(),
        INDEPENDENT_PLAINTEXT
    );
    assert!(matches!(
        open_private_key(&blob, "wrong"),
        Err(ClientError::WrongPassword)
    ));
}

#[test]
fn seal_open_round_trip_and_refusals() {
    let blob = seal_private_key(private_pem("alice"), "pässword").unwrap();
    assert_eq!(
        blob.len(),
        NONCE_LEN + private_pem("alice").len() + TAG_LEN + SALT_LEN
    );
    assert!(
        !blob
            .windows(32)
            .any(|w| private_pem("alice").as_bytes().windows(32).any(|p| p == w)),
        "the blob holds cleartext"
    );
    assert_eq!(
        open_private_key(&blob, "pässword").unwrap(),
        private_pem("alice")
    );

    // Fresh salt and nonce every time.
    let again = seal_private_key(private_pem("alice"), "pässword").unwrap();
    assert_ne!(blob[..NONCE_LEN], again[..NONCE_LEN]);
    assert_ne!(
        blob[blob.len() - SALT_LEN..],
        again[again.len() - SALT_LEN..]
    );

    assert!(matches!(
        open_private_key(&blob, "password"),
        Err(ClientError::WrongPassword)
    ));

    // Any flipped bit (nonce, ciphertext, tag or salt) is refused.
    for at in [0, NONCE_LEN + 5, blob.len() - SALT_LEN - 1, blob.len() - 1] {
        let mut tampered = blob.clone();
        tampered[at] ^= 0x01;
        assert!(
            matches!(
                open_private_key(&tampered, "pässword"),
                Err(ClientError::WrongPassword)
            ),
            "byte {at}"
        );
    }

    // Too short to hold nonce, tag and salt: a readable error, not a panic.
    for len in [0, 1, MIN_SEALED_LEN - 1] {
        match open_private_key(&blob[..len], "pässword") {
            Err(ClientError::Crypto(msg)) => assert!(msg.contains("damaged"), "{msg}"),
            other => panic!("{len}: {other:?}"),
        }
    }
}

#[test]
fn empty_password_works_too() {
    let blob = seal_private_key("abc", "").unwrap();
    assert_eq!(open_private_key(&blob, "").unwrap(), "abc");
}
