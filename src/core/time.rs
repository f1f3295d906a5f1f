//! Time as the core receives it: a monotonic instant for durations, and the wall clock for
//! records, with whether the wall clock could be trusted when read (a Raspberry Pi has no
//! real-time clock: it boots in the past until NTP sets it). Pure data; the edge reads clocks.

use tokio::time::Instant;

/// One reading of both clocks, taken by the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub mono: Instant,
    /// Unix time, milliseconds.
    pub wall_ms: i64,
    /// The wall clock was synchronised when read.
    pub trusted: bool,
}

impl Stamp {
    /// The wall time of `earlier` (a stamp of the same run) as this stamp's clock sees it:
    /// corrects a stamp taken before the clock was set, using the monotonic clock.
    pub fn wall_of(&self, earlier: &Stamp) -> i64 {
        let elapsed = self
            .mono
            .saturating_duration_since(earlier.mono)
            .as_millis() as i64;
        self.wall_ms - elapsed
    }

    /// `earlier` rewritten on this stamp's (trusted) clock.
    pub fn correct(&self, earlier: &Stamp) -> Stamp {
        if earlier.trusted || !self.trusted {
            return *earlier;
        }
        Stamp {
            mono: earlier.mono,
            wall_ms: self.wall_of(earlier),
            trusted: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_untrusted_stamp_is_corrected_through_the_monotonic_clock() {
        let t0 = Instant::now();
        // Booted in 1970; 90 s later NTP sets the clock to 2026-11-22 12:00:00 UTC.
        let boot = Stamp {
            mono: t0,
            wall_ms: 5_000,
            trusted: false,
        };
        let synced = Stamp {
            mono: t0 + Duration::from_secs(90),
            wall_ms: 1_795_348_800_000,
            trusted: true,
        };
        let fixed = synced.correct(&boot);
        assert_eq!(fixed.wall_ms, 1_795_348_800_000 - 90_000);
        assert!(fixed.trusted);
        assert_eq!(
            boot.correct(&synced),
            synced,
            "a trusted stamp is never rewritten"
        );
    }
}
