//! A decoded or to-be-encoded packet, and the encoder into `BytesMut`.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codes::{Action, EMPTY_INFO, ErrorCode};
use crate::header::{
    HEADER_FRAME_LEN, Header, MAX_ARG_LEN, MAX_ARGS, MAX_ID, MAX_PAYLOAD, NULL_ID, VERSION,
};

/// Why a packet cannot be encoded; each maps to the original's error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// More than 15 arguments.
    #[error("{0} arguments, at most 15 allowed")]
    TooManyArgs(usize),
    /// Id above 1023.
    #[error("packet id {0} above 1023")]
    IdTooBig(u16),
    /// One argument longer than 2045 bytes.
    #[error("argument of {0} bytes, at most 2045 allowed")]
    ArgTooLong(usize),
    /// Arguments and their CRLFs over 16383 bytes.
    #[error("payload of {0} bytes, at most 16383 allowed")]
    PayloadTooBig(usize),
    /// An argument other than the last holds CRLF, so a peer would read it
    /// as two (only the last argument may hold CRLF). The original encodes
    /// such packets anyway; here they are refused.
    #[error("argument {0} holds CRLF, which only the last argument may")]
    CrlfInArg(usize),
}

impl EncodeError {
    /// The protocol error code the original gives for this case.
    pub const fn code(&self) -> ErrorCode {
        match self {
            EncodeError::TooManyArgs(_) | EncodeError::IdTooBig(_) | EncodeError::CrlfInArg(_) => {
                ErrorCode::Args
            }
            EncodeError::ArgTooLong(_) | EncodeError::PayloadTooBig(_) => ErrorCode::MaxSize,
        }
    }
}

/// Where each argument ends in a payload.
///
/// Argument `i` ends at `get(i)` and starts two bytes (its predecessor's
/// CRLF) after `get(i - 1)`, so the bounds of all 15 possible arguments fit
/// in 30 bytes. The first four, which are all most packets have, are packed
/// into one word so that the decoder builds them in a register: a packet
/// copied right after its bounds were written as separate 16-bit stores
/// would stall on store forwarding. Ends past the argument count are zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ArgEnds {
    low: u64,
    high: [u16; MAX_ARGS - 4],
}

impl ArgEnds {
    /// The end of argument `i` (below [`MAX_ARGS`]).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> usize {
        match i.checked_sub(4) {
            None => usize::from((self.low >> (16 * i)) as u16),
            Some(j) => self.high.get(j).map_or(0, |&e| usize::from(e)),
        }
    }

    /// Sets the end of argument `i` (below [`MAX_ARGS`]), which was zero.
    #[inline]
    pub(crate) fn set(&mut self, i: usize, end: u16) {
        match i.checked_sub(4) {
            None => self.low |= u64::from(end) << (16 * i),
            Some(j) => {
                if let Some(slot) = self.high.get_mut(j) {
                    *slot = end;
                }
            }
        }
    }

    /// Sets the ends of the first four arguments at once (their bits as
    /// [`Self::set`] would place them).
    #[inline]
    pub(crate) fn set_low(&mut self, low: u64) {
        self.low = low;
    }

    /// Start and end of argument `i` (below [`MAX_ARGS`]).
    #[inline]
    pub(crate) fn bounds(&self, i: usize) -> (usize, usize) {
        let start = match i.checked_sub(1) {
            Some(before) => self.get(before) + 2,
            None => 0,
        };
        (start, self.get(i))
    }

    /// Start and end of argument `i` of `count`, `None` past the count.
    #[inline]
    pub(crate) fn range(&self, i: usize, count: usize) -> Option<(usize, usize)> {
        (i < count).then(|| self.bounds(i))
    }
}

/// One packet: action, info, id and arguments.
///
/// A decoded packet keeps its payload as one shared [`Bytes`] and hands out
/// arguments as zero-copy slices of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Packet {
    payload: Bytes,
    ends: ArgEnds,
    id: u16,
    action: Action,
    info: u8,
    count: u8,
}

impl core::fmt::Debug for Packet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Packet")
            .field("action", &self.action)
            .field("info", &self.info)
            .field("id", &self.id)
            .field("args", &self.args().collect::<Vec<_>>())
            .finish()
    }
}

impl Packet {
    /// Builds a packet from arguments, checking every limit the original
    /// enforces, and that no argument but the last holds CRLF.
    pub fn new<A: AsRef<[u8]>>(
        action: Action,
        info: u8,
        id: u16,
        args: &[A],
    ) -> Result<Packet, EncodeError> {
        let total = checked_payload_len(id, args)?;
        let mut payload = BytesMut::with_capacity(total);
        let mut ends = ArgEnds::default();
        for (i, a) in args.iter().enumerate() {
            payload.put_slice(a.as_ref());
            ends.set(i, payload.len() as u16);
            payload.put_slice(b"\r\n");
        }
        Ok(Packet {
            payload: payload.freeze(),
            ends,
            id,
            action,
            info,
            count: args.len() as u8,
        })
    }

    /// A packet with no arguments.
    pub fn bare(action: Action, info: u8, id: u16) -> Result<Packet, EncodeError> {
        Self::new::<&[u8]>(action, info, id, &[])
    }

    /// Assembles a decoded packet from checked parts: `ends` holds the end
    /// offsets of `count` arguments in `payload`.
    #[inline]
    pub(crate) fn from_parts(
        action: Action,
        info: u8,
        id: u16,
        payload: Bytes,
        count: u8,
        ends: ArgEnds,
    ) -> Packet {
        Packet {
            payload,
            ends,
            id,
            action,
            info,
            count,
        }
    }

    /// The action.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The info byte (`0xFF` when empty).
    pub fn info(&self) -> u8 {
        self.info
    }

    /// Whether the info byte is the empty marker.
    pub fn info_is_empty(&self) -> bool {
        self.info == EMPTY_INFO
    }

    /// The packet id (0 = null id).
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Whether this packet carries the null id.
    pub fn is_null_id(&self) -> bool {
        self.id == NULL_ID
    }

    /// Number of arguments.
    pub fn arg_count(&self) -> usize {
        usize::from(self.count)
    }

    /// Argument `i` as a zero-copy slice of the payload.
    pub fn arg(&self, i: usize) -> Option<Bytes> {
        self.arg_range(i).map(|(s, e)| self.payload.slice(s..e))
    }

    /// Argument `i` borrowed.
    pub fn arg_slice(&self, i: usize) -> Option<&[u8]> {
        self.arg_range(i).map(|(s, e)| &self.payload[s..e])
    }

    #[inline]
    fn arg_range(&self, i: usize) -> Option<(usize, usize)> {
        self.ends.range(i, self.arg_count())
    }

    /// All arguments as zero-copy slices.
    pub fn args(&self) -> impl ExactSizeIterator<Item = Bytes> + '_ {
        (0..self.arg_count()).map(|i| {
            let (start, end) = self.ends.bounds(i);
            self.payload.slice(start..end)
        })
    }

    /// The payload: every argument followed by CRLF.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The header this packet is sent with.
    pub fn header(&self) -> Header {
        Header {
            version: VERSION,
            action: self.action.code(),
            info: self.info,
            args: self.count,
            length: self.payload.len() as u16,
            id: self.id,
        }
    }

    /// Size of the packet on the wire.
    pub fn wire_len(&self) -> usize {
        HEADER_FRAME_LEN + self.payload.len()
    }

    /// Appends the packet's wire bytes to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.wire_len());
        dst.put_slice(&self.header().to_bytes());
        dst.put_slice(b"\r\n");
        dst.put_slice(&self.payload);
    }

    /// The packet's wire bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.wire_len());
        self.encode(&mut b);
        b.freeze()
    }

    /// Returns a copy of this packet with another id.
    pub fn with_id(&self, id: u16) -> Result<Packet, EncodeError> {
        if id > MAX_ID {
            return Err(EncodeError::IdTooBig(id));
        }
        Ok(Packet { id, ..self.clone() })
    }
}

/// Checks every limit the original enforces (and CRLF only in the last
/// argument), in the original's order; gives the payload length.
fn checked_payload_len<A: AsRef<[u8]>>(id: u16, args: &[A]) -> Result<usize, EncodeError> {
    if args.len() > MAX_ARGS {
        return Err(EncodeError::TooManyArgs(args.len()));
    }
    if id > MAX_ID {
        return Err(EncodeError::IdTooBig(id));
    }
    let mut total = 0usize;
    for a in args {
        let len = a.as_ref().len();
        if len > MAX_ARG_LEN {
            return Err(EncodeError::ArgTooLong(len));
        }
        total += len + 2;
    }
    if total > MAX_PAYLOAD {
        return Err(EncodeError::PayloadTooBig(total));
    }
    check_no_inner_crlf(args)?;
    Ok(total)
}

/// Refuses CRLF in any argument but the last: the decoder ends an argument
/// at its first CRLF, so the packet would not read back as it was built.
fn check_no_inner_crlf<A: AsRef<[u8]>>(args: &[A]) -> Result<(), EncodeError> {
    let inner = args.len().saturating_sub(1);
    match args[..inner]
        .iter()
        .position(|a| a.as_ref().windows(2).any(|w| w == b"\r\n"))
    {
        Some(i) => Err(EncodeError::CrlfInArg(i)),
        None => Ok(()),
    }
}

/// Writes a packet straight into `dst` without building a [`Packet`] first.
///
/// Checks the same limits as [`Packet::new`]; on error nothing is written.
pub fn encode_into<A: AsRef<[u8]>>(
    dst: &mut BytesMut,
    action: Action,
    info: u8,
    id: u16,
    args: &[A],
) -> Result<(), EncodeError> {
    let total = checked_payload_len(id, args)?;
    let header = Header {
        version: VERSION,
        action: action.code(),
        info,
        args: args.len() as u8,
        length: total as u16,
        id,
    };
    dst.reserve(HEADER_FRAME_LEN + total);
    dst.put_slice(&header.to_bytes());
    dst.put_slice(b"\r\n");
    for a in args {
        dst.put_slice(a.as_ref());
        dst.put_slice(b"\r\n");
    }
    Ok(())
}
