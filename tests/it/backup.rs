//! `sitegate backup` while sessions run, `sitegate restore` into a fresh state directory, and a
//! daemon started on the restored database: the sessions are all there, and every event central
//! had not acknowledged is still in the outbox, to be sent again (the SD-card replacement of
//! README's "Recovery").

use std::path::Path;
use std::process::Command as Process;

use socket_sim::Command;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_sitegate");

fn ids(db: &Path, sql: &str) -> Vec<String> {
    let conn = sitegate::store::open_reader(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn sessions(db: &Path) -> Vec<String> {
    ids(db, "SELECT id FROM sessions ORDER BY id")
}

fn outbox(db: &Path) -> Vec<String> {
    ids(db, "SELECT id FROM outbox ORDER BY seq")
}

/// A configuration file for the CLI: the site, its state directory, and the one bus and
/// socket a valid file needs (the CLI opens neither).
fn config_file(dir: &Path, state_dir: &Path) -> std::path::PathBuf {
    let path = dir.join("sitegate.toml");
    let tables = tcp_bus("gw", "127.0.0.1:1".parse().unwrap(), "")
        + &socket("a", "gw", 1, "generic-socket", "");
    std::fs::write(
        &path,
        format!(
            "[site]\nid = \"test\"\nname = \"Test\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \"{}\"\n[web]\nenabled = false\n{tables}",
            state_dir.display()
        ),
    )
    .unwrap();
    path
}

/// `sitegate <command> --config <config> <file>`, run to its end.
fn cli(command: &str, config: &Path, file: &Path) -> std::process::Output {
    Process::new(BIN)
        .args([command, "--config"])
        .arg(config)
        .arg(file)
        .output()
        .unwrap()
}

async fn site(
    sim: &socket_sim::Sim,
    prepare: impl FnOnce(&sitegate::config::Config) + Send + 'static,
) -> Site {
    let addr = crate::reload::two_sockets(sim).await;
    let tables = tcp_bus("gw", addr, "")
        + &socket("a", "gw", 1, "generic-socket", "poll_interval = \"200ms\"")
        + &socket("b", "gw", 2, "generic-socket", "poll_interval = \"200ms\"");
    let sim = sim.clone();
    tokio::task::spawn_blocking(move || Site::start_after(sim, &tables, prepare))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_charging_restores_with_its_sessions_and_unacknowledged_events() {
    let work = tempfile::tempdir().unwrap();
    let sim1 = sim(false);
    let first = site(&sim1, |_| {}).await;
    let db1 = first.config.state_dir.join(sitegate::store::DB_FILE);
    first.wait_state("a", "Available").await;
    first.wait_state("b", "Available").await;
    // One session ends before the backup, one runs through it.
    let plug = Command::Plug {
        vehicle_max_a: 16.0,
        phases: 3,
        wants_wh: 1e6,
    };
    sim1.control("gw", 1, plug.clone()).unwrap();
    first
        .wait_until("a session on a", |s| {
            s.iter().any(|x| x.id == "a" && x.view.session.is_some())
        })
        .await;
    sim1.control("gw", 1, Command::Unplug).unwrap();
    first
        .wait_until("a's session to end", |s| {
            s.iter().any(|x| x.id == "a" && x.view.session.is_none())
        })
        .await;
    sim1.control("gw", 2, plug).unwrap();
    first
        .wait_until("a session on b", |s| {
            s.iter().any(|x| x.id == "b" && x.view.session.is_some())
        })
        .await;

    // The real command, against the live database, while the daemon writes.
    let config = config_file(work.path(), &first.config.state_dir);
    let backups = work.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let out = cli("backup", &config, &backups);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    let backup = made[0].clone();
    let name = backup.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("sitegate-test-") && name.ends_with(".sqlite3"),
        "{name}"
    );

    // A restore over the running daemon's database is refused, and changes nothing.
    let refused = cli("restore", &config, &backup);
    assert_eq!(
        refused.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!db1.with_extension("db.before-restore").exists());

    let saved_sessions = sessions(&backup);
    let saved_outbox = outbox(&backup);
    assert_eq!(saved_sessions.len(), 2, "both sessions are in the backup");
    assert!(
        saved_outbox.len() >= 3,
        "starts and the end wait for central: {saved_outbox:?}"
    );
    first.stop().await;

    // A new SD card: a fresh state directory, the backup restored before the daemon starts.
    let sim2 = sim(false);
    let restore_work = work.path().to_path_buf();
    let backup_for_restore = backup.clone();
    let second = site(&sim2, move |c| {
        let config = config_file(&restore_work, &c.state_dir);
        let out = cli("restore", &config, &backup_for_restore);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    })
    .await;
    let db2 = second.config.state_dir.join(sitegate::store::DB_FILE);
    // The restored site runs: its sockets are polled.
    second.wait_state("a", "Available").await;
    assert_eq!(sessions(&db2), saved_sessions, "no session lost or added");
    let waiting = outbox(&db2);
    for id in &saved_outbox {
        assert!(waiting.contains(id), "event {id} still waits for central");
    }
    second.stop().await;
}

#[test]
fn restore_refuses_a_file_that_is_not_a_sitegate_database() {
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let config = config_file(work.path(), &state);
    let junk = work.path().join("junk.sqlite3");
    std::fs::write(&junk, b"this is not a database, only a few words").unwrap();
    let out = cli("restore", &config, &junk);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a sitegate database"));
    assert!(!state.join(sitegate::store::DB_FILE).exists());
}
