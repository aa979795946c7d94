//! Per-address limits: simultaneous connections, and REG and LOGIN rates.
//!
//! Pure bookkeeping with no IO: the caller passes the time in, so the rates are
//! tested on a fake clock.
//!
//! Addresses are grouped as one client would hold them: an IPv4 address is its
//! own key, an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as a dual-stack
//! listener reports IPv4 clients) counts as that IPv4 address, and any other
//! IPv6 address counts as its /64 prefix (the smallest block a site is given, so
//! one host cannot dodge the limits by rotating its interface identifier).
//!
//! Each rate is a token bucket of capacity N refilled at N per minute: a burst of
//! N attempts is allowed, then one every `60 s / N`. The bucket is kept as the
//! instant at which it will be full again (the "theoretical arrival time" of the
//! generic cell rate algorithm), which is exact in integer time and needs no
//! background refill.
//!
//! Memory stays proportional to the addresses that matter: an address has an
//! entry only while it holds a connection or one of its buckets is not full.
//! [`IpLimits::purge`] (called each minute) drops entries whose buckets have
//! refilled; an entry with full buckets goes as soon as its last connection
//! closes. A limit of 0 disables its check, and nothing is tracked for it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The limits, each 0 to disable it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpLimitConfig {
    /// Simultaneous connections from one address (IPv6: one /64); 0 = no limit.
    pub max_connections: usize,
    /// REG requests allowed per address per minute (burst of as many); 0 = no limit.
    pub registrations_per_minute: u32,
    /// LOGIN requests (challenge or token) allowed per address per minute (burst of
    /// as many); 0 = no limit.
    pub logins_per_minute: u32,
}

/// A rate-limited kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attempt {
    /// A REG request.
    Register,
    /// A LOGIN request, by challenge or by reusable token.
    Login,
}

/// The key addresses are counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    V4(Ipv4Addr),
    /// The upper 64 bits of an IPv6 address.
    V6(u64),
}

impl Key {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Key::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Key::V4(v4),
                None => Key::V6(prefix64(v6)),
            },
        }
    }
}

fn prefix64(ip: Ipv6Addr) -> u64 {
    // The high half of the big-endian 128-bit value: no truncation question.
    let [a, b, c, d, ..] = ip.segments();
    (u64::from(a) << 48) | (u64::from(b) << 32) | (u64::from(c) << 16) | u64::from(d)
}

/// What is known of one address.
#[derive(Debug, Default)]
struct Entry {
    /// Live [`IpConnection`]s.
    connections: usize,
    /// When the REG bucket is full again; `None` when it is full.
    register_full_at: Option<Instant>,
    /// When the LOGIN bucket is full again; `None` when it is full.
    login_full_at: Option<Instant>,
}

impl Entry {
    /// Forgets bucket times that have passed (the bucket is full again).
    fn settle(&mut self, now: Instant) {
        for full_at in [&mut self.register_full_at, &mut self.login_full_at] {
            if full_at.is_some_and(|t| t <= now) {
                *full_at = None;
            }
        }
    }

    /// Whether the entry still carries anything (after [`Entry::settle`]).
    fn is_needed(&self) -> bool {
        self.connections > 0 || self.register_full_at.is_some() || self.login_full_at.is_some()
    }
}

/// Connection counts and request rates per address.
///
/// Shared by every connection; cheap to consult (one mutex, one hash lookup).
#[derive(Debug)]
pub struct IpLimits {
    config: IpLimitConfig,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl IpLimits {
    /// Limits with the given configuration and no address tracked.
    pub fn new(config: IpLimitConfig) -> Arc<Self> {
        Arc::new(IpLimits {
            config,
            entries: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a connection from `ip`: `Some(guard)` (dropping it frees the place),
    /// `None` when the address already has `max_connections`.
    ///
    /// With `max_connections` 0 every connection is accepted and none is tracked.
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Option<IpConnection> {
        let max = self.config.max_connections;
        if max == 0 {
            return Some(IpConnection { held: None });
        }
        let key = Key::of(ip);
        let mut entries = self.lock();
        let entry = entries.entry(key).or_default();
        if entry.connections >= max {
            return None;
        }
        entry.connections += 1;
        Some(IpConnection {
            held: Some((Arc::clone(self), key)),
        })
    }

    fn disconnect(&self, key: Key) {
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(&key) {
            entry.connections = entry.connections.saturating_sub(1);
            if !entry.is_needed() {
                entries.remove(&key);
            }
        }
    }

    /// Whether one more attempt of this kind from `ip` is allowed at `now`; an
    /// allowed attempt is counted.
    ///
    /// Token bucket of capacity N refilled at N per minute, N being
    /// `registrations_per_minute` or `logins_per_minute`; N = 0 allows everything
    /// and tracks nothing.
    pub fn allow(&self, ip: IpAddr, attempt: Attempt, now: Instant) -> bool {
        let per_minute = match attempt {
            Attempt::Register => self.config.registrations_per_minute,
            Attempt::Login => self.config.logins_per_minute,
        };
        if per_minute == 0 {
            return true;
        }
        // One token's worth of time, and how far ahead of `now` the bucket's
        // full time may be while a token is left (N - 1 tokens already used).
        // The smallest interval (u32::MAX per minute) is still 13 ns, never 0.
        let interval = Duration::from_secs(60) / per_minute;
        let tolerance = interval.saturating_mul(per_minute - 1);

        let mut entries = self.lock();
        let entry = entries.entry(Key::of(ip)).or_default();
        entry.settle(now);
        let full_at = match attempt {
            Attempt::Register => &mut entry.register_full_at,
            Attempt::Login => &mut entry.login_full_at,
        };
        let start = full_at.map_or(now, |t| t.max(now));
        let allowed = start.saturating_duration_since(now) <= tolerance
            && match start.checked_add(interval) {
                Some(next) => {
                    *full_at = Some(next);
                    true
                }
                None => false,
            };
        if !allowed && !entry.is_needed() {
            // Only reachable if the clock cannot represent the next instant:
            // leave nothing behind for an address that holds nothing.
            entries.remove(&Key::of(ip));
        }
        allowed
    }

    /// Drops the entries of addresses with no connection and full buckets
    /// (housekeeping, called each minute) and gives back the room they took.
    pub fn purge(&self, now: Instant) {
        let mut entries = self.lock();
        entries.retain(|_, entry| {
            entry.settle(now);
            entry.is_needed()
        });
        // After a burst of addresses the table would otherwise keep its peak size.
        if entries.capacity() > 64 && entries.len() < entries.capacity() / 4 {
            let keep = entries.len().saturating_mul(2);
            entries.shrink_to(keep);
        }
    }

    /// Number of addresses (IPv6: /64 prefixes) tracked, for tests and logs.
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }
}

/// One counted connection; dropping it frees its place.
#[derive(Debug)]
pub struct IpConnection {
    /// `None` when connections are not limited.
    held: Option<(Arc<IpLimits>, Key)>,
}

impl Drop for IpConnection {
    fn drop(&mut self) {
        if let Some((limits, key)) = self.held.take() {
            limits.disconnect(key);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn limits(max_connections: usize, registrations: u32, logins: u32) -> Arc<IpLimits> {
        IpLimits::new(IpLimitConfig {
            max_connections,
            registrations_per_minute: registrations,
            logins_per_minute: logins,
        })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn connection_cap_and_release_on_drop() {
        let l = limits(2, 0, 0);
        let a = ip("192.0.2.1");
        let first = l.connect(a).unwrap();
        let second = l.connect(a).unwrap();
        assert!(l.connect(a).is_none(), "a third connection is refused");
        // Other addresses are not affected.
        let other = l.connect(ip("192.0.2.2")).unwrap();
        assert_eq!(l.tracked(), 2);

        drop(first);
        let third = l.connect(a).unwrap();
        assert!(l.connect(a).is_none());

        drop(second);
        drop(third);
        drop(other);
        assert_eq!(l.tracked(), 0, "the last drop forgets the address");
        // A refused connection leaves nothing behind either way.
        let held = [l.connect(a).unwrap(), l.connect(a).unwrap()];
        assert!(l.connect(a).is_none());
        drop(held);
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn ipv6_is_grouped_by_slash_64() {
        let l = limits(2, 0, 0);
        let _a = l.connect(ip("2001:db8:1:2::1")).unwrap();
        let _b = l.connect(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")).unwrap();
        assert!(
            l.connect(ip("2001:db8:1:2:abcd::9")).is_none(),
            "same /64, third connection"
        );
        // The next /64 (and one differing only in the first bits) is another client.
        let _c = l.connect(ip("2001:db8:1:3::1")).unwrap();
        let _d = l.connect(ip("3001:db8:1:2::1")).unwrap();
        assert_eq!(l.tracked(), 3);
    }

    #[test]
    fn ipv4_mapped_is_the_ipv4_address() {
        let l = limits(2, 1, 0);
        let v4 = ip("198.51.100.7");
        let mapped = ip("::ffff:198.51.100.7");
        let _a = l.connect(v4).unwrap();
        let _b = l.connect(mapped).unwrap();
        assert!(l.connect(v4).is_none());
        assert!(l.connect(mapped).is_none());
        assert_eq!(l.tracked(), 1);
        let now = Instant::now();
        assert!(l.allow(mapped, Attempt::Register, now));
        assert!(!l.allow(v4, Attempt::Register, now), "one bucket for both");
        // ::1 and the IPv4-compatible form are IPv6, not 0.0.0.1.
        let _c = l.connect(ip("::1")).unwrap();
        let _d = l.connect(ip("0.0.0.1")).unwrap();
        assert_eq!(l.tracked(), 3);
    }

    #[test]
    fn bucket_is_exhausted_then_refills_fully() {
        let l = limits(0, 3, 0);
        let a = ip("203.0.113.5");
        let t0 = Instant::now();
        for n in 0..3 {
            assert!(
                l.allow(a, Attempt::Register, t0),
                "attempt {n} of the burst"
            );
        }
        assert!(!l.allow(a, Attempt::Register, t0));
        assert!(
            !l.allow(a, Attempt::Register, t0 + secs(19)),
            "one token is 20 s"
        );
        // Refused attempts are not counted: a minute after the burst it is full.
        let t1 = t0 + secs(60);
        for n in 0..3 {
            assert!(
                l.allow(a, Attempt::Register, t1),
                "attempt {n} after a minute"
            );
        }
        assert!(!l.allow(a, Attempt::Register, t1));
        // Much later, still no more than the capacity.
        let t2 = t1 + secs(3600);
        for _ in 0..3 {
            assert!(l.allow(a, Attempt::Register, t2));
        }
        assert!(!l.allow(a, Attempt::Register, t2));
    }

    #[test]
    fn partial_refill() {
        let l = limits(0, 0, 6); // one token every 10 s
        let a = ip("203.0.113.9");
        let t0 = Instant::now();
        for _ in 0..6 {
            assert!(l.allow(a, Attempt::Login, t0));
        }
        assert!(!l.allow(a, Attempt::Login, t0));
        let t = t0 + secs(25);
        assert!(l.allow(a, Attempt::Login, t));
        assert!(l.allow(a, Attempt::Login, t));
        assert!(
            !l.allow(a, Attempt::Login, t),
            "25 s gave two tokens, not three"
        );
        // The half token left over counts: 5 s later a third one is there.
        assert!(l.allow(a, Attempt::Login, t + secs(5)));
        assert!(!l.allow(a, Attempt::Login, t + secs(5)));
    }

    #[test]
    fn kinds_and_addresses_have_their_own_buckets() {
        let l = limits(0, 1, 1);
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        let now = Instant::now();
        assert!(l.allow(a, Attempt::Register, now));
        assert!(!l.allow(a, Attempt::Register, now));
        assert!(l.allow(a, Attempt::Login, now));
        assert!(!l.allow(a, Attempt::Login, now));
        assert!(l.allow(b, Attempt::Register, now));
        assert!(l.allow(b, Attempt::Login, now));
    }

    #[test]
    fn zero_disables_and_tracks_nothing() {
        let l = limits(0, 0, 0);
        let a = ip("192.0.2.1");
        let now = Instant::now();
        let held: Vec<_> = (0..1000).map(|_| l.connect(a).unwrap()).collect();
        for _ in 0..1000 {
            assert!(l.allow(a, Attempt::Register, now));
            assert!(l.allow(a, Attempt::Login, now));
        }
        assert_eq!(l.tracked(), 0);
        drop(held);
        assert_eq!(l.tracked(), 0);

        // Only the disabled check is off.
        let l = limits(1, 0, 2);
        let _c = l.connect(a).unwrap();
        assert!(l.connect(a).is_none());
        for _ in 0..100 {
            assert!(l.allow(ip("192.0.2.2"), Attempt::Register, now));
        }
        assert_eq!(l.tracked(), 1, "REG unlimited: 192.0.2.2 is not tracked");
        assert!(l.allow(a, Attempt::Login, now));
        assert!(l.allow(a, Attempt::Login, now));
        assert!(!l.allow(a, Attempt::Login, now));
    }

    #[test]
    fn purge_drops_only_what_is_no_longer_needed() {
        let l = limits(5, 2, 2);
        let t0 = Instant::now();
        let (busy, connected, quiet) = (ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1"));
        assert!(l.allow(busy, Attempt::Register, t0));
        let conn = l.connect(connected).unwrap();
        assert!(l.allow(quiet, Attempt::Login, t0));
        assert_eq!(l.tracked(), 3);

        // 29 s: the buckets (one token = 30 s) are not full yet.
        l.purge(t0 + secs(29));
        assert_eq!(l.tracked(), 3);
        // 30 s: both buckets are full again; the connection keeps its entry.
        l.purge(t0 + secs(30));
        assert_eq!(l.tracked(), 1);
        // The purged buckets are full, not reset to something else.
        for _ in 0..2 {
            assert!(l.allow(busy, Attempt::Register, t0 + secs(30)));
        }
        assert!(!l.allow(busy, Attempt::Register, t0 + secs(30)));

        drop(conn);
        assert_eq!(l.tracked(), 1, "busy is still tracked");
        l.purge(t0 + secs(90));
        assert_eq!(l.tracked(), 0);

        // A connection closing while its bucket refills keeps the entry until purge.
        let conn = l.connect(connected).unwrap();
        assert!(l.allow(connected, Attempt::Login, t0 + secs(90)));
        drop(conn);
        assert_eq!(l.tracked(), 1);
        l.purge(t0 + secs(120));
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn purge_gives_back_room_after_a_flood() {
        let l = limits(0, 1, 0);
        let t0 = Instant::now();
        for n in 0..10_000u32 {
            assert!(l.allow(IpAddr::V4(Ipv4Addr::from(n)), Attempt::Register, t0));
        }
        assert_eq!(l.tracked(), 10_000);
        l.purge(t0 + secs(60));
        assert_eq!(l.tracked(), 0);
        assert!(l.lock().capacity() < 1000, "{}", l.lock().capacity());
    }

    #[test]
    fn time_going_backwards_does_not_refill_or_panic() {
        let l = limits(0, 2, 0);
        let a = ip("192.0.2.1");
        let t0 = Instant::now() + secs(3600);
        assert!(l.allow(a, Attempt::Register, t0));
        assert!(l.allow(a, Attempt::Register, t0));
        assert!(!l.allow(a, Attempt::Register, t0 - secs(10)));
        l.purge(t0 - secs(100));
        assert_eq!(l.tracked(), 1);
    }

    #[test]
    fn huge_rates_do_not_overflow() {
        let l = limits(usize::MAX, u32::MAX, u32::MAX);
        let a = ip("192.0.2.1");
        let now = Instant::now();
        let _c = l.connect(a).unwrap();
        for _ in 0..10_000 {
            assert!(l.allow(a, Attempt::Login, now));
        }
    }

    #[test]
    fn a_poisoned_lock_is_recovered() {
        let l = limits(1, 1, 0);
        let a = ip("192.0.2.1");
        let conn = l.connect(a).unwrap();
        let poisoner = Arc::clone(&l);
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.entries.lock().unwrap();
            panic!("poison the lock");
        })
        .join();
        assert!(l.entries.is_poisoned());
        assert!(l.connect(a).is_none());
        drop(conn);
        assert!(l.connect(a).is_some());
        let now = Instant::now();
        assert!(l.allow(a, Attempt::Register, now));
        assert!(!l.allow(a, Attempt::Register, now));
        l.purge(now + secs(60));
        assert_eq!(l.tracked(), 0);
    }
}
