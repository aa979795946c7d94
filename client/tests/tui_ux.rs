//! The TUI's editing, completion, search, sealed history, mouse, notification and
//! start-up features without a terminal: `update()` driven with keys, mouse
//! events, network events and task results, `render()` drawn on ratatui's
//! `TestBackend`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod tui_support;
mod tui_ux_tests;
