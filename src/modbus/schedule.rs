//! When a device is polled next: on a fixed period from its first poll, without drift; when the
//! bus falls behind, missed periods are skipped rather than sent in a burst. Pure.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Period {
    interval: Duration,
    /// The slot the next poll belongs to.
    due: Instant,
    /// Slots skipped because the bus was late, since start.
    pub skipped: u64,
}

impl Period {
    pub fn new(interval: Duration, first: Instant) -> Period {
        Period {
            interval,
            due: first,
            skipped: 0,
        }
    }

    pub fn due(&self) -> Instant {
        self.due
    }

    /// Called when the poll of the current slot starts at `now`: moves to the next slot that is
    /// still ahead of `now`, counting the ones skipped.
    pub fn advance(&mut self, now: Instant) {
        self.due += self.interval;
        if self.due <= now {
            let behind = now - self.due;
            let missed = (behind.as_nanos() / self.interval.as_nanos()) as u32 + 1;
            self.due += self.interval * missed;
            self.skipped += u64::from(missed);
        }
    }

    /// Postpones the next poll to `at` (a dead unit's retry), keeping the phase afterwards.
    pub fn postpone_to(&mut self, at: Instant) {
        if at > self.due {
            self.due = at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_period_does_not_drift_with_late_starts() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut p = Period::new(s, t0);
        // Each poll starts 30 ms late; slots stay on the second.
        for k in 1..=5 {
            p.advance(p.due() + Duration::from_millis(30));
            assert_eq!(p.due(), t0 + s * k);
        }
        assert_eq!(p.skipped, 0);
    }

    #[test]
    fn a_late_bus_skips_missed_slots_instead_of_bursting() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut p = Period::new(s, t0);
        p.advance(t0 + Duration::from_millis(3500));
        assert_eq!(
            p.due(),
            t0 + s * 4,
            "next slot after now, not the 3 missed ones"
        );
        assert_eq!(p.skipped, 3);
    }
}
