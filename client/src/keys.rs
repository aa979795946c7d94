//! Passwords and private keys at rest, compatible with the original Go client
//! (docs/PROTOCOL.md §11.1).
//!
//! - Passwords are kept as bcrypt hashes of cost 12 ([`hash_password`]); the
//!   original's `$2a$` hashes verify as well as the `$2b$` ones written here.
//! - Private keys are kept as PKCS#1 PEM text sealed with the same password
//!   ([`seal_private_key`]): scrypt (N = 32768, r = 8, p = 1) turns the password
//!   and a random 32-byte salt into an AES-256 key, and AES-256-GCM with a random
//!   12-byte nonce and no associated data encrypts the PEM. The blob is
//!   `nonce(12) | ciphertext+tag | salt(32)`, byte for byte the original's layout,
//!   so keys sealed by either client open in the other.
//!
//! - Conversation history is sealed at rest with a [`HistoryKey`] derived
//!   (HKDF-SHA256) from the same scrypt output that opens the private key, so
//!   unlocking an account costs one scrypt for both. Each message is
//!   AES-256-GCM with a random nonce, bound to its conversation, direction and
//!   stamp as associated data ([`seal_text`], [`open_text`]).
//!
//! Key generation ([`generate_key`]) and sealing are slow on purpose (RSA-4096,
//! scrypt): call them off the UI and network threads.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use gochat_proto::crypto::{self, RsaPrivateKey};

use crate::types::ClientError;

/// bcrypt cost of new password hashes (the original's).
pub const BCRYPT_COST: u32 = 12;
/// Longest password bcrypt takes whole; longer ones are refused, as Go's
/// bcrypt refuses them.
pub const MAX_PASSWORD_LEN: usize = 72;
/// scrypt cost: N = 2^15 = 32768.
pub const SCRYPT_LOG_N: u8 = 15;
/// scrypt block size r.
pub const SCRYPT_R: u32 = 8;
/// scrypt parallelism p.
pub const SCRYPT_P: u32 = 1;
/// Length of the scrypt salt at the end of a sealed blob.
pub const SALT_LEN: usize = 32;
/// Length of the AES-GCM nonce at the start of a sealed blob.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM tag ending the ciphertext.
pub const TAG_LEN: usize = 16;
/// Shortest possible sealed blob (an empty plaintext).
pub const MIN_SEALED_LEN: usize = NONCE_LEN + TAG_LEN + SALT_LEN;
/// First byte of a sealed history text: the layout version.
pub const SEALED_TEXT_VERSION: u8 = 1;
/// HKDF `info` of the history key.
const HISTORY_KEY_INFO: &[u8] = b"gochat-client history key v1";

/// The key an account's history is sealed with. Wiped when dropped; its
/// `Debug` shows nothing of it.
#[derive(Clone)]
pub struct HistoryKey([u8; 32]);

impl HistoryKey {
    /// Derives the history key from the account's scrypt output.
    fn derive(scrypt_key: &[u8; 32]) -> HistoryKey {
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 8160: cannot fail.
        let _ =
            hkdf::Hkdf::<sha2::Sha256>::new(None, scrypt_key).expand(HISTORY_KEY_INFO, &mut key);
        HistoryKey(key)
    }
}

impl Drop for HistoryKey {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl std::fmt::Debug for HistoryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HistoryKey(..)")
    }
}

/// Seals a history text with `key`, bound to `aad` (what identifies the
/// message: conversation, direction, stamp): `version(1) | nonce(12) |
/// ciphertext+tag`, with a fresh random nonce.
pub fn seal_text(key: &HistoryKey, aad: &[u8], text: &str) -> Result<Vec<u8>, ClientError> {
    let mut nonce = [0u8; NONCE_LEN];
    random(&mut nonce)?;
    let cipher =
        Aes256Gcm::new_from_slice(&key.0).map_err(|e| ClientError::Crypto(e.to_string()))?;
    let payload = aes_gcm::aead::Payload {
        msg: text.as_bytes(),
        aad,
    };
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), payload)
        .map_err(|_| ClientError::Crypto("encryption failed".to_owned()))?;
    let mut blob = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
    blob.push(SEALED_TEXT_VERSION);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&sealed);
    Ok(blob)
}

/// Opens a text sealed by [`seal_text`] with the same `key` and `aad`; a
/// readable error when the key or the associated data differ, or the blob
/// is damaged.
pub fn open_text(key: &HistoryKey, aad: &[u8], blob: &[u8]) -> Result<String, ClientError> {
    let damaged = || {
        ClientError::Crypto("a stored message cannot be opened with this account's key".to_owned())
    };
    let (&version, rest) = blob.split_first().ok_or_else(damaged)?;
    if version != SEALED_TEXT_VERSION || rest.len() < NONCE_LEN + TAG_LEN {
        return Err(damaged());
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_from(nonce).map_err(|_| damaged())?;
    let cipher =
        Aes256Gcm::new_from_slice(&key.0).map_err(|e| ClientError::Crypto(e.to_string()))?;
    let plain = cipher
        .decrypt(
            &nonce,
            aes_gcm::aead::Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| damaged())?;
    String::from_utf8(plain).map_err(|_| damaged())
}

/// Hashes `password` with bcrypt, cost [`BCRYPT_COST`] (`$2b$12$…`).
///
/// Refuses passwords longer than [`MAX_PASSWORD_LEN`] bytes instead of
/// silently ignoring their tail.
pub fn hash_password(password: &str) -> Result<String, ClientError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(ClientError::Invalid(format!(
            "the password is longer than {MAX_PASSWORD_LEN} bytes"
        )));
    }
    bcrypt::hash(password, BCRYPT_COST).map_err(|e| ClientError::Crypto(e.to_string()))
}

/// Whether `password` matches the bcrypt `hash` (`$2a$`, `$2b$`, `$2y$`).
/// A malformed hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

/// Seals a private key PEM with `password` into the original's blob layout:
/// `nonce(12) | ciphertext+tag | salt(32)`, with a fresh random salt and nonce.
pub fn seal_private_key(pem: &str, password: &str) -> Result<Vec<u8>, ClientError> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    random(&mut salt)?;
    random(&mut nonce)?;
    seal_with(pem.as_bytes(), password, &salt, &nonce)
}

/// Opens a blob made by [`seal_private_key`] (or by the original client) and
/// returns the PEM text.
///
/// A wrong password (or a damaged blob: the two cannot be told apart) gives
/// [`ClientError::WrongPassword`]; a blob too short to hold a nonce, a tag and
/// a salt gives a readable [`ClientError::Crypto`].
pub fn open_private_key(blob: &[u8], password: &str) -> Result<String, ClientError> {
    open_account_secrets(blob, password).map(|(pem, _)| pem)
}

/// As [`open_private_key`], also deriving the account's [`HistoryKey`] from
/// the same scrypt output (one scrypt for both).
pub fn open_account_secrets(
    blob: &[u8],
    password: &str,
) -> Result<(String, HistoryKey), ClientError> {
    if blob.len() < MIN_SEALED_LEN {
        return Err(ClientError::Crypto(format!(
            "the stored private key is damaged: {} bytes, at least {MIN_SEALED_LEN} expected",
            blob.len()
        )));
    }
    let (body, salt) = blob.split_at(blob.len() - SALT_LEN);
    let (nonce, ciphertext) = body.split_at(NONCE_LEN);
    let mut key = derive_key(password, salt)?;
    let opened = Aes256Gcm::new_from_slice(&key)
        .map_err(|e| ClientError::Crypto(e.to_string()))
        .and_then(|cipher| {
            let nonce = Nonce::try_from(nonce)
                .map_err(|_| ClientError::Crypto("bad nonce length".to_owned()))?;
            cipher
                .decrypt(&nonce, ciphertext)
                .map_err(|_| ClientError::WrongPassword)
        });
    let history = HistoryKey::derive(&key);
    wipe(&mut key);
    let pem = String::from_utf8(opened?).map_err(|e| {
        let mut bytes = e.into_bytes();
        wipe(&mut bytes);
        ClientError::Crypto("the stored private key is not text".to_owned())
    })?;
    Ok((pem, history))
}

/// Generates an RSA-4096 key pair with the system's CSPRNG and returns the key,
/// its PKCS#1 PEM (`RSA PRIVATE KEY`) and its public PEM in the wire form
/// (`RSA PUBLIC KEY` around SPKI DER). Slow (seconds): run it on a blocking
/// thread.
pub fn generate_key() -> Result<(RsaPrivateKey, String, String), ClientError> {
    let key = crypto::generate_private_key(&mut getrandom::SysRng, crypto::KEY_BITS)
        .map_err(|e| ClientError::Crypto(e.to_string()))?;
    let private_pem =
        crypto::private_key_to_pem(&key).map_err(|e| ClientError::Crypto(e.to_string()))?;
    let public_pem = crypto::public_key_to_pem(&key.to_public_key())
        .map_err(|e| ClientError::Crypto(e.to_string()))?;
    Ok((key, private_pem, public_pem))
}

/// Sealing with a given salt and nonce (the deterministic core of
/// [`seal_private_key`]).
fn seal_with(
    plaintext: &[u8],
    password: &str,
    salt: &[u8; SALT_LEN],
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>, ClientError> {
    let mut key = derive_key(password, salt)?;
    let sealed = Aes256Gcm::new_from_slice(&key)
        .map_err(|e| ClientError::Crypto(e.to_string()))
        .and_then(|cipher| {
            cipher
                .encrypt(&Nonce::from(*nonce), plaintext)
                .map_err(|_| ClientError::Crypto("encryption failed".to_owned()))
        });
    wipe(&mut key);
    let ciphertext = sealed?;
    let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len() + SALT_LEN);
    blob.extend_from_slice(nonce);
    blob.extend_from_slice(&ciphertext);
    blob.extend_from_slice(salt);
    Ok(blob)
}

/// scrypt(password, salt, N=32768, r=8, p=1) -> 32 bytes.
fn derive_key(password: &str, salt: &[u8]) -> Result<[u8; 32], ClientError> {
    let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)
        .map_err(|e| ClientError::Crypto(e.to_string()))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), salt, &params, &mut key)
        .map_err(|e| ClientError::Crypto(e.to_string()))?;
    Ok(key)
}

fn random(buf: &mut [u8]) -> Result<(), ClientError> {
    getrandom::fill(buf).map_err(|e| ClientError::Crypto(format!("random number generator: {e}")))
}

/// Best-effort overwrite of secret bytes before they are freed.
fn wipe(bytes: &mut [u8]) {
    for b in bytes.iter_mut() {
        *b = 0;
    }
    std::hint::black_box(bytes);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn layout_is_nonce_ciphertext_salt() {
        let salt = [7u8; SALT_LEN];
        let nonce = [9u8; NONCE_LEN];
        let blob = seal_with(b"abc", "pw", &salt, &nonce).unwrap();
        assert_eq!(blob.len(), NONCE_LEN + 3 + TAG_LEN + SALT_LEN);
        assert_eq!(&blob[..NONCE_LEN], &nonce);
        assert_eq!(&blob[blob.len() - SALT_LEN..], &salt);
        assert_eq!(open_private_key(&blob, "pw").unwrap(), "abc");
    }

    #[test]
    fn the_history_key_comes_with_the_private_key_and_seals_texts() {
        let salt = [7u8; SALT_LEN];
        let nonce = [9u8; NONCE_LEN];
        let blob = seal_with(b"pem", "pw", &salt, &nonce).unwrap();
        let (pem, key) = open_account_secrets(&blob, "pw").unwrap();
        assert_eq!(pem, "pem");
        // The same account opens to the same key; another salt, another key.
        let (_, again) = open_account_secrets(&blob, "pw").unwrap();
        assert_eq!(key.0, again.0);
        let other = seal_with(b"pem", "pw", &[8u8; SALT_LEN], &nonce).unwrap();
        let (_, other) = open_account_secrets(&other, "pw").unwrap();
        assert_ne!(key.0, other.0);
        assert!(matches!(
            open_account_secrets(&blob, "wrong"),
            Err(ClientError::WrongPassword)
        ));

        let sealed = seal_text(&key, b"conversation", "hello \u{1F600}").unwrap();
        assert_eq!(sealed[0], SEALED_TEXT_VERSION);
        assert!(!sealed.windows(5).any(|w| w == b"hello"));
        assert_eq!(
            open_text(&again, b"conversation", &sealed).unwrap(),
            "hello \u{1F600}"
        );
        // Another key, other associated data, a flipped bit, a truncation: refused.
        assert!(open_text(&other, b"conversation", &sealed).is_err());
        assert!(open_text(&key, b"other", &sealed).is_err());
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(open_text(&key, b"conversation", &flipped).is_err());
        for cut in 0..sealed.len() {
            assert!(open_text(&key, b"conversation", &sealed[..cut]).is_err());
        }
        // Two seals of one text differ (fresh nonce).
        assert_ne!(
            seal_text(&key, b"c", "x").unwrap(),
            seal_text(&key, b"c", "x").unwrap()
        );
        assert_eq!(format!("{key:?}"), "HistoryKey(..)");
    }
}
