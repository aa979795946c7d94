//! The process's open-file limit: raised to its hard limit at start (every
//! connection is a file descriptor, and Linux's default soft limit of 1024
//! would cap the server near a thousand users), and a backoff for the accept
//! loop when descriptors run out anyway.

use std::io;
use std::time::Duration;

use tracing::{error, info, warn};

/// Descriptors kept for the database, listeners, logs and the like.
pub const RESERVED: u64 = 64;

/// Raises the soft open-file limit to the hard limit; the resulting soft
/// limit, or `None` when it cannot be read.
pub fn raise() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let wanted = limit.maximum;
        limit.current = wanted;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            warn!("cannot raise the open-file limit: {e}");
        }
    }
    let now = getrlimit(Resource::Nofile);
    Some(now.current.unwrap_or(u64::MAX))
}

/// How many connections `limit` open files leave room for.
pub fn capacity(limit: u64) -> u64 {
    limit.saturating_sub(RESERVED)
}

/// Raises the limit, logs the resulting capacity, and warns when
/// `max_clients` (0: unlimited) is above it.
pub fn raise_and_report(max_clients: usize) {
    let Some(limit) = raise() else { return };
    let room = capacity(limit);
    info!("open-file limit {limit}: room for about {room} connections");
    let max = u64::try_from(max_clients).unwrap_or(u64::MAX);
    if max > room {
        warn!(
            "max_clients is {max_clients} but the open-file limit ({limit}) leaves room for about {room} connections; raise it (ulimit -n, LimitNOFILE=)"
        );
    }
}

/// Pauses of the accept loop after failures: from 5 ms, doubling to 1 s,
/// back to none after a success. Logs once per run of failures of one kind,
/// not on every accept.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    failures: u32,
    last_kind: Option<io::ErrorKind>,
}

/// The first pause after a failed accept.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause.
const MAX_PAUSE: Duration = Duration::from_secs(1);

impl AcceptBackoff {
    /// An accept succeeded.
    pub fn succeeded(&mut self) {
        if self.failures > 0 {
            info!(
                "accepting connections again after {} failures",
                self.failures
            );
        }
        self.failures = 0;
        self.last_kind = None;
    }

    /// An accept failed with `e`: how long to pause before the next.
    pub fn failed(&mut self, e: &io::Error) -> Duration {
        if self.last_kind != Some(e.kind()) {
            if is_out_of_descriptors(e) {
                error!(
                    "out of file descriptors ({e}): new connections wait until others close; raise the open-file limit"
                );
            } else {
                error!("accepting a connection failed: {e}");
            }
            self.last_kind = Some(e.kind());
        }
        let pause = FIRST_PAUSE
            .saturating_mul(1 << self.failures.min(10))
            .min(MAX_PAUSE);
        self.failures = self.failures.saturating_add(1);
        pause
    }
}

/// Whether `e` is EMFILE or ENFILE.
fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == rustix::io::Errno::MFILE.raw_os_error()
            || code == rustix::io::Errno::NFILE.raw_os_error()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_second_and_resets() {
        let mut b = AcceptBackoff::default();
        let emfile = io::Error::from_raw_os_error(rustix::io::Errno::MFILE.raw_os_error());
        let pauses: Vec<Duration> = (0..12).map(|_| b.failed(&emfile)).collect();
        assert_eq!(pauses[0], Duration::from_millis(5));
        assert_eq!(pauses[1], Duration::from_millis(10));
        assert_eq!(pauses[2], Duration::from_millis(20));
        assert_eq!(*pauses.last().unwrap_or(&Duration::ZERO), MAX_PAUSE);
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        b.succeeded();
        assert_eq!(b.failed(&emfile), FIRST_PAUSE);
    }

    #[test]
    fn emfile_and_enfile_are_out_of_descriptors() {
        let e = |errno: rustix::io::Errno| io::Error::from_raw_os_error(errno.raw_os_error());
        assert!(is_out_of_descriptors(&e(rustix::io::Errno::MFILE)));
        assert!(is_out_of_descriptors(&e(rustix::io::Errno::NFILE)));
        assert!(!is_out_of_descriptors(&e(rustix::io::Errno::CONNABORTED)));
    }

    #[test]
    fn limit_is_raised_to_the_hard_limit() {
        use rustix::process::{Resource, getrlimit};
        let raised = raise();
        let now = getrlimit(Resource::Nofile);
        assert_eq!(now.current, now.maximum);
        assert_eq!(raised, Some(now.current.unwrap_or(u64::MAX)));
        assert_eq!(capacity(1024), 1024 - RESERVED);
        assert_eq!(capacity(10), 0);
    }
}
