//! The 64-bit packet header (docs/PROTOCOL.md §3.1) and its validity checks per
//! direction (§3.6).

use crate::codes::{Action, EMPTY_INFO, ErrorCode};

/// Protocol version spoken by this crate.
pub const VERSION: u8 = 1;
/// Size of the header on the wire, without its CRLF.
pub const HEADER_LEN: usize = 8;
/// Size of the header and the CRLF that follows it.
pub const HEADER_FRAME_LEN: usize = HEADER_LEN + 2;
/// Most arguments a packet may carry.
pub const MAX_ARGS: usize = 15;
/// Most bytes in one argument, without its CRLF.
pub const MAX_ARG_LEN: usize = 2045;
/// Most bytes in a payload (arguments and their CRLFs).
pub const MAX_PAYLOAD: usize = 16383;
/// Highest packet id.
pub const MAX_ID: u16 = 1023;
/// Largest packet on the wire.
pub const MAX_PACKET_LEN: usize = HEADER_FRAME_LEN + MAX_PAYLOAD;
/// The value written into the reserved bits.
pub const RESERVED: u16 = 0xFFFF;
/// The null id, used for server-initiated packets.
pub const NULL_ID: u16 = 0;

/// Which way a packet travels; decides which header checks apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A packet sent by a client, checked by a server.
    ToServer,
    /// A packet sent by a server, checked by a client.
    ToClient,
}

/// The six meaningful header fields, as raw numbers.
///
/// The reserved bits are dropped when reading and written as `0xFFFF`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Protocol version (4 bits).
    pub version: u8,
    /// Action code (8 bits); not necessarily a known one.
    pub action: u8,
    /// Info byte (error code, list kind, admin op or hook; `0xFF` = empty).
    pub info: u8,
    /// Argument count (4 bits).
    pub args: u8,
    /// Payload length (14 bits).
    pub length: u16,
    /// Packet id (10 bits).
    pub id: u16,
}

impl Header {
    /// Splits a big-endian header word into its fields.
    pub const fn from_u64(word: u64) -> Self {
        Header {
            version: (word >> 60) as u8 & 0x0F,
            action: (word >> 52) as u8,
            info: (word >> 44) as u8,
            args: (word >> 40) as u8 & 0x0F,
            length: (word >> 26) as u16 & 0x3FFF,
            id: (word >> 16) as u16 & 0x03FF,
        }
    }

    /// Packs the fields into a header word; out-of-range fields are masked.
    pub const fn to_u64(self) -> u64 {
        ((self.version as u64 & 0x0F) << 60)
            | ((self.action as u64) << 52)
            | ((self.info as u64) << 44)
            | ((self.args as u64 & 0x0F) << 40)
            | ((self.length as u64 & 0x3FFF) << 26)
            | ((self.id as u64 & 0x03FF) << 16)
            | RESERVED as u64
    }

    /// Reads a header from its 8 wire bytes.
    pub const fn from_bytes(bytes: [u8; HEADER_LEN]) -> Self {
        Self::from_u64(u64::from_be_bytes(bytes))
    }

    /// The 8 wire bytes of this header.
    pub const fn to_bytes(self) -> [u8; HEADER_LEN] {
        self.to_u64().to_be_bytes()
    }

    /// The known action, if the code is one.
    pub const fn known_action(&self) -> Option<Action> {
        Action::from_code(self.action)
    }

    /// Checks the header as the original does for the given direction,
    /// returning the known action or the error code a peer answers with.
    ///
    /// Sizes beyond the header itself are checked by the decoder.
    #[inline]
    pub fn check(&self, direction: Direction) -> Result<Action, ErrorCode> {
        if self.version != VERSION {
            return Err(ErrorCode::Version);
        }
        let rule = match direction {
            Direction::ToServer => TO_SERVER[usize::from(self.action)],
            Direction::ToClient => TO_CLIENT[usize::from(self.action)],
        };
        // Every other failure is ERR_HEADER, so their order does not matter.
        let info_missing = rule & INFO_REQUIRED != 0 && self.info == EMPTY_INFO;
        let id_missing = rule & NULL_ID_OK == 0 && self.id == NULL_ID;
        let too_few = self.args < rule & MIN_ARGS;
        match Action::from_code(self.action) {
            Some(action) if !(info_missing | id_missing | too_few) => Ok(action),
            _ => Err(ErrorCode::Header),
        }
    }
}

/// [`Rules`] bit: the info byte may not be empty.
const INFO_REQUIRED: u8 = 0x40;
/// [`Rules`] bit: the null id is allowed.
const NULL_ID_OK: u8 = 0x20;
/// [`Rules`] bits: the least argument count.
const MIN_ARGS: u8 = 0x0F;

/// Per action code, what a header needs in one direction, as flag bits and
/// the least argument count: one table lookup replaces a chain of matches
/// on the decoder's hottest path.
type Rules = [u8; 256];

/// The rules for packets sent to a server (docs/PROTOCOL.md §3.6). Actions only a
/// server sends pass here (with no argument minimum), as in the original;
/// the session answers them with ERR INVALID. The same holds the other way.
static TO_SERVER: Rules = rules(Direction::ToServer);
/// The rules for packets sent to a client.
static TO_CLIENT: Rules = rules(Direction::ToClient);

/// Builds one direction's table from the per-action rules in [`Action`].
const fn rules(direction: Direction) -> Rules {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < Action::ALL.len() {
        let action = Action::ALL[i];
        let (info_required, null_id_ok, min_args) = match direction {
            Direction::ToServer => (
                action.info_required_to_server(),
                false,
                match action.min_args_to_server() {
                    Some(min) => min,
                    None => 0,
                },
            ),
            Direction::ToClient => (
                action.info_required_to_client(),
                action.null_id_allowed(),
                match action.min_args_to_client() {
                    Some(min) => min,
                    None => 0,
                },
            ),
        };
        let mut rule = min_args;
        if info_required {
            rule |= INFO_REQUIRED;
        }
        if null_id_ok {
            rule |= NULL_ID_OK;
        }
        table[action.code() as usize] = rule;
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header checks of docs/PROTOCOL.md §3.6 written out one by one, in the
    /// original's order.
    fn reference_check(h: &Header, direction: Direction) -> Result<Action, ErrorCode> {
        if h.version != VERSION {
            return Err(ErrorCode::Version);
        }
        let action = Action::from_code(h.action).ok_or(ErrorCode::Header)?;
        let (info_required, null_id_ok, min_args) = match direction {
            Direction::ToServer => (
                action.info_required_to_server(),
                false,
                action.min_args_to_server(),
            ),
            Direction::ToClient => (
                action.info_required_to_client(),
                action.null_id_allowed(),
                action.min_args_to_client(),
            ),
        };
        if info_required && h.info == EMPTY_INFO {
            return Err(ErrorCode::Header);
        }
        if h.id == NULL_ID && !null_id_ok {
            return Err(ErrorCode::Header);
        }
        if let Some(min) = min_args
            && h.args < min
        {
            return Err(ErrorCode::Header);
        }
        Ok(action)
    }

    #[test]
    fn rule_tables_agree_with_the_checks_written_out() {
        for direction in [Direction::ToServer, Direction::ToClient] {
            for version in [0, 1, 2, 15] {
                for action in 0..=255u8 {
                    for info in [0x00, 0x01, EMPTY_INFO] {
                        for id in [NULL_ID, 1, MAX_ID] {
                            for args in 0..=15 {
                                let h = Header {
                                    version,
                                    action,
                                    info,
                                    args,
                                    length: 0,
                                    id,
                                };
                                assert_eq!(
                                    h.check(direction),
                                    reference_check(&h, direction),
                                    "{h:?} {direction:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn login_example_from_the_original() {
        let h = Header {
            version: 1,
            action: 6,
            info: 0xFF,
            args: 1,
            length: 7,
            id: 5,
        };
        assert_eq!(
            h.to_bytes(),
            [0x10, 0x6f, 0xf1, 0x00, 0x1c, 0x05, 0xff, 0xff]
        );
        assert_eq!(Header::from_bytes(h.to_bytes()), h);
    }

    #[test]
    fn reserved_bits_are_ignored_when_reading() {
        let a = Header::from_bytes([0x10, 0xa0, 0x30, 0x00, 0x03, 0xff, 0x00, 0x00]);
        let b = Header::from_bytes([0x10, 0xa0, 0x30, 0x00, 0x03, 0xff, 0xff, 0xff]);
        assert_eq!(a, b);
        assert_eq!(a.id, 1023);
        assert_eq!(a.info, 3);
    }
}
