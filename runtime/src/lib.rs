//! # gochat-runtime
//!
//! The one small trait, [`Runtime`], that the gochat server and client are
//! written against, so that each runs on tokio (`gochat-runtime-tokio`) or smol
//! (`gochat-runtime-smol`) with the same code. Streams are futures-io
//! [`AsyncRead`] + [`AsyncWrite`]; TLS is rustls, set up by [`tls`].
//!
//! [`driver`] is the loop every connection runs over its sans-IO session,
//! server side and client side; [`io`] holds the pieces it needs: reading into a per-thread
//! scratch buffer (so an idle connection owns no read buffer), writing whole
//! chunks, and a re-armable timer.

pub mod driver;
pub mod io;
pub mod socket;
pub mod stream;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

pub use futures_io::{AsyncRead, AsyncWrite};
pub use stream::MaybeTls;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A byte stream a session can be driven over.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// An async runtime: tasks, timers, TCP and TLS.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A TCP connection.
    type TcpStream: Stream;
    /// A TCP listener.
    type TcpListener: Send + Sync + 'static;
    /// A TLS connection accepted by a server.
    type TlsServerStream: Stream;
    /// A TLS connection opened by a client.
    type TlsClientStream: Stream;

    /// The runtime's name (`tokio`, `smol`).
    fn name(&self) -> &'static str;

    /// Runs a future to completion on this runtime, from synchronous code.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// Spawns a detached task.
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F);

    /// Runs blocking or CPU-heavy work off the IO threads.
    fn spawn_blocking<T, F>(&self, work: F) -> BoxFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static;

    /// A future that completes at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()>;

    /// Binds a TCP listener.
    fn bind(&self, addr: SocketAddr) -> BoxFuture<'static, std::io::Result<Self::TcpListener>>;

    /// The address a listener is bound to.
    fn local_addr(&self, listener: &Self::TcpListener) -> std::io::Result<SocketAddr>;

    /// Accepts the next connection.
    fn accept<'a>(
        &self,
        listener: &'a Self::TcpListener,
    ) -> BoxFuture<'a, std::io::Result<(Self::TcpStream, SocketAddr)>>;

    /// Opens a TCP connection.
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, std::io::Result<Self::TcpStream>>;

    /// Runs the server side of a TLS handshake.
    fn tls_accept(
        &self,
        config: Arc<rustls::ServerConfig>,
        stream: Self::TcpStream,
    ) -> BoxFuture<'static, std::io::Result<Self::TlsServerStream>>;

    /// Runs the client side of a TLS handshake.
    fn tls_connect(
        &self,
        config: Arc<rustls::ClientConfig>,
        server_name: rustls_pki_types::ServerName<'static>,
        stream: Self::TcpStream,
    ) -> BoxFuture<'static, std::io::Result<Self::TlsClientStream>>;
}

/// Runs `future` but gives up at `deadline` with a `TimedOut` error.
pub async fn with_deadline<R: Runtime, T>(
    rt: &R,
    deadline: Instant,
    future: impl Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    let timeout = async {
        rt.sleep_until(deadline).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "deadline passed",
        ))
    };
    futures_lite::future::or(future, timeout).await
}
