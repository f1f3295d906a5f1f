//! What the web page declares it needs from a reloader (`app::supervisor` provides it): the
//! login sessions, limiter and password-hash gate that outlive a daemon, the configuration file, reload requests
//! and the last reload's outcome. The page never awaits a reload (the reload stops its
//! server): it asks, answers 303/202, and reads the status later.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::auth::hashing::HashGate;
use super::auth::ratelimit::LoginLimiter;
use super::auth::sessions::Sessions;
use crate::config::diff::Changes;
use crate::config::edit::ConfigFile;

/// What the web page needs of whoever runs the daemon under a reloadable configuration: the
/// logins that outlive a daemon, the configuration file it edits, and a way to ask for a
/// reload and to see how the last one went.
#[derive(Clone)]
pub struct ReloadLink {
    pub sessions: Arc<Sessions>,
    pub limiter: Arc<LoginLimiter>,
    /// The bound on password hashes at once: a reload does not let a second set run beside
    /// the hashes the previous page started.
    pub hashing: Arc<HashGate>,
    pub config_file: Arc<ConfigFile>,
    /// Asks for a reload. Full-policy: dropped (one is already pending).
    pub reloads: mpsc::Sender<()>,
    pub status: watch::Receiver<ReloadStatus>,
}

/// How the configuration got to what runs: counted reloads and the last one's outcome.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReloadStatus {
    /// 0 at start, one more per applied reload.
    pub generation: u64,
    pub last: Option<ReloadOutcome>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReloadOutcome {
    Applied { changes: Changes },
    Refused { problems: Vec<String> },
}
