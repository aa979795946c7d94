//! # gochat-runtime-tokio
//!
//! [`TokioRuntime`]: gochat's [`Runtime`] on a multi-threaded tokio runtime.
//! Streams are adapted to futures-io with `tokio-util`'s compat layer; TLS runs
//! through tokio-rustls.

use std::future::Future;
use std::io;
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
    owned: Option<Arc<OwnedRuntime>>,
}

/// A runtime this crate started. The last clone of a [`TokioRuntime`] may be
/// dropped by a task on one of its own workers (a server's last connection
/// ending after the stop): tokio refuses to drop a runtime there (it would
/// block), so it is then shut down in the background instead.
#[derive(Debug)]
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                drop(rt);
            }
        }
    }
}

impl TokioRuntime {
    /// Starts a multi-threaded runtime with one worker per core.
    pub fn new() -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        Ok(TokioRuntime {
            handle: rt.handle().clone(),
            owned: Some(Arc::new(OwnedRuntime(Some(rt)))),
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
            Some(owned) => match &owned.0 {
                Some(rt) => rt.block_on(future),
                None => self.handle.block_on(future),
            },
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

    gochat_runtime::tcp_methods!(tokio::net::TcpListener, tokio::net::TcpStream, |s| s
        .compat());

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The last clone dropped by a task on the runtime's own worker (as when
    /// a server's last connection task ends after `main` let go): no panic,
    /// the task runs to its end.
    #[test]
    fn last_clone_dropped_on_a_worker() {
        let rt = TokioRuntime::new().unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let inner = rt.clone();
        rt.spawn(async move {
            let _ = go_rx.await;
            drop(inner);
            done_tx.send(()).unwrap();
        });
        drop(rt);
        go_tx.send(()).unwrap();
        done_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the task ended normally after dropping the last clone");
    }
}
