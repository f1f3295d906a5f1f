//! RTU line timing: character time, the 3.5-character silence, wire time of a frame, and a
//! waiting primitive precise to well under a millisecond.
//!
//! Owns the arithmetic of shared/reference/modbus-rtu-timing.md. Never touches bytes.

use std::time::Duration;
use tokio::time::Instant;

/// One line's speed and character format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineTiming {
    pub baud: u32,
    pub bits_per_char: u8,
}

impl LineTiming {
    /// Time of one character on the wire.
    pub fn char_time(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.bits_per_char) / f64::from(self.baud))
    }

    /// Time `n` bytes take on the wire.
    pub fn wire(&self, n: usize) -> Duration {
        self.char_time() * n as u32
    }

    /// The silence that ends a frame: 3.5 characters up to 19,200 baud, fixed 1.75 ms above
    /// (the serial-line specification's relief for fast lines).
    pub fn t35(&self) -> Duration {
        if self.baud > 19_200 {
            Duration::from_micros(1750)
        } else {
            self.char_time().mul_f64(3.5)
        }
    }
}

/// tokio's timer wakes on whole-millisecond ticks, rounding up: stop it this long before the
/// deadline so it can never overshoot, and finish with a thread sleep (tens of µs late).
const COARSE_MARGIN: Duration = Duration::from_millis(2);

/// Waits until `deadline`, precisely. The final sleep blocks the thread: call it only on a
/// thread that serves nothing else (each RTU line has its own).
pub(crate) async fn wait_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now + COARSE_MARGIN {
        tokio::time::sleep(deadline - now - COARSE_MARGIN).await;
    }
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_times_match_the_reference_table() {
        // T_min = (13 + 2N) × t_c + 2 × t3.5 for N = 10 registers at 11 bits per character.
        for (baud, expect_ms) in [
            (9_600, 45.8),
            (19_200, 22.9),
            (38_400, 12.9),
            (115_200, 6.65),
        ] {
            let t = LineTiming {
                baud,
                bits_per_char: 11,
            };
            let total = t.wire(8) + t.wire(25) + t.t35() * 2;
            let ms = total.as_secs_f64() * 1000.0;
            assert!((ms - expect_ms).abs() < 0.06, "{baud}: {ms} ms");
        }
    }
}
