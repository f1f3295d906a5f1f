//! kill -9 durability: the real `sitegate` binary as a child process, the simulators in this
//! process. Scripted vehicles plug in and leave on 16 sockets (more than 200 sessions) while the
//! daemon is killed with SIGKILL at 30 or more moments, about half of them a few milliseconds
//! after it read a plug-in or an unplug (while it records the session's start or end), and
//! restarted at once each time. At the end every session exists exactly once with the
//! simulator's energy (within 1 Wh: the register counts whole Wh), none is left open, and the
//! outbox sequence has no gap.
//!
//! The schedule is seeded (SplitMix64, no wall-clock randomness). It sleeps by design (how long
//! a vehicle stays), but every check waits for a condition under a bound. One rule keeps every
//! scripted session one that sitegate can know: a vehicle leaves only once its session is on
//! disk, and the next one arrives only once the end is on disk and the socket is switched off
//! (the test reads the database as the web page would). A kill can still land anywhere in
//! between: before the daemon saw a change, between reading it and committing it, after.

use sitegate::core::rng::SplitMix64;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use socket_sim::{Command as SimCommand, Model, Sim, UnitSpec};
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, sleep, sleep_until};

use crate::support::{sim, tcp};

const BUS: &str = "site";
const SOCKETS: u8 = 16;
const SESSIONS_PER_SOCKET: usize = 14;
const MIN_KILLS: usize = 30;
const SEED: u64 = 0x6b69_6c6c_2d39_0001;
/// Bound on every awaited condition; only a failing test waits that long.
const PATIENCE: Duration = Duration::from_secs(30);
/// Least time between two kills.
const KILL_SPACING: Duration = Duration::from_secs(1);

/// The schedule's randomness: seeded, so a failure replays the same script.
trait Schedule {
    fn between(&mut self, lo_ms: u64, hi_ms: u64) -> Duration;
    fn chance(&mut self, p: f64) -> bool;
}

impl Schedule for SplitMix64 {
    fn between(&mut self, lo_ms: u64, hi_ms: u64) -> Duration {
        Duration::from_millis(lo_ms) + Duration::from_millis(hi_ms - lo_ms).mul_f64(self.unit())
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

fn socket_id(unit: u8) -> String {
    format!("s{unit:02}")
}

/// The last lines of the daemon's log (every run appends to it), for failure messages.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| format!("(no log: {e})"));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

/// The daemon as a child process; killed (and reaped) when dropped, so a failing test leaves
/// no process behind.
struct Daemon {
    child: Option<Child>,
    config: PathBuf,
    log: PathBuf,
    db: PathBuf,
    started: Instant,
    starts: usize,
}

impl Daemon {
    fn start(config: PathBuf, log: PathBuf, db: PathBuf) -> Result<Daemon, String> {
        let mut d = Daemon {
            child: None,
            config,
            log,
            db,
            started: Instant::now(),
            starts: 0,
        };
        d.spawn()?;
        Ok(d)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("daemon log: {e}"))?;
        self.starts += 1;
        let _ = writeln!(log, "=== kill9 test: start #{} ===", self.starts);
        let err = log.try_clone().map_err(|e| format!("daemon log: {e}"))?;
        let child = Process::new(env!("CARGO_BIN_EXE_sitegate"))
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            // Log lines to the file, not to a journal the test runner may be connected to.
            .env_remove("JOURNAL_STREAM")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting sitegate: {e}"))?;
        self.child = Some(child);
        self.started = Instant::now();
        Ok(())
    }

    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("the daemon runs")
    }

    /// Fails when the daemon stopped by itself.
    fn check_running(&mut self) -> Result<(), String> {
        match self.child().try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the daemon exited by itself: {status}")),
            Err(e) => Err(format!("waiting for the daemon: {e}")),
        }
    }

    /// SIGKILL, reaped at once.
    fn kill9(&mut self) -> Result<(), String> {
        self.check_running()?;
        let mut child = self.child.take().expect("the daemon runs");
        let killed = child.kill();
        let status = child.wait().map_err(|e| format!("reaping: {e}"))?;
        killed.map_err(|e| format!("SIGKILL: {e}"))?;
        if status.signal() != Some(libc::SIGKILL) {
            return Err(format!(
                "the daemon ended by itself before the kill: {status}"
            ));
        }
        Ok(())
    }

    /// SIGTERM, then waits for a clean exit.
    async fn terminate(&mut self) -> Result<(), String> {
        self.check_running()?;
        let pid = libc::pid_t::try_from(self.child().id()).expect("pid fits");
        // SAFETY: plain kill(2) on our own, not yet reaped, child.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            return Err(format!("SIGTERM: {}", std::io::Error::last_os_error()));
        }
        let until = Instant::now() + PATIENCE;
        loop {
            match self.child().try_wait() {
                Ok(Some(status)) if status.success() => {
                    self.child = None;
                    return Ok(());
                }
                Ok(Some(status)) => return Err(format!("the daemon stopped badly: {status}")),
                Ok(None) if Instant::now() > until => {
                    return Err("the daemon did not stop after SIGTERM".into());
                }
                Ok(None) => sleep(Duration::from_millis(20)).await,
                Err(e) => return Err(format!("waiting for the daemon: {e}")),
            }
        }
    }

    /// Up: running for 300 ms, its database exists and it has polled every socket since it
    /// started (each unit answered two more requests).
    async fn wait_up(&mut self, sim: &Sim) -> Result<(), String> {
        let served = |sim: &Sim| -> Vec<u64> {
            (1..=SOCKETS)
                .map(|u| sim.truth(BUS, u).expect("unit").requests_served)
                .collect()
        };
        let before = served(sim);
        let until = Instant::now() + PATIENCE;
        loop {
            self.check_running()?;
            let polled = served(sim)
                .iter()
                .zip(&before)
                .all(|(now, b)| *now >= b + 2);
            if polled && self.db.exists() && self.started.elapsed() >= Duration::from_millis(300) {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!(
                    "the daemon (start #{}) did not come up: polled every unit: {polled}, database: {}",
                    self.starts,
                    self.db.exists()
                ));
            }
            sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Which sockets have a session open in the database (committed state only).
fn open_sessions(conn: &Connection) -> rusqlite::Result<Vec<bool>> {
    let open: Vec<String> = conn
        .prepare("SELECT socket_id FROM sessions WHERE stopped_ms IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok((1..=SOCKETS)
        .map(|u| open.contains(&socket_id(u)))
        .collect())
}

/// Publishes which sockets have an open session in the database, read every 20 ms on a
/// read-only connection (as the web page will), across the daemon's deaths.
fn observe(db: PathBuf, tx: watch::Sender<Option<Vec<bool>>>, stop: Arc<AtomicBool>) {
    let mut conn: Option<Connection> = None;
    // Stops when told, or when nobody listens any more (a failed test).
    while !stop.load(Ordering::Relaxed) && !tx.is_closed() {
        if conn.is_none() && db.exists() {
            conn = sitegate::store::open_reader(&db).ok();
        }
        if let Some(c) = &conn {
            // Errors: the schema is not created yet; tried again.
            if let Ok(open) = open_sessions(c) {
                tx.send_if_modified(|v| {
                    let changed = v.as_ref() != Some(&open);
                    *v = Some(open);
                    changed
                });
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A plug-in or unplug the script just did, for kills aimed at the write that follows.
#[derive(Debug, Clone, Copy)]
struct Action {
    unit: u8,
    /// The unit's answered requests right after the change: one more means the daemon read it.
    served: u64,
}

/// Waits until the database shows a session open on `unit`'s socket (`open`) or none.
async fn wait_recorded(
    rx: &mut watch::Receiver<Option<Vec<bool>>>,
    unit: u8,
    open: bool,
    what: &str,
) -> Result<(), String> {
    let i = usize::from(unit - 1);
    match tokio::time::timeout(
        PATIENCE,
        rx.wait_for(|v| v.as_ref().is_some_and(|v| v[i] == open)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err("the database observer stopped".into()),
        Err(_) => Err(format!("{}: gave up waiting for {what}", socket_id(unit))),
    }
}

/// One socket's script: `SESSIONS_PER_SOCKET` vehicles, each 1.5-3.5 s plugged, 0.5-1.5 s
/// apart. Returns each session's energy by the simulator's ground truth.
async fn drive(
    sim: Sim,
    unit: u8,
    mut rng: SplitMix64,
    mut recorded: watch::Receiver<Option<Vec<bool>>>,
    actions: broadcast::Sender<Action>,
) -> Result<Vec<f64>, String> {
    let id = socket_id(unit);
    let control = |cmd: SimCommand| {
        sim.control(BUS, unit, cmd)
            .map_err(|e| format!("{id}: simulator: {e}"))
    };
    let truth = || sim.truth(BUS, unit).expect("simulated unit");
    let notify = || {
        // No receiver (no kill waiting for a write) is fine.
        let _ = actions.send(Action {
            unit,
            served: truth().requests_served,
        });
    };
    let mut expected = Vec::new();
    let mut next_plug = Instant::now() + rng.between(0, 1500);
    for n in 0..SESSIONS_PER_SOCKET {
        sleep_until(next_plug).await;
        // The next vehicle arrives once the previous session's end is on disk and the socket is
        // off: a vehicle that arrived (and charged on a socket left on) while the daemon lay
        // dead would not be a session sitegate could know.
        wait_recorded(&mut recorded, unit, false, "the previous session's end").await?;
        let until = Instant::now() + PATIENCE;
        while truth().enabled {
            if Instant::now() > until {
                return Err(format!("{id}: never switched off after session {n}"));
            }
            sleep(Duration::from_millis(10)).await;
        }
        control(SimCommand::Plug {
            vehicle_max_a: 16.0,
            phases: 3,
            wants_wh: 1e6,
        })?;
        let plugged_at = Instant::now();
        notify();
        let stay = rng.between(1500, 3500);
        // It leaves once its session is on disk: else the daemon may never have seen it.
        wait_recorded(&mut recorded, unit, true, &format!("session {n} to start")).await?;
        sleep_until(plugged_at + stay).await;
        control(SimCommand::Unplug)?;
        // Energy since plug-in; it stops growing at the unplug, so this read is exact.
        expected.push(truth().session_wh);
        notify();
        next_plug = Instant::now() + rng.between(500, 1500);
    }
    wait_recorded(&mut recorded, unit, false, "the last session's end").await?;
    Ok(expected)
}

/// What one kill hit.
struct Kill {
    /// Aimed at the write following a plug-in or unplug.
    aimed: bool,
    /// Sockets whose plug-in or unplug was not yet committed when the daemon died.
    unrecorded: usize,
    /// The aimed-at change was not yet committed.
    aimed_unrecorded: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_kill_9_at_random_moments() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("sitegate.log");
    let sim = sim(false);
    let units = (1..=SOCKETS)
        .map(|u| UnitSpec::new(u, Model::GenericSocket))
        .collect();
    let addr = tcp(&sim, BUS, units).await;

    let mut config = format!(
        "[site]\nid = \"kill9\"\nname = \"kill -9\"\ntime_zone = \"UTC\"\n\
         [log]\nlevel = \"info\"\n\
         [state]\ndirectory = \"state\"\n\
         [sessions]\nsample_interval = \"10s\"\n\
         [[bus]]\nname = \"{BUS}\"\nkind = \"tcp\"\nhost = \"{}\"\nport = {}\nrequest_timeout = \"300ms\"\n",
        addr.ip(),
        addr.port()
    );
    for u in 1..=SOCKETS {
        config += &format!(
            "[[socket]]\nid = \"{id}\"\nname = \"{id}\"\nbus = \"{BUS}\"\nunit_id = {u}\n\
             profile = \"generic-socket\"\nfree = true\npoll_interval = \"200ms\"\n",
            id = socket_id(u)
        );
    }
    let config_path = dir.path().join("sitegate.toml");
    std::fs::write(&config_path, config).expect("config written");
    let db = dir.path().join("state").join(sitegate::store::DB_FILE);

    let fail =
        |what: String| -> ! { panic!("{what}\n--- daemon log (tail) ---\n{}", log_tail(&log)) };

    let mut daemon =
        Daemon::start(config_path, log.clone(), db.clone()).unwrap_or_else(|e| fail(e));
    daemon.wait_up(&sim).await.unwrap_or_else(|e| fail(e));

    let (recorded_tx, recorded) = watch::channel(None);
    let stop_observer = Arc::new(AtomicBool::new(false));
    let observer = {
        let (db, stop) = (db.clone(), stop_observer.clone());
        std::thread::spawn(move || observe(db, recorded_tx, stop))
    };

    let (actions, mut action_rx) = broadcast::channel(256);
    let script_failed = Arc::new(AtomicBool::new(false));
    let scripts: Vec<_> = (1..=SOCKETS)
        .map(|u| {
            let rng = SplitMix64::new(SEED ^ (u64::from(u) << 32));
            let script = drive(sim.clone(), u, rng, recorded.clone(), actions.clone());
            let failed = script_failed.clone();
            tokio::spawn(async move {
                let result = script.await;
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                result
            })
        })
        .collect();

    // Kills until every script is done: half at a random moment, half a few milliseconds
    // after the daemon read a plug-in or unplug (it is then recording a session's start or end).
    let mut rng = SplitMix64::new(SEED);
    let mut kills: Vec<Kill> = Vec::new();
    let mut last_kill = Instant::now();
    while !script_failed.load(Ordering::Relaxed) && !scripts.iter().all(|s| s.is_finished()) {
        sleep_until(last_kill + KILL_SPACING).await;
        let aimed = if rng.chance(0.5) {
            // The next change from now on (older ones were not aimed at).
            while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = action_rx.try_recv()
            {
            }
            let next = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match action_rx.recv().await {
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        r => return r.ok(),
                    }
                }
            })
            .await;
            match next {
                Ok(Some(action)) => {
                    // The daemon has read the change when the unit answers again; its commit
                    // (an fsync) follows within milliseconds. Watched and waited for on a
                    // blocking thread: tokio's timer has 1 ms resolution.
                    let sim = sim.clone();
                    let delay = rng.between(0, 8);
                    tokio::task::spawn_blocking(move || {
                        for _ in 0..50_000 {
                            let t = sim.truth(BUS, action.unit).expect("unit");
                            if t.requests_served > action.served {
                                break;
                            }
                            std::thread::sleep(Duration::from_micros(100));
                        }
                        std::thread::sleep(delay);
                    })
                    .await
                    .expect("aiming");
                    Some(action.unit)
                }
                // The scripts are ending: kill anyway.
                _ => None,
            }
        } else {
            sleep(rng.between(0, 900)).await;
            None
        };
        let plugged: Vec<bool> = (1..=SOCKETS)
            .map(|u| sim.truth(BUS, u).expect("unit").plugged)
            .collect();
        daemon.kill9().unwrap_or_else(|e| fail(e));
        last_kill = Instant::now();
        // What the dead daemon had committed, against what the sockets showed when it died.
        let open = sitegate::store::open_reader(&db)
            .map_err(|e| e.to_string())
            .and_then(|c| open_sessions(&c).map_err(|e| e.to_string()))
            .unwrap_or_else(|e| fail(format!("reading the database after a kill: {e}")));
        let unrecorded: Vec<usize> = (0..usize::from(SOCKETS))
            .filter(|&i| plugged[i] != open[i])
            .collect();
        kills.push(Kill {
            aimed: aimed.is_some(),
            aimed_unrecorded: aimed.is_some_and(|u| unrecorded.contains(&usize::from(u - 1))),
            unrecorded: unrecorded.len(),
        });
        daemon.spawn().unwrap_or_else(|e| fail(e));
        daemon.wait_up(&sim).await.unwrap_or_else(|e| fail(e));
    }

    let mut expected = Vec::new();
    for (i, s) in scripts.into_iter().enumerate() {
        match s.await {
            Ok(Ok(energies)) => expected.push(energies),
            Ok(Err(e)) => fail(e),
            Err(e) => fail(format!("script of socket {} panicked: {e}", i + 1)),
        }
    }
    stop_observer.store(true, Ordering::Relaxed);
    observer.join().expect("observer");
    daemon.terminate().await.unwrap_or_else(|e| fail(e));

    // The verdict, from the database alone.
    let conn = sitegate::store::open_reader(&db).unwrap_or_else(|e| fail(e.to_string()));
    let open: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sessions WHERE stopped_ms IS NULL",
            [],
            |r| r.get(0),
        )
        .expect("query");
    assert_eq!(open, 0, "no session is left open");

    let mut problems = Vec::new();
    let mut max_error: f64 = 0.0;
    let mut session_ids = Vec::new();
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for u in 1..=SOCKETS {
        let id = socket_id(u);
        let rows: Vec<(String, f64, String)> = conn
            .prepare(
                "SELECT id, energy_wh, stop_reason FROM sessions WHERE socket_id = ?1
                 ORDER BY started_ms, id",
            )
            .expect("query")
            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let script = &expected[usize::from(u - 1)];
        if rows.len() != script.len() {
            problems.push(format!(
                "{id}: {} sessions recorded, {} scripted; recorded energies {:?}, simulator {:?}",
                rows.len(),
                script.len(),
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                script
            ));
        }
        for (n, ((session, energy, reason), truth)) in rows.iter().zip(script).enumerate() {
            let error = (energy - truth).abs();
            max_error = max_error.max(error);
            if error > 1.0 {
                problems.push(format!(
                    "{id} session {n} ({session}, {reason}): {energy:.3} Wh recorded, {truth:.3} Wh delivered"
                ));
            }
            *reasons.entry(reason.clone()).or_default() += 1;
        }
        session_ids.extend(rows.into_iter().map(|r| r.0));
    }

    // The outbox: 1..=max without a gap (nothing is acknowledged, so nothing was deleted), and
    // one start and one end per session.
    let outbox: Vec<(i64, String, String)> = conn
        .prepare("SELECT seq, kind, payload FROM outbox ORDER BY seq")
        .expect("query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    if let Some((n, (seq, _, _))) = outbox
        .iter()
        .enumerate()
        .find(|(n, (seq, _, _))| *seq != *n as i64 + 1)
    {
        problems.push(format!(
            "outbox: seq {seq} at position {} (gap or disorder)",
            n + 1
        ));
    }
    let mut events = std::collections::HashMap::<(String, String), usize>::new();
    for (seq, kind, payload) in &outbox {
        if kind == "session_started" || kind == "session_ended" {
            let body: serde_json::Value = serde_json::from_str(payload)
                .unwrap_or_else(|e| fail(format!("outbox {seq}: {e}")));
            let session = body["session_id"].as_str().unwrap_or_default().to_string();
            *events.entry((session, kind.clone())).or_default() += 1;
        }
    }
    for session in &session_ids {
        for kind in ["session_started", "session_ended"] {
            let n = events.remove(&(session.clone(), kind.into())).unwrap_or(0);
            if n != 1 {
                problems.push(format!(
                    "session {session}: {n} {kind} events in the outbox"
                ));
            }
        }
    }
    for ((session, kind), n) in events {
        problems.push(format!(
            "outbox: {n} {kind} event(s) of unknown session {session}"
        ));
    }

    let sessions: usize = expected.iter().map(Vec::len).sum();
    let aimed = kills.iter().filter(|k| k.aimed).count();
    let aimed_unrecorded = kills.iter().filter(|k| k.aimed_unrecorded).count();
    let with_unrecorded = kills.iter().filter(|k| k.unrecorded > 0).count();
    println!(
        "kill9: {sessions} sessions on {SOCKETS} sockets, {} kills ({aimed} aimed at a session write, \
         {aimed_unrecorded} of them before it was committed; {with_unrecorded} with some plug-in or \
         unplug not yet committed), {} restarts, max energy error {max_error:.3} Wh, outbox 1..={}, \
         stop reasons {reasons:?}, {:.1} s",
        kills.len(),
        daemon.starts - 1,
        outbox.len(),
        t0.elapsed().as_secs_f64()
    );
    if !problems.is_empty() {
        let shown = problems.len().min(40);
        fail(format!(
            "{} problem(s):\n{}{}",
            problems.len(),
            problems[..shown].join("\n"),
            if shown < problems.len() { "\n..." } else { "" }
        ));
    }
    assert!(sessions >= 200, "at least 200 sessions");
    assert!(
        kills.len() >= MIN_KILLS,
        "at least {MIN_KILLS} kills, got {}",
        kills.len()
    );
    assert!(
        with_unrecorded > 0,
        "some kill lands before a change is committed"
    );
    sim.shutdown().await;
}
