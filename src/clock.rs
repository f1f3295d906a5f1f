//! The one place that reads the clocks: tokio's monotonic clock for durations, the wall clock
//! for records, and whether the wall clock can be trusted yet. A Raspberry Pi has no real-time
//! clock: it boots in 1970 (or at the last shutdown, with fake-hwclock) until NTP sets it.
//! Owns that judgement, one per daemon (`Clock` is a shared handle: the core task, the store's
//! writer, the uplink and the web page stamp with the same judgement); never corrects
//! anything itself (the core and the store do, on trust).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::core::time::Stamp;

/// 2020-01-01T00:00:00Z: no clock reading before this is real (sitegate did not exist).
pub const EARLIEST_PLAUSIBLE_MS: i64 = 1_577_836_800_000;

/// Where systemd-timesyncd says the clock is synchronised.
const TIMESYNC_FLAG: &str = "/run/systemd/timesync/synchronized";

/// What decides that the wall clock is right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustSource {
    /// systemd-timesyncd's flag file exists (its presence is checked every few seconds).
    Timesync(PathBuf),
    /// The operating system's clock, as soon as it reads a plausible date (chrony, or a board
    /// with a real-time clock).
    System,
}

impl TrustSource {
    /// timesyncd when the machine runs it, the system clock otherwise.
    pub fn detect() -> TrustSource {
        let flag = PathBuf::from(TIMESYNC_FLAG);
        if flag.parent().is_some_and(|d| d.exists()) {
            TrustSource::Timesync(flag)
        } else {
            TrustSource::System
        }
    }
}

/// The wall clock's reading in ms since the epoch, without a judgement: for what only shows a
/// time or names a file. Records take a `Stamp` from a `Clock`.
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The wall clock's reading as a UTC date-time (see `wall_ms`).
pub fn wall_utc() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(wall_ms()).unwrap_or_default()
}

/// A shared handle on one judgement of the clocks: clones see the same trust.
#[derive(Clone)]
pub struct Clock {
    judge: Arc<Mutex<Judge>>,
}

struct Judge {
    source: TrustSource,
    trusted: bool,
    checked_at: Option<Instant>,
    last: Option<(Instant, i64)>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let judge = self.judge();
        f.debug_struct("Clock")
            .field("source", &judge.source)
            .field("trusted", &judge.trusted)
            .finish()
    }
}

impl Clock {
    pub fn new(source: TrustSource) -> Clock {
        Clock {
            judge: Arc::new(Mutex::new(Judge {
                source,
                trusted: false,
                checked_at: None,
                last: None,
            })),
        }
    }

    /// A clock judged by what this machine runs (`TrustSource::detect`).
    pub fn detect() -> Clock {
        Clock::new(TrustSource::detect())
    }

    pub fn now(&self) -> Stamp {
        self.observe(Instant::now(), wall_ms())
    }

    /// What decides trust here.
    pub fn source(&self) -> TrustSource {
        self.judge().source.clone()
    }

    /// The judgement on one reading of both clocks (separate from `now` so tests can feed it).
    pub fn observe(&self, mono: Instant, wall_ms: i64) -> Stamp {
        self.judge().observe(mono, wall_ms)
    }

    fn judge(&self) -> std::sync::MutexGuard<'_, Judge> {
        // The judgement is a few fields updated together: a panic elsewhere leaves it whole.
        self.judge.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Judge {
    fn observe(&mut self, mono: Instant, wall_ms: i64) -> Stamp {
        if let Some((last_mono, last_wall)) = self.last {
            let expected = last_wall + mono.saturating_duration_since(last_mono).as_millis() as i64;
            let jump = wall_ms - expected;
            if jump.abs() > 2_000 {
                log::warn!("the wall clock jumped by {:+.1} s", jump as f64 / 1000.0);
            }
        }
        self.last = Some((mono, wall_ms));
        if !self.trusted && wall_ms >= EARLIEST_PLAUSIBLE_MS {
            self.trusted = match &self.source {
                TrustSource::System => true,
                TrustSource::Timesync(flag) => {
                    let due = self.checked_at.is_none_or(|t| {
                        mono.saturating_duration_since(t) >= Duration::from_secs(5)
                    });
                    if due {
                        self.checked_at = Some(mono);
                        flag.exists()
                    } else {
                        false
                    }
                }
            };
            if self.trusted {
                log::info!("the wall clock is trusted from now on");
            }
        }
        Stamp {
            mono,
            wall_ms,
            trusted: self.trusted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_in_1970_is_not_trusted_until_it_reads_a_plausible_date() {
        let c = Clock::new(TrustSource::System);
        let t0 = Instant::now();
        assert!(!c.observe(t0, 12_000).trusted);
        assert!(
            c.observe(t0 + Duration::from_secs(5), 1_795_348_800_000)
                .trusted
        );
        // Once trusted, a jump backward keeps it trusted (durations come from the monotonic clock).
        assert!(
            c.observe(t0 + Duration::from_secs(6), 1_795_348_000_000)
                .trusted
        );
    }

    #[test]
    fn every_clone_stamps_with_the_one_judgement() {
        // The web page's audits and the store's faults take their trust from the daemon's
        // clock: on a Pi with fake-hwclock (a plausible but stale date) and timesyncd not yet
        // synchronised, none of them is marked trusted.
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("synchronized");
        let core = Clock::new(TrustSource::Timesync(flag.clone()));
        let web = core.clone();
        let t0 = Instant::now();
        assert!(!web.observe(t0, 1_795_348_800_000).trusted);
        std::fs::write(&flag, "").unwrap();
        assert!(
            core.observe(t0 + Duration::from_secs(6), 1_795_348_806_000)
                .trusted
        );
        assert!(
            web.observe(t0 + Duration::from_secs(7), 1_795_348_807_000)
                .trusted,
            "trust established by one clone holds for the others"
        );
    }

    #[test]
    fn timesync_trust_waits_for_its_flag() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("synchronized");
        let c = Clock::new(TrustSource::Timesync(flag.clone()));
        let t0 = Instant::now();
        assert!(
            !c.observe(t0, 1_795_348_800_000).trusted,
            "a plausible date alone is not enough"
        );
        std::fs::write(&flag, "").unwrap();
        assert!(
            !c.observe(t0 + Duration::from_secs(1), 1_795_348_801_000)
                .trusted,
            "checked every 5 s"
        );
        assert!(
            c.observe(t0 + Duration::from_secs(6), 1_795_348_806_000)
                .trusted
        );
    }
}
