//! The 64-bit packet header (PROTOCOL.md §1) and its validity checks per
//! direction (§3).

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
        match direction {
            Direction::ToServer => self.check_to_server(),
            Direction::ToClient => self.check_to_client(),
        }
    }

    fn check_to_server(&self) -> Result<Action, ErrorCode> {
        if self.version != VERSION {
            return Err(ErrorCode::Version);
        }
        let action = self.known_action().ok_or(ErrorCode::Header)?;
        if action.info_required_to_server() && self.info == EMPTY_INFO {
            return Err(ErrorCode::Header);
        }
        if self.id == NULL_ID {
            return Err(ErrorCode::Header);
        }
        // Server-only actions pass here; the session answers ERR INVALID.
        if let Some(min) = action.min_args_to_server()
            && self.args < min
        {
            return Err(ErrorCode::Header);
        }
        Ok(action)
    }

    fn check_to_client(&self) -> Result<Action, ErrorCode> {
        if self.version != VERSION {
            return Err(ErrorCode::Version);
        }
        let action = self.known_action().ok_or(ErrorCode::Header)?;
        if self.id == NULL_ID && !action.null_id_allowed() {
            return Err(ErrorCode::Header);
        }
        if action.info_required_to_client() && self.info == EMPTY_INFO {
            return Err(ErrorCode::Header);
        }
        if let Some(min) = action.min_args_to_client()
            && self.args < min
        {
            return Err(ErrorCode::Header);
        }
        Ok(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
