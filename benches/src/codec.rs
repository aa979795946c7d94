//! The packets the codec benchmarks run on, shared by the `codec` criterion
//! bench and the `gochat-codec-count` binary.

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use gochat_proto::crypto::{PUBLIC_KEY_LABEL, pem_encode};
use gochat_proto::{ClientCommand, Packet, PacketRef, ServerCommand, UserEntry, Username};

/// Packets per chunk in the batched variants.
pub const BATCH: usize = 64;

/// One benchmarked packet: its command and its wire bytes.
pub struct Case {
    /// Short name used in benchmark ids (`msg`, `keep`).
    pub name: &'static str,
    /// The command the packet carries.
    pub command: ClientCommand,
    /// The packet's wire bytes (id 1).
    pub wire: Bytes,
    /// `BATCH` copies of `wire`, back to back.
    pub batch: Bytes,
}

impl Case {
    /// The case for `command`, encoded with id 1.
    pub fn new(name: &'static str, command: ClientCommand) -> Self {
        let mut wire = BytesMut::new();
        // Both commands below are valid: encoding cannot fail.
        if let Err(e) = command.encode(1, &mut wire) {
            unreachable!("benchmark command does not encode: {e}");
        }
        let wire = wire.freeze();
        let batch = wire.repeat(BATCH).into();
        Case {
            name,
            command,
            wire,
            batch,
        }
    }
}

/// `len` arbitrary bytes (an xorshift stream from `seed`) with no CRLF: what
/// an RSA-4096 ciphertext sent to an original peer looks like
/// (`crypto::encrypt_without_crlf`).
pub fn no_crlf_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let b = (state >> 24) as u8;
        if !(b == b'\n' && out.last() == Some(&b'\r')) {
            out.push(b);
        }
    }
    out
}

/// The benchmarks' 512-byte ciphertext.
pub fn ciphertext() -> Bytes {
    Bytes::from(no_crlf_bytes(0x9E37_79B9_7F4A_7C15, 512))
}

/// The current Unix time in seconds, as a client stamps a MSG.
pub fn now_stamp() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1_764_000_000, |d| d.as_secs() as i64)
}

/// The MSG case (recipient `bob`, the current stamp, a 512-byte
/// ciphertext: 536 bytes on the wire) and the KEEP case (10 bytes).
pub fn cases() -> [Case; 2] {
    let stamp = now_stamp();
    let msg = match Username::new("bob") {
        Ok(to) => ClientCommand::Msg {
            to,
            stamp,
            ciphertext: ciphertext(),
        },
        Err(e) => unreachable!("`bob` is a valid username: {e}"),
    };
    [
        Case::new("msg", msg),
        Case::new("keep", ClientCommand::Keep),
    ]
}

/// Reads what a consumer of a decoded packet reads: action, id and every
/// argument.
#[inline]
pub fn read_view(packet: &PacketRef<'_>) {
    black_box((packet.action(), packet.id()));
    for arg in packet.args() {
        black_box(arg);
    }
}

/// Users in the USRS reply of [`Parsers::usrs`].
pub const USRS_ENTRIES: usize = 150;

/// Bytes of the DER body in [`Parsers::pem`]: the size of an RSA-4096
/// SubjectPublicKeyInfo.
pub const PEM_DER_LEN: usize = 550;

/// Inputs of the cases that time one parser of the codec on its own.
pub struct Parsers {
    /// The current stamp's encoding (5 bytes), for `decode_stamp`.
    pub stamp: Vec<u8>,
    /// A USRS reply (with permissions) of [`USRS_ENTRIES`] users named
    /// `user0000`... in one argument, for `ServerCommand::from_packet`.
    pub usrs: Packet,
    /// A public key PEM as sent at REG ([`PEM_DER_LEN`] bytes of DER in
    /// 64-character lines), for `crypto::pem_decode`.
    pub pem: String,
}

/// The inputs of the single-parser cases.
pub fn parsers() -> Parsers {
    let entries = (0..USRS_ENTRIES)
        .map(|i| match Username::new(&format!("user{i:04}")) {
            Ok(name) => UserEntry {
                name,
                permission: Some((i % 3) as u8),
            },
            Err(e) => unreachable!("`user{i:04}` is a valid username: {e}"),
        })
        .collect();
    let usrs = match ServerCommand::Usrs(entries).to_packet(1) {
        Ok(packet) => packet,
        Err(e) => unreachable!("the benchmark user list does not encode: {e}"),
    };
    Parsers {
        stamp: gochat_proto::encode_stamp(now_stamp()),
        usrs,
        pem: pem_encode(
            PUBLIC_KEY_LABEL,
            &no_crlf_bytes(0x2545_F491_4F6C_DD1D, PEM_DER_LEN),
        ),
    }
}
