//! Retrying transient database failures with a short jittered exponential
//! backoff, so deadlocks and busy databases never reach users.
//!
//! Every statement the store issues is a single auto-committed statement, so a
//! transient failure (deadlock victim, lock wait timeout, `SQLITE_BUSY`/`LOCKED`,
//! pool timeout) means it had no effect and running it again is safe. The timer
//! is `async_io::Timer`, which works under tokio and smol alike.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::error::is_transient;

/// How many times a statement is tried before a transient failure is reported.
pub(crate) const MAX_ATTEMPTS: u32 = 8;

/// The first backoff delay; doubles per attempt up to [`MAX_DELAY`].
const BASE_DELAY: Duration = Duration::from_millis(10);

/// The largest backoff delay (before jitter).
const MAX_DELAY: Duration = Duration::from_millis(320);

/// Runs `attempt` until it succeeds, fails persistently, or fails transiently
/// [`MAX_ATTEMPTS`] times; returns the last result.
pub(crate) async fn retry<T, F, Fut>(op: &'static str, mut attempt: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(err) if is_transient(&err) => {
                if tries >= MAX_ATTEMPTS {
                    tracing::warn!(op, tries, error = %err, "transient database error persisted; giving up");
                    return Err(err);
                }
                let delay = backoff(tries);
                tracing::debug!(op, tries, ?delay, error = %err, "transient database error; retrying");
                async_io::Timer::after(delay).await;
                tries += 1;
            }
            result => return result,
        }
    }
}

/// The delay after failed try number `tries` (1-based): exponential, capped,
/// with full jitter in [d/2, 3d/2) so that colliding writers spread out.
fn backoff(tries: u32) -> Duration {
    let exp = BASE_DELAY.saturating_mul(1 << tries.saturating_sub(1).min(16));
    let delay = exp.min(MAX_DELAY);
    let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX).max(2);
    Duration::from_micros(micros / 2 + random_below(micros))
}

/// A cheap random number in `0..bound` (`bound > 0`) for jitter; not for secrets.
fn random_below(bound: u64) -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = COUNTER.fetch_add(1, Ordering::Relaxed);
    RandomState::new().hash_one(seed) % bound.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for tries in 1..=MAX_ATTEMPTS + 5 {
            let d = backoff(tries);
            assert!(d >= BASE_DELAY / 2, "{d:?}");
            assert!(d < MAX_DELAY * 3 / 2, "{d:?}");
        }
        let total: Duration = (1..MAX_ATTEMPTS).map(backoff).sum();
        assert!(total < Duration::from_secs(3), "{total:?}");
    }
}
