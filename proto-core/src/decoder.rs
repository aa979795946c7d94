//! The streaming decoder: bytes in chunks of any size in, checked packets out.
//!
//! Decoding runs in two phases. Fewer than 10 buffered bytes is "need more",
//! never an error. Once the header and its CRLF are there they are parsed and
//! checked (version, action, info, id, argument count, length) before any
//! payload is awaited, so an unchecked length never causes an allocation.
//! Once header and payload are buffered, exactly that slice is split into
//! arguments. [`Decoder::decode_ref`] hands the packet out as a [`PacketRef`]
//! view still in the buffer; [`Decoder::decode`] splits it off as one shared
//! [`Bytes`] that its arguments slice.
//!
//! The header frame ([`parse_header`]) and the argument split are
//! hand-tuned: every packet a server relays passes through them, and with
//! the nom parsers of the same grammar ([`grammar`](crate::grammar)) in
//! their place the `codec` bench counted about four times the instructions
//! for a MSG (`docs/PERFORMANCE.md`, "Codec: nom parsers"). Those nom
//! parsers are the reference: property tests and the fuzz targets check
//! that this decoder gives the same packets and the same errors as
//! [`grammar::decode`](crate::grammar::decode).

use bytes::Bytes;
use bytes::{Buf, BytesMut};

use crate::codes::{Action, ErrorCode};
use crate::header::{Direction, HEADER_FRAME_LEN, HEADER_LEN, Header, MAX_ARG_LEN, MAX_ARGS};
use crate::packet::{ArgEnds, Packet};

/// Why bytes are not a valid packet. Every variant is fatal for the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The header failed the direction's check; carries the code to answer with.
    #[error("invalid header ({0})")]
    Header(ErrorCode),
    /// The two bytes after the header are not CRLF.
    #[error("header not followed by CRLF")]
    MissingHeaderCrlf,
    /// The header claims arguments but a zero-length payload.
    #[error("header claims {args} arguments but an empty payload")]
    EmptyPayload {
        /// Claimed argument count.
        args: u8,
    },
    /// The header claims a payload but no arguments.
    #[error("header claims a {length}-byte payload but no arguments")]
    PayloadWithoutArgs {
        /// Claimed payload length.
        length: u16,
    },
    /// Fewer CRLF-terminated arguments in the payload than the header claims.
    #[error("header claims {expected} arguments, payload holds {found}")]
    MissingArgs {
        /// Claimed argument count.
        expected: u8,
        /// Arguments found.
        found: u8,
    },
    /// An argument longer than 2045 bytes.
    #[error("argument of {0} bytes, at most 2045 allowed")]
    ArgTooLong(usize),
    /// The payload does not end with CRLF, so its length is wrong.
    #[error("payload does not end with CRLF")]
    BadLength,
}

impl DecodeError {
    /// The protocol error code a peer answers this with.
    pub const fn code(&self) -> ErrorCode {
        match self {
            DecodeError::Header(code) => *code,
            DecodeError::MissingHeaderCrlf => ErrorCode::Header,
            DecodeError::EmptyPayload { .. } | DecodeError::MissingArgs { .. } => ErrorCode::Args,
            DecodeError::PayloadWithoutArgs { .. } => ErrorCode::MaxSize,
            DecodeError::ArgTooLong(_) | DecodeError::BadLength => ErrorCode::MaxSize,
        }
    }

    /// The protocol name of [`Self::code`], e.g. `ERR_HEADER`.
    pub const fn name(&self) -> &'static str {
        self.code().name()
    }
}

/// The header word of a frame whose 8 header bytes are followed by CRLF.
#[inline(always)]
fn frame_word(frame: &[u8]) -> Option<u64> {
    match frame {
        [h0, h1, h2, h3, h4, h5, h6, h7, b'\r', b'\n', ..] => {
            Some(u64::from_be_bytes([*h0, *h1, *h2, *h3, *h4, *h5, *h6, *h7]))
        }
        _ => None,
    }
}

/// Offset of the first CRLF in `window`.
///
/// For leading arguments that do not end within a payload's first 16 bytes
/// (those are taken from [`head_crlfs`]): a plain byte loop, which measured
/// faster with the `codec` bench than a vectorised search (its setup) and
/// than a word-at-a-time scan that verifies each candidate CR.
#[inline(always)]
fn find_crlf(window: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at + 1 < window.len() {
        if window[at] == b'\r' && window[at + 1] == b'\n' {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// Parses and checks a header frame (8 bytes and CRLF).
///
/// Returns the header and its action, or the error a peer answers with. A
/// frame shorter than 10 bytes reads as if zero bytes followed it.
///
/// Hand-tuned (the header read as one big-endian word, the checks from one
/// table lookup); [`grammar::parse_header`](crate::grammar::parse_header)
/// is its nom reference and gives the same result on every input.
#[inline(always)]
pub fn parse_header(frame: &[u8], direction: Direction) -> Result<(Header, Action), DecodeError> {
    let Some(word) = frame_word(frame) else {
        // Check the header itself first so that a bad version wins over a bad CRLF.
        let mut bytes = [0u8; HEADER_LEN];
        let n = frame.len().min(HEADER_LEN);
        bytes[..n].copy_from_slice(&frame[..n]);
        let header = Header::from_bytes(bytes);
        header.check(direction).map_err(DecodeError::Header)?;
        return Err(DecodeError::MissingHeaderCrlf);
    };
    let header = Header::from_u64(word);
    let action = header.check(direction).map_err(DecodeError::Header)?;
    match (header.args, header.length) {
        (0, 0) => {}
        (0, length) => return Err(DecodeError::PayloadWithoutArgs { length }),
        (args, 0) => return Err(DecodeError::EmptyPayload { args }),
        _ => {}
    }
    Ok((header, action))
}

/// Bytes at the front of a payload searched for leading arguments at once.
const HEAD: usize = 16;

/// Bit 7 of every byte of `word` that equals `byte`, and no other bit.
///
/// Exact for every byte (no carry runs from one byte into the next), so
/// every bit set is a match.
#[inline(always)]
fn byte_matches(word: u128, byte: u8) -> u128 {
    const LOW7: u128 = u128::from_le_bytes([0x7F; 16]);
    let x = word ^ u128::from_le_bytes([byte; 16]);
    // Bit 7 of each byte of `t` is set when that byte of `x` is not zero.
    let t = ((x & LOW7) + LOW7) | x;
    !t & !LOW7
}

/// The CRLFs starting in the first [`HEAD`] bytes of `bytes`: bit 7 of byte
/// `i` of the (little-endian) result is set when `bytes[i..i + 2]` is CRLF.
#[inline(always)]
fn head_crlfs(bytes: &[u8; HEAD + 1]) -> u128 {
    let (Some(here), Some(next)) = (bytes.first_chunk::<HEAD>(), bytes.last_chunk::<HEAD>()) else {
        return 0;
    };
    byte_matches(u128::from_le_bytes(*here), b'\r')
        & byte_matches(u128::from_le_bytes(*next), b'\n')
}

/// Records the end of argument `i`: the first four in `low`, which stays in
/// a register and is stored once with [`ArgEnds::set_low`], the others in
/// `ends` directly.
#[inline(always)]
fn record_end(low: &mut u64, ends: &mut ArgEnds, i: usize, end: u16) {
    if i < 4 {
        *low |= u64::from(end) << (16 * i);
    } else {
        ends.set(i, end);
    }
}

/// Splits a complete payload into arguments, writing each one's end offset
/// into `ends`.
///
/// The first n-1 arguments end at the first CRLF; the last one takes the rest
/// of the payload minus its final CRLF, so binary last arguments may hold CRLF.
///
/// Hand-tuned; [`grammar::arguments`](crate::grammar::arguments) is its nom
/// reference, and a property test below checks that both agree.
#[inline(always)]
pub(crate) fn split_payload(
    payload: &[u8],
    args: u8,
    ends: &mut ArgEnds,
) -> Result<(), DecodeError> {
    let n = usize::from(args).min(MAX_ARGS);
    if n == 0 {
        return if payload.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::BadLength)
        };
    }
    let total = payload.len();
    // The first four ends are gathered in a register and stored once.
    let mut low = 0u64;
    let mut found = 0;
    let mut rest = payload;
    // Leading arguments that end within the first 16 bytes, the usual case
    // (names, stamps), are taken from one mask of the CRLFs there, in order:
    // each is the first CRLF after the previous one's.
    if n > 1
        && let Some(head) = payload.first_chunk::<{ HEAD + 1 }>()
    {
        let mut crlfs = head_crlfs(head);
        while found < n - 1 && crlfs != 0 {
            let end = crlfs.trailing_zeros() / 8;
            crlfs &= crlfs - 1;
            record_end(&mut low, ends, found, end as u16);
            rest = payload.get(end as usize + 2..).unwrap_or_default();
            found += 1;
        }
    }
    for i in found..n - 1 {
        let start = total - rest.len();
        // The search stops at an argument's reach, so an argument found is
        // never longer than MAX_ARG_LEN.
        let window = &rest[..rest.len().min(MAX_ARG_LEN + 2)];
        let Some(at) = find_crlf(window) else {
            // Past the reach (too long) or nowhere (missing).
            let beyond = window.len().saturating_sub(1);
            return Err(match memchr::memmem::find(&rest[beyond..], b"\r\n") {
                Some(at) => DecodeError::ArgTooLong(beyond + at),
                None => DecodeError::MissingArgs {
                    expected: args,
                    found: i as u8,
                },
            });
        };
        record_end(&mut low, ends, i, (start + at) as u16);
        rest = &rest[at + 2..];
    }
    let Some(last) = rest.strip_suffix(b"\r\n") else {
        if rest.is_empty() {
            return Err(DecodeError::MissingArgs {
                expected: args,
                found: args - 1,
            });
        }
        return Err(DecodeError::BadLength);
    };
    if last.len() > MAX_ARG_LEN {
        return Err(DecodeError::ArgTooLong(last.len()));
    }
    let end = (total - 2) as u16;
    record_end(&mut low, ends, n - 1, end);
    ends.set_low(low);
    Ok(())
}

/// Where a complete, checked packet lies at the front of a buffer.
///
/// The decoder keeps one and has [`locate`] fill it in place: moving it
/// around right after its fields were written one by one would stall on
/// store forwarding.
#[derive(Clone, Copy, Debug)]
struct Located {
    /// Argument end offsets in the payload, as [`Packet`] keeps them.
    ends: ArgEnds,
    /// Payload length.
    length: usize,
    id: u16,
    action: Action,
    info: u8,
    args: u8,
}

impl Default for Located {
    /// A placeholder; [`locate`] overwrites every field before it is read.
    fn default() -> Self {
        Located {
            ends: ArgEnds::default(),
            length: 0,
            id: 0,
            action: Action::Keep,
            info: 0,
            args: 0,
        }
    }
}

/// Checks the packet at the front of `buf` without consuming anything and
/// describes it in `at`; `Ok(false)` when it is not complete yet.
#[inline(always)]
fn locate(buf: &[u8], direction: Direction, at: &mut Located) -> Result<bool, DecodeError> {
    let Some(frame) = buf.get(..HEADER_FRAME_LEN) else {
        return Ok(false);
    };
    let (header, action) = parse_header(frame, direction)?;
    let length = usize::from(header.length);
    let Some(payload) = buf.get(HEADER_FRAME_LEN..HEADER_FRAME_LEN + length) else {
        return Ok(false);
    };
    at.ends = ArgEnds::default();
    split_payload(payload, header.args, &mut at.ends)?;
    at.length = length;
    at.id = header.id;
    at.action = action;
    at.info = header.info;
    at.args = header.args;
    Ok(true)
}

/// Decodes one packet from the front of `buf`, consuming it.
///
/// `Ok(None)` means more bytes are needed; nothing is consumed then. After an
/// error the stream cannot be resynchronised.
pub fn decode_packet(
    buf: &mut BytesMut,
    direction: Direction,
) -> Result<Option<Packet>, DecodeError> {
    let mut at = Located::default();
    if !locate(buf, direction, &mut at)? {
        return Ok(None);
    }
    let mut input = Input {
        bytes: std::mem::take(buf),
        read: HEADER_FRAME_LEN + at.length,
    };
    let packet = PacketRef {
        input: &mut input,
        at: &at,
        start: 0,
    }
    .into_packet();
    input.compact();
    *buf = input.bytes;
    Ok(Some(packet))
}

/// The decoder's input: received bytes, of which the first `read` belong
/// to packets already handed out as views.
///
/// Consumed views only move `read`; the bytes are dropped from the front of
/// the buffer in one step when the decoder runs out of complete packets or
/// is given more input, rather than once per packet.
#[derive(Debug, Default)]
struct Input {
    bytes: BytesMut,
    read: usize,
}

impl Input {
    /// The bytes not yet consumed.
    #[inline]
    fn unread(&self) -> &[u8] {
        self.bytes.get(self.read..).unwrap_or_default()
    }

    /// Drops the consumed bytes from the buffer.
    ///
    /// When everything was consumed the buffer is only emptied, so its whole
    /// capacity stays in place for the next input without a reclaim.
    #[inline]
    fn compact(&mut self) {
        if self.read > 0 {
            if self.read >= self.bytes.len() {
                self.bytes.clear();
            } else {
                self.bytes.advance(self.read);
            }
            self.read = 0;
        }
    }
}

/// A decoded packet still inside the [`Decoder`]'s buffer: checked like any
/// packet, its arguments readable as borrowed slices.
///
/// The packet is consumed when the view is made: dropping (or forgetting)
/// the view leaves it behind, and [`PacketRef::into_packet`] turns it into
/// an owned [`Packet`] whose arguments are zero-copy [`Bytes`] instead.
/// Reading a packet through the view costs no reference count and no
/// allocation; only a consumer that keeps the packet pays for the split.
pub struct PacketRef<'a> {
    input: &'a mut Input,
    at: &'a Located,
    /// Where the packet's header starts in `input.bytes`.
    start: usize,
}

impl core::fmt::Debug for PacketRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketRef")
            .field("action", &self.action())
            .field("info", &self.info())
            .field("id", &self.id())
            .field("args", &self.args().collect::<Vec<_>>())
            .finish()
    }
}

impl PacketRef<'_> {
    /// The action.
    #[inline]
    pub fn action(&self) -> Action {
        self.at.action
    }

    /// The info byte (`0xFF` when empty).
    #[inline]
    pub fn info(&self) -> u8 {
        self.at.info
    }

    /// The packet id (0 = null id).
    #[inline]
    pub fn id(&self) -> u16 {
        self.at.id
    }

    /// Number of arguments.
    #[inline]
    pub fn arg_count(&self) -> usize {
        usize::from(self.at.args)
    }

    /// Argument `i`, borrowed from the decoder's buffer.
    #[inline]
    pub fn arg_slice(&self, i: usize) -> Option<&[u8]> {
        let (start, end) = self.at.ends.range(i, self.arg_count())?;
        self.payload().get(start..end)
    }

    /// All arguments, borrowed.
    #[inline]
    pub fn args(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        // Walks the ends in order (each start is the previous end plus its
        // CRLF) rather than through `ArgEnds::bounds`: this is the decoder's
        // hot path, and the walk measured faster in the `codec` bench.
        let payload = self.payload();
        let ends = &self.at.ends;
        let mut start = 0;
        (0..self.arg_count()).map(move |i| {
            let end = ends.get(i);
            let arg = payload.get(start..end).unwrap_or_default();
            start = end + 2;
            arg
        })
    }

    /// The payload: every argument followed by CRLF.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let start = self.start + HEADER_FRAME_LEN;
        self.input
            .bytes
            .get(start..start + self.at.length)
            .unwrap_or_default()
    }

    /// The owned packet, its payload split off the decoder's buffer without
    /// copying.
    #[inline(always)]
    pub fn into_packet(self) -> Packet {
        let at = self.at;
        let payload = if at.length == 0 {
            // Nothing to share; the header is consumed already.
            Bytes::new()
        } else {
            let input = self.input;
            // The packet is the last thing consumed, so it ends at `read`:
            // one split takes the consumed bytes before it along, and
            // dropping them from the front of the frozen frame is pointer
            // arithmetic.
            let mut frame = input.bytes.split_to(input.read).freeze();
            frame.advance(self.start + HEADER_FRAME_LEN);
            input.read = 0;
            frame
        };
        Packet::from_parts(at.action, at.info, at.id, payload, at.args, at.ends)
    }
}

/// A streaming decoder for one direction of one connection.
#[derive(Debug)]
pub struct Decoder {
    direction: Direction,
    input: Input,
    failed: Option<DecodeError>,
    /// The packet the last [`Decoder::decode_ref`] found.
    current: Located,
}

impl Decoder {
    /// A decoder for packets travelling in `direction`.
    pub fn new(direction: Direction) -> Self {
        Decoder {
            direction,
            input: Input::default(),
            failed: None,
            current: Located::default(),
        }
    }

    /// The direction this decoder checks headers for.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Appends received bytes.
    ///
    /// After a decode error the stream is dead and input is dropped, so a peer
    /// that keeps sending cannot grow the buffer.
    #[inline]
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.input.compact();
            self.input.bytes.extend_from_slice(data);
        }
    }

    /// The input buffer, for reading straight into it.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        self.input.compact();
        &mut self.input.bytes
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.input.unread().len()
    }

    /// Whether part of a packet is buffered.
    pub fn is_mid_packet(&self) -> bool {
        !self.input.unread().is_empty()
    }

    /// Frees the input buffer when it holds nothing, so an idle connection keeps
    /// no buffer memory.
    pub fn release_if_empty(&mut self) {
        if self.input.unread().is_empty() && self.input.bytes.capacity() > 0 {
            self.input = Input::default();
        }
    }

    /// The next complete packet, `Ok(None)` when more bytes are needed.
    ///
    /// After an error every later call returns the same error.
    #[inline(always)]
    pub fn decode(&mut self) -> Result<Option<Packet>, DecodeError> {
        Ok(self.decode_ref()?.map(PacketRef::into_packet))
    }

    /// The next complete packet as a view into the buffer (see
    /// [`PacketRef`]), `Ok(None)` when more bytes are needed.
    ///
    /// After an error every later call returns the same error.
    #[inline(always)]
    pub fn decode_ref(&mut self) -> Result<Option<PacketRef<'_>>, DecodeError> {
        if let Some(e) = self.failed {
            // Drop whatever came in through `buffer_mut` since.
            self.input = Input::default();
            return Err(e);
        }
        match locate(self.input.unread(), self.direction, &mut self.current) {
            Ok(true) => {
                let start = self.input.read;
                self.input.read += HEADER_FRAME_LEN + self.current.length;
                Ok(Some(PacketRef {
                    input: &mut self.input,
                    at: &self.current,
                    start,
                }))
            }
            Ok(false) => {
                self.input.compact();
                Ok(None)
            }
            Err(e) => {
                self.failed = Some(e);
                self.input = Input::default();
                Err(e)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::codes::EMPTY_INFO;

    fn dec(bytes: &[u8], dir: Direction) -> Result<Option<Packet>, DecodeError> {
        let mut b = BytesMut::from(bytes);
        decode_packet(&mut b, dir)
    }

    #[test]
    fn needs_ten_bytes_before_anything() {
        assert_eq!(dec(&[0x20; 9], Direction::ToServer), Ok(None));
        assert_eq!(
            dec(&[0x20; 10], Direction::ToServer),
            Err(DecodeError::Header(ErrorCode::Version))
        );
    }

    #[test]
    fn args_with_zero_length_is_malformed() {
        let h = [0x10, 0x6f, 0xf1, 0x00, 0x00, 0x07, 0xff, 0xff, 0x0d, 0x0a];
        assert_eq!(
            dec(&h, Direction::ToServer),
            Err(DecodeError::EmptyPayload { args: 1 })
        );
    }

    #[test]
    fn more_args_than_payload_is_malformed() {
        // LOGIN with args=3, len=7 "alice\r\n": VERIF needs 2 minimum so use REQ (min 1)
        let mut p = vec![0x10, 0x9f, 0xf3, 0x00, 0x1c, 0x05, 0xff, 0xff, 0x0d, 0x0a];
        p.extend_from_slice(b"alice\r\n");
        assert_eq!(
            dec(&p, Direction::ToServer),
            Err(DecodeError::MissingArgs {
                expected: 3,
                found: 1
            })
        );
    }

    #[test]
    fn missing_header_crlf_is_header_error() {
        let h = [0x10, 0x3f, 0xf0, 0x00, 0x00, 0x05, 0xff, 0xff, 0x00, 0x00];
        assert_eq!(
            dec(&h, Direction::ToServer),
            Err(DecodeError::MissingHeaderCrlf)
        );
        assert_eq!(DecodeError::MissingHeaderCrlf.code(), ErrorCode::Header);
    }

    #[test]
    fn views_consume_on_drop_and_split_on_demand() {
        let mut wire = BytesMut::new();
        let keep = Packet::bare(Action::Keep, EMPTY_INFO, 7).unwrap();
        let login = Packet::new(Action::Login, EMPTY_INFO, 8, &[b"alice".as_slice()]).unwrap();
        keep.encode(&mut wire);
        login.encode(&mut wire);
        let mut dec = Decoder::new(Direction::ToServer);
        dec.feed(&wire[..wire.len() - 1]);
        {
            let view = dec.decode_ref().unwrap().unwrap();
            assert_eq!(
                (view.action(), view.id(), view.arg_count()),
                (Action::Keep, 7, 0)
            );
            assert_eq!(view.payload(), b"");
        }
        // The KEEP is gone, the LOGIN is still short of its last byte.
        assert_eq!(dec.buffered(), login.wire_len() - 1);
        assert!(dec.decode_ref().unwrap().is_none());
        dec.feed(&wire[wire.len() - 1..]);
        let view = dec.decode_ref().unwrap().unwrap();
        assert_eq!(view.arg_slice(0), Some(b"alice".as_slice()));
        assert_eq!(view.arg_slice(1), None);
        assert_eq!(view.payload(), b"alice\r\n");
        assert_eq!(view.into_packet(), login);
        assert_eq!(dec.buffered(), 0);
        assert!(!dec.is_mid_packet());
    }

    /// The argument split written out plainly from docs/PROTOCOL.md §3.4: each
    /// leading argument ends at the first CRLF within its reach, the last
    /// takes the rest but its final CRLF. Checks the nom reference itself.
    fn reference_split(payload: &[u8], args: u8) -> Result<Vec<&[u8]>, DecodeError> {
        let mut out = Vec::new();
        let mut rest = payload;
        for i in 0..args.saturating_sub(1) {
            let crlf = rest.windows(2).position(|w| w == b"\r\n");
            match crlf {
                Some(at) if at <= MAX_ARG_LEN => {
                    out.push(&rest[..at]);
                    rest = &rest[at + 2..];
                }
                Some(at) => return Err(DecodeError::ArgTooLong(at)),
                None => {
                    return Err(DecodeError::MissingArgs {
                        expected: args,
                        found: i,
                    });
                }
            }
        }
        if args == 0 {
            return if rest.is_empty() {
                Ok(out)
            } else {
                Err(DecodeError::BadLength)
            };
        }
        match rest.strip_suffix(b"\r\n") {
            Some(last) if last.len() > MAX_ARG_LEN => Err(DecodeError::ArgTooLong(last.len())),
            Some(last) => {
                out.push(last);
                Ok(out)
            }
            None if rest.is_empty() => Err(DecodeError::MissingArgs {
                expected: args,
                found: args - 1,
            }),
            None => Err(DecodeError::BadLength),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The hand-tuned split agrees with the nom reference
        /// (`grammar::split_arguments`), and both with the plain one, on
        /// payloads thick with CR and LF, around and across the first 16
        /// bytes searched at once.
        #[test]
        fn split_matches_the_nom_reference(
            payload in proptest::collection::vec(
                proptest::sample::select(vec![b'\r', b'\n', b'a', 0x8D, 0x8A, 0x0C, 0x00]),
                0..48,
            ),
            args in 0u8..=15,
        ) {
            let mut ends = ArgEnds::default();
            let got = split_payload(&payload, args, &mut ends).map(|()| {
                (0..usize::from(args))
                    .map(|i| {
                        let (start, end) = ends.bounds(i);
                        &payload[start..end]
                    })
                    .collect::<Vec<_>>()
            });
            let nom = crate::grammar::split_arguments(&payload, args);
            proptest::prop_assert_eq!(&got, &nom);
            proptest::prop_assert_eq!(nom, reference_split(&payload, args));
        }

        /// The same on long payloads with few separators, so that
        /// arguments run past the 2045-byte limit, and payloads that end
        /// early or without their CRLF.
        #[test]
        fn split_matches_the_nom_reference_near_the_limits(
            pieces in proptest::collection::vec(
                (0usize..2200, proptest::sample::select(vec![&b"\r\n"[..], b"\r", b"\n", b""])),
                0..6,
            ),
            args in 0u8..=15,
        ) {
            let mut payload = Vec::new();
            for (len, sep) in pieces {
                payload.extend(std::iter::repeat_n(b'x', len));
                payload.extend_from_slice(sep);
            }
            let mut ends = ArgEnds::default();
            let got = split_payload(&payload, args, &mut ends).map(|()| {
                (0..usize::from(args))
                    .map(|i| {
                        let (start, end) = ends.bounds(i);
                        &payload[start..end]
                    })
                    .collect::<Vec<_>>()
            });
            let nom = crate::grammar::split_arguments(&payload, args);
            proptest::prop_assert_eq!(&got, &nom);
            proptest::prop_assert_eq!(nom, reference_split(&payload, args));
        }
    }

    #[test]
    fn kept_packets_survive_the_buffer_being_reused() {
        // Each feed reclaims the room the previous packet was split from,
        // or, while that packet is kept, gets a new buffer: no packet may
        // see another's bytes.
        let packets: Vec<Packet> = (0..40u16)
            .map(|i| {
                let text = vec![b'a' + (i % 26) as u8; 100 + usize::from(i) * 7];
                Packet::new(
                    Action::Msg,
                    EMPTY_INFO,
                    i + 1,
                    &[b"bob".as_slice(), b"\x02", &text],
                )
                .unwrap()
            })
            .collect();
        let mut dec = Decoder::new(Direction::ToServer);
        let mut kept = Vec::new();
        for (i, packet) in packets.iter().enumerate() {
            let mut wire = BytesMut::new();
            packet.encode(&mut wire);
            dec.feed(&wire);
            let decoded = dec.decode().unwrap().unwrap();
            // Keep every other one; the rest are dropped at once.
            if i % 2 == 0 {
                kept.push(decoded);
            } else {
                assert_eq!(&decoded, packet);
            }
        }
        let expected: Vec<&Packet> = packets.iter().step_by(2).collect();
        assert_eq!(kept.iter().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_view_of_a_bad_packet_is_the_sticky_error() {
        let mut dec = Decoder::new(Direction::ToServer);
        dec.feed(&[0x20; 12]);
        let e = dec.decode_ref().unwrap_err();
        assert_eq!(e, DecodeError::Header(ErrorCode::Version));
        dec.feed(b"more");
        assert_eq!(dec.buffered(), 0);
        assert_eq!(dec.decode().unwrap_err(), e);
    }
}
