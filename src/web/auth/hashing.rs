//! The one door to argon2 on the web page: `HashGate` runs every password hash and check
//! (sign-in, first start's setup, password change, account creation and reset) on a blocking
//! thread, at most `running` at once, with at most `waiting` more queued; one more is refused
//! at once with `Busy` (the page answers 503 with `Retry-After`), and refusals are counted for
//! `/metrics`. Owns that bound; never decides whether a password is right (`password`) or
//! whether an address may try (`ratelimit`: a refusal here is not a failed guess).
//!
//! Why a bound: each hash holds argon2id's 19 MiB of working memory while it runs (the
//! parameters cannot shrink: stored hashes must still verify), so 16 sign-ins at once took
//! the daemon to 334 MB on a board that may have 512 MB. One at a time (`RUNNING`) keeps one
//! such block alive, the 20 MB target; a Pi's other cores stay free for the buses and the core,
//! and a sign-in is rare at a site (a few people a day), so a second lane would buy nothing a
//! user notices. `WAITING` lets a handful of people who click at the same moment still get in
//! after a short wait (on a Pi 4 a hash takes about a quarter of a second, so the last one in
//! the queue waits about a second); beyond that, waiting longer would only hold connections
//! and memory for a flood.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Semaphore;

/// Hashes run at once (see the module's doc for why one).
pub const RUNNING: usize = 1;
/// Hashes that may wait for a turn; one more is refused at once.
pub const WAITING: usize = 4;
/// What `Retry-After` tells a refused client: the queue is gone within a couple of seconds.
pub const RETRY_AFTER_SECONDS: u64 = 2;

/// Runs password hashes off the async threads, a bounded number at once.
#[derive(Debug)]
pub struct HashGate {
    turns: Arc<Semaphore>,
    /// Admitted and not yet finished: running plus waiting.
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    refused: AtomicU64,
}

/// Too many hashes are running or waiting: nothing was checked; try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    #[error("too many password checks at once: try again in a few seconds")]
    Busy,
    /// The blocking task ended without an answer (a panic in the hash).
    #[error("the password could not be checked")]
    Failed,
}

impl Default for HashGate {
    fn default() -> Self {
        HashGate::new(RUNNING, WAITING)
    }
}

impl HashGate {
    /// At most `running` (at least 1) hashes at once and `waiting` more queued.
    pub fn new(running: usize, waiting: usize) -> HashGate {
        let running = running.max(1);
        HashGate {
            turns: Arc::new(Semaphore::new(running)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: running + waiting,
            refused: AtomicU64::new(0),
        }
    }

    /// Runs `work` (a hash or a check) on a blocking thread when its turn comes; `Busy` at once
    /// when the queue is full. If the caller stops waiting (the client went away), its place
    /// is given up; work already started finishes, holding its turn until then.
    pub async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, GateError> {
        let place = self.admit()?;
        let turn = self
            .turns
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| GateError::Failed)?;
        tokio::task::spawn_blocking(move || {
            // Both held until the work is done, whether or not anyone still awaits it.
            let _held = (place, turn);
            work()
        })
        .await
        .map_err(|_| GateError::Failed)
    }

    /// Hashes running or waiting now.
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// Hashes refused as busy since the start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn admit(&self) -> Result<Place, GateError> {
        let capacity = self.capacity;
        let admitted = self
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            });
        match admitted {
            Ok(_) => Ok(Place(self.admitted.clone())),
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(GateError::Busy)
            }
        }
    }
}

/// A place in the gate (running or waiting), given back when dropped.
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_running_and_waiting_places_a_hash_is_refused_at_once() {
        let gate = Arc::new(HashGate::new(1, 2));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let running = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(move || held.recv().is_ok()).await }
        });
        let waiting: Vec<_> = (0..2)
            .map(|i| {
                let gate = gate.clone();
                tokio::spawn(async move { gate.run(move || i).await })
            })
            .collect();
        while gate.admitted() < 3 {
            tokio::task::yield_now().await;
        }
        assert_eq!(gate.run(|| 99).await, Err(GateError::Busy));
        assert_eq!(gate.refused(), 1);
        release.send(()).unwrap();
        assert_eq!(running.await.unwrap(), Ok(true));
        for (i, w) in waiting.into_iter().enumerate() {
            assert_eq!(w.await.unwrap(), Ok(i), "the queued ones ran");
        }
        assert_eq!(gate.admitted(), 0);
        assert_eq!(gate.run(|| 7).await, Ok(7), "room again");
    }

    #[tokio::test]
    async fn a_caller_that_stops_waiting_gives_its_place_back() {
        let gate = Arc::new(HashGate::new(1, 1));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let running = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(move || held.recv().is_ok()).await }
        });
        let gone = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(|| ()).await }
        });
        while gate.admitted() < 2 {
            tokio::task::yield_now().await;
        }
        gone.abort();
        let _ = gone.await;
        assert_eq!(gate.admitted(), 1);
        release.send(()).unwrap();
        assert_eq!(running.await.unwrap(), Ok(true));
        assert_eq!(gate.run(|| 1).await, Ok(1));
    }
}
