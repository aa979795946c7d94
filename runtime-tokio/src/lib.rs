//! # gochat-runtime-tokio
//!
//! [`TokioRuntime`]: gochat's [`Runtime`] on a multi-threaded tokio runtime.
//! Streams are adapted to futures-io with `tokio-util`'s compat layer; TLS runs
//! through tokio-rustls.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use gochat_runtime::{BoxFuture, Runtime};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

/// A TCP stream usable as a futures-io stream.
pub type TcpStream = Compat<tokio::net::TcpStream>;

/// gochat's runtime trait on tokio.
#[derive(Clone, Debug)]
pub struct TokioRuntime {
    handle: tokio::runtime::Handle,
    owned: Option<Arc<tokio::runtime::Runtime>>,
}

impl TokioRuntime {
    /// Starts a multi-threaded runtime with one worker per core.
    pub fn new() -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        Ok(TokioRuntime {
            handle: rt.handle().clone(),
            owned: Some(Arc::new(rt)),
        })
    }

    /// Uses the runtime the caller is running in (for example `#[tokio::test]`).
    pub fn current() -> Self {
        TokioRuntime {
            handle: tokio::runtime::Handle::current(),
            owned: None,
        }
    }

    /// The tokio handle.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl Runtime for TokioRuntime {
    type TcpStream = TcpStream;
    type TcpListener = tokio::net::TcpListener;
    type TlsServerStream = Compat<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>;
    type TlsClientStream = Compat<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

    fn name(&self) -> &'static str {
        "tokio"
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        match &self.owned {
            Some(rt) => rt.block_on(future),
            None => self.handle.block_on(future),
        }
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.handle.spawn(future);
    }

    fn spawn_blocking<T, F>(&self, work: F) -> BoxFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let task = self.handle.spawn_blocking(work);
        Box::pin(async move {
            match task.await {
                Ok(v) => v,
                // The work panicked: carry the panic to the awaiting task.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        })
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn bind(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Self::TcpListener>> {
        Box::pin(tokio::net::TcpListener::bind(addr))
    }

    fn local_addr(&self, listener: &Self::TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    fn accept<'a>(
        &self,
        listener: &'a Self::TcpListener,
    ) -> BoxFuture<'a, io::Result<(Self::TcpStream, SocketAddr)>> {
        Box::pin(async move {
            let (s, addr) = listener.accept().await?;
            gochat_runtime::socket::tune_accepted(&s);
            Ok((s.compat(), addr))
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Self::TcpStream>> {
        Box::pin(async move {
            let s = tokio::net::TcpStream::connect(addr).await?;
            let _ = s.set_nodelay(true);
            Ok(s.compat())
        })
    }

    fn tls_accept(
        &self,
        config: Arc<rustls::ServerConfig>,
        stream: Self::TcpStream,
    ) -> BoxFuture<'static, io::Result<Self::TlsServerStream>> {
        Box::pin(async move {
            let tls = tokio_rustls::TlsAcceptor::from(config)
                .accept(stream.into_inner())
                .await?;
            Ok(tls.compat())
        })
    }

    fn tls_connect(
        &self,
        config: Arc<rustls::ClientConfig>,
        server_name: rustls_pki_types::ServerName<'static>,
        stream: Self::TcpStream,
    ) -> BoxFuture<'static, io::Result<Self::TlsClientStream>> {
        Box::pin(async move {
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(server_name, stream.into_inner())
                .await?;
            Ok(tls.compat())
        })
    }
}
