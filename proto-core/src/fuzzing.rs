//! Entry points of the fuzz targets in `fuzz/` (feature `fuzzing`).
//!
//! Each fuzz target is one line calling one function here, so that the fuzz
//! logic is compiled, linted and unit-tested by ordinary builds
//! (`cargo test -p gochat-proto --features fuzzing`). Every function takes
//! arbitrary bytes, must never panic on them, and panics (asserts) only when
//! an invariant of the crate breaks:
//!
//! - [`decoder_chunked`]: the decoder gives the same packets and the same
//!   error however the stream is chunked, and as its nom reference
//!   ([`grammar::decode`](crate::grammar::decode)); every packet re-encodes
//!   to its exact wire bytes (reserved bits aside).
//! - [`header`]: `parse_header` in both directions, and the same from its
//!   nom reference; `Header` round trips.
//! - [`client_command`], [`server_command`]: a parsed command encodes, decodes
//!   and parses back equal.
//! - [`stamp`]: `decode_stamp`, and the same from its nom reference;
//!   `encode_stamp` round trips.
//! - [`pem`]: PEM and key parsing, and their round trips.
//! - [`client_session`], [`server_session`]: session state machines driven by
//!   a small instruction language (see their docs), checking that they only
//!   ever send well-formed packets, resolve every request exactly once, emit
//!   nothing after `Closed` and never ask to be woken up in the past.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod client_session;
mod input;
mod seeds;
mod server_session;
#[cfg(test)]
mod tests;

use bytes::BytesMut;

use crate::command::{ClientCommand, ServerCommand};
use crate::crypto;
use crate::decoder::{DecodeError, Decoder, decode_packet, parse_header};
use crate::grammar;
use crate::header::{Direction, HEADER_FRAME_LEN, HEADER_LEN, Header};
use crate::packet::{Packet, encode_into};
use crate::stamp::{MAX_STAMP_LEN, decode_stamp, encode_stamp, encode_stamp_into};

pub use client_session::client_session;
pub use seeds::{client_session_seeds, raw, server_session_seeds};
pub use server_session::server_session;

use input::Input;

const DIRECTIONS: [Direction; 2] = [Direction::ToServer, Direction::ToClient];

/// Feeds `bytes` that a session transmitted to `wire`, the peer's decoder,
/// and hands each whole packet to `each`; a malformed packet is a finding
/// (`sender` names the side that sent it).
fn feed_transmitted(wire: &mut Decoder, bytes: &[u8], sender: &str, mut each: impl FnMut(Packet)) {
    wire.feed(bytes);
    loop {
        match wire.decode() {
            Ok(Some(p)) => each(p),
            Ok(None) => break,
            Err(e) => panic!("{sender} sent a malformed packet: {e}"),
        }
    }
}

/// What a decoder made of a whole stream.
#[derive(Debug, PartialEq)]
struct Decoded {
    packets: Vec<Packet>,
    /// The error that ended the stream, or the bytes left buffered.
    end: Result<usize, DecodeError>,
}

/// Decodes `stream` fed in chunks of `sizes` (cycled; each at least 1 byte),
/// alternating between `feed` and writing into `buffer_mut`.
fn decode_chunked(stream: &[u8], direction: Direction, sizes: &[usize]) -> Decoded {
    let mut dec = Decoder::new(direction);
    let mut packets = Vec::new();
    let mut pos = 0;
    let mut round = 0;
    loop {
        if pos < stream.len() {
            let size = sizes
                .get(round % sizes.len().max(1))
                .copied()
                .unwrap_or(usize::MAX)
                .clamp(1, stream.len() - pos);
            let chunk = &stream[pos..pos + size];
            if round % 2 == 0 {
                dec.feed(chunk);
            } else {
                dec.buffer_mut().extend_from_slice(chunk);
            }
            pos += size;
            round += 1;
        }
        loop {
            assert_eq!(dec.is_mid_packet(), dec.buffered() > 0);
            // Every way out in turn: an owned packet; a view whose arguments
            // are copied out before it is dropped; a view made owned.
            let next = match packets.len() % 3 {
                0 => dec.decode(),
                1 => dec.decode_ref().map(|view| view.map(|v| copy_of(&v))),
                _ => dec
                    .decode_ref()
                    .map(|view| view.map(crate::decoder::PacketRef::into_packet)),
            };
            match next {
                Ok(Some(p)) => packets.push(p),
                Ok(None) => break,
                Err(e) => {
                    // A dead stream stays dead and buffers nothing.
                    dec.feed(b"\x10\x3f\xf0\x00\x00\x05\xff\xff\r\n");
                    assert_eq!(dec.buffered(), 0);
                    assert_eq!(dec.decode(), Err(e));
                    return Decoded {
                        packets,
                        end: Err(e),
                    };
                }
            }
        }
        dec.release_if_empty();
        if pos >= stream.len() {
            return Decoded {
                packets,
                end: Ok(dec.buffered()),
            };
        }
    }
}

/// What the nom reference ([`grammar::decode`]) makes of a whole stream.
fn decode_with_grammar(stream: &[u8], direction: Direction) -> Decoded {
    let mut packets = Vec::new();
    let mut rest = stream;
    loop {
        match grammar::decode(rest, direction) {
            Ok(Some((p, len))) => {
                packets.push(p);
                rest = &rest[len..];
            }
            Ok(None) => {
                return Decoded {
                    packets,
                    end: Ok(rest.len()),
                };
            }
            Err(e) => {
                return Decoded {
                    packets,
                    end: Err(e),
                };
            }
        }
    }
}

/// An owned copy of a view's packet, built from its parts (checks that the
/// view's arguments are where its payload says).
fn copy_of(view: &crate::decoder::PacketRef<'_>) -> Packet {
    let args: Vec<&[u8]> = view.args().collect();
    assert_eq!(args.len(), view.arg_count());
    let mut payload = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        assert_eq!(view.arg_slice(i), Some(*arg));
        payload.extend_from_slice(arg);
        payload.extend_from_slice(b"\r\n");
    }
    assert_eq!(view.payload(), payload.as_slice());
    match Packet::new(view.action(), view.info(), view.id(), &args) {
        Ok(p) => p,
        Err(e) => panic!("a decoded view does not rebuild: {e}"),
    }
}

/// Checks that a decoded packet re-encodes to the wire bytes it came from,
/// except for the reserved bits, which are always written as ones.
fn check_reencodes(p: &Packet, wire: &[u8], direction: Direction) {
    let encoded = p.to_bytes();
    assert_eq!(encoded.len(), wire.len(), "{p:?}");
    assert_eq!(encoded[..6], wire[..6], "{p:?}");
    assert_eq!(encoded[6..HEADER_LEN], [0xff, 0xff], "{p:?}");
    assert_eq!(encoded[HEADER_LEN..], wire[HEADER_LEN..], "{p:?}");
    let raw: [u8; HEADER_LEN] = wire[..HEADER_LEN].try_into().unwrap();
    assert_eq!(Header::from_bytes(raw), p.header());

    // The same packet built from its parts, and written without a Packet.
    let args: Vec<_> = p.args().collect();
    assert_eq!(args.len(), p.arg_count());
    let rebuilt = Packet::new(p.action(), p.info(), p.id(), &args)
        .unwrap_or_else(|e| panic!("decoded packet {p:?} cannot be rebuilt: {e}"));
    assert_eq!(&rebuilt, p);
    let mut direct = BytesMut::new();
    encode_into(&mut direct, p.action(), p.info(), p.id(), &args).unwrap();
    assert_eq!(direct, encoded);

    // And it decodes again to itself.
    let mut again = BytesMut::from(&encoded[..]);
    assert_eq!(decode_packet(&mut again, direction), Ok(Some(p.clone())));
    assert!(again.is_empty());
}

/// Target `decoder_chunked`: the first byte says how many of the next bytes
/// are chunk sizes; the rest is the stream, decoded in both directions, whole
/// and in those chunks.
pub fn decoder_chunked(data: &[u8]) {
    let mut input = Input::new(data);
    let n = usize::from(input.byte() % 8) + 1;
    let sizes: Vec<usize> = input.take(n).iter().map(|&b| usize::from(b) + 1).collect();
    let stream = input.rest();
    for direction in DIRECTIONS {
        let whole = decode_chunked(stream, direction, &[stream.len()]);
        let chunked = decode_chunked(stream, direction, &sizes);
        let bytewise = decode_chunked(stream, direction, &[1]);
        assert_eq!(whole, chunked, "{direction:?}: chunking changed the result");
        assert_eq!(
            whole, bytewise,
            "{direction:?}: byte-wise feeding changed it"
        );
        assert_eq!(
            whole,
            decode_with_grammar(stream, direction),
            "{direction:?}: the nom reference reads it otherwise"
        );

        let mut offset = 0;
        for p in &whole.packets {
            check_reencodes(p, &stream[offset..offset + p.wire_len()], direction);
            offset += p.wire_len();
        }
        let rest = &stream[offset..];
        let mut buf = BytesMut::from(rest);
        match whole.end {
            Ok(left) => {
                assert_eq!(left, rest.len());
                assert_eq!(decode_packet(&mut buf, direction), Ok(None));
                assert_eq!(buf.len(), rest.len(), "need-more consumed bytes");
            }
            Err(e) => assert_eq!(decode_packet(&mut buf, direction), Err(e)),
        }
    }
}

/// Target `header`: `parse_header` in both directions on the input (any
/// length) and on its first 10 bytes; `Header` conversions on the first 8.
pub fn header(data: &[u8]) {
    for direction in DIRECTIONS {
        let result = parse_header(data, direction);
        assert_eq!(
            result,
            grammar::parse_header(data, direction),
            "{direction:?}: the nom reference reads the header otherwise"
        );
        if data.len() >= HEADER_FRAME_LEN {
            assert_eq!(result, parse_header(&data[..HEADER_FRAME_LEN], direction));
        }
        if let Ok((h, action)) = result {
            assert_eq!(&data[HEADER_LEN..HEADER_FRAME_LEN], b"\r\n");
            assert_eq!(h.check(direction), Ok(action));
            assert_eq!(h.known_action(), Some(action));
            assert_eq!(h.args == 0, h.length == 0, "{h:?}");
        }
    }
    if let Some(raw) = data.first_chunk::<HEADER_LEN>() {
        let h = Header::from_bytes(*raw);
        let back = h.to_bytes();
        assert_eq!(back[..6], raw[..6]);
        assert_eq!(back[6..], [0xff, 0xff]);
        assert_eq!(Header::from_bytes(back), h);
        assert_eq!(Header::from_u64(h.to_u64()), h);
        assert_eq!(h.to_u64(), u64::from_be_bytes(back));
    }
    // Out-of-range fields are masked, never spilled into their neighbours.
    let mut input = Input::new(data);
    let h = Header {
        version: input.byte(),
        action: input.byte(),
        info: input.byte(),
        args: input.byte(),
        length: input.u16(),
        id: input.u16(),
    };
    let masked = Header::from_u64(h.to_u64());
    assert_eq!(
        masked,
        Header {
            version: h.version & 0x0f,
            action: h.action,
            info: h.info,
            args: h.args & 0x0f,
            length: h.length & 0x3fff,
            id: h.id & 0x03ff,
        }
    );
}

/// The packet a command target works on: decoded from the bytes after the
/// first (odd first byte) or assembled from them. An assembled packet must
/// read back as it was built whenever its header passes the checks.
fn command_packet(data: &[u8], direction: Direction) -> Option<Packet> {
    let mut input = Input::new(data);
    if input.byte() % 2 == 1 {
        let wire = input.rest();
        let mut buf = BytesMut::from(wire);
        let decoded = decode_packet(&mut buf, direction);
        let reference = grammar::decode(wire, direction).map(|p| p.map(|(p, _)| p));
        assert_eq!(decoded, reference, "the nom reference reads it otherwise");
        decoded.ok().flatten()
    } else {
        let p = input.packet()?;
        let mut wire = BytesMut::from(&p.to_bytes()[..]);
        match decode_packet(&mut wire, direction) {
            Ok(decoded) => assert_eq!(decoded.as_ref(), Some(&p), "built packet reads back"),
            Err(e) => assert!(matches!(e, DecodeError::Header(_)), "{p:?}: {e}"),
        }
        Some(p)
    }
}

/// Re-encodes a parsed command with a non-null id and decodes it back.
fn round_trip(
    direction: Direction,
    id: u16,
    to_packet: impl FnOnce(u16) -> Packet,
    encode: impl FnOnce(u16, &mut BytesMut),
) -> Packet {
    let id = if id == 0 { 1 } else { id };
    let packet = to_packet(id);
    let mut wire = BytesMut::new();
    encode(id, &mut wire);
    assert_eq!(wire, packet.to_bytes(), "encode and to_packet disagree");
    let decoded = decode_packet(&mut wire, direction)
        .unwrap_or_else(|e| panic!("re-encoded {packet:?} does not decode: {e}"))
        .unwrap_or_else(|| panic!("re-encoded {packet:?} is incomplete"));
    assert!(wire.is_empty());
    assert_eq!(decoded, packet);
    decoded
}

/// Target `client_command`: a packet a server receives, parsed as a
/// [`ClientCommand`]; a command must encode and parse back equal.
pub fn client_command(data: &[u8]) {
    let Some(p) = command_packet(data, Direction::ToServer) else {
        return;
    };
    let Ok(cmd) = ClientCommand::from_packet(&p) else {
        return;
    };
    assert_eq!(cmd.action(), p.action());
    let back = round_trip(
        Direction::ToServer,
        p.id(),
        |id| {
            cmd.to_packet(id)
                .unwrap_or_else(|e| panic!("{cmd:?} from {p:?} cannot be encoded: {e}"))
        },
        |id, dst| cmd.encode(id, dst).unwrap(),
    );
    assert_eq!(ClientCommand::from_packet(&back), Ok(cmd));
}

/// Target `server_command`: a packet a client receives, parsed as a
/// [`ServerCommand`]; a command must encode and parse back equal.
pub fn server_command(data: &[u8]) {
    let Some(p) = command_packet(data, Direction::ToClient) else {
        return;
    };
    let Ok(cmd) = ServerCommand::from_packet(&p) else {
        return;
    };
    assert_eq!(cmd.action(), p.action());
    let back = round_trip(
        Direction::ToClient,
        p.id(),
        |id| {
            cmd.to_packet(id)
                .unwrap_or_else(|e| panic!("{cmd:?} from {p:?} cannot be encoded: {e}"))
        },
        |id, dst| cmd.encode(id, dst).unwrap(),
    );
    assert_eq!(ServerCommand::from_packet(&back), Ok(cmd));
}

/// Target `stamp`: decodes the input as a stamp (as its nom reference
/// does too) and re-encodes what it gives; encodes the first 8 bytes read as
/// an `i64` and decodes them back.
pub fn stamp(data: &[u8]) {
    assert_eq!(
        decode_stamp(data),
        grammar::decode_stamp(data),
        "the nom reference reads the stamp otherwise"
    );
    if let Ok(v) = decode_stamp(data) {
        let canonical = encode_stamp(v);
        assert_eq!(decode_stamp(&canonical), Ok(v));
        // The varint ends at the first byte below 0x80; canonical is shortest.
        let used = data.iter().position(|&b| b < 0x80).unwrap() + 1;
        assert!(canonical.len() <= used, "{data:?} -> {v} -> {canonical:?}");
        assert_eq!(decode_stamp(&data[..used]), Ok(v));
    }
    if let Some(raw) = data.first_chunk::<8>() {
        let v = i64::from_le_bytes(*raw);
        let encoded = encode_stamp(v);
        let mut buf = [0u8; MAX_STAMP_LEN];
        let n = encode_stamp_into(v, &mut buf);
        assert_eq!(&buf[..n], encoded.as_slice());
        assert_eq!(decode_stamp(&encoded), Ok(v));
        // Bytes after the varint are ignored.
        let mut longer = encoded.clone();
        longer.extend_from_slice(&data[8..]);
        assert_eq!(decode_stamp(&longer), Ok(v));
        // Any strict prefix is truncated.
        assert!(decode_stamp(&encoded[..encoded.len() - 1]).is_err());
    }
}

/// Target `pem`: `pem_decode`, `public_key_from_pem` and
/// `private_key_from_pem` on the input, and the round trips of what they
/// accept.
pub fn pem(data: &[u8]) {
    if let Ok((label, der)) = crypto::pem_decode(data) {
        let text = crypto::pem_encode(&label, &der);
        let (label2, der2) = crypto::pem_decode(text.as_bytes())
            .unwrap_or_else(|e| panic!("re-encoded PEM {text:?} does not decode: {e}"));
        assert_eq!(label2, label);
        assert_eq!(der2, der);
    }
    if let Ok(key) = crypto::public_key_from_pem(data) {
        let text = crypto::public_key_to_pem(&key).unwrap();
        let again = crypto::public_key_from_pem(text.as_bytes()).unwrap();
        assert!(again == key, "public key changed in a PEM round trip");
    }
    if let Ok(key) = crypto::private_key_from_pem(data) {
        let text = crypto::private_key_to_pem(&key).unwrap();
        let again = crypto::private_key_from_pem(text.as_bytes()).unwrap();
        assert!(again == key, "private key changed in a PEM round trip");
    }
}
