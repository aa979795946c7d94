//! The tests, one file per feature.

mod auto_open;
mod completion;
mod editing;
mod errors;
mod mouse;
mod notify;
mod search;
