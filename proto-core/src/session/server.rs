//! Server session (in progress).
