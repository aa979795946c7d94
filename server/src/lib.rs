//! # gochat-server
//!
//! The gochat v1 server: every action, admin operation and hook, over TCP and
//! TLS, on tokio or smol, with SQLite (default), MariaDB/MySQL or PostgreSQL
//! storage, alone or as one node of a cluster.
//!
//! - [`server`]: listeners, accept loops, graceful shutdown ([`run_blocking`], [`start`]).
//! - `conn`: one task per connection driving a `gochat_proto::ServerSession`:
//!   it moves bytes, runs the storage calls, and asks the core what to do.
//! - [`core`]: what requests do, with no sockets, runtime or database: who is
//!   online, tokens, MOTD, hook fan-out, the routing of messages, every check.
//! - [`writer`]: the one task that writes messages to the store.
//! - [`slots`]: the `max_clients` waiting line.
//! - [`store`]: SQLite / MariaDB storage through sqlx.
//! - [`cluster`]: several nodes serving one user base, joined through NATS.
//! - [`config`], [`logging`], [`shell`]: settings, logs, the admin shell.

pub mod cluster;
pub mod config;
mod conn;
pub mod core;
pub mod limits;
pub mod logging;
pub mod nofile;
pub mod proxy_header;
pub mod server;
pub mod shell;
pub mod slots;
pub mod store;
pub mod writer;

pub use server::{RunningServer, ServerError, run, run_blocking, start};
