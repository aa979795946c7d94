//! The ratatui TUI, in the Elm style.
//!
//! - [`Model`](model::Model) holds all state: servers (the Local server
//!   first, then the stored ones) with their buffers, messages, users and
//!   unread counts; the input; popups; focus; the error bar.
//! - [`Msg`](msg::Msg) is everything that happens: a key, a paste, a resize,
//!   a connection event, a task's result, a tick.
//! - [`update`](update::update) folds a `Msg` into the model and returns
//!   [`Effect`](msg::Effect)s: service calls ([`Task`](msg::Task)s) the
//!   runner spawns on the async runtime, whose results come back as
//!   `Msg::Done`. It does no IO, so tests drive it without a terminal.
//! - [`render`](render::render) draws the model and changes nothing.
//! - The runner ([`run`]) reads the terminal on a thread, forwards each
//!   connection's events, and loops: block until something arrives (a tick
//!   only while the error bar or the spinner needs one), update, draw. No
//!   network or crypto work ever runs on the drawing thread.
//!
//! Layout and keys follow the original client (ORIGINAL.md §4): Buffers and
//! Servers lists on the left, the messages in the middle with the
//! notifications bar above and the error bar and input below, the Users
//! panel on the right once logged in.

mod actions;
pub mod clock;
pub mod commands;
mod done;
pub mod help;
pub mod input;
mod keys;
pub mod model;
pub mod msg;
mod net;
mod perform;
pub mod popup;
pub mod render;
mod runner;
mod server;
mod settings;
pub mod switcher;
mod tasks;
pub mod update;

pub use model::Model;
pub use msg::{Ctx, Effect, Msg, Outcome, Tag, Task};
pub use render::render;
pub use runner::run;
pub use update::update;
