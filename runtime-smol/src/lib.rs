//! # gochat-runtime-smol
//!
//! [`SmolRuntime`]: gochat's [`Runtime`] on smol: an executor with one worker
//! thread per core, async-io timers and sockets, and futures-rustls for TLS.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use gochat_runtime::{BoxFuture, Runtime};

/// gochat's runtime trait on smol.
#[derive(Clone)]
pub struct SmolRuntime {
    executor: Arc<smol::Executor<'static>>,
}

impl std::fmt::Debug for SmolRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmolRuntime")
    }
}

impl SmolRuntime {
    /// An executor with `threads` worker threads (at least one), which run until
    /// the process exits.
    pub fn with_threads(threads: usize) -> io::Result<Self> {
        let executor = Arc::new(smol::Executor::new());
        for i in 0..threads.max(1) {
            let ex = executor.clone();
            std::thread::Builder::new()
                .name(format!("smol-worker-{i}"))
                .spawn(move || smol::block_on(ex.run(smol::future::pending::<()>())))?;
        }
        Ok(SmolRuntime { executor })
    }

    /// An executor with one worker per core.
    pub fn new() -> io::Result<Self> {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self::with_threads(n)
    }
}

impl Runtime for SmolRuntime {
    type TcpStream = smol::net::TcpStream;
    type TcpListener = smol::net::TcpListener;
    type TlsServerStream = futures_rustls::server::TlsStream<smol::net::TcpStream>;
    type TlsClientStream = futures_rustls::client::TlsStream<smol::net::TcpStream>;

    fn name(&self) -> &'static str {
        "smol"
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        smol::block_on(future)
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.executor.spawn(future).detach();
    }

    fn spawn_blocking<T, F>(&self, work: F) -> BoxFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        Box::pin(smol::unblock(work))
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            smol::Timer::at(deadline).await;
        })
    }

    gochat_runtime::tcp_methods!(smol::net::TcpListener, smol::net::TcpStream, |s| s);

    fn tls_accept(
        &self,
        config: Arc<rustls::ServerConfig>,
        stream: Self::TcpStream,
    ) -> BoxFuture<'static, io::Result<Self::TlsServerStream>> {
        Box::pin(futures_rustls::TlsAcceptor::from(config).accept(stream))
    }

    fn tls_connect(
        &self,
        config: Arc<rustls::ClientConfig>,
        server_name: rustls_pki_types::ServerName<'static>,
        stream: Self::TcpStream,
    ) -> BoxFuture<'static, io::Result<Self::TlsClientStream>> {
        Box::pin(futures_rustls::TlsConnector::from(config).connect(server_name, stream))
    }
}
