//! Options of the TCP sockets both runtime adapters open: accepted server
//! sockets ([`accepted`]) and client connections ([`connected`]).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
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

/// Awaits a runtime's `accept`, applies [`tune_accepted`] to the socket and
/// hands it to `wrap` (the adapter's stream type): the accept of every
/// [`Runtime`](crate::Runtime) adapter.
pub async fn accepted<S: AsFd, T>(
    accept: impl Future<Output = io::Result<(S, SocketAddr)>>,
    wrap: impl FnOnce(S) -> T,
) -> io::Result<(T, SocketAddr)> {
    let (socket, addr) = accept.await?;
    tune_accepted(&socket);
    Ok((wrap(socket), addr))
}

/// Awaits a runtime's `connect`, turns the Nagle delay off (a failure is
/// ignored, as in [`tune_accepted`]) and hands the socket to `wrap`: the
/// connect of every [`Runtime`](crate::Runtime) adapter.
pub async fn connected<S: AsFd, T>(
    connect: impl Future<Output = io::Result<S>>,
    wrap: impl FnOnce(S) -> T,
) -> io::Result<T> {
    let socket = connect.await?;
    let _ = socket2::SockRef::from(&socket).set_tcp_nodelay(true);
    Ok(wrap(socket))
}

/// The TCP methods of a [`Runtime`](crate::Runtime) adapter (`bind`,
/// `local_addr`, `accept`, `connect`), for a runtime whose listener has
/// `bind(addr)`, `local_addr()` and `accept()` and whose stream has
/// `connect(addr)`, as tokio's and smol's do; `$wrap` turns a socket into the
/// adapter's stream. Written once for both adapters; use it inside their
/// `impl Runtime`.
#[macro_export]
macro_rules! tcp_methods {
    ($listener:ty, $stream:ty, $wrap:expr) => {
        fn bind(
            &self,
            addr: ::std::net::SocketAddr,
        ) -> $crate::BoxFuture<'static, ::std::io::Result<Self::TcpListener>> {
            ::std::boxed::Box::pin(<$listener>::bind(addr))
        }

        fn local_addr(
            &self,
            listener: &Self::TcpListener,
        ) -> ::std::io::Result<::std::net::SocketAddr> {
            listener.local_addr()
        }

        fn accept<'a>(
            &self,
            listener: &'a Self::TcpListener,
        ) -> $crate::BoxFuture<'a, ::std::io::Result<(Self::TcpStream, ::std::net::SocketAddr)>> {
            ::std::boxed::Box::pin($crate::socket::accepted(listener.accept(), $wrap))
        }

        fn connect(
            &self,
            addr: ::std::net::SocketAddr,
        ) -> $crate::BoxFuture<'static, ::std::io::Result<Self::TcpStream>> {
            ::std::boxed::Box::pin($crate::socket::connected(<$stream>::connect(addr), $wrap))
        }
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::{TcpListener, TcpStream};

    /// Both ends come out tuned and wrapped: no Nagle delay, and the
    /// accepted one with the send buffer asked for (the kernel doubles it).
    #[test]
    fn accepted_and_connected_sockets_are_tuned() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connect = async { TcpStream::connect(addr) };
        let client = futures_lite::future::block_on(connected(connect, Box::new)).unwrap();
        assert!(client.nodelay().unwrap());
        let accept = async { listener.accept() };
        let (server, from) = futures_lite::future::block_on(accepted(accept, Box::new)).unwrap();
        assert_eq!(from, client.local_addr().unwrap());
        assert!(server.nodelay().unwrap());
        let buffer = socket2::SockRef::from(&*server).send_buffer_size().unwrap();
        assert!(buffer >= ACCEPTED_SEND_BUFFER, "send buffer {buffer}");
    }

    /// A failed connect is handed back as it is.
    #[test]
    fn a_failed_connect_is_returned() {
        let refused =
            async { Err::<TcpStream, _>(io::Error::from(io::ErrorKind::ConnectionRefused)) };
        let got = futures_lite::future::block_on(connected(refused, |s| s));
        assert_eq!(got.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    }
}
