//! Every fuzz entry point on a few inputs, so that ordinary test runs catch
//! a broken harness (and the findings of past fuzzing runs stay fixed).

use super::*;

const SAMPLES: &[&[u8]] = &[
    b"",
    b"\x00",
    &[0xff; 64],
    &[0x00; 64],
    // OK, then LOGIN alice, then a truncated header.
    b"\x10\x1f\xf0\x00\x00\x01\xff\xff\r\n\x10\x6f\xf1\x00\x1c\x05\xff\xff\r\nalice\r\n\x10\x1f",
    // HELLO "hi".
    b"\x11\x2f\xf1\x00\x10\x00\xff\xff\r\nhi\r\n",
    b"-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n",
    b"-----BEGIN X-----\n-----END X-----",
    &[
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00,
    ],
];

type Target = fn(&[u8]);

fn all_targets() -> [(&'static str, Target); 8] {
    [
        ("decoder_chunked", decoder_chunked),
        ("header", header),
        ("client_command", client_command),
        ("server_command", server_command),
        ("client_session", client_session),
        ("server_session", server_session),
        ("stamp", stamp),
        ("pem", pem),
    ]
}

#[test]
fn every_target_takes_the_samples() {
    for (_name, target) in all_targets() {
        for sample in SAMPLES {
            target(sample);
            // With a leading selector byte of each kind.
            for first in [0u8, 1, 2, 3, 4, 0x80] {
                let mut v = vec![first];
                v.extend_from_slice(sample);
                target(&v);
            }
        }
    }
}

#[test]
fn session_seed_programs_run() {
    for seed in client_session_seeds() {
        client_session(&seed);
    }
    for seed in server_session_seeds() {
        server_session(&seed);
    }
}

/// The seed programs of `side`, each run with `run`, together reach every
/// event kind of `kinds`.
fn assert_seeds_reach(
    side: &str,
    seeds: Vec<Vec<u8>>,
    run: fn(&[u8]) -> std::collections::BTreeSet<&'static str>,
    kinds: &[&str],
) {
    let mut seen = std::collections::BTreeSet::new();
    for seed in seeds {
        seen.extend(run(&seed));
    }
    for kind in kinds {
        assert!(seen.contains(kind), "no {side} seed reaches {kind}");
    }
}

#[test]
fn seed_programs_reach_every_event() {
    assert_seeds_reach(
        "client",
        client_session_seeds(),
        client_session::run,
        &[
            "Hello",
            "Response",
            "LoggedIn",
            "LoginFailed",
            "Message",
            "Hook",
            "Shutdown",
            "Closed",
        ],
    );
    assert_seeds_reach(
        "server",
        server_session_seeds(),
        server_session::run,
        &[
            "Request",
            "Verified",
            "VerificationExpired",
            "Written",
            "Closed",
        ],
    );
}
