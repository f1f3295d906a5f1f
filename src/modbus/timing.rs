//! Serial line timing for Modbus RTU: how long a character, a frame and the silence between
//! frames last at a given baud rate, and a wait precise enough to respect them. Owns the
//! arithmetic and the clock; never touches a port and never decides when a request is due
//! (that is the link's bookkeeping in `rtu`).

use std::time::Duration;

use tokio::time::Instant;

/// Above this baud rate the specification fixes the inter-frame silence instead of scaling it.
const FIXED_SILENCE_ABOVE_BAUD: u32 = 19_200;
/// The fixed t3.5 above 19,200 baud.
const FIXED_T3_5: Duration = Duration::from_micros(1_750);

/// How far before a deadline the tokio timer hands over to a thread sleep. The tokio timer
/// rounds up to whole milliseconds and then needs the reactor to wake, so it may fire up to
/// about a millisecond late: stopping it two milliseconds early keeps it clear of the deadline.
const TOKIO_TIMER_MARGIN: Duration = Duration::from_millis(2);

/// The character timing of one serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTiming {
    baud: u32,
    bits_per_char: u32,
}

impl LineTiming {
    /// `bits_per_char` counts start, data, parity and stop bits (11 for 8E1, 8O1 and 8N2, 10 for
    /// the common 8N1). A baud rate of 0 is treated as 1 so the arithmetic never divides by zero;
    /// configuration refuses it long before.
    pub fn new(baud: u32, bits_per_char: u32) -> LineTiming {
        LineTiming {
            baud: baud.max(1),
            bits_per_char,
        }
    }

    /// The time one character occupies the line.
    #[cfg(test)]
    pub fn char_time(&self) -> Duration {
        self.chars(1)
    }

    /// The wire time of `n` characters sent back to back, rounded up to the nanosecond so that
    /// waits built on it are never short.
    pub fn wire_time(&self, n: usize) -> Duration {
        self.chars(n as u64)
    }

    /// The silence that separates two frames: 3.5 characters up to 19,200 baud, 1.75 ms above.
    pub fn t3_5(&self) -> Duration {
        if self.baud > FIXED_SILENCE_ABOVE_BAUD {
            FIXED_T3_5
        } else {
            // 3.5 characters = 7 half characters: stays in integers.
            self.bit_fraction(7 * u64::from(self.bits_per_char), 2)
        }
    }

    fn chars(&self, n: u64) -> Duration {
        self.bit_fraction(n * u64::from(self.bits_per_char), 1)
    }

    /// `bits / divisor` bit times, rounded up to the nanosecond.
    fn bit_fraction(&self, bits: u64, divisor: u64) -> Duration {
        let denominator = u128::from(self.baud) * u128::from(divisor);
        let nanos = (u128::from(bits) * 1_000_000_000).div_ceil(denominator);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// Waits until `deadline` with sub-millisecond precision.
///
/// tokio's timer ticks in whole milliseconds, which would waste a third of a 6.65 ms transaction
/// at 115,200 baud. So this sleeps with tokio until shortly before the deadline and finishes
/// with `std::thread::sleep` for the rest (at most about two milliseconds). That last part
/// **blocks the calling thread**: it is meant for an RTU bus owner running on its own OS thread
/// with a current-thread runtime, where nothing else is waiting to run. Anywhere else it stalls
/// a worker for up to two milliseconds.
///
/// The deadline is on tokio's clock, so a test with a paused clock still sees the tokio part
/// advance automatically; the final thread sleep is computed once and never re-checks the clock,
/// so a paused clock cannot make it loop.
pub async fn wait_until(deadline: Instant) {
    let now = Instant::now();
    if deadline <= now {
        return;
    }
    if deadline - now > TOKIO_TIMER_MARGIN {
        tokio::time::sleep_until(deadline - TOKIO_TIMER_MARGIN).await;
    }
    let rest = deadline.saturating_duration_since(Instant::now());
    if !rest.is_zero() {
        std::thread::sleep(rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1000.0
    }

    fn close(actual: Duration, expected_ms: f64) -> bool {
        (ms(actual) - expected_ms).abs() < 0.001
    }

    #[test]
    fn character_time_follows_baud_and_format() {
        assert!(close(LineTiming::new(9_600, 11).char_time(), 11.0 / 9.6));
        assert!(close(LineTiming::new(9_600, 10).char_time(), 10.0 / 9.6));
        assert!(close(
            LineTiming::new(115_200, 11).char_time(),
            11.0 / 115.2
        ));
    }

    #[test]
    fn silence_scales_up_to_19200_then_is_fixed() {
        assert!(close(LineTiming::new(9_600, 11).t3_5(), 3.5 * 11.0 / 9.6));
        assert!(close(LineTiming::new(19_200, 11).t3_5(), 3.5 * 11.0 / 19.2));
        assert_eq!(
            LineTiming::new(38_400, 11).t3_5(),
            Duration::from_micros(1_750)
        );
        assert_eq!(
            LineTiming::new(115_200, 10).t3_5(),
            Duration::from_micros(1_750)
        );
    }

    #[test]
    fn wire_time_of_n_bytes() {
        let line = LineTiming::new(9_600, 11);
        assert_eq!(line.wire_time(0), Duration::ZERO);
        assert!(close(line.wire_time(8), 8.0 * 11.0 / 9.6));
        // Never rounded down: a wait built on it must not end early.
        assert!(line.wire_time(3).as_nanos() * 9_600 >= 3 * 11 * 1_000_000_000);
    }

    /// The reference table: T_min = (13 + 2N) characters + 2 × t3.5 for N = 10 registers.
    #[test]
    fn minimum_transaction_times_match_the_reference() {
        for (baud, expected_ms) in [
            (9_600, 45.8),
            (19_200, 22.9),
            (38_400, 12.9),
            (115_200, 6.65),
        ] {
            let line = LineTiming::new(baud, 11);
            let t_min = line.wire_time(13 + 2 * 10) + 2 * line.t3_5();
            // The table is rounded to three digits.
            assert!(
                (ms(t_min) / expected_ms - 1.0).abs() < 0.005,
                "{baud} baud: {} ms",
                ms(t_min)
            );
        }
    }

    #[test]
    fn zero_baud_does_not_divide_by_zero() {
        assert!(LineTiming::new(0, 11).char_time() > Duration::ZERO);
    }

    #[tokio::test]
    async fn wait_until_is_never_early_and_past_deadlines_return_at_once() {
        for micros in [0u64, 300, 1_750, 2_500, 6_650] {
            let deadline = Instant::now() + Duration::from_micros(micros);
            wait_until(deadline).await;
            assert!(Instant::now() >= deadline, "woke early for {micros} µs");
        }
        let past = Instant::now() - Duration::from_millis(5);
        wait_until(past).await;
    }

    #[tokio::test(start_paused = true)]
    async fn wait_until_does_not_hang_under_a_paused_clock() {
        let start = Instant::now();
        wait_until(start + Duration::from_secs(3600)).await;
        wait_until(Instant::now() + Duration::from_micros(500)).await;
        // Auto-advance moved the clock through the tokio part; the thread part is real time.
        assert!(Instant::now() >= start + Duration::from_secs(3600) - TOKIO_TIMER_MARGIN);
    }
}
