//! One badge reader's task: owns its serial port (opened 8N1, reopened with backoff when it
//! disappears), feeds the decoder, debounces, and offers each new presentation to the core.
//! Never decides who may charge and never waits for the core: a full channel drops the read
//! (counted), since the user presents the badge again. Logs port transitions once, and tokens
//! only as their pseudonym.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use log::{debug, info, warn};
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_serial::SerialStream;
use tokio_util::sync::CancellationToken;

use super::config::ReaderConfig;
use super::debounce::Debounce;
use super::frame::{Decoder, Rejected};
use super::token::Token;

/// First wait before reopening a port that failed; doubles up to `MAX_BACKOFF`.
const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// A USB reader plugged back in is found within this.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A badge presented at a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgeRead {
    /// Index of the reader in the configuration.
    pub reader: usize,
    pub token: Token,
}

/// Counters of one reader, readable from any task while it runs.
#[derive(Debug)]
pub struct ReaderCounters {
    /// Frames or lines that gave a token, repeats included.
    pub frames: AtomicU64,
    /// Frames or lines rejected (bad checksum, over-long, not a UID).
    pub bad_frames: AtomicU64,
    /// Presentations dropped because the core's channel was full.
    pub dropped: AtomicU64,
    /// Whether the port is open now.
    pub open: AtomicBool,
    /// Bumped on every change, for those who wait for one (tests, a status page).
    changed: watch::Sender<()>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderStats {
    pub frames: u64,
    pub bad_frames: u64,
    pub dropped: u64,
    pub open: bool,
}

impl Default for ReaderCounters {
    fn default() -> ReaderCounters {
        ReaderCounters {
            frames: AtomicU64::new(0),
            bad_frames: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            open: AtomicBool::new(false),
            changed: watch::Sender::new(()),
        }
    }
}

impl ReaderCounters {
    pub fn snapshot(&self) -> ReaderStats {
        ReaderStats {
            frames: self.frames.load(Ordering::Relaxed),
            bad_frames: self.bad_frames.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
        }
    }

    /// Wakes when any counter changes.
    pub fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    fn bump(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
        self.changed.send_replace(());
    }

    fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::Relaxed);
        self.changed.send_replace(());
    }
}

/// The task of one badge reader.
#[derive(Debug)]
pub struct Reader {
    index: usize,
    config: ReaderConfig,
    tx: mpsc::Sender<BadgeRead>,
    counters: Arc<ReaderCounters>,
}

/// Why the port was given up, to be reopened.
#[derive(Debug, thiserror::Error)]
enum PortLost {
    #[error("cannot open: {0}")]
    Open(io::Error),
    #[error("read failed: {0}")]
    Read(io::Error),
    #[error("closed")]
    Closed,
}

impl Reader {
    /// The reader at `index` of the configuration, sending on `tx` (bounded).
    pub fn new(index: usize, config: ReaderConfig, tx: mpsc::Sender<BadgeRead>) -> Reader {
        Reader {
            index,
            config,
            tx,
            counters: Arc::default(),
        }
    }

    pub fn counters(&self) -> Arc<ReaderCounters> {
        self.counters.clone()
    }

    /// Runs until `cancel` fires or the receiver is gone.
    pub async fn run(self, cancel: CancellationToken) {
        let name = &self.config.name;
        let device = self.config.device.display();
        let mut debounce = Debounce::new(self.config.debounce);
        let mut backoff = MIN_BACKOFF;
        let mut failing = false;
        loop {
            let outcome = tokio::select! {
                () = cancel.cancelled() => return,
                r = self.session(&mut debounce, &mut failing) => r,
            };
            // A port that was open starts the backoff afresh: it failed now, not all along.
            if self.counters.open.load(Ordering::Relaxed) {
                backoff = MIN_BACKOFF;
            }
            self.counters.set_open(false);
            let lost = match outcome {
                Ok(()) => return, // the core is gone
                Err(lost) => lost,
            };
            // Logged once per outage; retries are quiet until the port is back.
            if !failing {
                warn!("reader {name} ({device}): {lost}; retrying");
                failing = true;
            } else {
                debug!("reader {name} ({device}): {lost}");
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One open port, read until it fails. `Ok` when the receiver is gone.
    async fn session(&self, debounce: &mut Debounce, failing: &mut bool) -> Result<(), PortLost> {
        let mut port = self.open().map_err(PortLost::Open)?;
        self.counters.set_open(true);
        if std::mem::take(failing) {
            info!(
                "reader {} ({}): open again",
                self.config.name,
                self.config.device.display()
            );
        }
        let mut decoder = Decoder::new(self.config.protocol);
        let mut chunk = [0u8; 256];
        loop {
            let n = match port.read(&mut chunk).await {
                Ok(0) => return Err(PortLost::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(PortLost::Read(e)),
            };
            let now = Instant::now();
            for result in decoder.push(&chunk[..n]) {
                match result {
                    Ok(token) => {
                        self.counters.bump(&self.counters.frames);
                        if debounce.accept(&token, now) && !self.offer(token) {
                            return Ok(());
                        }
                    }
                    Err(why) => self.rejected(&why),
                }
            }
        }
    }

    fn open(&self) -> io::Result<SerialStream> {
        let builder = tokio_serial::new(self.config.device.to_string_lossy(), self.config.baud)
            .data_bits(tokio_serial::DataBits::Eight)
            .parity(tokio_serial::Parity::None)
            .stop_bits(tokio_serial::StopBits::One)
            .flow_control(tokio_serial::FlowControl::None);
        Ok(SerialStream::open(&builder)?)
    }

    /// Hands a presentation to the core without waiting; `false` once nobody listens.
    fn offer(&self, token: Token) -> bool {
        let read = BadgeRead {
            reader: self.index,
            token,
        };
        match self.tx.try_send(read) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(read)) => {
                debug!(
                    "reader {}: core busy, dropped {}",
                    self.config.name, read.token
                );
                self.counters.bump(&self.counters.dropped);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn rejected(&self, why: &Rejected) {
        // Debug only: a noisy line would otherwise log per frame.
        debug!("reader {}: frame rejected: {why}", self.config.name);
        self.counters.bump(&self.counters.bad_frames);
    }
}
