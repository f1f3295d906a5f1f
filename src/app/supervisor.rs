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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

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

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("the new configuration is invalid, the running one stays:\n{0}")]
    Invalid(Problems),
    #[error("the daemon could not start again: {0}")]
    Start(#[from] StoreError),
}

pub struct Supervisor {
    path: PathBuf,
    config: Config,
    daemon: Option<Daemon>,
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
            config_file: Arc::new(ConfigFile::new(path.clone())),
            reloads,
            status: status_rx,
        };
        let daemon = Daemon::start_linked(&config, Some(link.clone()))?;
        Ok(Supervisor {
            path,
            config,
            daemon: Some(daemon),
            link,
            status,
            requests,
            deadline,
        })
    }

    pub fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("a daemon runs between reloads")
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
                self.status.send_modify(|s| {
                    s.last = Some(ReloadOutcome::Refused {
                        problems: problems.iter().map(ToString::to_string).collect(),
                    })
                });
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
                log::error!(
                    "reload: cannot start on the new configuration: {e}; back to the previous one"
                );
                self.status.send_modify(|s| {
                    s.last = Some(ReloadOutcome::Refused {
                        problems: vec![format!("cannot start on it: {e}")],
                    })
                });
                self.daemon = Some(Daemon::start_linked(&self.config, Some(self.link.clone()))?);
                Err(ReloadError::Start(e))
            }
        }
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
