//! Client session (in progress).
