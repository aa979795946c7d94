//! The tests, one file per feature.

mod auto_open;
mod completion;
mod editing;
mod errors;
mod help;
mod mouse;
mod notify;
mod sealed_history;
mod search;
mod start;
