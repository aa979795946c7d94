//! The streaming decoder: bytes in chunks of any size in, checked packets out.
//!
//! Decoding runs in two phases. Fewer than 10 buffered bytes is "need more",
//! never an error. Once the header and its CRLF are there they are parsed and
//! checked (version, action, info, id, argument count, length) before any
//! payload is awaited, so an unchecked length never causes an allocation.
//! Once header and payload are buffered, exactly that slice is parsed with
//! nom's complete combinators and split off as one shared [`Bytes`](bytes::Bytes).

use bytes::{Buf, BytesMut};
use nom::IResult;
use nom::error::{Error as NomError, ErrorKind};

use crate::codes::{Action, ErrorCode};
use crate::header::{Direction, HEADER_FRAME_LEN, Header, MAX_ARG_LEN, MAX_ARGS};
use crate::packet::Packet;

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

/// nom parser for the header frame: a big-endian u64 and CRLF.
#[inline]
fn header_frame(input: &[u8]) -> IResult<&[u8], u64> {
    match input {
        [h0, h1, h2, h3, h4, h5, h6, h7, b'\r', b'\n', rest @ ..] => Ok((
            rest,
            u64::from_be_bytes([*h0, *h1, *h2, *h3, *h4, *h5, *h6, *h7]),
        )),
        _ => Err(nom::Err::Error(NomError::new(input, ErrorKind::Tag))),
    }
}

/// nom parser for one argument ended by the first CRLF: the argument and what
/// follows the CRLF. Arguments before the last are short (names, stamps), so a
/// plain scan bounded by the argument limit beats a vectorised search.
#[inline]
fn crlf_terminated(input: &[u8]) -> IResult<&[u8], &[u8]> {
    let window = &input[..input.len().min(MAX_ARG_LEN + 2)];
    let mut at = 0;
    while at + 1 < window.len() {
        if window[at] == b'\r' && window[at + 1] == b'\n' {
            return Ok((&input[at + 2..], &input[..at]));
        }
        at += 1;
    }
    // Not within an argument's reach: past it (too long) or nowhere (missing).
    let kind = match memchr::memmem::find(&input[window.len().saturating_sub(1)..], b"\r\n") {
        Some(_) => ErrorKind::TooLarge,
        None => ErrorKind::TakeUntil,
    };
    Err(nom::Err::Error(NomError::new(input, kind)))
}

/// Parses and checks a header frame (8 bytes and CRLF).
///
/// Returns the header and its action, or the error a peer answers with.
#[inline]
pub fn parse_header(frame: &[u8], direction: Direction) -> Result<(Header, Action), DecodeError> {
    let word = match header_frame(frame) {
        Ok((_, word)) => word,
        Err(_) => {
            // Check the header itself first so that a bad version wins over a bad CRLF.
            let mut bytes = [0u8; 8];
            let n = frame.len().min(8);
            bytes[..n].copy_from_slice(&frame[..n]);
            let header = Header::from_bytes(bytes);
            header.check(direction).map_err(DecodeError::Header)?;
            return Err(DecodeError::MissingHeaderCrlf);
        }
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

/// Splits a complete payload into argument ranges.
///
/// The first n-1 arguments end at the first CRLF; the last one takes the rest
/// of the payload minus its final CRLF, so binary last arguments may hold CRLF.
#[inline]
pub fn split_payload(
    payload: &[u8],
    args: u8,
    out: &mut [(u16, u16); MAX_ARGS],
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
    let mut rest = payload;
    for (i, slot) in out.iter_mut().enumerate().take(n - 1) {
        let start = total - rest.len();
        match crlf_terminated(rest) {
            Ok((next, arg)) => {
                if arg.len() > MAX_ARG_LEN {
                    return Err(DecodeError::ArgTooLong(arg.len()));
                }
                *slot = (start as u16, (start + arg.len()) as u16);
                rest = next;
            }
            Err(nom::Err::Error(e)) if e.code == ErrorKind::TooLarge => {
                let len = memchr::memmem::find(rest, b"\r\n").unwrap_or(rest.len());
                return Err(DecodeError::ArgTooLong(len));
            }
            Err(_) => {
                return Err(DecodeError::MissingArgs {
                    expected: args,
                    found: i as u8,
                });
            }
        }
    }
    let start = total - rest.len();
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
    out[n - 1] = (start as u16, (start + last.len()) as u16);
    Ok(())
}

/// Decodes one packet from the front of `buf`, consuming it.
///
/// `Ok(None)` means more bytes are needed; nothing is consumed then. After an
/// error the stream cannot be resynchronised.
pub fn decode_packet(
    buf: &mut BytesMut,
    direction: Direction,
) -> Result<Option<Packet>, DecodeError> {
    if buf.len() < HEADER_FRAME_LEN {
        return Ok(None);
    }
    let (header, action) = parse_header(&buf[..HEADER_FRAME_LEN], direction)?;
    let length = usize::from(header.length);
    if buf.len() < HEADER_FRAME_LEN + length {
        return Ok(None);
    }
    let mut ranges = [(0u16, 0u16); MAX_ARGS];
    split_payload(
        &buf[HEADER_FRAME_LEN..HEADER_FRAME_LEN + length],
        header.args,
        &mut ranges,
    )?;
    let mut frame = buf.split_to(HEADER_FRAME_LEN + length);
    frame.advance(HEADER_FRAME_LEN);
    let payload = frame.freeze();
    Ok(Some(Packet::from_parts(
        action,
        header.info,
        header.id,
        payload,
        &ranges[..usize::from(header.args)],
    )))
}

/// A streaming decoder for one direction of one connection.
#[derive(Debug)]
pub struct Decoder {
    direction: Direction,
    buf: BytesMut,
    failed: Option<DecodeError>,
}

impl Decoder {
    /// A decoder for packets travelling in `direction`.
    pub fn new(direction: Direction) -> Self {
        Decoder {
            direction,
            buf: BytesMut::new(),
            failed: None,
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
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// The input buffer, for reading straight into it.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether part of a packet is buffered.
    pub fn is_mid_packet(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Frees the input buffer when it holds nothing, so an idle connection keeps
    /// no buffer memory.
    pub fn release_if_empty(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }

    /// The next complete packet, `Ok(None)` when more bytes are needed.
    ///
    /// After an error every later call returns the same error.
    pub fn decode(&mut self) -> Result<Option<Packet>, DecodeError> {
        if let Some(e) = self.failed {
            // Drop whatever came in through `buffer_mut` since.
            self.buf = BytesMut::new();
            return Err(e);
        }
        match decode_packet(&mut self.buf, self.direction) {
            Ok(p) => Ok(p),
            Err(e) => {
                self.failed = Some(e);
                self.buf = BytesMut::new();
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
