//! The wire grammar as nom 8 parsers (docs/PROTOCOL.md §3 and §5).
//!
//! Every byte format the crate reads is written here once with nom
//! combinators: the header frame (its bit fields with nom's `bits`), a whole
//! packet (streaming: a packet not complete yet is nom's `Incomplete`), the
//! split of a payload into arguments, stamps (Go varints), the lines of a
//! USRS reply and PEM blocks.
//!
//! USRS replies ([`ServerCommand::from_packet`](crate::ServerCommand::from_packet))
//! and PEM blocks ([`crypto::pem_decode`](crate::crypto::pem_decode)) are
//! read by these parsers and nothing else.
//!
//! The header frame, the argument split and stamps, which every MSG and
//! RECIV the server relays passes through, are read by hand-tuned code
//! instead ([`decoder::parse_header`](crate::decoder::parse_header), the
//! [`Decoder`], [`crate::decode_stamp`]): with the parsers here in its place
//! the `codec` bench counted about four times the instructions for decoding
//! a MSG and two and a half times for a stamp (`docs/PERFORMANCE.md`, "Codec:
//! nom parsers"). The parsers here are that code's reference: [`decode`],
//! [`parse_header`], [`split_arguments`] and [`decode_stamp`] must give the
//! same result and the same error on every input. Property tests
//! (`tests/codec_props.rs`, unit tests in `decoder.rs` and `stamp.rs`) and
//! the `header`, `decoder_chunked`, `client_command`, `server_command` and
//! `stamp` fuzz targets check it on arbitrary and mutated input.
//!
//! [`Decoder`]: crate::Decoder

use bytes::Bytes;
use nom::bits::bits;
use nom::bits::complete::take as take_bits;
use nom::branch::alt;
use nom::bytes::complete::{tag, take, take_till, take_until, take_while_m_n};
use nom::bytes::streaming::take as need;
use nom::combinator::{all_consuming, eof, map_parser, map_res, not, opt, rest, verify};
use nom::error::{ErrorKind, FromExternalError, ParseError};
use nom::multi::{fold_many_m_n, fold_many0};
use nom::number::complete::u8 as byte;
use nom::sequence::{preceded, terminated};
use nom::{Err, ErrorConvert, IResult, Offset, Parser};

use crate::codes::Action;
use crate::command::UserEntry;
use crate::decoder::DecodeError;
use crate::header::{Direction, HEADER_FRAME_LEN, Header, MAX_ARG_LEN, MAX_ARGS};
use crate::packet::{ArgEnds, Packet};
use crate::stamp::{MAX_STAMP_LEN, StampError};
use crate::username::Username;

/// The separator after the header and after every argument.
pub const CRLF: &[u8] = b"\r\n";

/// The error of the grammar's parsers.
///
/// `Nom` is nom's own "did not match" (a combinator such as `opt` or
/// `fold_many0` may go on after it); `Malformed` carries what is wrong with
/// the input in the terms of the calling layer (a [`DecodeError`], a
/// [`StampError`], a PEM message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject<T> {
    /// A parser did not match; the kind is nom's.
    Nom(ErrorKind),
    /// The input is malformed.
    Malformed(T),
}

impl<I, T> ParseError<I> for Reject<T> {
    fn from_error_kind(_input: I, kind: ErrorKind) -> Self {
        Reject::Nom(kind)
    }

    fn append(_input: I, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

impl<I, T> FromExternalError<I, T> for Reject<T> {
    fn from_external_error(_input: I, _kind: ErrorKind, e: T) -> Self {
        Reject::Malformed(e)
    }
}

impl<T> ErrorConvert<Reject<T>> for Reject<T> {
    fn convert(self) -> Reject<T> {
        self
    }
}

impl<T> Reject<T> {
    /// The malformed-input error of a failed parse, or `otherwise` when a
    /// parser only did not match (or, streaming, wanted more input).
    pub(crate) fn reason_or(e: Err<Self>, otherwise: T) -> T {
        match e {
            Err::Error(Reject::Malformed(why)) | Err::Failure(Reject::Malformed(why)) => why,
            _ => otherwise,
        }
    }
}

/// Runs `parser` and, when it does not match, fails with `why` (as nom's
/// `cut` and `context` together would): later parts of the grammar are not
/// tried, the input is malformed.
fn or_reject<'a, O, T: Copy>(
    mut parser: impl Parser<&'a [u8], Output = O, Error = Reject<T>>,
    why: T,
) -> impl Parser<&'a [u8], Output = O, Error = Reject<T>> {
    move |input: &'a [u8]| match parser.parse_complete(input) {
        Err(Err::Error(Reject::Nom(_))) => Err(Err::Failure(Reject::Malformed(why))),
        other => other,
    }
}

// ---------------------------------------------------------------------------
// Header frame (§3.1, §3.6)

/// nom: the header's fields, big-endian bit fields over 8 bytes: version
/// (4 bits), action (8), info (8), argument count (4), payload length (14),
/// id (10), then 16 reserved bits, read and dropped.
pub fn header_fields<T>(input: &[u8]) -> IResult<&[u8], Header, Reject<T>> {
    bits::<_, _, Reject<T>, _, _>(
        (
            take_bits::<_, u8, _, _>(4usize),
            take_bits::<_, u8, _, _>(8usize),
            take_bits::<_, u8, _, _>(8usize),
            take_bits::<_, u8, _, _>(4usize),
            take_bits::<_, u16, _, _>(14usize),
            take_bits::<_, u16, _, _>(10usize),
            take_bits::<_, u16, _, _>(16usize),
        )
            .map(
                |(version, action, info, args, length, id, _reserved)| Header {
                    version,
                    action,
                    info,
                    args,
                    length,
                    id,
                },
            ),
    )(input)
}

/// nom: a header frame checked for `direction`: the fields, checked as
/// [`Header::check`] does; CRLF; then the argument count and the length,
/// which are zero together or not at all.
///
/// The first failure in this order decides the error: a bad version or
/// action beats a missing CRLF, which beats the sizes.
pub fn header_frame<'a>(
    direction: Direction,
) -> impl Parser<&'a [u8], Output = (Header, Action), Error = Reject<DecodeError>> {
    map_res(
        terminated(
            map_res(header_fields::<DecodeError>, move |header: Header| {
                header
                    .check(direction)
                    .map(|action| (header, action))
                    .map_err(DecodeError::Header)
            }),
            or_reject(tag(CRLF), DecodeError::MissingHeaderCrlf),
        ),
        |(header, action): (Header, Action)| match (header.args, header.length) {
            (0, 0) => Ok((header, action)),
            (0, length) => Err(DecodeError::PayloadWithoutArgs { length }),
            (args, 0) => Err(DecodeError::EmptyPayload { args }),
            _ => Ok((header, action)),
        },
    )
}

/// The reference of [`crate::decoder::parse_header`]: the header frame at
/// the front of `frame` read with [`header_frame`].
///
/// A frame shorter than 10 bytes is read as if zero bytes followed it (so
/// it has no CRLF), as the decoder's `parse_header` does.
pub fn parse_header(frame: &[u8], direction: Direction) -> Result<(Header, Action), DecodeError> {
    let mut padded = [0u8; HEADER_FRAME_LEN];
    let frame = match frame.get(..HEADER_FRAME_LEN) {
        Some(frame) => frame,
        None => {
            padded[..frame.len()].copy_from_slice(frame);
            &padded[..]
        }
    };
    header_frame(direction)
        .parse_complete(frame)
        .map(|(_, checked)| checked)
        // Ten bytes always hold the fields: every failure is `Malformed`.
        .map_err(|e| Reject::reason_or(e, DecodeError::MissingHeaderCrlf))
}

// ---------------------------------------------------------------------------
// Arguments (§3.4)

/// nom: an argument before the last: the bytes up to the first CRLF, which
/// is consumed.
fn leading_argument<T>(input: &[u8]) -> IResult<&[u8], &[u8], Reject<T>> {
    terminated(take_until(CRLF), tag(CRLF)).parse_complete(input)
}

/// nom: the last argument: all of the input but its final two bytes, which
/// must be CRLF. It may hold CRLF itself (binary ciphertexts do).
fn last_argument<T>(input: &[u8]) -> IResult<&[u8], &[u8], Reject<T>> {
    all_consuming(terminated(take(input.len().saturating_sub(2)), tag(CRLF))).parse_complete(input)
}

/// The arguments [`arguments`] found in a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arguments<'a> {
    payload: &'a [u8],
    ends: ArgEnds,
    count: u8,
}

impl<'a> Arguments<'a> {
    /// Number of arguments.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Argument `i`, a slice of the payload.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let (start, end) = self.ends.range(i, self.len())?;
        self.payload.get(start..end)
    }

    /// Every argument, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// Every argument, collected.
    pub fn to_vec(&self) -> Vec<&'a [u8]> {
        self.iter().collect()
    }

    /// The argument ends, as a [`Packet`] keeps them.
    pub(crate) fn ends(&self) -> ArgEnds {
        self.ends
    }
}

/// nom: a complete payload of `args` arguments.
///
/// The first `args - 1` arguments end at the first CRLF after their start;
/// the last takes the rest but its final CRLF. Errors, first match first:
/// a leading argument over 2045 bytes (`ArgTooLong`, the first such in
/// order); fewer leading arguments than claimed (`MissingArgs`); nothing
/// left for the last argument (`MissingArgs`); a rest that does not end in
/// CRLF (`BadLength`); a last argument over 2045 bytes (`ArgTooLong`). With
/// no arguments the payload must be empty (`BadLength`).
pub fn arguments<'a>(
    args: u8,
) -> impl Parser<&'a [u8], Output = Arguments<'a>, Error = Reject<DecodeError>> {
    move |payload: &'a [u8]| {
        let n = usize::from(args).min(MAX_ARGS);
        let none = Arguments {
            payload,
            ends: ArgEnds::default(),
            count: 0,
        };
        let Some(leading) = n.checked_sub(1) else {
            return or_reject(eof, DecodeError::BadLength)
                .map(|_| none)
                .parse_complete(payload);
        };
        // Each leading argument's end is recorded, and the length of the
        // first one that is too long.
        let (rest, (mut found, too_long)) = fold_many_m_n(
            0,
            leading,
            leading_argument::<DecodeError>,
            || (none, None),
            |(mut found, too_long): (Arguments<'a>, Option<usize>), arg: &'a [u8]| {
                let end = payload.offset(arg) + arg.len();
                found.ends.set(found.len(), end as u16);
                found.count += 1;
                let long = (arg.len() > MAX_ARG_LEN).then_some(arg.len());
                (found, too_long.or(long))
            },
        )
        .parse_complete(payload)?;
        let malformed = |why| Err(Err::Failure(Reject::Malformed(why)));
        if let Some(len) = too_long {
            return malformed(DecodeError::ArgTooLong(len));
        }
        if found.len() < leading {
            return malformed(DecodeError::MissingArgs {
                expected: args,
                found: found.count,
            });
        }
        let missing = if rest.is_empty() {
            DecodeError::MissingArgs {
                expected: args,
                found: args.saturating_sub(1),
            }
        } else {
            DecodeError::BadLength
        };
        let (rest, last) = or_reject(
            map_res(last_argument::<DecodeError>, |last: &'a [u8]| {
                match last.len() {
                    len if len > MAX_ARG_LEN => Err(DecodeError::ArgTooLong(len)),
                    _ => Ok(last),
                }
            }),
            missing,
        )
        .parse_complete(rest)?;
        found
            .ends
            .set(found.len(), (payload.offset(last) + last.len()) as u16);
        found.count += 1;
        Ok((rest, found))
    }
}

/// The reference of the decoder's argument split: `payload` read with
/// [`arguments`].
pub fn split_arguments(payload: &[u8], args: u8) -> Result<Vec<&[u8]>, DecodeError> {
    arguments(args)
        .parse_complete(payload)
        .map(|(_, found)| found.to_vec())
        // `arguments` turns every failure into `Malformed`.
        .map_err(|e| Reject::reason_or(e, DecodeError::BadLength))
}

// ---------------------------------------------------------------------------
// Packets (§3, §3.7)

/// nom, streaming: the packet at the front of the input, checked for
/// `direction`: its header, its action and its arguments. `Incomplete`
/// while the header frame or the payload is not all there; the header is
/// checked before its payload is awaited.
pub fn packet<'a>(
    direction: Direction,
) -> impl Parser<&'a [u8], Output = (Header, Action, Arguments<'a>), Error = Reject<DecodeError>> {
    map_parser(need(HEADER_FRAME_LEN), header_frame(direction)).flat_map(
        |(header, action): (Header, Action)| {
            map_parser(need(usize::from(header.length)), arguments(header.args))
                .map(move |args| (header, action, args))
        },
    )
}

/// The reference of [`Decoder`](crate::Decoder) and
/// [`decode_packet`](crate::decode_packet): the packet at the front of
/// `input` read with [`packet`], with its payload copied, and its size on
/// the wire; `Ok(None)` when more bytes are needed.
pub fn decode(input: &[u8], direction: Direction) -> Result<Option<(Packet, usize)>, DecodeError> {
    match packet(direction).parse(input) {
        Ok((rest, (header, action, args))) => {
            let wire_len = input.offset(rest);
            let packet = Packet::from_parts(
                action,
                header.info,
                header.id,
                Bytes::copy_from_slice(args.payload),
                args.count,
                args.ends(),
            );
            Ok(Some((packet, wire_len)))
        }
        Err(Err::Incomplete(_)) => Ok(None),
        // `packet` turns every failure into `Malformed`.
        Err(e) => Err(Reject::reason_or(e, DecodeError::BadLength)),
    }
}

// ---------------------------------------------------------------------------
// Stamps (§5.2)

/// nom: a stamp as the original reads it (Go's `binary.Varint`): up to nine
/// bytes with the high bit set, then a last byte, zig-zag decoded. What
/// follows is left unread (the original ignores it); over-long encodings
/// are accepted.
///
/// No last byte is `Truncated`. A tenth byte that is above 1 is `Overflow`,
/// except a tenth byte with the high bit set that ends the input, which is
/// `Truncated`: the original's reading.
pub fn stamp(input: &[u8]) -> IResult<&[u8], i64, Reject<StampError>> {
    let (rest, more) =
        take_while_m_n(0, MAX_STAMP_LEN - 1, |b: u8| b & 0x80 != 0).parse_complete(input)?;
    let (after, last) = or_reject(byte, StampError::Truncated).parse_complete(rest)?;
    let overflow = match last {
        // Only a tenth byte can still have the high bit set.
        0x80.. if after.is_empty() => Some(StampError::Truncated),
        0x80.. => Some(StampError::Overflow),
        2.. if more.len() == MAX_STAMP_LEN - 1 => Some(StampError::Overflow),
        _ => None,
    };
    if let Some(why) = overflow {
        return Err(Err::Failure(Reject::Malformed(why)));
    }
    // Seven bits a byte, least significant first.
    let ux = more
        .iter()
        .rev()
        .fold(u64::from(last), |ux, &b| ux << 7 | u64::from(b & 0x7f));
    let magnitude = (ux >> 1) as i64;
    Ok((after, if ux & 1 == 0 { magnitude } else { !magnitude }))
}

/// The reference of [`crate::decode_stamp`]: `bytes` read with [`stamp`].
pub fn decode_stamp(bytes: &[u8]) -> Result<i64, StampError> {
    stamp(bytes)
        .map(|(_, unix)| unix)
        // `stamp` names the reason of every failure.
        .map_err(|e| Reject::reason_or(e, StampError::Truncated))
}

// ---------------------------------------------------------------------------
// USRS lines (§5.7)

/// nom: one line of a user list: the bytes up to LF or the end, the LF
/// consumed; a CR that ends them is not part of the line. Fails on empty
/// input.
fn line(input: &[u8]) -> IResult<&[u8], &[u8]> {
    preceded(
        not(eof),
        terminated(take_till(|b| b == b'\n'), opt(tag(&b"\n"[..]))),
    )
    .map(|line: &[u8]| line.strip_suffix(b"\r").unwrap_or(line))
    .parse_complete(input)
}

/// A permission level in a user list line: the text after the space,
/// trimmed, read as a decimal `u8` (by `str::parse`, so `+2` is 2).
fn level(text: &[u8]) -> Result<u8, ()> {
    core::str::from_utf8(text)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or(())
}

/// nom: a whole line as a user entry: a username (lowercased), then the end
/// of the line or a space and a permission level.
pub fn user_entry(line: &[u8]) -> IResult<&[u8], UserEntry> {
    (
        map_res(take_till(|b| b == b' '), Username::parse),
        alt((
            eof.map(|_| None),
            preceded(tag(&b" "[..]), map_res(rest, level)).map(Some),
        )),
    )
        .map(|(name, permission)| UserEntry { name, permission })
        .parse_complete(line)
}

/// nom: the entries of one USRS argument, one per line (LF, or CRLF). A
/// line that is not an entry (an empty line, a name another server let
/// through, a line cut short) is skipped, never an error.
pub fn user_lines(input: &[u8]) -> IResult<&[u8], Vec<UserEntry>> {
    fold_many0(
        map_parser(line, opt(all_consuming(user_entry))),
        Vec::new,
        |mut entries: Vec<UserEntry>, entry| {
            entries.extend(entry);
            entries
        },
    )
    .parse_complete(input)
}

// ---------------------------------------------------------------------------
// PEM (§5.3)

/// The start of a PEM BEGIN line.
const PEM_BEGIN: &[u8] = b"-----BEGIN ";
/// The start of a PEM END line.
const PEM_END: &[u8] = b"-----END ";
/// What ends a PEM BEGIN or END line's label.
const PEM_DASHES: &[u8] = b"-----";

/// A PEM block as [`pem_block`] finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PemBlock<'a> {
    /// The label of the BEGIN line (`RSA PUBLIC KEY`...), not checked.
    pub label: &'a [u8],
    /// The base64 body between the BEGIN and END lines, whitespace
    /// included.
    pub body: &'a [u8],
}

/// nom: the first PEM block in the input: anything up to `-----BEGIN `,
/// the label up to `-----` on the same line, then the body up to the END
/// line of the same label, whose `-----END <label>-----` is consumed. Leaves
/// what follows.
///
/// Failures carry the message of [`CryptoError::Pem`](crate::crypto::CryptoError::Pem).
pub fn pem_block(input: &[u8]) -> IResult<&[u8], PemBlock<'_>, Reject<&'static str>> {
    let (input, label) = preceded(
        or_reject((take_until(PEM_BEGIN), tag(PEM_BEGIN)), "no BEGIN line"),
        or_reject(
            terminated(
                verify(take_until(PEM_DASHES), |label: &[u8]| {
                    !label.contains(&b'\n')
                }),
                tag(PEM_DASHES),
            ),
            "unterminated BEGIN line",
        ),
    )
    .parse_complete(input)?;
    let end = [PEM_END, label, PEM_DASHES].concat();
    let (input, body) = or_reject(
        terminated(take_until(end.as_slice()), tag(end.as_slice())),
        "no END line",
    )
    .parse_complete(input)?;
    Ok((input, PemBlock { label, body }))
}
