//! IO pieces shared by every driver loop.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::AsyncWriteExt;

use crate::{BoxFuture, Runtime};

/// Size of the per-thread read buffer.
pub const SCRATCH_LEN: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; SCRATCH_LEN].into_boxed_slice());
}

/// Polls `stream` for bytes, reading into a per-thread buffer that is lent to
/// `sink` only for the duration of the call, so a waiting connection holds no
/// read buffer of its own.
///
/// `Ready(Ok(0))` is end of stream.
pub fn poll_read_with<S, F>(
    stream: &mut S,
    cx: &mut Context<'_>,
    sink: F,
) -> Poll<io::Result<usize>>
where
    S: AsyncRead + Unpin,
    F: FnOnce(&[u8]),
{
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => match Pin::new(stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(n)) => {
                let n = n.min(buf.len());
                sink(&buf[..n]);
                Poll::Ready(Ok(n))
            }
            other => other,
        },
        Err(_) => {
            // Re-entered from inside a sink: fall back to a small local buffer.
            let mut buf = [0u8; 1024];
            match Pin::new(stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(n)) => {
                    let n = n.min(buf.len());
                    sink(&buf[..n]);
                    Poll::Ready(Ok(n))
                }
                other => other,
            }
        }
    })
}

/// Writes every chunk, then flushes.
pub async fn write_chunks<S, I, B>(stream: &mut S, chunks: I) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
    I: IntoIterator<Item = B>,
    B: AsRef<[u8]>,
{
    let mut wrote = false;
    for chunk in chunks {
        stream.write_all(chunk.as_ref()).await?;
        wrote = true;
    }
    if wrote {
        stream.flush().await?;
    }
    Ok(())
}

/// A timer that is re-armed only when it fires or an earlier deadline comes,
/// so that a deadline pushed back on every packet costs nothing per packet.
pub struct Timer {
    armed: Option<(Instant, BoxFuture<'static, ()>)>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("at", &self.armed.as_ref().map(|a| a.0))
            .finish()
    }
}

impl Default for Timer {
    fn default() -> Self {
        Self::new()
    }
}

impl Timer {
    /// An unarmed timer.
    pub fn new() -> Self {
        Timer { armed: None }
    }

    /// Makes sure the timer fires no later than `deadline` (`None`: disarm
    /// only when nothing is wanted).
    pub fn set<R: Runtime>(&mut self, rt: &R, deadline: Option<Instant>) {
        match (deadline, &self.armed) {
            (None, _) => self.armed = None,
            (Some(d), Some((at, _))) if *at <= d => {}
            (Some(d), _) => self.armed = Some((d, rt.sleep_until(d))),
        }
    }

    /// The instant the timer is armed for.
    pub fn deadline(&self) -> Option<Instant> {
        self.armed.as_ref().map(|a| a.0)
    }

    /// Polls the timer; once it fires it is disarmed.
    pub fn poll_fire(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.armed {
            None => Poll::Pending,
            Some((_, sleep)) => match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.armed = None;
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}
