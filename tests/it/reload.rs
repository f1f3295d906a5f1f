//! Reloading the configuration file without a restart: a valid file is applied (a new socket is
//! polled), an invalid one is refused with its problems and the running site goes on, a session
//! running across a reload keeps its id and energy; and SIGHUP does it in the real process.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sitegate::app::supervisor::{ReloadError, Supervisor};
use sitegate::core::SocketSnapshot;
use sitegate::web::reload::ReloadOutcome;
use socket_sim::{Command, Model, UnitSpec};
use tokio::sync::watch;

use crate::support::*;

/// A site file: `tables` (buses, sockets) after the site, state and web sections.
pub fn site_file(dir: &Path, tables: &str) -> PathBuf {
    let web = if tables.contains("[web]") {
        ""
    } else {
        "[web]\nenabled = false\n"
    };
    let path = dir.join("sitegate.toml");
    let text = format!(
        "# Written by the test\n[site]\nid = \"test\"\nname = \"Test\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \"state\"\n{web}{tables}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Bus `gw`: a simulated TCP device with generic sockets on units 1 and 2.
pub async fn two_sockets(sim: &socket_sim::Sim) -> std::net::SocketAddr {
    tcp(
        sim,
        "gw",
        vec![
            UnitSpec::new(1, Model::GenericSocket),
            UnitSpec::new(2, Model::GenericSocket),
        ],
    )
    .await
}

/// As `supervise`, with `accounts` made (`web::add_accounts`) before the daemon starts.
pub async fn supervise_with_accounts(
    path: &Path,
    accounts: &'static [(&'static str, sitegate::store::roles::Role)],
) -> Supervisor {
    let config = sitegate::config::load(path).unwrap();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        web::add_accounts(&config, accounts);
        supervise(&path)
    })
    .await
    .unwrap()
}

/// Socket `a`, on unit 1 of `two_sockets`.
fn socket_a() -> String {
    socket("a", "gw", 1, "generic-socket", "poll_interval = \"200ms\"")
}

/// Socket `b`, on unit 2 of `two_sockets`.
fn socket_b() -> String {
    socket("b", "gw", 2, "generic-socket", "poll_interval = \"200ms\"")
}

/// A file with socket `a` alone, supervised until `a` is available; the bus's address and the
/// file's directory.
async fn supervised_a(
    sim: &socket_sim::Sim,
) -> (Supervisor, std::net::SocketAddr, tempfile::TempDir) {
    let addr = two_sockets(sim).await;
    let dir = tempfile::tempdir().unwrap();
    let path = site_file(dir.path(), &(tcp_bus("gw", addr, "") + &socket_a()));
    let supervisor = supervise(&path);
    wait_snapshot(
        supervisor.daemon().unwrap().snapshot.clone(),
        "a available",
        |s| is(s, "a", "Available"),
    )
    .await;
    (supervisor, addr, dir)
}

pub fn supervise(path: &Path) -> Supervisor {
    let config = sitegate::config::load(path).unwrap_or_else(|p| panic!("test config:\n{p}"));
    Supervisor::start(path.to_path_buf(), config, Duration::from_secs(5)).expect("daemon starts")
}

/// Waits until `check` accepts the snapshot; fails with the last one.
pub async fn wait_snapshot(
    mut rx: watch::Receiver<Vec<SocketSnapshot>>,
    what: &str,
    check: impl Fn(&[SocketSnapshot]) -> bool,
) -> Vec<SocketSnapshot> {
    let outcome = tokio::time::timeout(PATIENCE, async {
        loop {
            if check(&rx.borrow_and_update()) {
                return;
            }
            if rx.changed().await.is_err() {
                panic!("the daemon stopped while waiting for {what}");
            }
        }
    })
    .await;
    let last = rx.borrow().clone();
    assert!(
        outcome.is_ok(),
        "gave up waiting for {what}; last:\n{last:#?}"
    );
    last
}

pub fn is(snapshot: &[SocketSnapshot], id: &str, state: &str) -> bool {
    snapshot
        .iter()
        .any(|s| s.id == id && s.view.state.to_string() == state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_file_is_applied_and_an_invalid_one_refused_while_the_site_runs_on() {
    let sim = sim(false);
    let (mut supervisor, addr, dir) = supervised_a(&sim).await;
    let a = socket_a();
    let b = socket_b();

    site_file(dir.path(), &(tcp_bus("gw", addr, "") + &a + &b));
    let changes = supervisor.reload().await.expect("a valid file is applied");
    assert_eq!(changes.added, vec!["b".to_string()]);
    assert!(changes.removed.is_empty() && changes.changed.is_empty());
    wait_snapshot(
        supervisor.daemon().unwrap().snapshot.clone(),
        "b polled",
        |s| is(s, "b", "Available") && is(s, "a", "Available"),
    )
    .await;
    assert_eq!(supervisor.status().borrow().generation, 1);

    // Unit 300 and an unknown profile: both problems are reported, nothing changes.
    let bad = socket("c", "gw", 3, "no-such-profile", "").replace("unit_id = 3", "unit_id = 300");
    site_file(dir.path(), &(tcp_bus("gw", addr, "") + &a + &b + &bad));
    match supervisor.reload().await {
        Err(ReloadError::Invalid(problems)) => {
            let text = problems.to_string();
            assert!(text.contains("socket[2].unit_id"), "{text}");
            assert!(text.contains("socket[2].profile"), "{text}");
        }
        other => panic!("an invalid file is refused, got {other:?}"),
    }
    assert_eq!(supervisor.status().borrow().generation, 1);
    assert_eq!(supervisor.config().sockets.len(), 2, "the old config stays");
    // The running daemon was not touched: it still polls both sockets.
    sim.control("gw", 2, Command::Fault { code: 5 }).unwrap();
    wait_snapshot(
        supervisor.daemon().unwrap().snapshot.clone(),
        "b faulted",
        |s| {
            s.iter()
                .any(|x| x.id == "b" && x.view.state.to_string().starts_with("Faulted"))
        },
    )
    .await;
    assert!(supervisor.shutdown().await);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_running_during_a_reload_goes_on_with_its_id_and_energy() {
    let sim = sim(false);
    let (mut supervisor, addr, dir) = supervised_a(&sim).await;
    plug_in(&sim, "gw", 1);
    let before = wait_snapshot(
        supervisor.daemon().unwrap().snapshot.clone(),
        "energy",
        |s| {
            s[0].view
                .session
                .as_ref()
                .is_some_and(|x| x.energy_wh() > 5.0)
        },
    )
    .await;
    let session = before[0].view.session.clone().unwrap();

    let b = socket_b();
    site_file(dir.path(), &(tcp_bus("gw", addr, "") + &socket_a() + &b));
    supervisor.reload().await.expect("reloaded");
    let after =
        wait_snapshot(
            supervisor.daemon().unwrap().snapshot.clone(),
            "the same session counting on",
            |s| {
                s[0].view.session.as_ref().is_some_and(|x| {
                    x.id == session.id && x.energy_wh() > session.energy_wh() + 5.0
                }) && is(s, "a", "Charging")
            },
        )
        .await;
    assert!(is(&after, "a", "Charging"));
    assert!(supervisor.shutdown().await);
    sim.shutdown().await;
}

/// Lines the child writes to stderr, as they come.
fn lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing every one of `needles`; fails with every line read so far.
fn wait_line(rx: &std::sync::mpsc::Receiver<String>, needles: &[&str], seen: &mut Vec<String>) {
    let needle = needles.join(" … ");
    let until = std::time::SystemTime::now() + PATIENCE;
    loop {
        let left = until
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_else(|_| panic!("no line with `{needle}`; got:\n{}", seen.join("\n")));
        match rx.recv_timeout(left) {
            Ok(line) => {
                let found = needles.iter().all(|n| line.contains(n));
                seen.push(line);
                if found {
                    return;
                }
            }
            Err(_) => panic!("no line with `{needle}`; got:\n{}", seen.join("\n")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_running_process_and_refuses_an_invalid_file() {
    let sim = sim(false);
    let addr = two_sockets(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let a = socket_a();
    let b = socket_b();
    let path = site_file(dir.path(), &(tcp_bus("gw", addr, "") + &a));
    let mut child = spawn_run(&path);
    let pid = child.id() as libc::pid_t;
    let rx = lines(&mut child);
    let mut seen = Vec::new();
    let sighup = || assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    tokio::task::block_in_place(|| {
        wait_line(&rx, &["socket a:", "-> Available"], &mut seen);
        site_file(dir.path(), &(tcp_bus("gw", addr, "") + &a + &b));
        sighup();
        wait_line(
            &rx,
            &["configuration reloaded (generation 1): sockets added: b"],
            &mut seen,
        );
        wait_line(&rx, &["socket b:", "-> Available"], &mut seen);
        let bad =
            socket("c", "gw", 3, "generic-socket", "").replace("unit_id = 3", "unit_id = 300");
        site_file(dir.path(), &(tcp_bus("gw", addr, "") + &a + &b + &bad));
        sighup();
        wait_line(&rx, &["reload refused"], &mut seen);
        wait_line(&rx, &["socket[2].unit_id"], &mut seen);
    });
    // Still running on the old configuration: a fault on b is seen and logged.
    sim.control("gw", 2, Command::Fault { code: 5 }).unwrap();
    tokio::task::block_in_place(|| wait_line(&rx, &["socket b:", "-> Faulted"], &mut seen));
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::task::block_in_place(|| child.wait().unwrap());
    assert!(status.success(), "{status:?}");
    sim.shutdown().await;
}

/// Rewrites the site file at `path` to keep its state in `dir` (relative to the file).
fn with_state_dir(path: &Path, dir: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.replace("directory = \"state\"", &format!("directory = \"{dir}\""));
    std::fs::write(path, text).unwrap();
}

/// A site file with socket a of the simulated gateway, in a directory of its own.
async fn file_with_socket_a(sim: &socket_sim::Sim) -> (tempfile::TempDir, PathBuf) {
    let addr = two_sockets(sim).await;
    let dir = tempfile::tempdir().unwrap();
    let path = site_file(dir.path(), &(tcp_bus("gw", addr, "") + &socket_a()));
    (dir, path)
}

/// SIGTERM to a `sitegate run`: it stops cleanly (its log so far in the failure message).
fn stop_run(mut child: std::process::Child, seen: &[String]) {
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let status = tokio::task::block_in_place(|| child.wait().unwrap());
    assert!(status.success(), "{status:?}\n{}", seen.join("\n"));
}

/// `sitegate run` on `path`, logging at info to a pipe (read by `lines`).
fn spawn_run(path: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_sitegate"))
        .arg("run")
        .arg("--config")
        .arg(path)
        .env("RUST_LOG", "info")
        .env_remove("JOURNAL_STREAM")
        .env_remove("NOTIFY_SOCKET")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_file_that_cannot_start_is_refused_and_the_process_runs_on_the_previous_one() {
    let sim = sim(false);
    let (dir, path) = file_with_socket_a(&sim).await;
    let mut child = spawn_run(&path);
    let pid = child.id() as libc::pid_t;
    let rx = lines(&mut child);
    let mut seen = Vec::new();
    tokio::task::block_in_place(|| {
        wait_line(&rx, &["socket a:", "-> Available"], &mut seen);
        // Valid, but its state directory is a file: the database cannot be opened.
        std::fs::write(dir.path().join("blocked"), "not a directory").unwrap();
        with_state_dir(&path, "blocked");
        assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
        wait_line(
            &rx,
            &["cannot start on the new configuration", "blocked"],
            &mut seen,
        );
    });
    // The previous daemon polls again: a fault on a is seen and logged.
    sim.control("gw", 1, Command::Fault { code: 7 }).unwrap();
    tokio::task::block_in_place(|| wait_line(&rx, &["socket a:", "-> Faulted"], &mut seen));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process ended:\n{}",
        seen.join("\n")
    );
    stop_run(child, &seen);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_neither_the_new_nor_the_previous_file_can_start_the_previous_one_is_tried_again() {
    let sim = sim(false);
    let (mut supervisor, addr, dir) = supervised_a(&sim).await;
    let state = dir.path().join("state");
    let away = dir.path().join("state.away");
    // The new file's state directory is a file; and the running one's disk goes away under it
    // (its directory moved, a file in its place): neither can start.
    std::fs::write(dir.path().join("blocked"), "not a directory").unwrap();
    let path = site_file(dir.path(), &(tcp_bus("gw", addr, "") + &socket_a()));
    with_state_dir(&path, "blocked");
    std::fs::rename(&state, &away).unwrap();
    std::fs::write(&state, "not a directory").unwrap();

    match supervisor.reload().await {
        Err(ReloadError::Down { .. }) => {}
        other => panic!("neither configuration can start, got {other:?}"),
    }
    assert!(supervisor.daemon().is_none());
    let refused = match supervisor.status().borrow().last.clone() {
        Some(ReloadOutcome::Refused { problems }) => problems.join("\n"),
        other => panic!("the page shows a refusal, got {other:?}"),
    };
    assert!(refused.contains("cannot start on it"), "{refused}");
    assert!(
        refused.contains("the previous configuration cannot start either"),
        "{refused}"
    );
    let first = supervisor
        .retry_at()
        .expect("the previous one is tried again");
    assert!(first <= tokio::time::Instant::now() + Duration::from_secs(60));
    // Still impossible: the next attempt waits longer (bounded).
    assert!(!supervisor.retry_previous());
    let second = supervisor.retry_at().expect("tried again later");
    assert!(second > first, "the back-off grows");
    assert!(second <= tokio::time::Instant::now() + Duration::from_secs(60));
    assert!(supervisor.down().unwrap().contains("not running"));

    // The disk is back: the next attempt starts the previous configuration.
    std::fs::remove_file(&state).unwrap();
    std::fs::rename(&away, &state).unwrap();
    assert!(supervisor.retry_previous());
    assert!(supervisor.retry_at().is_none());
    wait_snapshot(
        supervisor.daemon().unwrap().snapshot.clone(),
        "a polled again",
        |s| is(s, "a", "Available"),
    )
    .await;
    assert_eq!(supervisor.config().state_dir, state);
    assert!(supervisor.shutdown().await);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_from_the_first_log_line_on_reloads_and_never_kills_the_process() {
    let sim = sim(false);
    let (_dir, path) = file_with_socket_a(&sim).await;
    let mut child = spawn_run(&path);
    let pid = child.id() as libc::pid_t;
    let rx = lines(&mut child);
    let mut seen = Vec::new();
    tokio::task::block_in_place(|| {
        // The first line says the handlers are in place; from then on, SIGHUP after SIGHUP
        // while the daemon starts, says ready and starts polling, until one has reloaded.
        wait_line(&rx, &["starting: site test"], &mut seen);
        let until = std::time::SystemTime::now() + PATIENCE;
        let mut sent = 0;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "SIGHUP {sent} ended the process ({status:?}):\n{}",
                    seen.join("\n")
                );
            }
            assert!(
                std::time::SystemTime::now() < until,
                "no reload after {sent} SIGHUP(s):\n{}",
                seen.join("\n")
            );
            assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
            sent += 1;
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(line) => {
                    let reloaded = line.contains("configuration reloaded");
                    seen.push(line);
                    if reloaded {
                        break;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(e) => panic!("{e} after {sent} SIGHUP(s):\n{}", seen.join("\n")),
            }
        }
        wait_line(&rx, &["socket a:", "-> Available"], &mut seen);
    });
    stop_run(child, &seen);
    sim.shutdown().await;
}
