//! The fuzz corpus in `../fuzz/corpus/<target>/`: its seeds are written from
//! the golden vectors by an ignored test, and every committed corpus file is
//! replayed through its `gochat_proto::fuzzing` entry point by an ordinary
//! one, so that past findings stay fixed.
//!
//! Regenerate the seeds with
//! `cargo test -p gochat-proto --features fuzzing --test fuzz_corpus -- --ignored`.

#![cfg(feature = "fuzzing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;

use std::fs;
use std::path::{Path, PathBuf};

use gochat_proto::fuzzing;
use golden::{ALICE_PUB, BOB_PRIV, CRYPTO, HEADERS, PACKETS, STAMPS};
use serde_json::Value;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 8] = [
    ("decoder_chunked", fuzzing::decoder_chunked),
    ("header", fuzzing::header),
    ("client_command", fuzzing::client_command),
    ("server_command", fuzzing::server_command),
    ("client_session", fuzzing::client_session),
    ("server_session", fuzzing::server_session),
    ("stamp", fuzzing::stamp),
    ("pem", fuzzing::pem),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

/// Every seed: (target, file name, bytes).
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let hello = hex::decode("112ff1001000ffff0d0a68690d0a").unwrap();
    let mut to_server = Vec::new();
    let mut to_client = Vec::new();
    for v in json(PACKETS).as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let bytes = unhex(&v["packet_hex"]);
        let server_bound = v["direction"] == "C->S";
        // One chunk size (7 bytes), then the packet.
        out.push((
            "decoder_chunked",
            format!("vec-{name}"),
            [&[0, 6], &bytes[..]].concat(),
        ));
        out.push(("header", format!("vec-{name}"), bytes[..10].to_vec()));
        // An odd first byte: the rest is decoded as one packet.
        let command = if server_bound {
            "client_command"
        } else {
            "server_command"
        };
        out.push((command, format!("vec-{name}"), [&[1], &bytes[..]].concat()));
        if server_bound {
            // Default config, admitted; the packet as raw input.
            let program = [&[0, 2][..], &fuzzing::raw(&bytes)].concat();
            out.push(("server_session", format!("vec-{name}"), program));
            to_server.extend_from_slice(&bytes);
        } else {
            // Default config, first id 1; HELLO, then the packet.
            let program = [&[0, 0, 1][..], &fuzzing::raw(&hello), &fuzzing::raw(&bytes)].concat();
            out.push(("client_session", format!("vec-{name}"), program));
            to_client.extend_from_slice(&bytes);
        }
    }
    // Whole streams, in chunks of 1, 10 and 100 bytes.
    for (name, stream) in [("to-server", &to_server), ("to-client", &to_client)] {
        let prefix = [2u8, 0, 9, 99];
        out.push((
            "decoder_chunked",
            format!("stream-{name}"),
            [&prefix[..], stream].concat(),
        ));
    }
    for v in json(HEADERS).as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        out.push(("header", format!("hdr-{name}"), unhex(&v["header_hex"])));
    }
    let stamps = json(STAMPS);
    for (kind, list) in [("valid", &stamps["valid"]), ("invalid", &stamps["invalid"])] {
        for (i, v) in list.as_array().unwrap().iter().enumerate() {
            out.push(("stamp", format!("{kind}-{i}"), unhex(&v["bytes_hex"])));
        }
    }
    let crypto = json(CRYPTO);
    let pems = [
        ("alice-pub", ALICE_PUB.as_bytes().to_vec()),
        ("bob-priv", BOB_PRIV.as_bytes().to_vec()),
        (
            "vector-pub",
            crypto["public_key_pem"]
                .as_str()
                .unwrap()
                .as_bytes()
                .to_vec(),
        ),
        (
            "small",
            b"-----BEGIN X-----\nAQID\n-----END X-----\n".to_vec(),
        ),
        (
            "crlf",
            b"junk\r\n-----BEGIN RSA PUBLIC KEY-----\r\nAA==\r\n-----END RSA PUBLIC KEY-----\r\n"
                .to_vec(),
        ),
    ];
    for (name, pem) in pems {
        out.push(("pem", name.to_owned(), pem));
    }
    for (i, program) in fuzzing::client_session_seeds().into_iter().enumerate() {
        out.push(("client_session", format!("program-{i}"), program));
    }
    for (i, program) in fuzzing::server_session_seeds().into_iter().enumerate() {
        out.push(("server_session", format!("program-{i}"), program));
    }
    out
}

#[test]
#[ignore = "writes the seed corpus into ../fuzz/corpus"]
fn write_fuzz_seed_corpus() {
    for (target, name, bytes) in seeds() {
        let dir = corpus_dir().join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    }
}

#[test]
fn seeds_run_clean() {
    for (target, name, bytes) in seeds() {
        let (_, run) = TARGETS.iter().find(|(t, _)| *t == target).unwrap();
        eprintln!("{target}/{name}");
        run(&bytes);
    }
}

#[test]
fn committed_corpus_runs_clean() {
    for (target, run) in TARGETS {
        let Ok(entries) = fs::read_dir(corpus_dir().join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = fs::read(&path).unwrap();
            run(&bytes);
        }
    }
}
