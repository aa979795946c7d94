//! Regression tests for inputs that once broke proto-core, each named after
//! the behaviour it pins down. They came from the fuzz targets in `../fuzz`
//! (`fuzz/README.md` lists the runs and findings); each is checked through
//! the public API, and, with the `fuzzing` feature, the crashing fuzz input
//! itself is replayed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gochat_proto::crypto::Challenge;
use gochat_proto::session::server::{ServerConfig, ServerEvent, ServerSession};
use gochat_proto::{
    Action, ClientCommand, EncodeError, Hook, HookEvent, Packet, ServerCommand, Username,
    encode_into,
};

/// A configuration may ask for any number of seconds (the server's config
/// file takes a `u64`); `Instant + Duration` panics on overflow.
fn timeouts_too_long_for_instant() -> ServerConfig {
    ServerConfig {
        idle_timeout: Duration::from_secs(u64::MAX),
        verification_timeout: Duration::from_secs(u64::MAX),
        max_queued_input: usize::MAX,
        packet_timeout: Duration::from_secs(u64::MAX),
        login_timeout: Duration::from_secs(u64::MAX),
    }
}

#[test]
fn server_timeouts_too_long_for_instant_never_fire() {
    let now = Instant::now();
    let mut s = ServerSession::new(timeouts_too_long_for_instant());
    // Panicked here: the idle deadline was `now + idle_timeout`.
    s.admit(b"motd", now).unwrap();
    assert_eq!(s.poll_timeout(), None);

    let mut wire = BytesMut::new();
    let alice = Username::new("alice").unwrap();
    ClientCommand::Login {
        username: alice.clone(),
    }
    .encode(5, &mut wire)
    .unwrap();
    // And here, once a packet restarted the idle deadline.
    s.handle_input(&wire, now);
    let Some(ServerEvent::Request { id: 5, .. }) = s.poll_event() else {
        panic!("LOGIN is a request for the application");
    };
    let challenge = Challenge::from_bytes(&[b'A'; 128]).unwrap();
    // And here: the verification deadline was `now + verification_timeout`.
    s.begin_verification(5, alice.clone(), challenge, Bytes::from_static(b"ct"), now)
        .unwrap();
    assert_eq!(s.poll_timeout(), None);

    // Nothing ever expires.
    s.handle_timeout(now + Duration::from_secs(100 * 365 * 24 * 3600));
    assert!(!s.is_closed());
    assert_eq!(s.pending_verification(), Some(&alice));
    assert_eq!(s.poll_event(), None);
}

/// HOOK DUPSESS whose address is 1135 bytes that are not UTF-8.
fn dupsess_hook_with_binary_address() -> Packet {
    Packet::new(Action::Hook, Hook::DupSess.code(), 0, &[vec![0xff; 1135]]).unwrap()
}

#[test]
fn dupsess_hook_with_non_utf8_address_re_encodes() {
    let p = dupsess_hook_with_binary_address();
    let cmd = ServerCommand::from_packet(&p).unwrap();
    // Read as U+FFFD (3 bytes each), the address no longer fit an argument.
    assert_eq!(
        cmd,
        ServerCommand::Hook(HookEvent::DupSess {
            ip: "?".repeat(1135)
        })
    );
    let again = cmd.to_packet(0).unwrap();
    assert_eq!(ServerCommand::from_packet(&again), Ok(cmd));

    // Valid UTF-8 is kept as it is; each invalid byte becomes one `?`.
    let p = Packet::new(
        Action::Hook,
        Hook::DupSess.code(),
        0,
        &[b"\xc3\xa9\xff\xe2\x82x".as_slice()],
    )
    .unwrap();
    assert_eq!(
        ServerCommand::from_packet(&p),
        Ok(ServerCommand::Hook(HookEvent::DupSess {
            ip: "é???x".to_owned()
        }))
    );
}

#[test]
fn crlf_in_an_argument_but_the_last_is_refused_by_the_encoder() {
    // A key PEM with CRLF line ends, as a Windows client may register it:
    // a client would read the key up to the first CRLF and the next line's
    // first byte as the permission level.
    let req = ServerCommand::Req {
        username: Username::new("bob").unwrap(),
        pubkey: Bytes::from_static(b"-----BEGIN RSA PUBLIC KEY-----\r\nAAAA\r\n"),
        permission: 1,
    };
    assert_eq!(req.to_packet(3), Err(EncodeError::CrlfInArg(1)));
    let mut wire = BytesMut::from(&b"before"[..]);
    assert_eq!(req.encode(3, &mut wire), Err(EncodeError::CrlfInArg(1)));
    assert_eq!(&wire[..], b"before", "nothing written");
    let args: [&[u8]; 2] = [b"a\r\nb", b"c"];
    assert_eq!(
        Packet::new(Action::Req, 0xff, 3, &args),
        Err(EncodeError::CrlfInArg(0))
    );
    assert_eq!(
        encode_into(&mut wire, Action::Req, 0xff, 3, &args),
        Err(EncodeError::CrlfInArg(0))
    );
    assert_eq!(
        EncodeError::CrlfInArg(0).code(),
        gochat_proto::ErrorCode::Args
    );

    // The last argument may hold CRLF, and a CR or LF alone is fine anywhere.
    let args: [&[u8]; 3] = [b"a\r", b"\nb", b"c\r\nd"];
    let p = Packet::new(Action::Req, 0xff, 3, &args).unwrap();
    let mut wire = BytesMut::from(&p.to_bytes()[..]);
    let back = gochat_proto::decode_packet(&mut wire, gochat_proto::Direction::ToClient)
        .unwrap()
        .unwrap();
    assert_eq!(back, p);
}

/// The fuzz inputs that found the bugs above, replayed through their targets.
#[cfg(feature = "fuzzing")]
mod fuzz_findings {
    use gochat_proto::fuzzing;

    #[test]
    fn server_session_config_with_huge_timeouts() {
        // Config 3: timeouts of u64::MAX seconds; then `admit`.
        fuzzing::server_session(&[47]);
    }

    #[test]
    fn server_command_dupsess_with_non_utf8_address() {
        // An odd first byte: the rest is decoded as one packet.
        let mut input = vec![1];
        input.extend_from_slice(&super::dupsess_hook_with_binary_address().to_bytes());
        fuzzing::server_command(&input);
    }

    #[test]
    fn server_command_req_with_crlf_in_the_key() {
        // Assembled REQ z, "\xff\r\r\nBobl \r\n2\x01", "\r": its key held CRLF,
        // so the re-encoded command read back as other arguments.
        let input = b"\x0aBob\r\n\x01z\r\xff\r\r\nBobl \r\n2\x01z\r\n";
        fuzzing::server_command(input);
    }
}
