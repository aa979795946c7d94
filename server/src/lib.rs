//! # gochat-server
//!
//! The gochat v1 server: every action, admin operation and hook, over TCP and
//! TLS, on tokio or smol, with SQLite (default) or MariaDB/MySQL storage.
//!
//! - [`server`]: listeners, accept loops, graceful shutdown ([`run_blocking`], [`start`]).
//! - `conn`: one task per connection driving a `gochat_proto::ServerSession`.
//! - `handlers`, `admin`: the answer to every request.
//! - [`hub`]: who is online, tokens, MOTD, hook fan-out.
//! - [`slots`]: the `max_clients` waiting line.
//! - [`store`]: SQLite / MariaDB storage through sqlx.
//! - [`config`], [`logging`], [`shell`]: settings, logs, the admin shell.

mod admin;
mod catchup;
pub mod config;
mod conn;
mod handlers;
pub mod hub;
pub mod limits;
pub mod logging;
pub mod nofile;
pub mod server;
pub mod shell;
pub mod slots;
pub mod store;
pub mod writer;

pub use server::{RunningServer, ServerError, run, run_blocking, start};
