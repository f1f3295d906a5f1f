//! The store's writer: one thread owning the one writing connection. The core task sends a
//! batch of writes (everything one event changed) and waits for its commit, so nothing it acts
//! on (switching a socket on) precedes the durable record. Batches queued meanwhile are
//! committed together (group commit: one fsync for many).
//!
//! Channel: bounded (64 batches); full-policy: the core waits (it is waiting for its own commit
//! anyway). The thread stops when the handle is dropped or `stop` is called, after committing
//! what it has.

use std::collections::BTreeSet;
use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::access::{self, TokenChange, UserChange};
use super::recovery;
use super::{StoreError, open_writer};
use crate::core::access::{IdToken, SiteRules, TokenEntry, User};
use crate::core::session::{Sample, Session};
use crate::core::site::{Effect, Recovered, SessionChange};
use crate::core::socket_state::SocketState;
use crate::core::time::Stamp;
use crate::wire::{self, Body};

/// What the writer needs to know about the site and this run.
#[derive(Debug, Clone)]
pub struct StoreSetup {
    pub path: PathBuf,
    pub time_zone: chrono_tz::Tz,
    /// Socket ids in configuration order (the core's socket indices).
    pub socket_ids: Vec<String>,
    /// This daemon run's id and start: untrusted stamps are kept as (run, offset) for later
    /// correction.
    pub run_id: String,
    pub run_start: Instant,
    /// Free space kept for session records: below it, samples and updates are dropped (counted)
    /// and a fault is raised.
    pub reserve_bytes: u64,
    /// Largest the database may grow (SQLite's page limit), for small SD cards; `None`: the
    /// file system is the limit.
    pub max_db_bytes: Option<u64>,
    /// Most rows kept in `updates`; older ones are dropped (counted).
    pub updates_cap: u64,
    /// The daemon's clock: what the writer stamps itself (a low-disk fault, a credit's
    /// arrival) carries the same trust as the core's records.
    pub clock: crate::clock::Clock,
}

impl StoreSetup {
    /// The store of the site `config` describes, for a run with this id starting now on `clock`.
    pub fn for_site(
        config: &crate::config::Config,
        run_id: &str,
        clock: &crate::clock::Clock,
    ) -> StoreSetup {
        StoreSetup {
            path: config.state_dir.join(super::DB_FILE),
            time_zone: config.site.time_zone,
            socket_ids: config.sockets.iter().map(|s| s.id.clone()).collect(),
            run_id: run_id.to_string(),
            run_start: clock.now().mono,
            reserve_bytes: config.disk_reserve_bytes,
            updates_cap: UPDATES_CAP,
            max_db_bytes: config.max_database_bytes,
            clock: clock.clone(),
        }
    }
}

/// Most rows kept in `updates` by default.
pub const UPDATES_CAP: u64 = 10_000;

/// An edit of the configuration file by an installer: `socket_added`, `socket_changed`,
/// `socket_removed` (target: the socket's id) or `uplink_changed` (target: central's host).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigAudit {
    pub actor: String,
    pub action: &'static str,
    pub target: String,
    pub at: crate::core::time::Stamp,
}

/// One change to persist.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Session {
        session: Box<Session>,
        change: SessionChange,
        sample: Option<Sample>,
    },
    OutOfService {
        socket: usize,
        out_of_service: bool,
        at: Stamp,
    },
    /// A socket state change; `fault` ones go to the outbox, the others to `updates`.
    SocketState {
        socket: usize,
        state: String,
        reason: String,
        fault: bool,
        at: Stamp,
    },
    ClockTrusted {
        at: Stamp,
    },
    /// A full access list arrives in chunks: begin, chunks, commit (atomic swap).
    AccessListBegin,
    AccessListChunk {
        users: Vec<User>,
        tokens: Vec<(IdToken, TokenEntry)>,
    },
    AccessListCommit {
        version: u64,
        rules: Box<SiteRules>,
    },
    AccessListDiff {
        version: u64,
        rules: Option<Box<SiteRules>>,
        users: Vec<UserChange>,
        tokens: Vec<TokenChange>,
    },
    /// An authorization decision for central's audit trail (never dropped).
    Audit(Box<crate::core::site::Audit>),
    /// The published tariffs (JSON by id), replacing all; refused unless `version` is above
    /// the current one.
    Tariffs {
        version: u64,
        tariffs: Vec<(String, String)>,
    },
    /// The published promotions (JSON by id, in central's order), replacing all; refused unless
    /// `version` is above the current one.
    Promotions {
        version: u64,
        promotions: Vec<(String, String)>,
    },
    /// Central has every record of `stream` up to `upto`: they leave the site.
    Acknowledged {
        stream: super::outbox::Stream,
        upto: u64,
    },
    /// A command from central, remembered until its expiry; refused (`Rejected`) when seen.
    CommandSeen {
        id: String,
        expires_ms: i64,
        now_ms: i64,
    },
    /// Central's site policies (its `config` message), refused unless `version` is above the
    /// current one.
    CentralConfig {
        version: u64,
        policy: crate::core::access::PolicyPatch,
    },
    /// Central's answer for a token not on the list.
    CacheAnswer {
        token: IdToken,
        entry: TokenEntry,
        at_ms: i64,
    },
    /// A local account change, with its audit record (`accounts::apply`); refused
    /// (`Rejected`) for a taken username or when it would leave no active installer.
    Account(Box<super::accounts::AccountChange>),
    /// A control action for central's audit trail: from the web page (out of service, return,
    /// stop, start for a user) or the core (a relay test). Never dropped.
    ControlAudit(Box<crate::core::site::ControlAudit>),
    /// An installer's edit of the configuration file on the web page, for central's audit
    /// trail (`config_audit`). Never dropped.
    ConfigAudit(Box<ConfigAudit>),
}

/// Most tokens kept in the authorization cache.
pub const AUTH_CACHE_CAPACITY: usize = 10_000;

impl Write {
    /// Access-list writes may be refused for their content: they commit alone, so a refusal
    /// never rolls back a session record grouped with them.
    fn alone(&self) -> bool {
        matches!(
            self,
            Write::AccessListBegin
                | Write::AccessListChunk { .. }
                | Write::AccessListCommit { .. }
                | Write::AccessListDiff { .. }
                | Write::CacheAnswer { .. }
                | Write::Tariffs { .. }
                | Write::Promotions { .. }
                | Write::CommandSeen { .. }
                | Write::CentralConfig { .. }
                | Write::Account(_)
        )
    }

    /// Writes that may be skipped when the disk is nearly full.
    fn droppable(&self) -> bool {
        match self {
            Write::Session { change, .. } => *change == SessionChange::Sampled,
            Write::SocketState { fault, .. } => !fault,
            _ => false,
        }
    }
}

/// The writes a batch of core effects needs to be durable (controls and log lines need none:
/// the core task routes and logs them).
pub fn writes_for(effects: Vec<Effect>, now: Stamp) -> Vec<Write> {
    let mut writes = Vec::new();
    for effect in effects {
        match effect {
            Effect::StateChanged {
                socket, to, reason, ..
            } => {
                let fault = matches!(to, SocketState::Faulted { .. });
                writes.push(Write::SocketState {
                    socket,
                    state: to.to_string(),
                    reason,
                    fault,
                    at: now,
                });
            }
            Effect::Control { .. } => {}
            Effect::PersistOutOfService {
                socket,
                out_of_service,
            } => {
                writes.push(Write::OutOfService {
                    socket,
                    out_of_service,
                    at: now,
                });
            }
            Effect::Session {
                session,
                change,
                sample,
            } => writes.push(Write::Session {
                session,
                change,
                sample,
            }),
            Effect::ClockTrusted { at } => writes.push(Write::ClockTrusted { at }),
            Effect::Audit(audit) => writes.push(Write::Audit(audit)),
            Effect::CacheAnswer { token, entry, at } => writes.push(Write::CacheAnswer {
                token,
                entry,
                at_ms: at.wall_ms,
            }),
            Effect::AuthorizationLapsed { .. } => {}
            Effect::ControlAudit(audit) => writes.push(Write::ControlAudit(audit)),
        }
    }
    writes
}

/// What the database holds at start.
#[derive(Debug, Default)]
pub struct Startup {
    pub recovered: Vec<Recovered>,
    pub out_of_service: BTreeSet<String>,
    /// The copy taken before a migration.
    pub backup: Option<PathBuf>,
}

type Reply = oneshot::Sender<Result<(), StoreError>>;

#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<(Vec<Write>, Reply)>,
    /// Counts commits: whoever ships what was committed (the uplink) waits on it.
    commits: tokio::sync::watch::Receiver<u64>,
}

impl StoreHandle {
    /// Opens (and migrates) the database, reads what must be recovered, and starts the writer.
    pub fn start(
        setup: StoreSetup,
    ) -> Result<(StoreHandle, Startup, std::thread::JoinHandle<()>), StoreError> {
        let (conn, backup) = open_writer(&setup.path)?;
        if let Some(max) = setup.max_db_bytes {
            let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
            conn.pragma_update(
                None,
                "max_page_count",
                (max / page.max(1) as u64).max(1) as i64,
            )?;
        }
        let mut startup = recovery::load(&conn, &setup)?;
        startup.backup = backup;
        let (tx, rx) = mpsc::channel(64);
        let (commits_tx, commits) = tokio::sync::watch::channel(0);
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                Writer {
                    conn,
                    setup,
                    low_disk: false,
                    commits: commits_tx,
                }
                .run(rx)
            })?;
        Ok((StoreHandle { tx, commits }, startup, thread))
    }

    /// Replaces the access list by one small enough for a single chunk (the demo, tests; a
    /// large list from central goes through the same writes, chunk by chunk).
    pub async fn replace_access_list(
        &self,
        version: u64,
        rules: SiteRules,
        users: Vec<User>,
        tokens: Vec<(IdToken, TokenEntry)>,
    ) -> Result<(), StoreError> {
        self.apply(vec![Write::AccessListBegin]).await?;
        self.apply(vec![Write::AccessListChunk { users, tokens }])
            .await?;
        self.apply(vec![Write::AccessListCommit {
            version,
            rules: Box::new(rules),
        }])
        .await
    }

    /// Changes after every commit (a new outbox record may be there).
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.clone()
    }

    /// Commits `writes` in one transaction; returns once they are durable.
    pub async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let (reply, done) = oneshot::channel();
        self.tx
            .send((writes, reply))
            .await
            .map_err(|_| StoreError::Stopped)?;
        done.await.map_err(|_| StoreError::Stopped)?
    }
}

struct Writer {
    conn: Connection,
    setup: StoreSetup,
    low_disk: bool,
    commits: tokio::sync::watch::Sender<u64>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<(Vec<Write>, Reply)>) {
        let mut held: Option<(Vec<Write>, Reply)> = None;
        loop {
            let Some(first) = held.take().or_else(|| rx.blocking_recv()) else {
                break;
            };
            if first.0.iter().any(Write::alone) {
                let result = self.commit(first.0.iter());
                let local = first.0.iter().any(|w| matches!(w, Write::Account(_)));
                if !local
                    && matches!(
                        result,
                        Err(StoreError::Rejected(_) | StoreError::VersionMismatch { .. })
                    )
                {
                    // Refused for its content: counted where the status page and metrics read.
                    let _ = self.conn.execute(
                        "INSERT INTO counters (name, value) VALUES ('refused_updates', 1)
                         ON CONFLICT(name) DO UPDATE SET value = value + 1",
                        [],
                    );
                }
                let _ = first.1.send(result);
                continue;
            }
            let mut jobs = vec![first];
            while jobs.len() < 64 {
                match rx.try_recv() {
                    Ok(job) if job.0.iter().any(Write::alone) => {
                        held = Some(job);
                        break;
                    }
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            let result = self.commit(jobs.iter().flat_map(|(w, _)| w.iter()));
            for (_, reply) in jobs {
                let _ = reply.send(
                    result
                        .as_ref()
                        .map(|_| ())
                        .map_err(|e| StoreError::Failed(e.to_string())),
                );
            }
        }
        // Fold the WAL back into the database so a clean stop leaves one file.
        let _ = self.conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
    }

    fn commit<'a>(&mut self, writes: impl Iterator<Item = &'a Write>) -> Result<(), StoreError> {
        let low = self.disk_low();
        if low != self.low_disk {
            self.low_disk = low;
            if low {
                log::error!(
                    "disk nearly full (less than {} MB free): session records only, samples and updates dropped",
                    self.setup.reserve_bytes / 1_000_000
                );
            } else {
                log::info!("disk space recovered: samples and updates written again");
            }
        }
        // Immediate: the write lock is taken (waiting up to the busy timeout) before anything is
        // read, so a second writer process (`sitegate account add` while the daemon runs) makes
        // this wait instead of failing the commit with SQLITE_BUSY_SNAPSHOT.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut dropped = 0;
        if low {
            raise_low_disk_fault(&tx, self.setup.clock.now())?;
        }
        for w in writes {
            if low && w.droppable() {
                dropped += 1;
                continue;
            }
            apply(&tx, &self.setup, w)?;
        }
        if dropped > 0 {
            bump(&tx, "dropped_low_disk", dropped)?;
        }
        tx.commit()?;
        self.commits.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Free space on the database's file system, or left under SQLite's page limit.
    fn disk_low(&self) -> bool {
        let dir = self
            .setup
            .path
            .parent()
            .unwrap_or(std::path::Path::new("."));
        let fs_free = free_bytes(dir).unwrap_or(u64::MAX);
        let page_free = (|| -> rusqlite::Result<u64> {
            let max: i64 = self
                .conn
                .pragma_query_value(None, "max_page_count", |r| r.get(0))?;
            let used: i64 = self
                .conn
                .pragma_query_value(None, "page_count", |r| r.get(0))?;
            let size: i64 = self
                .conn
                .pragma_query_value(None, "page_size", |r| r.get(0))?;
            Ok((max.saturating_sub(used).max(0) as u64).saturating_mul(size as u64))
        })()
        .unwrap_or(u64::MAX);
        fs_free.min(page_free) < self.setup.reserve_bytes
    }
}

fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `st` a writable statvfs.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

fn raise_low_disk_fault(tx: &Transaction<'_>, now: Stamp) -> Result<(), StoreError> {
    let open: Option<i64> = tx
        .query_row(
            "SELECT value FROM counters WHERE name = 'low_disk_raised'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if open.is_none() {
        bump(tx, "low_disk_raised", 1)?;
        let body = wire::SiteFaultBody::new("disk_nearly_full", now.wall_ms).text();
        outbox(tx, "fault", now.wall_ms, now.trusted, false, &body)?;
    }
    Ok(())
}

fn bump(tx: &Transaction<'_>, name: &str, by: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = value + ?2",
        params![name, by],
    )?;
    Ok(())
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn outbox(
    tx: &Transaction<'_>,
    kind: &str,
    at_ms: i64,
    trusted: bool,
    offline: bool,
    body: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO outbox (id, kind, at_ms, trusted, offline, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![new_id(), kind, at_ms, trusted, offline, body],
    )?;
    Ok(())
}

fn update(
    tx: &Transaction<'_>,
    setup: &StoreSetup,
    kind: &str,
    at: &Stamp,
    body: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO updates (id, kind, at_ms, trusted, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![new_id(), kind, at.wall_ms, at.trusted, body],
    )?;
    let over: i64 = tx.query_row(
        "SELECT COUNT(*) - ?1 FROM updates",
        params![setup.updates_cap as i64],
        |r| r.get(0),
    )?;
    if over > 0 {
        tx.execute(
            "DELETE FROM updates WHERE seq IN (SELECT seq FROM updates ORDER BY seq LIMIT ?1)",
            params![over],
        )?;
        bump(tx, "updates_dropped", over)?;
    }
    Ok(())
}

/// Milliseconds since this run started: with the run id, how an untrusted stamp is corrected.
fn mono_ms(setup: &StoreSetup, at: &Stamp) -> i64 {
    at.mono
        .saturating_duration_since(setup.run_start)
        .as_millis() as i64
}

pub(super) fn local(setup: &StoreSetup, ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&setup.time_zone)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

fn apply(tx: &Transaction<'_>, setup: &StoreSetup, w: &Write) -> Result<(), StoreError> {
    match w {
        Write::Session {
            session,
            change,
            sample,
        } => {
            let socket_id = setup
                .socket_ids
                .get(session.socket)
                .map_or("?", String::as_str);
            if *change != SessionChange::Sampled {
                upsert_session(tx, setup, session, socket_id)?;
            }
            if let Some(sample) = sample {
                insert_sample(tx, setup, sample)?;
            }
            let body = wire::SessionBody::new(session, socket_id).text();
            let at = sample.as_ref().map_or(session.started, |s| s.at);
            match change {
                SessionChange::Started => outbox(
                    tx,
                    "session_started",
                    session.started.wall_ms,
                    session.started.trusted,
                    session.offline,
                    &body,
                )?,
                SessionChange::Ended => {
                    let stop = session.stopped.unwrap_or(at);
                    outbox(
                        tx,
                        "session_ended",
                        stop.wall_ms,
                        stop.trusted,
                        session.offline,
                        &body,
                    )?
                }
                SessionChange::Updated => update(tx, setup, "session_updated", &at, &body)?,
                SessionChange::Sampled => {}
            }
        }
        Write::OutOfService {
            socket,
            out_of_service,
            at,
        } => {
            let socket_id = setup.socket_ids.get(*socket).map_or("?", String::as_str);
            if *out_of_service {
                tx.execute(
                    "INSERT OR REPLACE INTO out_of_service (socket_id, since_ms) VALUES (?1, ?2)",
                    params![socket_id, at.wall_ms],
                )?;
            } else {
                tx.execute(
                    "DELETE FROM out_of_service WHERE socket_id = ?1",
                    params![socket_id],
                )?;
            }
            let body = wire::AvailabilityBody::new(socket_id, *out_of_service, at).text();
            outbox(
                tx,
                "socket_availability",
                at.wall_ms,
                at.trusted,
                false,
                &body,
            )?;
        }
        Write::SocketState {
            socket,
            state,
            reason,
            fault,
            at,
        } => {
            let socket_id = setup.socket_ids.get(*socket).map_or("?", String::as_str);
            let body = wire::SocketStateBody::new(socket_id, state, reason, at).text();
            if *fault {
                outbox(tx, "fault", at.wall_ms, at.trusted, false, &body)?;
            } else {
                update(tx, setup, "socket_state", at, &body)?;
            }
        }
        Write::ClockTrusted { at } => correct_times(tx, setup, at)?,
        Write::Audit(a) => {
            let sockets: Vec<&str> = a
                .sockets
                .iter()
                .filter_map(|&i| setup.socket_ids.get(i).map(String::as_str))
                .collect();
            let body = wire::AuthorizationBody::new(a, sockets).text();
            outbox(
                tx,
                "authorization",
                a.at.wall_ms,
                a.at.trusted,
                false,
                &body,
            )?;
        }
        Write::Tariffs { version, tariffs } => {
            access::replace_published(tx, "tariffs", *version, tariffs)?
        }
        Write::Promotions {
            version,
            promotions,
        } => access::replace_published(tx, "promotions", *version, promotions)?,
        Write::Acknowledged { stream, upto } => super::outbox::acknowledge(tx, *stream, *upto)?,
        Write::CommandSeen {
            id,
            expires_ms,
            now_ms,
        } => super::outbox::command_seen(tx, id, *expires_ms, *now_ms)?,
        Write::CentralConfig { version, policy } => {
            access::save_central_config(tx, *version, policy)?
        }
        Write::AccessListBegin => access::stage_begin(tx)?,
        // A user's credit counts from when it arrived here: the moment the balance starts to be
        // spent from at the site, whoever sent it.
        Write::AccessListChunk { users, tokens } => {
            access::stage_chunk(tx, users, tokens, setup.clock.now().wall_ms)?
        }
        Write::AccessListCommit { version, rules } => access::stage_commit(tx, *version, rules)?,
        Write::AccessListDiff {
            version,
            rules,
            users,
            tokens,
        } => access::apply_diff(
            tx,
            *version,
            rules.as_deref(),
            users,
            tokens,
            setup.clock.now().wall_ms,
        )?,
        Write::CacheAnswer {
            token,
            entry,
            at_ms,
        } => access::cache_answer(tx, token, entry, *at_ms, AUTH_CACHE_CAPACITY)?,
        Write::ControlAudit(a) => {
            let socket_id = setup.socket_ids.get(a.socket).map_or("?", String::as_str);
            let body = wire::ControlAuditBody::new(a, socket_id).text();
            outbox(
                tx,
                "control_audit",
                a.at.wall_ms,
                a.at.trusted,
                false,
                &body,
            )?;
        }
        Write::ConfigAudit(a) => {
            let body = wire::ConfigAuditBody::new(&a.actor, a.action, &a.target, &a.at).text();
            outbox(tx, "config_audit", a.at.wall_ms, a.at.trusted, false, &body)?;
        }
        Write::Account(change) => {
            let body = super::accounts::apply(tx, change)?;
            outbox(
                tx,
                "account_audit",
                change.at.wall_ms,
                change.at.trusted,
                false,
                &body,
            )?;
        }
    }
    Ok(())
}

fn upsert_session(
    tx: &Transaction<'_>,
    setup: &StoreSetup,
    s: &Session,
    socket_id: &str,
) -> Result<(), StoreError> {
    let stopped = s.stopped.as_ref();
    tx.execute(
        "INSERT INTO sessions (id, socket_id, identity, auth_method,
             started_ms, started_trusted, started_run, started_mono_ms, started_local,
             stopped_ms, stopped_trusted, stopped_run, stopped_mono_ms, stopped_local,
             meter_start_wh, meter_stop_wh, energy_wh, charging_ms, idle_ms,
                          stop_reason, offline, failed_reason, token, parent, tariff_id,
             currency, total_cost, cost_breakdown, promotion_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25,
                 ?26, ?27, ?28, ?29)
         ON CONFLICT(id) DO UPDATE SET
             started_ms = ?5, started_trusted = ?6, started_local = ?9,
             stopped_ms = ?10, stopped_trusted = ?11, stopped_run = ?12, stopped_mono_ms = ?13, stopped_local = ?14,
             meter_start_wh = ?15, meter_stop_wh = ?16, energy_wh = ?17, charging_ms = ?18, idle_ms = ?19,
             stop_reason = ?20, failed_reason = ?22, currency = ?26, total_cost = ?27, cost_breakdown = ?28",
        params![
            s.id.to_string(),
            socket_id,
            s.identity,
            s.auth.name(),
            s.started.wall_ms,
            s.started.trusted,
            setup.run_id,
            mono_ms(setup, &s.started),
            local(setup, s.started.wall_ms),
            stopped.map(|t| t.wall_ms),
            stopped.map(|t| t.trusted),
            stopped.map(|_| setup.run_id.as_str()),
            stopped.map(|t| mono_ms(setup, t)),
            stopped.map(|t| local(setup, t.wall_ms)),
            s.meter_start_wh,
            s.meter_stop_wh(),
            wire::round3(s.meter.energy_wh),
            s.charging.as_millis() as i64,
            s.idle.as_millis() as i64,
            s.stop_reason.map(|r| r.name()),
            s.offline,
            s.failed,
            s.token.as_ref().map(|t| t.expose()),
            s.parent,
            s.tariff_id,
            s.cost.as_ref().map(|c| c.currency.as_str()),
            s.cost.as_ref().map(|c| c.total_incl_tax.to_string()),
            s.cost
                .as_ref()
                .map(|c| crate::wire::breakdown_text(&c.breakdown, c.time_zone)),
            s.promotion_id,
        ],
    )?;
    Ok(())
}

fn insert_sample(tx: &Transaction<'_>, setup: &StoreSetup, s: &Sample) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR REPLACE INTO samples (session_id, seq, at_ms, trusted, run, mono_ms, meter_wh, energy_wh, power_w, phase)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            s.session.to_string(),
            s.seq,
            s.at.wall_ms,
            s.at.trusted,
            setup.run_id,
            mono_ms(setup, &s.at),
            s.meter_wh,
            wire::round3(s.energy_wh),
            s.power_w,
            s.phase.name(),
        ],
    )?;
    Ok(())
}

/// Rewrites this run's untrusted times on the clock that just became trustworthy:
/// wall = trusted wall now − (monotonic now − monotonic then).
fn correct_times(tx: &Transaction<'_>, setup: &StoreSetup, at: &Stamp) -> Result<(), StoreError> {
    let now_mono = mono_ms(setup, at);
    let fix = |mono: i64| at.wall_ms - (now_mono - mono);
    let rows: Vec<(String, i64)> = tx
        .prepare("SELECT id, started_mono_ms FROM sessions WHERE started_trusted = 0 AND started_run = ?1")?
        .query_map(params![setup.run_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, mono) in rows {
        let wall = fix(mono);
        tx.execute(
            "UPDATE sessions SET started_ms = ?2, started_trusted = 1, started_local = ?3 WHERE id = ?1",
            params![id, wall, local(setup, wall)],
        )?;
    }
    let rows: Vec<(String, i64)> = tx
        .prepare("SELECT id, stopped_mono_ms FROM sessions WHERE stopped_trusted = 0 AND stopped_run = ?1")?
        .query_map(params![setup.run_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, mono) in rows {
        let wall = fix(mono);
        tx.execute(
            "UPDATE sessions SET stopped_ms = ?2, stopped_trusted = 1, stopped_local = ?3 WHERE id = ?1",
            params![id, wall, local(setup, wall)],
        )?;
    }
    tx.execute(
        "UPDATE samples SET at_ms = ?2 - (?3 - mono_ms), trusted = 1 WHERE trusted = 0 AND run = ?1",
        params![setup.run_id, at.wall_ms, now_mono],
    )?;
    Ok(())
}
