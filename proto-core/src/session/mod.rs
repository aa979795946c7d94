//! Per-connection state machines: [`client::ClientSession`] and
//! [`server::ServerSession`].

pub mod client;
pub mod server;
