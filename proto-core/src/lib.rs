//! # gochat-proto
//!
//! The gochat v1 protocol with no IO: a streaming codec, typed commands,
//! RSA/PEM/timestamp helpers, and client and server session state machines
//! that any transport can drive.
//!
//! Nothing in this crate opens a socket, reads a clock or draws randomness of
//! its own: bytes, time ([`std::time::Instant`] values) and a CSPRNG come in
//! from the caller.
//!
//! ## Layers
//!
//! - [`Header`], [`Decoder`], [`Packet`]: framing (docs/PROTOCOL.md §3).
//! - [`ClientCommand`], [`ServerCommand`]: typed commands.
//! - [`crypto`], [`stamp`]: encodings (docs/PROTOCOL.md §5).
//! - [`grammar`]: the wire grammar as nom 8 parsers.
//! - [`ClientSession`], [`ServerSession`]: per-connection state machines.
//!
//! ## Parsing: nom, and where it is hand-tuned
//!
//! Every byte format the crate reads is written once as nom parsers in
//! [`grammar`]: the header frame (its bit fields), whole packets (streaming),
//! the argument split, stamps, the lines of a USRS reply and PEM blocks.
//!
//! - USRS replies ([`ServerCommand::from_packet`]) and PEM blocks
//!   ([`crypto::pem_decode`]) are read by those nom parsers alone.
//! - The header frame ([`decoder::parse_header`]), the argument split
//!   inside the [`Decoder`] and stamps ([`decode_stamp`]) are hand-tuned:
//!   every MSG and RECIV the server relays passes through them, and with
//!   the nom parsers in their place the `codec` bench counted about four
//!   times the instructions for decoding a MSG and two and a half times for
//!   a stamp (`docs/PERFORMANCE.md`, "Codec: nom parsers"). The nom parsers
//!   stay as their reference: [`grammar::decode`],
//!   [`grammar::parse_header`], [`grammar::split_arguments`] and
//!   [`grammar::decode_stamp`] must give the same result and the same error
//!   on every input, which property tests (`tests/codec_props.rs` and unit
//!   tests) and the fuzz targets check on arbitrary and mutated input.
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
pub mod grammar;
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
