//! Failed logins per client address, with growing delays: after `free_failures` failures in a
//! row, each further attempt must wait `base`, then twice that, and so on up to `cap`. A
//! successful login resets the address. IPv6 addresses count per /64 (one host usually has a
//! whole /64); IPv4-mapped IPv6 addresses count as IPv4. Bounded: when full, the address
//! seen least recently is forgotten. Owns the counting; never reads a clock (`now` is passed)
//! and never sleeps: it says how long to wait and the server refuses until then.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The limiter's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Failures in a row allowed without a delay.
    pub free_failures: u32,
    /// The first delay; each further failure doubles it.
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
    /// Most addresses tracked.
    pub max_addresses: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            free_failures: 3,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_addresses: 4096,
        }
    }
}

/// A login attempt refused because the address must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct Wait(pub Duration);

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "too many failed logins: wait {} s", self.seconds())
    }
}

impl Wait {
    /// Whole seconds to wait, rounded up (for `Retry-After` and the form).
    pub fn seconds(&self) -> u64 {
        (self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)).max(1)
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    blocked_until: Instant,
    last_seen: Instant,
}

pub struct LoginLimiter {
    settings: LimitSettings,
    map: Mutex<HashMap<IpAddr, Entry>>,
}

/// The key an address counts under.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl LoginLimiter {
    pub fn new(settings: LimitSettings) -> LoginLimiter {
        LoginLimiter {
            settings,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Before checking a password: `Err` when `ip` must still wait.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Wait> {
        match self.map().get(&key(ip)) {
            Some(e) if e.blocked_until > now => Err(Wait(e.blocked_until - now)),
            _ => Ok(()),
        }
    }

    /// A failed login from `ip`: returns the delay now imposed on it, if any.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> Option<Wait> {
        let s = self.settings;
        let mut map = self.map();
        let k = key(ip);
        if !map.contains_key(&k)
            && map.len() >= s.max_addresses.max(1)
            && let Some(oldest) = map.iter().min_by_key(|(_, e)| e.last_seen).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        let e = map.entry(k).or_insert(Entry {
            failures: 0,
            blocked_until: now,
            last_seen: now,
        });
        // An address quiet for longer than the longest delay starts over.
        if now.saturating_duration_since(e.last_seen) > s.cap.max(s.base) * 4 {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last_seen = now;
        let over = e.failures.checked_sub(s.free_failures)?;
        let delay = s
            .base
            .checked_mul(1u32.checked_shl(over).unwrap_or(u32::MAX))
            .unwrap_or(s.cap)
            .min(s.cap);
        e.blocked_until = now + delay;
        Some(Wait(delay))
    }

    /// A successful login from `ip`: its failures are forgotten.
    pub fn succeeded(&self, ip: IpAddr) {
        self.map().remove(&key(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn delays_start_after_three_failures_and_double_up_to_the_cap() {
        let l = LoginLimiter::new(LimitSettings::default());
        let a = ip("192.0.2.7");
        let mut now = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..13 {
            assert_eq!(l.check(a, now), Ok(()));
            delays.push(l.failed(a, now).map(|w| w.0.as_secs()));
            now += Duration::from_secs(300);
        }
        assert_eq!(
            delays,
            [
                None,
                None,
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(16),
                Some(32),
                Some(64),
                Some(128),
                Some(256),
                Some(300),
                Some(300)
            ]
        );
    }

    #[test]
    fn a_waiting_address_is_refused_until_its_delay_passed_and_others_are_not() {
        let l = LoginLimiter::new(LimitSettings::default());
        let a = ip("192.0.2.7");
        let t0 = Instant::now();
        for _ in 0..4 {
            l.failed(a, t0);
        }
        let wait = l.check(a, t0 + S / 2).unwrap_err();
        assert_eq!(wait.0, Duration::from_millis(1500));
        assert_eq!(wait.seconds(), 2);
        assert_eq!(wait.to_string(), "too many failed logins: wait 2 s");
        assert_eq!(l.check(a, t0 + 2 * S), Ok(()));
        assert_eq!(l.check(ip("192.0.2.8"), t0), Ok(()));
    }

    #[test]
    fn a_success_resets_the_address() {
        let l = LoginLimiter::new(LimitSettings::default());
        let a = ip("2001:db8::1");
        let t0 = Instant::now();
        for _ in 0..5 {
            l.failed(a, t0);
        }
        assert!(l.check(a, t0).is_err());
        l.succeeded(a);
        assert_eq!(l.check(a, t0), Ok(()));
        assert_eq!(l.failed(a, t0), None, "counting starts over");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let l = LoginLimiter::new(LimitSettings::default());
        let t0 = Instant::now();
        l.failed(ip("2001:db8:1:2::1"), t0);
        l.failed(ip("2001:db8:1:2::2"), t0);
        assert!(l.failed(ip("2001:db8:1:2:ffff::3"), t0).is_some());
        l.failed(ip("::ffff:192.0.2.9"), t0);
        l.failed(ip("192.0.2.9"), t0);
        assert!(l.failed(ip("192.0.2.9"), t0).is_some());
    }

    #[test]
    fn when_full_the_address_seen_least_recently_is_forgotten() {
        let l = LoginLimiter::new(LimitSettings {
            max_addresses: 2,
            ..LimitSettings::default()
        });
        let t0 = Instant::now();
        for _ in 0..5 {
            l.failed(ip("192.0.2.1"), t0);
        }
        l.failed(ip("192.0.2.2"), t0 + S);
        l.failed(ip("192.0.2.3"), t0 + 2 * S);
        assert_eq!(l.check(ip("192.0.2.1"), t0 + 2 * S), Ok(()), "evicted");
        assert_eq!(l.map().len(), 2);
    }
}
