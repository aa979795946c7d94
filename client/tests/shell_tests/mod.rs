//! More shell scenarios: administration and TLS, files, help, the terminal
//! mode, registration, and the real binary.

mod admin;
mod files;
mod pty;
