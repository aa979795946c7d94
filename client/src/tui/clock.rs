//! The zone the TUI shows stamps in: the client's [`TimeZone`], the
//! system's when the TUI runs, a fixed one in tests and benchmarks.

pub use crate::time::TimeZone;
