//! Options of accepted server sockets.

use std::os::fd::AsFd;

/// Kernel send buffer asked for on each accepted connection (the kernel
/// doubles it for its own bookkeeping).
///
/// Without it Linux grows a connection's send buffer up to `tcp_wmem`'s
/// maximum (4 MiB by default) while the peer does not read. gochat v1 has no
/// acknowledgement of a RECIV, so what sits in that buffer when a reader
/// hangs up without reading is gone; a small buffer keeps that amount small
/// and leaves the rest queued in the server, where the bounded queue spills
/// it to the store. 256 KiB still moves far more than a chat connection
/// needs, also over long links.
pub const ACCEPTED_SEND_BUFFER: usize = 256 * 1024;

/// Applies gochat's options to a socket a server accepted: no Nagle delay,
/// and the send buffer of [`ACCEPTED_SEND_BUFFER`]. Failures are ignored:
/// the connection works without them.
pub fn tune_accepted<S: AsFd>(socket: &S) {
    let sock = socket2::SockRef::from(socket);
    let _ = sock.set_tcp_nodelay(true);
    let _ = sock.set_send_buffer_size(ACCEPTED_SEND_BUFFER);
}
