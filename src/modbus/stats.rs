//! Counters of one bus, shared read-only with whoever reports them (demo table, metrics, web).
//! Atomics, so the bus owner never waits for a reader.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (ms) of the poll-lateness histogram buckets; the last bucket is open.
pub const LATENESS_BUCKETS_MS: [u64; 8] = [1, 2, 5, 10, 20, 50, 100, 1000];

/// Upper bounds (ms) of the poll-latency histogram buckets (a whole poll of one device, retries
/// included); the last bucket is open. Serial lines at 9600 baud take tens of milliseconds.
pub const LATENCY_BUCKETS_MS: [u64; 10] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

#[derive(Debug, Default)]
pub struct DeviceStats {
    pub polls: AtomicU64,
    pub failures: AtomicU64,
    pub exceptions: AtomicU64,
}

#[derive(Debug, Default)]
pub struct BusStats {
    pub polls: AtomicU64,
    pub requests: AtomicU64,
    pub timeouts: AtomicU64,
    pub framing_errors: AtomicU64,
    pub exceptions: AtomicU64,
    pub io_errors: AtomicU64,
    pub reconnects: AtomicU64,
    pub skipped_polls: AtomicU64,
    pub writes: AtomicU64,
    pub write_failures: AtomicU64,
    /// How late polls started against their slot.
    pub lateness: [AtomicU64; LATENESS_BUCKETS_MS.len() + 1],
    pub devices: Vec<DeviceStats>,
    /// How long polls took (count per bucket of `LATENCY_BUCKETS_MS`), and their sum (µs).
    pub latency: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    pub latency_sum_us: AtomicU64,
}

impl BusStats {
    pub fn new(devices: usize) -> BusStats {
        BusStats {
            devices: (0..devices).map(|_| DeviceStats::default()).collect(),
            ..BusStats::default()
        }
    }

    pub fn record_lateness(&self, late: Duration) {
        let ms = late.as_millis() as u64;
        let i = LATENESS_BUCKETS_MS
            .iter()
            .position(|&b| ms < b)
            .unwrap_or(LATENESS_BUCKETS_MS.len());
        self.lateness[i].fetch_add(1, Relaxed);
    }

    /// Two relaxed atomic adds: cheap enough for every poll.
    pub fn record_latency(&self, took: Duration) {
        let ms = took.as_millis() as u64;
        let i = LATENCY_BUCKETS_MS
            .iter()
            .position(|&b| ms < b)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        self.latency[i].fetch_add(1, Relaxed);
        self.latency_sum_us
            .fetch_add(took.as_micros() as u64, Relaxed);
    }

    /// The bucket bound (ms) below which `q` (0..1) of polls started; `None` without polls.
    pub fn lateness_quantile_ms(&self, q: f64) -> Option<u64> {
        let counts: Vec<u64> = self.lateness.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let target = (q * total as f64).ceil() as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Some(LATENESS_BUCKETS_MS.get(i).copied().unwrap_or(u64::MAX));
            }
        }
        None
    }
}
