//! Pieces shared by the gochat benchmarks and the tools beside them.

pub mod codec;
