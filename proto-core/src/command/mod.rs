//! Typed commands: what a client sends ([`ClientCommand`]) and what a server
//! sends ([`ServerCommand`]), converted to and from raw [`Packet`]s.

mod client;
mod server;

pub use client::{AdminCommand, ClientCommand};
pub use server::{HookEvent, ServerCommand, UserEntry};

use bytes::Bytes;

use crate::codes::ErrorCode;
use crate::packet::Packet;
use crate::stamp::decode_stamp;
use crate::username::Username;

/// A valid packet whose contents do not make a valid command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason} ({code})")]
pub struct CommandError {
    /// The error code the original answers this with.
    pub code: ErrorCode,
    /// What is wrong, for logs and users.
    pub reason: &'static str,
}

impl CommandError {
    pub(crate) const fn new(code: ErrorCode, reason: &'static str) -> Self {
        CommandError { code, reason }
    }
}

/// Argument `i`, or `code` when it is missing.
pub(crate) fn arg(p: &Packet, i: usize, code: ErrorCode) -> Result<Bytes, CommandError> {
    p.arg(i).ok_or(CommandError::new(code, "missing argument"))
}

/// A username argument; an invalid name gets `code`.
pub(crate) fn user_arg(p: &Packet, i: usize, code: ErrorCode) -> Result<Username, CommandError> {
    let raw = p
        .arg_slice(i)
        .ok_or(CommandError::new(code, "missing username"))?;
    Username::parse(raw).map_err(|_| CommandError::new(code, "invalid username"))
}

/// A stamp argument; a bad one is ERR_ARGS.
pub(crate) fn stamp_arg(p: &Packet, i: usize) -> Result<i64, CommandError> {
    let raw = p
        .arg_slice(i)
        .ok_or(CommandError::new(ErrorCode::Args, "missing timestamp"))?;
    decode_stamp(raw).map_err(|_| CommandError::new(ErrorCode::Args, "invalid timestamp"))
}

/// A one-byte permission argument; the original reads its first byte.
pub(crate) fn perm_arg(p: &Packet, i: usize) -> Result<u8, CommandError> {
    p.arg_slice(i)
        .and_then(|a| a.first().copied())
        .ok_or(CommandError::new(
            ErrorCode::Args,
            "missing permission level",
        ))
}
