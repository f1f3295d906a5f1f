//! What the page's handlers share: the daemon's live state (socket snapshot, uplink status),
//! its command channel, and read-only database connections for reports. Handlers never write
//! SQLite; changes go to the core as commands or to the store as writes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::core::SocketSnapshot;
use crate::core::site::Command;
use crate::uplink::UplinkStatus;

#[derive(Clone)]
pub struct AppState {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub site_id: String,
    pub site_name: String,
    pub time_zone: chrono_tz::Tz,
    pub sockets: watch::Receiver<Vec<SocketSnapshot>>,
    pub uplink: Option<watch::Receiver<UplinkStatus>>,
    /// To the core. Full-policy: the handler waits (a click is worth a short wait).
    pub commands: mpsc::Sender<Command>,
    pub started: Instant,
    /// Fires at shutdown: live streams end, so connections can close.
    pub stopping: tokio_util::sync::CancellationToken,
    pub sessions: Arc<super::auth::sessions::Sessions>,
    pub limiter: Arc<super::auth::ratelimit::LoginLimiter>,
    /// Every password hash and check runs through it: a bounded number at once.
    pub hashing: Arc<super::auth::hashing::HashGate>,
    /// The one-time code that creates the first installer, while no account exists.
    pub setup: Option<super::auth::setup::SetupCode>,
    /// Account changes go through the store's writer.
    pub store: crate::store::StoreHandle,
    db_path: PathBuf,
    /// Idle read-only connections (opened on demand, kept for reuse).
    readers: Mutex<Vec<Connection>>,
    /// Installer page: the supervisor's link (config file, reloads); `None`: editing unavailable.
    pub installer: Option<crate::web::reload::ReloadLink>,
    /// Installer page: the configuration this daemon runs.
    pub config: Arc<crate::config::Config>,
    /// The installer's tools: bus taps, profiles, the uplink's settings (installer_tools.rs).
    pub installer_tools: super::installer_tools::Tools,
    /// The daemon's clock: audit times carry the core's judgement of the wall clock.
    pub clock: crate::clock::Clock,
}

/// What the web page needs of the running daemon.
pub struct Parts {
    pub site_id: String,
    pub site_name: String,
    pub time_zone: chrono_tz::Tz,
    pub sockets: watch::Receiver<Vec<SocketSnapshot>>,
    pub uplink: Option<watch::Receiver<UplinkStatus>>,
    pub commands: mpsc::Sender<Command>,
    pub db_path: PathBuf,
    pub stopping: tokio_util::sync::CancellationToken,
    pub store: crate::store::StoreHandle,
    pub session_limits: super::auth::sessions::SessionLimits,
    pub setup: Option<super::auth::setup::SetupCode>,
    /// Installer page: the supervisor's link (config file, reloads, and the login sessions and
    /// limiter that outlive a daemon); `None` when a daemon runs alone (tests, demo).
    pub installer: Option<crate::web::reload::ReloadLink>,
    /// Installer page: the configuration this daemon runs.
    pub config: Arc<crate::config::Config>,
    /// The installer's tools: bus taps, profiles, the uplink's settings (installer_tools.rs).
    pub installer_tools: super::installer_tools::Tools,
    pub clock: crate::clock::Clock,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the database query was interrupted")]
    Join,
}

impl Inner {
    /// No account yet: the setup form, not the sign-in form.
    pub fn setup_pending(&self) -> bool {
        self.setup.as_ref().is_some_and(|c| !c.is_used())
    }

    /// `f` on an idle read-only connection (or a new one), kept for reuse afterwards.
    fn with_reader<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, crate::store::StoreError>,
    ) -> Result<R, DbError> {
        let conn = match self.readers.lock().ok().and_then(|mut r| r.pop()) {
            Some(c) => c,
            None => crate::store::open_reader(&self.db_path)?,
        };
        let result = f(&conn);
        if let Ok(mut idle) = self.readers.lock()
            && idle.len() < 4
        {
            idle.push(conn);
        }
        Ok(result?)
    }
}

impl AppState {
    pub fn new(parts: Parts) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                site_id: parts.site_id,
                site_name: parts.site_name,
                time_zone: parts.time_zone,
                sockets: parts.sockets,
                uplink: parts.uplink,
                commands: parts.commands,
                started: Instant::now(),
                stopping: parts.stopping,
                sessions: parts.installer.as_ref().map_or_else(
                    || Arc::new(super::auth::sessions::Sessions::new(parts.session_limits)),
                    |l| l.sessions.clone(),
                ),
                limiter: parts.installer.as_ref().map_or_else(
                    || Arc::new(super::auth::ratelimit::LoginLimiter::new(Default::default())),
                    |l| l.limiter.clone(),
                ),
                hashing: parts.installer.as_ref().map_or_else(
                    || Arc::new(super::auth::hashing::HashGate::default()),
                    |l| l.hashing.clone(),
                ),
                setup: parts.setup,
                store: parts.store,
                db_path: parts.db_path,
                readers: Mutex::new(Vec::new()),
                installer: parts.installer,
                config: parts.config,
                installer_tools: parts.installer_tools,
                clock: parts.clock,
            }),
        }
    }

    /// Runs `f` on a read-only connection, off the async threads.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, crate::store::StoreError> + Send + 'static,
    ) -> Result<R, DbError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.with_reader(f))
            .await
            .map_err(|_| DbError::Join)?
    }

    /// As `read`, for an `f` that hashes or checks a password: it waits for its turn in the
    /// hash gate (`GateError::Busy` at once when the queue is full).
    pub async fn read_hashing<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, crate::store::StoreError> + Send + 'static,
    ) -> Result<Result<R, DbError>, super::auth::hashing::GateError> {
        let inner = self.inner.clone();
        self.inner.hashing.run(move || inner.with_reader(f)).await
    }

    /// The database file (ops: its size, backups; the state directory is its folder).
    pub fn db_path(&self) -> &std::path::Path {
        &self.inner.db_path
    }
}

#[cfg(test)]
impl AppState {
    /// The page's state from what a test has: the live snapshot, a store (on a temporary
    /// file at `db_path`) and the command channel to the core; a site `test` in UTC with no
    /// bus, no uplink, no supervisor (editing unavailable) and no setup code. No daemon, no
    /// TLS, no browser: `routes::router(state)` is served by `tower::ServiceExt::oneshot`.
    pub(crate) fn for_test(
        sockets: watch::Receiver<Vec<SocketSnapshot>>,
        store: crate::store::StoreHandle,
        db_path: PathBuf,
        commands: mpsc::Sender<Command>,
    ) -> AppState {
        let dir = db_path.parent().unwrap_or(std::path::Path::new("."));
        let text = "[site]\nid = \"test\"\nname = \"Test\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \".\"\n";
        let config = crate::config::parse(text, dir).expect("the test site's configuration");
        AppState::new(Parts {
            site_id: config.site.id.clone(),
            site_name: config.site.name.clone(),
            time_zone: config.site.time_zone,
            sockets,
            uplink: None,
            commands,
            db_path,
            stopping: tokio_util::sync::CancellationToken::new(),
            store,
            session_limits: Default::default(),
            setup: None,
            installer: None,
            installer_tools: super::installer_tools::Tools::new(&config, Vec::new()),
            config: Arc::new(config),
            clock: crate::clock::Clock::new(crate::clock::TrustSource::System),
        })
    }

    /// The same state with its own hash gate (before anything shares it).
    pub(crate) fn with_hash_gate(mut self, gate: super::auth::hashing::HashGate) -> AppState {
        Arc::get_mut(&mut self.inner)
            .expect("the state is not shared yet")
            .hashing = Arc::new(gate);
        self
    }
}
