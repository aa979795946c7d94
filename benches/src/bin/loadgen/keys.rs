//! Many distinct RSA-4096 key pairs in seconds: the primes of one fixture key
//! with a different public exponent each.
//!
//! Generating 1000 RSA-4096 keys would take far longer than the load run.
//! Instead every user gets `(p, q, e_i)` where `p`, `q` are the fixture's
//! primes and `e_i` are the successive primes above 65537 that are coprime to
//! λ(n) (`PrivateKey::from_p_q` refuses the others). The public keys differ
//! (the server refuses duplicates), the logins are real RSA: the server
//! encrypts the challenge with `e_i`, the loader decrypts with `d_i`. The
//! exponents stay far below rsa's bound of 2^33 - 1.

use std::thread;

use gochat_proto::crypto::{self, RsaPrivateKey};
use rsa::BoxedUint;
use rsa::traits::PrivateKeyParts;

use crate::{Result, err};

/// The fixture key whose primes every derived key shares.
const FIXTURE_PEM: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../proto-core/tests/fixtures/alice.priv.pem"
));
/// The usual public exponent; derived exponents are the primes above it.
const FIRST_EXPONENT: u64 = 65_537;

/// One user's key pair and the PEM text REG sends.
#[derive(Clone)]
pub struct UserKey {
    /// The private key (for decrypting the login challenge).
    pub key: RsaPrivateKey,
    /// The public key in its wire form (`RSA PUBLIC KEY` PEM over SPKI DER).
    pub public_pem: String,
}

/// Derives `count` distinct key pairs on `threads` threads.
pub fn derive(count: usize, threads: usize) -> Result<Vec<UserKey>> {
    let base = crypto::private_key_from_pem(FIXTURE_PEM)?;
    let [p, q] = base.primes() else {
        return Err(err("the fixture key is not a two-prime key"));
    };
    let (p, q) = (p.as_ref().clone(), q.as_ref().clone());
    let threads = threads.max(1);
    let mut keys = Vec::with_capacity(count);
    let mut exponent = FIRST_EXPONENT;
    while keys.len() < count {
        let exponents: Vec<u64> = (keys.len()..count)
            .map(|_| {
                exponent = next_prime(exponent);
                exponent
            })
            .collect();
        let chunk = exponents.len().div_ceil(threads);
        let rounds: Vec<Result<Vec<UserKey>>> = thread::scope(|s| {
            let handles: Vec<_> = exponents
                .chunks(chunk)
                .map(|c| s.spawn(|| derive_chunk(&p, &q, c)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(err("a key derivation thread panicked")))
                })
                .collect()
        });
        let before = keys.len();
        for round in rounds {
            keys.extend(round?);
        }
        if keys.len() == before {
            return Err(err("no exponent gave a valid key"));
        }
    }
    Ok(keys)
}

/// Keys for the given exponents; exponents that divide λ(n) are skipped.
fn derive_chunk(p: &BoxedUint, q: &BoxedUint, exponents: &[u64]) -> Result<Vec<UserKey>> {
    let mut out = Vec::with_capacity(exponents.len());
    for &e in exponents {
        let Ok(key) = RsaPrivateKey::from_p_q(p.clone(), q.clone(), BoxedUint::from(e)) else {
            continue;
        };
        let public_pem = crypto::public_key_to_pem(&key.to_public_key())?;
        out.push(UserKey { key, public_pem });
    }
    Ok(out)
}

/// The smallest prime above `n` (trial division: the numbers are small).
fn next_prime(n: u64) -> u64 {
    let mut c = n + 1;
    while !is_prime(c) {
        c += 1;
    }
    c
}

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let mut d = 3;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_distinct_real_key_pairs() {
        let keys = derive(3, 2).unwrap();
        assert_eq!(keys.len(), 3);
        assert_ne!(keys[0].public_pem, keys[1].public_pem);
        assert_ne!(keys[1].public_pem, keys[2].public_pem);
        let public = crypto::public_key_from_pem(keys[2].public_pem.as_bytes()).unwrap();
        assert_eq!(crypto::key_bits(&public), crypto::KEY_BITS);
        let ct = crypto::encrypt(&public, &mut getrandom::SysRng, b"challenge").unwrap();
        let pt = crypto::decrypt(&keys[2].key, &mut getrandom::SysRng, &ct).unwrap();
        assert_eq!(pt, b"challenge");
    }

    #[test]
    fn primes() {
        assert_eq!(next_prime(65_537), 65_539);
        assert!(!is_prime(65_541));
        assert!(is_prime(65_543));
    }
}
