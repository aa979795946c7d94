//! # gochat-proto
//!
//! The gochat v1 protocol with no IO: a streaming nom-based codec, typed
//! commands, RSA/PEM/timestamp helpers, and client and server session state
//! machines that any transport can drive.
//!
//! Nothing in this crate opens a socket, reads a clock or draws randomness of
//! its own: bytes, time ([`std::time::Instant`] values) and a CSPRNG come in
//! from the caller.
//!
//! ## Layers
//!
//! - [`Header`], [`Decoder`], [`Packet`]: framing (PROTOCOL.md §1, §3).
//! - [`ClientCommand`], [`ServerCommand`]: typed commands.
//! - [`crypto`], [`stamp`]: encodings (§4).
//! - [`ClientSession`], [`ServerSession`]: per-connection state machines.
//!
//! ## Driving a session
//!
//! Both session types follow one contract, in the style of quinn-proto and
//! str0m:
//!
//! 1. Feed what arrives: `handle_input(&bytes, now)`; when the timer from
//!    `poll_timeout()` passes, call `handle_timeout(now)` (a no-op when nothing
//!    is due).
//! 2. Issue commands (`login`, `request`, `reply`...).
//! 3. After any of these, drain the outputs: write every `poll_transmit()`
//!    chunk to the peer, handle every `poll_event()`, then sleep until
//!    `poll_timeout()` or new input.
//! 4. When `is_closed()` turns true, write what `poll_transmit()` still gives
//!    (the final ERR), then close the transport.
//!
//! ```
//! use gochat_proto::{ClientSession, ClientConfig};
//! use std::time::Instant;
//!
//! let now = Instant::now();
//! let mut client = ClientSession::new(ClientConfig::default(), 1, now);
//! // A server greets first.
//! client.handle_input(b"\x11\x2f\xf1\x00\x10\x00\xff\xff\r\nhi\r\n", now);
//! while let Some(event) = client.poll_event() {
//!     println!("{event:?}");
//! }
//! while let Some(bytes) = client.poll_transmit() {
//!     // write `bytes` to the socket
//!     let _ = bytes;
//! }
//! ```

pub mod codes;
pub mod command;
pub mod crypto;
pub mod decoder;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod header;
pub mod packet;
pub mod session;
pub mod stamp;
pub mod username;

pub use codes::{Action, AdminOp, EMPTY_INFO, ErrorCode, Hook, Permission, UserList};
pub use command::{AdminCommand, ClientCommand, CommandError, HookEvent, ServerCommand, UserEntry};
pub use decoder::{DecodeError, Decoder, PacketRef, decode_packet};
pub use header::{Direction, Header};
pub use packet::{EncodeError, Packet, encode_into};
pub use session::client::{
    ClientConfig, ClientEvent, ClientSession, ClientState, ClientTimer,
    CloseReason as ClientCloseReason, RequestError, SessionError as ClientSessionError,
};
pub use session::server::{
    CloseReason as ServerCloseReason, ServerConfig, ServerEvent, ServerSession, ServerTimer,
    SessionError as ServerSessionError,
};
pub use stamp::{StampError, decode_stamp, encode_stamp};
pub use username::{Username, UsernameError};
