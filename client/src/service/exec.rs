//! Running CPU-heavy work (bcrypt, scrypt, RSA) away from async tasks, and
//! sleeping, without the connection handle being generic over the runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gochat_runtime::{BoxFuture, Runtime};

use crate::types::ClientError;

/// The two runtime services a [`Connection`](super::Connection) handle needs,
/// behind a trait object so the handle is not generic.
pub(crate) trait Exec: Send + Sync + 'static {
    /// Runs `work` on a blocking thread.
    fn blocking(&self, work: Box<dyn FnOnce() + Send>) -> BoxFuture<'static, ()>;
    /// Sleeps for `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// [`Exec`] over a [`Runtime`].
struct RtExec<R>(R);

impl<R: Runtime> Exec for RtExec<R> {
    fn blocking(&self, work: Box<dyn FnOnce() + Send>) -> BoxFuture<'static, ()> {
        self.0.spawn_blocking(work)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let now = Instant::now();
        let deadline = now.checked_add(duration).unwrap_or(now);
        self.0.sleep_until(deadline)
    }
}

/// The [`Exec`] of a runtime.
pub(crate) fn exec_of<R: Runtime>(rt: &R) -> Arc<dyn Exec> {
    Arc::new(RtExec(rt.clone()))
}

/// Runs `work` on one of the runtime's blocking threads and returns its result.
pub(crate) async fn run_blocking<T, F>(exec: &dyn Exec, work: F) -> Result<T, ClientError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = async_channel::bounded(1);
    exec.blocking(Box::new(move || {
        let _ = tx.try_send(work());
    }))
    .await;
    rx.recv()
        .await
        .map_err(|_| ClientError::Io("background work did not finish".to_owned()))
}

/// Runs `work` on a thread of its own and returns its result: for the rare
/// slow operations that need no runtime (key export, import, recovery).
pub(crate) async fn off_thread<T, F>(work: F) -> Result<T, ClientError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = async_channel::bounded(1);
    std::thread::Builder::new()
        .name("gochat-client-work".to_owned())
        .spawn(move || {
            let _ = tx.try_send(work());
        })
        .map_err(|e| ClientError::Io(format!("cannot start a worker thread: {e}")))?;
    rx.recv()
        .await
        .map_err(|_| ClientError::Io("background work did not finish".to_owned()))
}
