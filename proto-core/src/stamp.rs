//! Timestamps: Unix seconds as a zig-zag varint (Go's `binary.AppendVarint`).

use crate::codes::ErrorCode;

/// Longest varint encoding of a 64-bit value.
pub const MAX_STAMP_LEN: usize = 10;

/// A byte string that is not a timestamp the original accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StampError {
    /// No bytes, or the last byte still has its continuation bit set.
    #[error("timestamp ends before its last byte")]
    Truncated,
    /// More than 64 bits.
    #[error("timestamp overflows 64 bits")]
    Overflow,
}

impl StampError {
    /// The protocol error code for a bad stamp.
    pub const fn code(&self) -> ErrorCode {
        ErrorCode::Args
    }
}

/// Appends the encoding of `unix` to `out` and returns the bytes written.
pub fn encode_stamp_into(unix: i64, out: &mut [u8; MAX_STAMP_LEN]) -> usize {
    let mut ux = (unix as u64) << 1;
    if unix < 0 {
        ux = !ux;
    }
    let mut i = 0;
    while ux >= 0x80 {
        out[i] = (ux as u8) | 0x80;
        ux >>= 7;
        i += 1;
    }
    out[i] = ux as u8;
    i + 1
}

/// The encoding of `unix` (1 to 10 bytes).
pub fn encode_stamp(unix: i64) -> Vec<u8> {
    let mut buf = [0u8; MAX_STAMP_LEN];
    let n = encode_stamp_into(unix, &mut buf);
    buf[..n].to_vec()
}

/// Reads a stamp as the original does: over-long encodings are accepted and
/// bytes after the varint are ignored.
///
/// Hand-tuned: every MSG and RECIV passes through it, and the nom parser
/// [`grammar::stamp`](crate::grammar::stamp), its reference, measured 2.5
/// times the instructions in the `codec` bench. A property test checks
/// that both give the same value or error.
pub fn decode_stamp(bytes: &[u8]) -> Result<i64, StampError> {
    let mut x: u64 = 0;
    let mut shift = 0u32;
    for (i, &b) in bytes.iter().enumerate() {
        if i == MAX_STAMP_LEN {
            return Err(StampError::Overflow);
        }
        if b < 0x80 {
            if i == MAX_STAMP_LEN - 1 && b > 1 {
                return Err(StampError::Overflow);
            }
            let ux = x | (u64::from(b) << shift);
            let mut v = (ux >> 1) as i64;
            if ux & 1 != 0 {
                v = !v;
            }
            return Ok(v);
        }
        x |= u64::from(b & 0x7f) << shift;
        shift += 7;
    }
    Err(StampError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::grammar::decode_stamp as reference_decode;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The loop gives what the nom reference gives, value or error, on
        /// bytes thick with continuation bytes, around the ten-byte limit.
        #[test]
        fn loop_matches_the_nom_reference(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![0x00u8, 0x01, 0x02, 0x7f, 0x80, 0x81, 0xff]),
                    proptest::num::u8::ANY,
                ],
                0..=13,
            ),
        ) {
            proptest::prop_assert_eq!(decode_stamp(&bytes), reference_decode(&bytes));
        }
    }

    #[test]
    fn loop_matches_the_nom_reference_at_ten_bytes() {
        for last in 0..=255u8 {
            for tail in [&[][..], &[0x00], &[0x80]] {
                let mut bytes = vec![0xff; MAX_STAMP_LEN - 1];
                bytes.push(last);
                bytes.extend_from_slice(tail);
                assert_eq!(decode_stamp(&bytes), reference_decode(&bytes), "{bytes:x?}");
            }
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(encode_stamp(1751300000), vec![0xc0, 0xde, 0x95, 0x86, 0x0d]);
        assert_eq!(encode_stamp(i64::MIN).len(), 10);
        assert_eq!(decode_stamp(&encode_stamp(i64::MIN)), Ok(i64::MIN));
        assert_eq!(decode_stamp(&encode_stamp(i64::MAX)), Ok(i64::MAX));
        assert_eq!(decode_stamp(&[0x02, 0xff]), Ok(1));
        assert_eq!(decode_stamp(&[0x82, 0x00]), Ok(1));
    }
}
