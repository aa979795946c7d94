//! The `inspect` example's logic, included as a module (no process is
//! spawned), checked against the golden vectors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../examples/inspect.rs"]
#[allow(dead_code)]
mod inspect;

mod golden;

use gochat_proto::Direction;
use golden::PACKETS;
use inspect::{Command, Options, inspect, parse_args};
use serde_json::Value;

struct Vector {
    direction: Direction,
    bytes: Vec<u8>,
    fields: Value,
}

fn vectors() -> Vec<Vector> {
    let all: Value = serde_json::from_str(PACKETS).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            direction: if v["direction"] == "C->S" {
                Direction::ToServer
            } else {
                Direction::ToClient
            },
            bytes: hex::decode(v["packet_hex"].as_str().unwrap()).unwrap(),
            fields: v.clone(),
        })
        .collect()
}

/// Runs the inspector over `input`; returns its verdict and output lines.
fn run(input: &[u8], direction: Direction, hex: bool) -> (Result<bool, String>, Vec<String>) {
    let mut out = Vec::new();
    let verdict = inspect(input, &mut out, direction, hex);
    let text = String::from_utf8(out).unwrap();
    (verdict, text.lines().map(str::to_owned).collect())
}

#[test]
fn every_vector_prints_its_recorded_fields() {
    for v in vectors() {
        let (verdict, lines) = run(&v.bytes, v.direction, false);
        assert_eq!(verdict, Ok(true), "{}", v.fields["name"]);
        assert_eq!(lines.len(), 1);
        let json: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(json["version"], 1);
        for key in ["action", "code", "info", "id", "args_hex"] {
            assert_eq!(json[key], v.fields[key], "{}: {key}", v.fields["name"]);
        }
    }
}

#[test]
fn hex_text_in_any_layout_gives_the_same_lines() {
    let to_client: Vec<u8> = vectors()
        .into_iter()
        .filter(|v| v.direction == Direction::ToClient)
        .flat_map(|v| v.bytes)
        .collect();
    let (verdict, raw_lines) = run(&to_client, Direction::ToClient, false);
    assert_eq!(verdict, Ok(true));
    assert_eq!(raw_lines.len(), 40);

    // Upper case, spaces and line breaks anywhere, even inside a byte.
    let mut text = String::new();
    for (i, c) in hex::encode_upper(&to_client).chars().enumerate() {
        text.push(c);
        match i % 7 {
            0 => text.push(' '),
            3 => text.push_str("\r\n\t"),
            _ => {}
        }
    }
    let (verdict, hex_lines) = run(text.as_bytes(), Direction::ToClient, true);
    assert_eq!(verdict, Ok(true));
    assert_eq!(hex_lines, raw_lines);
}

#[test]
fn a_malformed_packet_prints_its_error_and_stops() {
    let ok = hex::decode("101ff0000001ffff0d0a").unwrap();
    let mut input = ok.clone();
    input.extend_from_slice(&hex::decode("203ff0000005ffff0d0a").unwrap());
    input.extend_from_slice(&ok);
    let (verdict, lines) = run(&input, Direction::ToClient, false);
    assert_eq!(verdict, Ok(false));
    assert_eq!(
        lines,
        [
            r#"{"version":1,"action":"OK","code":1,"info":255,"id":1,"args_hex":[]}"#,
            r#"{"error":"ERR_VERSION"}"#,
        ]
    );
    // A header without its CRLF.
    let (verdict, lines) = run(
        b"\x10\x1f\xf0\x00\x00\x01\xff\xffxx",
        Direction::ToClient,
        false,
    );
    assert_eq!(verdict, Ok(false));
    assert_eq!(lines, [r#"{"error":"ERR_HEADER"}"#]);
}

#[test]
fn a_stream_cut_inside_a_packet_is_truncated() {
    let (verdict, lines) = run(b"\x10\x1f\xf0", Direction::ToClient, false);
    assert_eq!(verdict, Ok(false));
    assert_eq!(lines, [r#"{"error":"truncated","buffered":3}"#]);
    let (verdict, lines) = run(b"101ff0000001ffff0d0a1", Direction::ToClient, true);
    assert_eq!(verdict, Ok(false));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1], r#"{"error":"truncated","buffered":0}"#);
    let (verdict, lines) = run(b"", Direction::ToServer, false);
    assert_eq!((verdict, lines.len()), (Ok(true), 0));
}

#[test]
fn non_hex_text_is_an_error() {
    let (verdict, _) = run(b"10 1f zz", Direction::ToClient, true);
    assert_eq!(verdict, Err("not a hex digit: 'z'".to_owned()));
}

#[test]
fn direction_decides_the_header_checks() {
    // KEEP with the null id: a server rejects it.
    let keep_null = hex::decode("103ff0000000ffff0d0a").unwrap();
    let (_, lines) = run(&keep_null, Direction::ToServer, false);
    assert_eq!(lines, [r#"{"error":"ERR_HEADER"}"#]);
    // HELLO with the null id reaches a client.
    let hello = hex::decode("112ff1001000ffff0d0a68690d0a").unwrap();
    let (verdict, lines) = run(&hello, Direction::ToClient, false);
    assert_eq!(verdict, Ok(true));
    assert_eq!(
        lines,
        [r#"{"version":1,"action":"HELLO","code":18,"info":255,"id":0,"args_hex":["6869"]}"#]
    );
}

#[test]
fn arguments() {
    let args = |list: &[&str]| parse_args(list.iter().map(|s| s.to_string()));
    assert_eq!(
        args(&[]),
        Ok(Command::Run(Options {
            direction: Direction::ToClient,
            hex: false
        }))
    );
    assert_eq!(
        args(&["--hex", "--direction", "to-server"]),
        Ok(Command::Run(Options {
            direction: Direction::ToServer,
            hex: true
        }))
    );
    assert_eq!(
        args(&["--direction=to-client"]),
        Ok(Command::Run(Options {
            direction: Direction::ToClient,
            hex: false
        }))
    );
    assert_eq!(args(&["--help"]), Ok(Command::Help));
    assert!(args(&["--direction"]).is_err());
    assert!(args(&["--direction", "sideways"]).is_err());
    assert!(args(&["--verbose"]).is_err());
}
