//! The ratatui TUI, in the Elm style, in three layers whose imports go one
//! way: `update` and `render` use `model`; neither uses the other.
//!
//! - [`model`]: all state ([`Model`]): servers (the Local server first,
//!   then the stored ones) with their buffers, messages, users and unread
//!   counts; the input; popups; focus; the error bar; and what is derived
//!   from them for the update function (the messages view's size, the rows
//!   each buffer takes), kept up to date by the model itself.
//! - [`msg`]: everything that happens ([`Msg`]: a key, a mouse event, a
//!   paste, a resize, a connection event, a task's result, a tick) and what
//!   the update function
//!   asks for ([`Effect`]s: service calls ([`Task`]s) the runner spawns on
//!   the async runtime, whose results come back as `Msg::Done`; the bell, a
//!   desktop notification, taking the mouse or not).
//! - [`notify`]: the terminal escapes of desktop notifications.
//! - [`update`](update::update) folds a `Msg` into the model. It does no
//!   IO, so tests drive it without a terminal.
//! - [`render`](render::render) draws the model and changes nothing.
//! - The runner ([`run`]) reads the terminal on a thread, forwards each
//!   connection's events, and loops: block until something arrives (a tick
//!   only while the error bar or the spinner needs one), update, draw; the
//!   executor runs the tasks. No network or crypto work ever runs on the
//!   drawing thread.
//!
//! Layout and keys follow the original client (docs/CLIENT.md, "TUI"): Buffers and
//! Servers lists on the left, the messages in the middle with the
//! notifications bar above and the error bar and input below, the Users
//! panel on the right once logged in.

pub mod commands;
mod executor;
pub mod help;
pub mod model;
pub mod msg;
pub mod notify;
pub mod render;
mod runner;
pub mod update;

pub use model::Model;
pub use msg::{Ctx, Effect, Msg, Outcome, Tag, Task};
pub use render::render;
pub use runner::run;
pub use update::update;
