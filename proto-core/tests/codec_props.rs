//! Property tests of the codec: typed round trips, streaming in arbitrary
//! chunks, no panics on arbitrary input, stamps, and the hand-tuned decoder
//! against its nom reference (`gochat_proto::grammar`) on arbitrary and
//! mutated input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use gochat_proto::codes::{Action, ErrorCode, Hook, UserList};
use gochat_proto::command::{AdminCommand, ClientCommand, HookEvent, ServerCommand, UserEntry};
use gochat_proto::decoder::{DecodeError, Decoder, PacketRef, decode_packet, parse_header};
use gochat_proto::grammar;
use gochat_proto::header::{Direction, HEADER_FRAME_LEN, Header, MAX_ARG_LEN};
use gochat_proto::packet::Packet;
use gochat_proto::stamp::{MAX_STAMP_LEN, decode_stamp, encode_stamp};
use gochat_proto::username::Username;
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------
// Generators

fn username() -> impl Strategy<Value = Username> {
    "[a-z0-9]{1,32}".prop_map(|s| Username::new(&s).unwrap())
}

/// Arbitrary bytes, biased towards CR, LF and CRLF so that binary last
/// arguments often hold separators.
fn binary(max: usize) -> impl Strategy<Value = Bytes> {
    let byte = prop_oneof![
        6 => any::<u8>(),
        1 => Just(b'\r'),
        1 => Just(b'\n'),
    ];
    prop_oneof![
        // Mostly short values, sometimes up to the limit.
        3 => proptest::collection::vec(byte.clone(), 0..=64),
        1 => proptest::collection::vec(byte, 0..=max),
    ]
    .prop_map(Bytes::from)
}

/// Bytes that hold no CRLF: what a non-last argument may carry.
fn no_crlf(max: usize) -> impl Strategy<Value = Bytes> {
    binary(max).prop_map(|b| {
        let mut v = b.to_vec();
        for i in 1..v.len() {
            if v[i - 1] == b'\r' && v[i] == b'\n' {
                v[i] = b'n';
            }
        }
        Bytes::from(v)
    })
}

fn ciphertext() -> impl Strategy<Value = Bytes> {
    binary(MAX_ARG_LEN)
}

fn stamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        1_600_000_000i64..2_000_000_000,
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        Just(-1),
    ]
}

fn user_list_kind() -> impl Strategy<Value = UserList> {
    select(UserList::ALL)
}

fn any_hook() -> impl Strategy<Value = Hook> {
    select(Hook::ALL)
}

fn admin_command() -> impl Strategy<Value = AdminCommand> {
    prop_oneof![
        stamp().prop_map(|stamp| AdminCommand::Shutdown { stamp }),
        username().prop_map(|username| AdminCommand::Dereg { username }),
        binary(MAX_ARG_LEN).prop_map(|text| AdminCommand::Broadcast { text }),
        (username(), any::<u8>()).prop_map(|(username, permission)| {
            AdminCommand::ChangePerms {
                username,
                permission,
            }
        }),
        username().prop_map(|username| AdminCommand::Kick { username }),
        binary(MAX_ARG_LEN).prop_map(|text| AdminCommand::Motd { text }),
    ]
}

fn client_command() -> impl Strategy<Value = ClientCommand> {
    prop_oneof![
        Just(ClientCommand::Keep),
        (username(), binary(MAX_ARG_LEN))
            .prop_map(|(username, pubkey)| ClientCommand::Reg { username, pubkey }),
        Just(ClientCommand::Dereg),
        username().prop_map(|username| ClientCommand::Login { username }),
        (username(), binary(MAX_ARG_LEN))
            .prop_map(|(username, token)| ClientCommand::LoginToken { username, token }),
        Just(ClientCommand::Logout),
        (username(), binary(MAX_ARG_LEN))
            .prop_map(|(username, answer)| ClientCommand::Verif { username, answer }),
        username().prop_map(|username| ClientCommand::Req { username }),
        user_list_kind().prop_map(ClientCommand::Usrs),
        (username(), stamp(), ciphertext()).prop_map(|(to, stamp, ciphertext)| {
            ClientCommand::Msg {
                to,
                stamp,
                ciphertext,
            }
        }),
        Just(ClientCommand::Reciv),
        admin_command().prop_map(ClientCommand::Admin),
        any_hook().prop_map(ClientCommand::Sub),
        any_hook().prop_map(ClientCommand::Unsub),
    ]
}

fn user_entry() -> impl Strategy<Value = UserEntry> {
    (username(), proptest::option::of(any::<u8>()))
        .prop_map(|(name, permission)| UserEntry { name, permission })
}

/// User lists that fit in one packet. A line is at most 36 bytes and a newline;
/// 400 of them (at most 14800 bytes, plus the waste at the end of each of the
/// at most 8 arguments) always fit in the 16383-byte payload.
fn user_list() -> impl Strategy<Value = Vec<UserEntry>> {
    prop_oneof![
        2 => proptest::collection::vec(user_entry(), 0..=8),
        1 => proptest::collection::vec(user_entry(), 0..=400),
    ]
}

fn ip_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(String::from),
        2 => "[0-9a-f.:]{1,8}",
        1 => Just("\r\n".to_owned()),
    ];
    // At most 4 bytes per char or 8 per token: under 2045 bytes.
    proptest::collection::vec(piece, 0..=200).prop_map(|v| v.concat())
}

fn hook_event() -> impl Strategy<Value = HookEvent> {
    prop_oneof![
        (username(), any::<u8>()).prop_map(|(username, permission)| HookEvent::NewLogin {
            username,
            permission
        }),
        username().prop_map(|username| HookEvent::NewLogout { username }),
        ip_text().prop_map(|ip| HookEvent::DupSess { ip }),
        (username(), any::<u8>()).prop_map(|(username, permission)| HookEvent::PermsChg {
            username,
            permission
        }),
    ]
}

fn server_command() -> impl Strategy<Value = ServerCommand> {
    prop_oneof![
        Just(ServerCommand::Ok),
        select(ErrorCode::ALL).prop_map(ServerCommand::Err),
        ciphertext().prop_map(|challenge| ServerCommand::Verif { challenge }),
        // The key PEM is a middle argument: it cannot hold CRLF.
        (username(), no_crlf(MAX_ARG_LEN), any::<u8>()).prop_map(
            |(username, pubkey, permission)| ServerCommand::Req {
                username,
                pubkey,
                permission,
            }
        ),
        user_list().prop_map(ServerCommand::Usrs),
        (username(), stamp(), ciphertext()).prop_map(|(sender, stamp, ciphertext)| {
            ServerCommand::Reciv {
                sender,
                stamp,
                ciphertext,
            }
        }),
        proptest::option::of(stamp()).prop_map(|stamp| ServerCommand::Shutdown { stamp }),
        hook_event().prop_map(ServerCommand::Hook),
        binary(MAX_ARG_LEN).prop_map(|motd| ServerCommand::Hello { motd }),
    ]
}

fn client_id() -> impl Strategy<Value = u16> {
    prop_oneof![1u16..=1023, Just(1u16), Just(1023u16)]
}

/// An id for a server command: the null id only where the action allows it.
fn server_id(action: Action) -> BoxedStrategy<u16> {
    if action.null_id_allowed() {
        prop_oneof![1 => Just(0u16), 3 => client_id()].boxed()
    } else {
        client_id().boxed()
    }
}

fn client_packet() -> impl Strategy<Value = (ClientCommand, u16)> {
    (client_command(), client_id())
}

fn server_packet() -> impl Strategy<Value = (ServerCommand, u16)> {
    server_command().prop_flat_map(|cmd| {
        let id = server_id(cmd.action());
        (Just(cmd), id)
    })
}

// ---------------------------------------------------------------------------
// Helpers

/// Decodes a whole buffer in one go.
fn decode_all(bytes: &[u8], direction: Direction) -> Result<Vec<Packet>, DecodeError> {
    let mut dec = Decoder::new(direction);
    dec.feed(bytes);
    let mut out = Vec::new();
    while let Some(p) = dec.decode()? {
        out.push(p);
    }
    Ok(out)
}

/// Feeds `bytes` in chunks of the given sizes (cycled), decoding after each,
/// through [`Decoder::decode`] and [`Decoder::decode_ref`] alternately.
/// Returns the packets and the first error, if any.
fn decode_chunked(
    bytes: &[u8],
    sizes: &[usize],
    direction: Direction,
) -> (Vec<Packet>, Option<DecodeError>, Decoder) {
    let mut dec = Decoder::new(direction);
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        i += 1;
        // Both ways in: `feed` and reading straight into the buffer.
        if i % 2 == 0 {
            dec.feed(&rest[..n]);
        } else {
            dec.buffer_mut().extend_from_slice(&rest[..n]);
        }
        rest = &rest[n..];
        loop {
            // Every way out in turn: an owned packet, a view that is read
            // and dropped, a view turned into an owned packet.
            let next = match out.len() % 3 {
                0 => dec.decode(),
                1 => dec.decode_ref().map(|view| {
                    view.map(|v| {
                        let args: Vec<&[u8]> = v.args().collect();
                        assert_eq!(args.len(), v.arg_count());
                        for (i, a) in args.iter().enumerate() {
                            assert_eq!(v.arg_slice(i), Some(*a));
                        }
                        Packet::new(v.action(), v.info(), v.id(), &args).unwrap()
                    })
                }),
                _ => dec
                    .decode_ref()
                    .map(|view| view.map(PacketRef::into_packet)),
            };
            match next {
                Ok(Some(p)) => out.push(p),
                Ok(None) => break,
                Err(e) => {
                    // The failure sticks and later input is dropped.
                    assert_eq!(dec.buffered(), 0);
                    dec.feed(rest);
                    assert_eq!(dec.buffered(), 0);
                    dec.buffer_mut().extend_from_slice(rest);
                    assert_eq!(dec.decode(), Err(e));
                    assert_eq!(dec.buffered(), 0);
                    return (out, Some(e), dec);
                }
            }
        }
        if dec.buffered() == 0 {
            dec.release_if_empty();
        }
    }
    (out, None, dec)
}

/// The bytes a decoded packet was read from, save the reserved header bits
/// (ignored when reading, written as 0xFFFF).
fn same_but_reserved(encoded: &[u8], read: &[u8]) -> bool {
    encoded.len() == read.len() && encoded[..6] == read[..6] && encoded[8..] == read[8..]
}

// ---------------------------------------------------------------------------
// (a) typed round trips

/// `cmd` as packet `id` in `direction`: its encoding is its packet's bytes,
/// with its action, and decodes back to that packet alone, with `id`, and
/// to `cmd`.
fn check_round_trip<C: WireCommand + PartialEq + std::fmt::Debug>(
    cmd: &C,
    id: u16,
    direction: Direction,
) -> Result<(), TestCaseError> {
    let packet = cmd.packet_with(id);
    let wire = stream_of(std::slice::from_ref(&(cmd.clone(), id)));
    prop_assert_eq!(&wire[..], &packet.to_bytes()[..]);
    prop_assert_eq!(packet.action(), cmd.action_of());
    prop_assert_eq!(packet.header().check(direction), Ok(cmd.action_of()));

    let decoded = decode_all(&wire, direction).unwrap();
    prop_assert_eq!(decoded.len(), 1);
    prop_assert_eq!(&decoded[0], &packet);
    prop_assert_eq!(decoded[0].id(), id);
    prop_assert_eq!(&C::from_wire(&decoded[0]), cmd);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn client_commands_round_trip((cmd, id) in client_packet()) {
        check_round_trip(&cmd, id, Direction::ToServer)?;
    }

    #[test]
    fn server_commands_round_trip((cmd, id) in server_packet()) {
        check_round_trip(&cmd, id, Direction::ToClient)?;
    }
}

/// The USRS encoder spreads a long list over several arguments of whole lines.
#[test]
fn long_user_lists_span_several_arguments() {
    let entries: Vec<UserEntry> = (0..300)
        .map(|i| UserEntry {
            name: Username::new(&format!("{:0>32}", i)).unwrap(),
            permission: Some((i % 256) as u8),
        })
        .collect();
    let cmd = ServerCommand::Usrs(entries);
    let p = cmd.to_packet(9).unwrap();
    assert!(p.arg_count() > 1);
    for a in p.args() {
        assert!(a.len() <= MAX_ARG_LEN);
        assert!(!a.starts_with(b"\n") && !a.ends_with(b"\n"));
    }
    let d = decode_all(&p.to_bytes(), Direction::ToClient).unwrap();
    assert_eq!(ServerCommand::from_packet(&d[0]).unwrap(), cmd);

    // A list that cannot fit in one packet is refused, not truncated.
    let huge: Vec<UserEntry> = (0..2000)
        .map(|i| UserEntry {
            name: Username::new(&format!("{:0>32}", i)).unwrap(),
            permission: None,
        })
        .collect();
    let e = ServerCommand::Usrs(huge).to_packet(9).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MaxSize);
}

// ---------------------------------------------------------------------------
// (b) a stream split anywhere decodes to the same packets

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        1 => Just(vec![1usize]),
        3 => proptest::collection::vec(1usize..=64, 1..=16),
        2 => proptest::collection::vec(1usize..=3000, 1..=8),
    ]
}

/// What the properties that hold for both sides need of a command.
trait WireCommand: Clone {
    /// The command's action.
    fn action_of(&self) -> Action;
    /// The command a packet holds.
    fn from_wire(packet: &Packet) -> Self;
    /// Appends the command encoded as packet `id` to `out`.
    fn encode_with(&self, id: u16, out: &mut BytesMut);
    /// The command as packet `id`.
    fn packet_with(&self, id: u16) -> Packet;
}

/// Implements [`WireCommand`] with the inherent methods both command types
/// have.
macro_rules! wire_command {
    ($($command:ty),*) => {$(
        impl WireCommand for $command {
            fn action_of(&self) -> Action {
                self.action()
            }

            fn from_wire(packet: &Packet) -> Self {
                <$command>::from_packet(packet).unwrap()
            }

            fn encode_with(&self, id: u16, out: &mut BytesMut) {
                self.encode(id, out).unwrap();
            }

            fn packet_with(&self, id: u16) -> Packet {
                self.to_packet(id).unwrap()
            }
        }
    )*};
}

wire_command!(ClientCommand, ServerCommand);

/// `cmds`, each with its id, encoded one after another.
fn stream_of<C: WireCommand>(cmds: &[(C, u16)]) -> BytesMut {
    let mut stream = BytesMut::new();
    for (cmd, id) in cmds {
        cmd.encode_with(*id, &mut stream);
    }
    stream
}

/// `cmds`, each with its id, as packets.
fn packets_of<C: WireCommand>(cmds: &[(C, u16)]) -> Vec<Packet> {
    cmds.iter().map(|(cmd, id)| cmd.packet_with(*id)).collect()
}

/// `stream` in `direction` decodes to `want` whole, in chunks of `sizes`
/// (leaving nothing buffered) and byte by byte.
fn check_decodes_in_any_chunks(
    stream: &[u8],
    want: &[Packet],
    sizes: &[usize],
    direction: Direction,
) -> Result<(), TestCaseError> {
    let whole = decode_all(stream, direction).unwrap();
    prop_assert_eq!(&whole[..], want);

    let (chunked, err, dec) = decode_chunked(stream, sizes, direction);
    prop_assert_eq!(err, None);
    prop_assert_eq!(&chunked[..], want);
    prop_assert_eq!(dec.buffered(), 0);
    prop_assert!(!dec.is_mid_packet());

    let (bytewise, err, _) = decode_chunked(stream, &[1], direction);
    prop_assert_eq!(err, None);
    prop_assert_eq!(&bytewise[..], want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn client_streams_decode_the_same_in_any_chunks(
        cmds in proptest::collection::vec(client_packet(), 1..=8),
        sizes in chunk_sizes(),
    ) {
        let (stream, want) = (stream_of(&cmds), packets_of(&cmds));
        check_decodes_in_any_chunks(&stream, &want, &sizes, Direction::ToServer)?;
    }

    #[test]
    fn server_streams_decode_the_same_in_any_chunks(
        cmds in proptest::collection::vec(server_packet(), 1..=8),
        sizes in chunk_sizes(),
    ) {
        let (stream, want) = (stream_of(&cmds), packets_of(&cmds));
        check_decodes_in_any_chunks(&stream, &want, &sizes, Direction::ToClient)?;
    }
}

// ---------------------------------------------------------------------------
// (c) arbitrary input never panics

/// Input that gets past the header check often: headers with version 1 and
/// plausible fields, payloads full of CRLFs, mixed with raw noise.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let payload_byte = prop_oneof![
        4 => any::<u8>(),
        1 => Just(b'\r'),
        1 => Just(b'\n'),
        2 => select(&b"abc019 \n"[..]),
    ];
    let plausible = (
        prop_oneof![8 => Just(1u8), 1 => 0u8..16],
        prop_oneof![8 => 1u8..=0x12, 1 => any::<u8>()],
        prop_oneof![3 => 0u8..=0x17, 2 => Just(0xFFu8), 1 => any::<u8>()],
        0u8..16,
        prop_oneof![2 => 0u16..=64, 1 => 0u16..0x4000],
        prop_oneof![1 => Just(0u16), 4 => 0u16..0x400],
        any::<u16>(),
        prop_oneof![8 => Just(*b"\r\n"), 1 => any::<[u8; 2]>()],
        proptest::collection::vec(payload_byte, 0..=128),
    )
        .prop_map(
            |(version, action, info, args, length, id, reserved, crlf, payload)| {
                let h = Header {
                    version,
                    action,
                    info,
                    args,
                    length,
                    id,
                };
                let word = (h.to_u64() & !0xFFFF) | u64::from(reserved);
                let mut out = word.to_be_bytes().to_vec();
                out.extend_from_slice(&crlf);
                out.extend_from_slice(&payload);
                out
            },
        );
    // A self-consistent header (true length and count) with plausible
    // arguments, so that decoding gets through and commands get parsed:
    // mostly at least 3 arguments (every minimum), small info codes (valid
    // for every code table) and non-null ids.
    let arg = prop_oneof![
        3 => "[a-zA-Z0-9]{0,34}".prop_map(String::into_bytes),
        2 => stamp().prop_map(encode_stamp),
        1 => "([a-zA-Z0-9]{0,34}( [0-9+ ]{0,4})?\r?\n){0,6}".prop_map(String::into_bytes),
        1 => "([a-z0-9]{1,32}( [0-9]{1,3})?\n){0,6}[a-z0-9]{1,32}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..=40),
        1 => Just(b"\x02\x01\r\n".to_vec()),
        1 => Just(Vec::new()),
    ];
    let consistent = (
        1u8..=0x12,
        prop_oneof![6 => 0u8..=0x05, 2 => 0u8..=0x17, 2 => Just(0xFFu8), 1 => any::<u8>()],
        prop_oneof![1 => Just(0u16), 6 => 1u16..0x400],
        prop_oneof![
            1 => proptest::collection::vec(arg.clone(), 0..=2),
            4 => proptest::collection::vec(arg, 3..=15),
        ],
    )
        .prop_map(|(action, info, id, args)| {
            Packet::new(Action::from_code(action).unwrap(), info, id, &args)
                .map(|p| p.to_bytes().to_vec())
                .unwrap_or_default()
        });
    prop_oneof![
        2 => plausible,
        8 => consistent,
        1 => proptest::collection::vec(any::<u8>(), 0..=64),
    ]
}

fn check_arbitrary(stream: &[u8], sizes: &[usize], direction: Direction) {
    let (packets, err, dec) = decode_chunked(stream, sizes, direction);

    let mut consumed = 0usize;
    for p in &packets {
        // Whatever decodes is a valid packet that re-encodes to the bytes it
        // came from (reserved bits aside) and passes its header check.
        let again = p.to_bytes();
        assert!(same_but_reserved(
            &again,
            &stream[consumed..consumed + again.len()]
        ));
        consumed += again.len();
        assert_eq!(p.header().check(direction), Ok(p.action()));
        let re = Packet::new(p.action(), p.info(), p.id(), &p.args().collect::<Vec<_>>()).unwrap();
        assert_eq!(&re, p);
        match direction {
            Direction::ToServer => {
                if let Ok(cmd) = ClientCommand::from_packet(p) {
                    // A command read from a packet can be sent again.
                    let q = cmd.to_packet(p.id()).unwrap();
                    assert_eq!(ClientCommand::from_packet(&q).unwrap(), cmd);
                }
            }
            Direction::ToClient => {
                if let Ok(cmd) = ServerCommand::from_packet(p) {
                    let q = cmd.to_packet(p.id()).unwrap();
                    assert_eq!(ServerCommand::from_packet(&q).unwrap(), cmd);
                }
            }
        }
    }
    if err.is_none() {
        // Nothing was lost: what is left is an incomplete packet.
        assert_eq!(consumed + dec.buffered(), stream.len());
        if dec.buffered() > 0 {
            let mut rest = BytesMut::from(&stream[consumed..]);
            assert_eq!(decode_packet(&mut rest, direction), Ok(None));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_frames_never_panic(
        frames in proptest::collection::vec(frame(), 0..=4),
        sizes in chunk_sizes(),
    ) {
        let stream = frames.concat();
        check_arbitrary(&stream, &sizes, Direction::ToServer);
        check_arbitrary(&stream, &sizes, Direction::ToClient);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        stream in proptest::collection::vec(any::<u8>(), 0..=512),
        sizes in chunk_sizes(),
    ) {
        check_arbitrary(&stream, &sizes, Direction::ToServer);
        check_arbitrary(&stream, &sizes, Direction::ToClient);
    }

    #[test]
    fn chunking_never_changes_the_outcome(
        frames in proptest::collection::vec(frame(), 0..=4),
        sizes in chunk_sizes(),
    ) {
        let stream = frames.concat();
        for dir in [Direction::ToServer, Direction::ToClient] {
            let (whole, whole_err, _) = decode_chunked(&stream, &[stream.len().max(1)], dir);
            let (chunked, chunked_err, _) = decode_chunked(&stream, &sizes, dir);
            prop_assert_eq!(&whole, &chunked);
            prop_assert_eq!(whole_err, chunked_err);
        }
    }

    #[test]
    fn header_fields_round_trip(word in any::<u64>()) {
        let h = Header::from_u64(word);
        prop_assert_eq!(h.to_u64(), word | 0xFFFF);
        prop_assert_eq!(Header::from_bytes(h.to_bytes()), h);
        prop_assert!(h.version < 16 && h.args < 16 && h.length < 0x4000 && h.id < 0x400);
        let mut frame = h.to_bytes().to_vec();
        frame.extend_from_slice(b"\r\n");
        prop_assert_eq!(frame.len(), HEADER_FRAME_LEN);
    }
}

// ---------------------------------------------------------------------------
// (d) stamps

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn decode_stamp_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..=16)) {
        let _ = decode_stamp(&bytes);
    }

    #[test]
    fn decode_stamp_matches_the_nom_reference(
        unix in stamp(),
        cut in 0usize..=11,
        flip in proptest::option::of((any::<usize>(), 0u8..8)),
        trailing in proptest::collection::vec(any::<u8>(), 0..=4),
    ) {
        // Encodings cut short, with a bit flipped, or with bytes after.
        let mut bytes = encode_stamp(unix);
        bytes.truncate(cut);
        if let Some((i, bit)) = flip && !bytes.is_empty() {
            let i = i % bytes.len();
            bytes[i] ^= 1 << bit;
        }
        bytes.extend_from_slice(&trailing);
        prop_assert_eq!(decode_stamp(&bytes), grammar::decode_stamp(&bytes));
        let mut long = vec![0xffu8; 9];
        long.extend_from_slice(&bytes);
        prop_assert_eq!(decode_stamp(&long), grammar::decode_stamp(&long));
    }

    #[test]
    fn stamps_round_trip(unix in any::<i64>(), trailing in proptest::collection::vec(any::<u8>(), 0..=4)) {
        let enc = encode_stamp(unix);
        prop_assert!(!enc.is_empty() && enc.len() <= MAX_STAMP_LEN);
        // Every byte but the last continues; so a stamp never holds CRLF
        // before its end.
        prop_assert!(enc[..enc.len() - 1].iter().all(|b| b & 0x80 != 0));
        prop_assert!(enc[enc.len() - 1] & 0x80 == 0);
        prop_assert_eq!(decode_stamp(&enc), Ok(unix));
        // Bytes after the varint are ignored, as by the original.
        let mut long = enc.clone();
        long.extend_from_slice(&trailing);
        prop_assert_eq!(decode_stamp(&long), Ok(unix));
    }

    #[test]
    fn small_stamps_are_short(unix in -64i64..64) {
        prop_assert_eq!(encode_stamp(unix).len(), 1);
    }
}

// ---------------------------------------------------------------------------
// (e) the hand-tuned decoder against its nom reference

/// What the nom reference (`grammar::decode`) makes of a whole stream: its
/// packets, then the error that ended it or the bytes left over.
fn decode_with_grammar(
    stream: &[u8],
    direction: Direction,
) -> (Vec<Packet>, Result<usize, DecodeError>) {
    let mut packets = Vec::new();
    let mut rest = stream;
    loop {
        match grammar::decode(rest, direction) {
            Ok(Some((p, len))) => {
                assert!(len >= HEADER_FRAME_LEN && len <= rest.len());
                packets.push(p);
                rest = &rest[len..];
            }
            Ok(None) => return (packets, Ok(rest.len())),
            Err(e) => return (packets, Err(e)),
        }
    }
}

/// What the hand-tuned [`Decoder`] makes of it, fed in chunks of `sizes`.
fn decode_with_decoder(
    stream: &[u8],
    sizes: &[usize],
    direction: Direction,
) -> (Vec<Packet>, Result<usize, DecodeError>) {
    let (packets, err, dec) = decode_chunked(stream, sizes, direction);
    match err {
        Some(e) => (packets, Err(e)),
        None => (packets, Ok(dec.buffered())),
    }
}

/// Checks that the decoder and the nom reference agree on `stream` in both
/// directions: the same packets, then the same error or the same bytes
/// left; and `decode_packet` on the stream's first packet.
fn check_against_grammar(stream: &[u8], sizes: &[usize]) -> Result<(), TestCaseError> {
    for direction in [Direction::ToServer, Direction::ToClient] {
        let reference = decode_with_grammar(stream, direction);
        prop_assert_eq!(
            &decode_with_decoder(stream, sizes, direction),
            &reference,
            "{:?}",
            direction
        );
        let mut buf = BytesMut::from(stream);
        let first = grammar::decode(stream, direction).map(|p| p.map(|(p, _)| p));
        prop_assert_eq!(decode_packet(&mut buf, direction), first);
    }
    Ok(())
}

/// A change to a valid stream: a byte set or a bit flipped (anywhere, or in
/// the first header, where it changes the fields), separators inserted,
/// bytes removed, or the stream cut short.
#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Flip(usize, u8),
    Insert(usize, &'static [u8]),
    Remove(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = prop_oneof![2 => any::<usize>(), 1 => 0usize..HEADER_FRAME_LEN];
    prop_oneof![
        3 => (at.clone(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        3 => (at.clone(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        2 => (at.clone(), select(vec![&b"\r\n"[..], b"\r", b"\n", b"\0", b"\r\n\r\n"]))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        1 => (at, 1usize..=4).prop_map(|(at, n)| Mutation::Remove(at, n)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// [`check_against_grammar`] on `stream`, then again after each of
/// `mutations` in turn.
fn check_mutated_against_grammar(
    mut stream: Vec<u8>,
    mutations: &[Mutation],
    sizes: &[usize],
) -> Result<(), TestCaseError> {
    check_against_grammar(&stream, sizes)?;
    for m in mutations {
        mutate(&mut stream, m);
        check_against_grammar(&stream, sizes)?;
    }
    Ok(())
}

fn mutate(stream: &mut Vec<u8>, m: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *m {
        Mutation::Set(i, b) if !stream.is_empty() => {
            let i = at(i, stream.len());
            stream[i] = b;
        }
        Mutation::Flip(i, bit) if !stream.is_empty() => {
            let i = at(i, stream.len());
            stream[i] ^= 1 << bit;
        }
        Mutation::Insert(i, bytes) => {
            let i = at(i, stream.len() + 1);
            stream.splice(i..i, bytes.iter().copied());
        }
        Mutation::Remove(i, n) if !stream.is_empty() => {
            let i = at(i, stream.len());
            stream.drain(i..(i + n).min(stream.len()));
        }
        Mutation::Truncate(n) => stream.truncate(at(n, stream.len() + 1)),
        _ => {}
    }
}

/// Bytes for `parse_header`: cut-off and flipped frames of plausible
/// packets, and noise, 0 to 12 bytes.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (frame(), 0usize..=12).prop_map(|(f, n)| f[..n.min(f.len())].to_vec()),
        2 => (frame(), any::<usize>(), 0u8..8).prop_map(|(mut f, i, bit)| {
            f.truncate(HEADER_FRAME_LEN);
            if !f.is_empty() {
                let i = i % f.len();
                f[i] ^= 1 << bit;
            }
            f
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..=12),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parse_header_matches_the_nom_reference(frame in header_bytes()) {
        for direction in [Direction::ToServer, Direction::ToClient] {
            prop_assert_eq!(
                parse_header(&frame, direction),
                grammar::parse_header(&frame, direction),
                "{:?}",
                direction
            );
        }
    }

    #[test]
    fn decoder_matches_the_nom_reference_on_arbitrary_input(
        frames in proptest::collection::vec(frame(), 0..=4),
        noise in proptest::collection::vec(any::<u8>(), 0..=32),
        sizes in chunk_sizes(),
    ) {
        let mut stream = frames.concat();
        check_against_grammar(&stream, &sizes)?;
        stream.extend_from_slice(&noise);
        check_against_grammar(&stream, &sizes)?;
        check_against_grammar(&noise, &sizes)?;
    }

    #[test]
    fn decoder_matches_the_nom_reference_on_mutated_client_streams(
        cmds in proptest::collection::vec(client_packet(), 1..=4),
        mutations in proptest::collection::vec(mutation(), 1..=3),
        sizes in chunk_sizes(),
    ) {
        check_mutated_against_grammar(stream_of(&cmds).to_vec(), &mutations, &sizes)?;
    }

    #[test]
    fn decoder_matches_the_nom_reference_on_mutated_server_streams(
        cmds in proptest::collection::vec(server_packet(), 1..=4),
        mutations in proptest::collection::vec(mutation(), 1..=3),
        sizes in chunk_sizes(),
    ) {
        check_mutated_against_grammar(stream_of(&cmds).to_vec(), &mutations, &sizes)?;
    }
}

#[test]
fn decoder_matches_the_nom_reference_on_every_cut_of_a_msg() {
    // A MSG whose ciphertext holds CRLF, cut at every length and with
    // every byte of its header and separators flipped in turn.
    let cmd = ClientCommand::Msg {
        to: Username::new("bob").unwrap(),
        stamp: 1_751_300_000,
        ciphertext: Bytes::from_static(b"ab\r\ncd\r\n\r\nef"),
    };
    let wire = cmd.to_packet(5).unwrap().to_bytes().to_vec();
    for cut in 0..=wire.len() {
        check_against_grammar(&wire[..cut], &[3]).unwrap();
    }
    for i in 0..wire.len() {
        for bit in 0..8 {
            let mut flipped = wire.clone();
            flipped[i] ^= 1 << bit;
            check_against_grammar(&flipped, &[7]).unwrap();
        }
    }
}
