//! RSA keys, their PEM forms, OAEP-SHA-256 encryption and login challenges
//! (docs/PROTOCOL.md §5.3 to §5.5).
//!
//! Nothing here draws randomness of its own: every operation that needs it
//! takes a caller's CSPRNG.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::TryCryptoRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub use rsa::{PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};

/// Key size the protocol uses.
pub const KEY_BITS: usize = 4096;
/// Longest plaintext one RSA-4096 OAEP-SHA-256 block holds.
pub const MAX_PLAINTEXT: usize = 446;
/// Size of an RSA-4096 ciphertext.
pub const CIPHERTEXT_LEN: usize = 512;
/// PEM label of public keys on the wire (the body is SPKI DER all the same).
pub const PUBLIC_KEY_LABEL: &str = "RSA PUBLIC KEY";
/// PEM label of stored private keys (PKCS#1).
pub const PRIVATE_KEY_LABEL: &str = "RSA PRIVATE KEY";
/// Length of a login challenge.
pub const CHALLENGE_LEN: usize = 128;
/// The characters a challenge is drawn from.
pub const CHALLENGE_ALPHABET: &[u8; 61] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%&*+-?!";
/// How many times [`encrypt_without_crlf`] re-encrypts before giving up.
pub const MAX_CRLF_RETRIES: usize = 64;

/// A failed key or crypto operation.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// No PEM block found, or its base64 body is broken.
    #[error("not a PEM block: {0}")]
    Pem(&'static str),
    /// The PEM body is not a key of the expected form.
    #[error("not an RSA key: {0}")]
    Key(String),
    /// A plaintext longer than one OAEP block holds.
    #[error("text of {len} bytes is too long for one RSA block (at most {max})")]
    TooLong {
        /// Plaintext length.
        len: usize,
        /// Largest length the key takes.
        max: usize,
    },
    /// Encryption or decryption failed (wrong key, damaged ciphertext).
    #[error("RSA operation failed: {0}")]
    Rsa(String),
    /// The random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// Every re-encryption contained CRLF (practically impossible).
    #[error("could not produce a ciphertext without CRLF")]
    CrlfRetries,
}

/// Wraps DER into a PEM block with 64-character lines and LF endings, as Go's
/// `pem.EncodeToMemory` writes it.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII.
        out.extend(chunk.iter().map(|&b| char::from(b)));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Reads the first PEM block in `text`: its label and DER body. The label is
/// returned, not checked, as the original ignores it.
///
/// The nom parser [`grammar::pem_block`](crate::grammar::pem_block) finds
/// the block; its body, whitespace removed, is decoded as base64.
pub fn pem_decode(text: &[u8]) -> Result<(String, Vec<u8>), CryptoError> {
    let (_, crate::grammar::PemBlock { label, body }) = crate::grammar::pem_block(text)
        // Every failure of `pem_block` names its reason.
        .map_err(|e| CryptoError::Pem(crate::grammar::Reject::reason_or(e, "no BEGIN line")))?;
    let body: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = STANDARD
        .decode(&body)
        .map_err(|_| CryptoError::Pem("bad base64 body"))?;
    Ok((String::from_utf8_lossy(label).into_owned(), der))
}

/// The wire form of a public key: SPKI DER in a PEM block labelled
/// `RSA PUBLIC KEY`.
pub fn public_key_to_pem(key: &RsaPublicKey) -> Result<String, CryptoError> {
    let der = key
        .to_public_key_der()
        .map_err(|e| CryptoError::Key(e.to_string()))?;
    Ok(pem_encode(PUBLIC_KEY_LABEL, der.as_bytes()))
}

/// Reads a public key as the original does: any PEM label, SPKI DER body.
pub fn public_key_from_pem(pem: &[u8]) -> Result<RsaPublicKey, CryptoError> {
    let (_, der) = pem_decode(pem)?;
    RsaPublicKey::from_public_key_der(&der).map_err(|e| CryptoError::Key(e.to_string()))
}

/// The stored form of a private key: PKCS#1 PEM (`RSA PRIVATE KEY`).
pub fn private_key_to_pem(key: &RsaPrivateKey) -> Result<String, CryptoError> {
    let der = key
        .to_pkcs1_der()
        .map_err(|e| CryptoError::Key(e.to_string()))?;
    Ok(pem_encode(PRIVATE_KEY_LABEL, der.as_bytes()))
}

/// Reads a PKCS#1 PEM private key.
pub fn private_key_from_pem(pem: &[u8]) -> Result<RsaPrivateKey, CryptoError> {
    let (_, der) = pem_decode(pem)?;
    RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| CryptoError::Key(e.to_string()))
}

/// Generates a key pair of `bits` bits (the protocol uses [`KEY_BITS`]).
/// Slow: several seconds for 4096 bits.
pub fn generate_private_key<R: TryCryptoRng + ?Sized>(
    rng: &mut R,
    bits: usize,
) -> Result<RsaPrivateKey, CryptoError> {
    RsaPrivateKey::new(rng, bits).map_err(|e| CryptoError::Key(e.to_string()))
}

/// Size in bits of a public key's modulus.
pub fn key_bits(key: &RsaPublicKey) -> usize {
    key.n().bit_width() as usize
}

/// Longest plaintext `key` can encrypt with OAEP-SHA-256.
pub fn max_plaintext(key: &RsaPublicKey) -> usize {
    key.size().saturating_sub(2 * 32 + 2)
}

/// RSA-OAEP-SHA-256 (MGF1-SHA-256, empty label) encryption.
pub fn encrypt<R: TryCryptoRng + ?Sized>(
    key: &RsaPublicKey,
    rng: &mut R,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let max = max_plaintext(key);
    if plaintext.len() > max {
        return Err(CryptoError::TooLong {
            len: plaintext.len(),
            max,
        });
    }
    key.oaep_encrypt_with_rng::<Sha256, R>(rng, plaintext)
        .map_err(|e| CryptoError::Rsa(e.to_string()))
}

/// Whether `bytes` contains CRLF, which a naive original peer splits on.
pub fn contains_crlf(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\r\n")
}

/// Encrypts, re-encrypting until the ciphertext holds no CRLF so that original
/// peers that split on CRLF can read it.
pub fn encrypt_without_crlf<R: TryCryptoRng + ?Sized>(
    key: &RsaPublicKey,
    rng: &mut R,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    for _ in 0..MAX_CRLF_RETRIES {
        let ct = encrypt(key, rng, plaintext)?;
        if !contains_crlf(&ct) {
            return Ok(ct);
        }
    }
    Err(CryptoError::CrlfRetries)
}

/// RSA-OAEP-SHA-256 decryption, blinded with `rng`.
pub fn decrypt<R: TryCryptoRng + ?Sized>(
    key: &RsaPrivateKey,
    rng: &mut R,
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    key.oaep_decrypt_with_rng::<Sha256, R>(rng, ciphertext)
        .map_err(|e| CryptoError::Rsa(e.to_string()))
}

/// Decrypts login challenges for a [`ClientSession`](crate::ClientSession).
///
/// A trait so that tests and fuzzing can stand in a fake for RSA.
pub trait Decryptor {
    /// Decrypts one ciphertext.
    fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError>;
}

/// A [`Decryptor`] over an RSA private key and a CSPRNG for blinding.
pub struct KeyDecryptor<R> {
    key: RsaPrivateKey,
    rng: R,
}

impl<R: TryCryptoRng> KeyDecryptor<R> {
    /// Pairs a key with a CSPRNG.
    pub fn new(key: RsaPrivateKey, rng: R) -> Self {
        KeyDecryptor { key, rng }
    }
}

impl<R: TryCryptoRng> Decryptor for KeyDecryptor<R> {
    fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        decrypt(&self.key, &mut self.rng, ciphertext)
    }
}

impl<R> core::fmt::Debug for KeyDecryptor<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyDecryptor { .. }")
    }
}

/// A login challenge: 128 characters of [`CHALLENGE_ALPHABET`].
///
/// Over TLS the same text later serves as the reusable token.
#[derive(Clone, PartialEq, Eq)]
pub struct Challenge([u8; CHALLENGE_LEN]);

impl Challenge {
    /// Draws a uniform challenge from a CSPRNG.
    pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, CryptoError> {
        let mut out = [0u8; CHALLENGE_LEN];
        let mut filled = 0;
        let mut pool = [0u8; 64];
        // 244 = 4 * 61: rejecting larger bytes keeps the draw uniform.
        while filled < CHALLENGE_LEN {
            rng.try_fill_bytes(&mut pool)
                .map_err(|_| CryptoError::Rng)?;
            for &b in &pool {
                if b < 244 && filled < CHALLENGE_LEN {
                    out[filled] = CHALLENGE_ALPHABET[usize::from(b % 61)];
                    filled += 1;
                }
            }
        }
        Ok(Challenge(out))
    }

    /// A challenge from known text (tests, stored tokens). Must be 128
    /// alphabet characters.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; CHALLENGE_LEN] = bytes.try_into().ok()?;
        arr.iter()
            .all(|b| CHALLENGE_ALPHABET.contains(b))
            .then_some(Challenge(arr))
    }

    /// The text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time comparison with an answer.
    pub fn matches(&self, answer: &[u8]) -> bool {
        answer.len() == CHALLENGE_LEN && bool::from(self.0.as_slice().ct_eq(answer))
    }
}

impl core::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Challenge(..)")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    struct Counter(u8);
    impl rand_core::TryRng for Counter {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(u32::from(self.next()))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(u64::from(self.next()))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.iter_mut().for_each(|b| *b = self.next());
            Ok(())
        }
    }
    impl TryCryptoRng for Counter {}
    impl Counter {
        fn next(&mut self) -> u8 {
            self.0 = self.0.wrapping_add(1);
            self.0
        }
    }

    #[test]
    fn challenge_uses_the_alphabet_and_compares() {
        let c = Challenge::generate(&mut Counter(0)).unwrap();
        assert!(c.as_bytes().iter().all(|b| CHALLENGE_ALPHABET.contains(b)));
        assert!(c.matches(c.as_bytes()));
        assert!(!c.matches(&c.as_bytes()[1..]));
        let mut other = c.as_bytes().to_vec();
        other[127] = if other[127] == b'A' { b'B' } else { b'A' };
        assert!(!c.matches(&other));
        assert_eq!(Challenge::from_bytes(c.as_bytes()), Some(c));
        assert_eq!(Challenge::from_bytes(b"short"), None);
    }

    /// The PEM reader before the nom parser, for the property below.
    fn reference_pem_decode(text: &[u8]) -> Result<(String, Vec<u8>), &'static str> {
        fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
            haystack.windows(needle.len()).position(|w| w == needle)
        }
        const BEGIN: &[u8] = b"-----BEGIN ";
        const DASHES: &[u8] = b"-----";
        let start = find(text, BEGIN).ok_or("no BEGIN line")? + BEGIN.len();
        let rest = &text[start..];
        let label_end = find(rest, DASHES).ok_or("unterminated BEGIN line")?;
        let label = &rest[..label_end];
        if label.contains(&b'\n') {
            return Err("unterminated BEGIN line");
        }
        let body_start = label_end + DASHES.len();
        let mut end_marker = Vec::with_capacity(label.len() + 14);
        end_marker.extend_from_slice(b"-----END ");
        end_marker.extend_from_slice(label);
        end_marker.extend_from_slice(DASHES);
        let body_len = find(&rest[body_start..], &end_marker).ok_or("no END line")?;
        let body: Vec<u8> = rest[body_start..body_start + body_len]
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let der = STANDARD.decode(&body).map_err(|_| "bad base64 body")?;
        Ok((String::from_utf8_lossy(label).into_owned(), der))
    }

    /// Pieces PEM-like text is made of.
    fn pem_piece() -> impl proptest::strategy::Strategy<Value = &'static [u8]> {
        proptest::sample::select(vec![
            &b"-----BEGIN "[..],
            b"-----END ",
            b"-----",
            b"----",
            b"RSA PUBLIC KEY",
            b"X",
            b"AQID",
            b"AA==",
            b"A",
            b"=",
            b"!",
            b"\n",
            b"\r\n",
            b" ",
            b"\t",
            b"\xff",
        ])
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The nom reader gives what the search-based one gave: the same
        /// label and body, or the same message.
        #[test]
        fn nom_reader_matches_the_search(
            pieces in proptest::collection::vec(pem_piece(), 0..24),
        ) {
            let text = pieces.concat();
            let got = pem_decode(&text).map_err(|e| match e {
                CryptoError::Pem(why) => why,
                other => panic!("{other}"),
            });
            proptest::prop_assert_eq!(got, reference_pem_decode(&text));
        }
    }

    #[test]
    fn nom_reader_matches_the_search_on_whole_blocks() {
        let pem = pem_encode(PUBLIC_KEY_LABEL, &[7; 550]);
        let bytes = pem.as_bytes();
        for cut in 0..=bytes.len() {
            for text in [&bytes[..cut], &bytes[cut..]] {
                let got = pem_decode(text).map_err(|e| e.to_string());
                let want =
                    reference_pem_decode(text).map_err(|why| CryptoError::Pem(why).to_string());
                assert_eq!(got, want, "{:?}", String::from_utf8_lossy(text));
            }
        }
    }

    #[test]
    fn pem_round_trip_and_garbage() {
        let pem = pem_encode("RSA PUBLIC KEY", &[1, 2, 3, 250]);
        let (label, der) = pem_decode(pem.as_bytes()).unwrap();
        assert_eq!(label, "RSA PUBLIC KEY");
        assert_eq!(der, vec![1, 2, 3, 250]);
        assert!(pem_decode(b"").is_err());
        assert!(pem_decode(b"-----BEGIN X-----\n!!!\n-----END X-----\n").is_err());
        assert!(pem_decode(b"-----BEGIN X-----\nAAAA\n").is_err());
        assert!(public_key_from_pem(pem.as_bytes()).is_err());
    }
}
