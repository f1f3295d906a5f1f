//! Runs the daemon from a configuration file and applies a changed file without a restart
//! (SIGHUP, or the installer page's request). Owns the file's path, the running `Daemon` and
//! its `Config`, and what must outlive a daemon: the web page's login sessions and login
//! limiter, so nobody is signed out by a reload. Never edits the file (`config::edit` does).
//!
//! A reload validates the new file with the loader first: an invalid one is refused, every
//! problem logged, and the running daemon is not touched. A valid one stops the daemon in order
//! (sessions are on disk) and starts it again: open sessions are recovered from SQLite and go
//! on with the same id and energy. The uplink reconnects and the web server rebinds during a
//! reload (a second or so); on port 0 it rebinds the port it had.
//!
//! A valid file that cannot start (its state directory cannot be opened, say) is refused too:
//! the previous configuration starts again, and the refusal is logged and shown on the page. If
//! even the previous configuration cannot start (its disk failed meanwhile), no daemon runs:
//! the supervisor tries the previous configuration again with a bounded back-off (`retry_at`,
//! `retry_previous`), logging each failure, and never panics. `daemon()` is `None` only then.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::app::daemon::Daemon;
use crate::config::diff::Changes;
use crate::config::edit::ConfigFile;
use crate::config::{self, Config};
use crate::problems::Problems;
use crate::store::StoreError;
use crate::web::auth::ratelimit::LoginLimiter;
use crate::web::auth::sessions::{SessionLimits, Sessions};
use crate::web::reload::{ReloadLink, ReloadOutcome, ReloadStatus};

/// Reload requests waiting. Full-policy: a request is dropped, since the one waiting reads the
/// file as it is then.
const RELOAD_CAPACITY: usize = 1;

/// First wait before trying the previous configuration again when it could not start; it
/// doubles up to `RETRY_MAX`.
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("the new configuration is invalid, the running one stays:\n{0}")]
    Invalid(Problems),
    #[error("the new configuration cannot start ({0}); the previous one runs again")]
    Start(StoreError),
    #[error(
        "the new configuration cannot start ({new}), nor the previous one ({previous}): \
         no daemon runs, the previous configuration is tried again"
    )]
    Down { new: StoreError, previous: String },
}

/// The previous configuration could not start: when to try again, and why it failed.
struct Retry {
    attempts: u32,
    at: Instant,
    delay: Duration,
    error: String,
}

pub struct Supervisor {
    path: PathBuf,
    config: Config,
    /// `None` only while no configuration could start (`retry` says when to try again).
    daemon: Option<Daemon>,
    retry: Option<Retry>,
    link: ReloadLink,
    status: watch::Sender<ReloadStatus>,
    requests: mpsc::Receiver<()>,
    deadline: Duration,
}

impl Supervisor {
    /// Starts the daemon on `config` (already loaded from `path`). `deadline` bounds each
    /// shutdown of a reload.
    pub fn start(
        path: PathBuf,
        config: Config,
        deadline: Duration,
    ) -> Result<Supervisor, StoreError> {
        let limits = config
            .web
            .as_ref()
            .map_or_else(SessionLimits::default, |w| SessionLimits {
                idle: w.session_idle,
                absolute: w.session_max,
                ..Default::default()
            });
        let (reloads, requests) = mpsc::channel(RELOAD_CAPACITY);
        let (status, status_rx) = watch::channel(ReloadStatus::default());
        let link = ReloadLink {
            sessions: Arc::new(Sessions::new(limits)),
            limiter: Arc::new(LoginLimiter::new(Default::default())),
            hashing: Arc::new(Default::default()),
            config_file: Arc::new(ConfigFile::new(path.clone())),
            reloads,
            status: status_rx,
        };
        let daemon = Daemon::start_linked(&config, Some(link.clone()))?;
        Ok(Supervisor {
            path,
            config,
            daemon: Some(daemon),
            retry: None,
            link,
            status,
            requests,
            deadline,
        })
    }

    /// The running daemon: `None` only while neither a reloaded configuration nor the previous
    /// one could start, until `retry_previous` succeeds.
    pub fn daemon(&self) -> Option<&Daemon> {
        self.daemon.as_ref()
    }

    /// When the previous configuration is due to be tried again (`None` while a daemon runs).
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry.as_ref().map(|r| r.at)
    }

    /// Why no daemon runs, in a line (`None` while one runs): for systemd's STATUS.
    pub fn down(&self) -> Option<String> {
        self.retry.as_ref().map(|r| {
            format!(
                "not running: cannot start ({}); attempt {} in {}s",
                r.error,
                r.attempts + 1,
                r.at.saturating_duration_since(Instant::now()).as_secs()
            )
        })
    }

    /// Tries the previous configuration again (when one is due: see `retry_at`). True when a
    /// daemon runs afterwards.
    pub fn retry_previous(&mut self) -> bool {
        let Some(retry) = self.retry.take() else {
            return self.daemon.is_some();
        };
        match Daemon::start_linked(&self.config, Some(self.link.clone())) {
            Ok(d) => {
                self.daemon = Some(d);
                log::info!(
                    "the previous configuration runs again (attempt {})",
                    retry.attempts + 1
                );
                self.status.send_modify(|s| {
                    if let Some(ReloadOutcome::Refused { problems }) = &mut s.last {
                        problems.push(format!(
                            "the previous configuration could not start at first ({}); it runs again since attempt {}",
                            retry.error,
                            retry.attempts + 1
                        ));
                    }
                });
                true
            }
            Err(e) => {
                self.schedule_retry(e.to_string(), Some(retry));
                false
            }
        }
    }

    /// No daemon runs: logs it and schedules the next attempt (back-off doubling up to
    /// `RETRY_MAX`).
    fn schedule_retry(&mut self, error: String, last: Option<Retry>) {
        let (attempts, delay) = match last {
            Some(r) => (r.attempts + 1, (r.delay * 2).min(RETRY_MAX)),
            None => (1, RETRY_MIN),
        };
        log::error!(
            "no daemon runs: the previous configuration cannot start (state directory {}): {error}; attempt {} in {}s",
            self.config.state_dir.display(),
            attempts + 1,
            delay.as_secs()
        );
        self.retry = Some(Retry {
            attempts,
            at: Instant::now() + delay,
            delay,
            error,
        });
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn status(&self) -> watch::Receiver<ReloadStatus> {
        self.link.status.clone()
    }

    /// Asks for a reload as the web page does.
    pub fn requester(&self) -> mpsc::Sender<()> {
        self.link.reloads.clone()
    }

    /// The next reload the web page asked for (cancel-safe).
    pub async fn requested(&mut self) {
        if self.requests.recv().await.is_none() {
            // The supervisor holds a sender itself: the channel never closes.
            std::future::pending::<()>().await;
        }
    }

    /// Re-reads the file and, when it is valid, restarts the daemon on it.
    pub async fn reload(&mut self) -> Result<Changes, ReloadError> {
        let mut new = match config::load(&self.path) {
            Ok(c) => c,
            Err(problems) => {
                log::error!(
                    "reload refused: {} has {} problem(s); the running configuration stays",
                    self.path.display(),
                    problems.len()
                );
                for p in problems.iter() {
                    log::error!("  {p}");
                }
                self.refused(problems.iter().map(ToString::to_string).collect());
                return Err(ReloadError::Invalid(problems));
            }
        };
        self.keep_web_port(&mut new);
        let changes = Changes::between(&self.config, &new);
        if let Some(daemon) = self.daemon.take()
            && !daemon.shutdown(self.deadline).await
        {
            log::warn!("reload: the daemon did not stop within {:?}", self.deadline);
        }
        match Daemon::start_linked(&new, Some(self.link.clone())) {
            Ok(d) => {
                self.daemon = Some(d);
                self.retry = None;
                self.config = new;
                self.status.send_modify(|s| {
                    s.generation += 1;
                    s.last = Some(ReloadOutcome::Applied {
                        changes: changes.clone(),
                    });
                });
                log::info!(
                    "configuration reloaded (generation {}): {changes}",
                    self.status.borrow().generation
                );
                Ok(changes)
            }
            Err(e) => {
                // The store's errors seldom name the file: the state directory is the usual cause.
                let why = format!("(state directory {}): {e}", new.state_dir.display());
                let refused = format!("cannot start on it {why}");
                if let Some(retry) = &self.retry {
                    // Nothing ran before this reload either: the previous configuration's
                    // retries go on.
                    log::error!("reload refused: cannot start on the new configuration {why}");
                    let previous = retry.error.clone();
                    self.refused(vec![refused]);
                    return Err(ReloadError::Down { new: e, previous });
                }
                log::error!(
                    "reload refused: cannot start on the new configuration {why}; back to the previous one"
                );
                match Daemon::start_linked(&self.config, Some(self.link.clone())) {
                    Ok(d) => {
                        self.daemon = Some(d);
                        log::info!("the previous configuration runs again");
                        self.refused(vec![format!(
                            "{refused}; the previous configuration runs again"
                        )]);
                        Err(ReloadError::Start(e))
                    }
                    Err(previous) => {
                        let previous = previous.to_string();
                        self.refused(vec![
                            refused,
                            format!(
                                "the previous configuration cannot start either ({previous}): no daemon runs; it is tried again"
                            ),
                        ]);
                        self.schedule_retry(previous.clone(), None);
                        Err(ReloadError::Down { new: e, previous })
                    }
                }
            }
        }
    }

    /// The page's last reload: refused, for these reasons.
    fn refused(&self, problems: Vec<String>) {
        self.status
            .send_modify(|s| s.last = Some(ReloadOutcome::Refused { problems }));
    }

    /// A page told to listen on port 0 keeps the port it got, so open pages reconnect.
    fn keep_web_port(&self, new: &mut Config) {
        let bound = self.daemon.as_ref().and_then(|d| d.web).map(|w| w.addr);
        if let (Some(old), Some(web), Some(bound)) = (&self.config.web, &mut new.web, bound)
            && (old.listen.port() == 0 || old.listen == bound)
            && web.listen.port() == 0
            && web.listen.ip() == bound.ip()
        {
            web.listen = bound;
        }
    }

    /// Stops the daemon; false when something had to be abandoned.
    pub async fn shutdown(mut self) -> bool {
        match self.daemon.take() {
            Some(d) => d.shutdown(self.deadline).await,
            None => true,
        }
    }
}
