//! # gochat-client
//!
//! One client library ([`service`]) under two front ends: a scriptable line
//! shell ([`shell`]) and a ratatui TUI ([`tui`]). The front ends never see
//! bytes or SQL: they call async methods with typed results and read one event
//! stream per connection. Keys are sealed with the password at rest and the
//! history lives in a local SQLite database ([`store`]).

pub mod config;
pub mod keys;
pub mod service;
pub mod shell;
pub mod store;
pub mod time;
pub mod tui;
pub mod types;

pub use types::{
    Account, ChatMessage, ClientError, ClientEvent, Contact, ServerRecord, StartOptions,
};
