//! The store on real SQLite files: what survives, what is dropped when the disk is nearly full,
//! how times taken before the clock was set are corrected.

use std::time::Duration;

use rusqlite::Connection;
use sitegate::core::session::{AuthMethod, MeterTrack, Phase, Sample, Session};
use sitegate::core::site::{IdGen, SessionChange};
use sitegate::core::time::Stamp;
use sitegate::store::{self, StoreHandle, StoreSetup, Write};
use tokio::time::Instant;

fn setup(dir: &std::path::Path, reserve_bytes: u64) -> StoreSetup {
    StoreSetup {
        path: dir.join(store::DB_FILE),
        time_zone: chrono_tz::Europe::Paris,
        socket_ids: vec!["p1".into()],
        run_id: "run-1".into(),
        run_start: Instant::now(),
        reserve_bytes,
        max_db_bytes: None,
        updates_cap: 3,
        clock: sitegate::clock::Clock::detect(),
    }
}

fn session(at: Stamp) -> Session {
    Session {
        id: IdGen::new(9).next(at.wall_ms),
        socket: 0,
        identity: Some("user-1".into()),
        auth: AuthMethod::LocalList,
        started: at,
        stopped: None,
        meter_start_wh: Some(100.0),
        meter: MeterTrack::starting_at(Some(100.0)),
        charging: Duration::ZERO,
        idle: Duration::ZERO,
        phase: Phase::Idle,
        stop_reason: None,
        offline: true,
        failed: None,
        samples: 0,
        token: None,
        parent: None,
        tariff_id: None,
        promotion_id: None,
        cost: None,
    }
}

fn sample(s: &Session, seq: u32, at: Stamp) -> Sample {
    Sample {
        session: s.id,
        seq,
        at,
        meter_wh: Some(100.0),
        energy_wh: 0.0,
        power_w: Some(0.0),
        phase: Phase::Idle,
    }
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn on_a_nearly_full_disk_sessions_are_still_recorded_and_samples_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    // A reserve larger than any disk: the guard is always on.
    let (handle, _, thread) = StoreHandle::start(setup(dir.path(), u64::MAX / 2)).unwrap();
    let at = Stamp {
        mono: Instant::now(),
        wall_ms: 1_795_348_800_000,
        trusted: true,
    };
    let s = session(at);
    handle
        .apply(vec![Write::Session {
            session: Box::new(s.clone()),
            change: SessionChange::Started,
            sample: Some(sample(&s, 0, at)),
        }])
        .await
        .unwrap();
    handle
        .apply(vec![Write::Session {
            session: Box::new(s.clone()),
            change: SessionChange::Sampled,
            sample: Some(sample(&s, 1, at)),
        }])
        .await
        .unwrap();
    drop(handle);
    thread.join().unwrap();

    let conn = store::open_reader(&dir.path().join(store::DB_FILE)).unwrap();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM sessions"),
        1,
        "the session is recorded"
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM samples WHERE seq = 1"),
        0,
        "the periodic sample is dropped"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT value FROM counters WHERE name = 'dropped_low_disk'"
        ),
        1
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'fault' AND payload LIKE '%disk_nearly_full%'"
        ),
        1,
        "a fault is raised once"
    );
}

#[tokio::test]
async fn times_taken_before_the_clock_was_set_are_corrected_when_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let setup = setup(dir.path(), 0);
    let run_start = setup.run_start;
    let (handle, _, thread) = StoreHandle::start(setup).unwrap();
    // Booted in 1970: the session starts 10 s after the daemon, at "00:00:20 1970".
    let boot = Stamp {
        mono: run_start + Duration::from_secs(10),
        wall_ms: 20_000,
        trusted: false,
    };
    let s = session(boot);
    handle
        .apply(vec![Write::Session {
            session: Box::new(s.clone()),
            change: SessionChange::Started,
            sample: Some(sample(&s, 0, boot)),
        }])
        .await
        .unwrap();
    // 50 s later NTP sets the clock to 2026-11-22 12:00:00 UTC.
    let synced = Stamp {
        mono: run_start + Duration::from_secs(60),
        wall_ms: 1_795_348_800_000,
        trusted: true,
    };
    handle
        .apply(vec![Write::ClockTrusted { at: synced }])
        .await
        .unwrap();
    drop(handle);
    thread.join().unwrap();

    let conn = store::open_reader(&dir.path().join(store::DB_FILE)).unwrap();
    let (ms, trusted, local): (i64, bool, String) = conn
        .query_row(
            "SELECT started_ms, started_trusted, started_local FROM sessions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((ms, trusted), (1_795_348_800_000 - 50_000, true));
    assert_eq!(
        local, "2026-11-22 12:59:10",
        "local time in Paris, recomputed"
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM samples WHERE trusted = 0"),
        0
    );
}

#[tokio::test]
async fn updates_are_capped_oldest_first_and_counted_while_the_outbox_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, _, thread) = StoreHandle::start(setup(dir.path(), 0)).unwrap();
    let at = Stamp {
        mono: Instant::now(),
        wall_ms: 1_795_348_800_000,
        trusted: true,
    };
    for i in 0..5 {
        let state = if i % 2 == 0 {
            "Charging"
        } else {
            "SuspendedEV"
        };
        handle
            .apply(vec![Write::SocketState {
                socket: 0,
                state: state.into(),
                reason: "test".into(),
                fault: false,
                at,
            }])
            .await
            .unwrap();
    }
    handle
        .apply(vec![Write::SocketState {
            socket: 0,
            state: "Faulted (3)".into(),
            reason: "test".into(),
            fault: true,
            at,
        }])
        .await
        .unwrap();
    drop(handle);
    thread.join().unwrap();
    let conn = store::open_reader(&dir.path().join(store::DB_FILE)).unwrap();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM updates"),
        3,
        "capped at 3"
    );
    assert_eq!(
        count(&conn, "SELECT MIN(seq) FROM updates"),
        3,
        "the oldest went first"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT value FROM counters WHERE name = 'updates_dropped'"
        ),
        2
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM outbox WHERE kind = 'fault'"),
        1,
        "faults are never dropped"
    );
}

#[test]
fn migration_from_an_empty_file_creates_the_schema_and_a_later_open_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(store::DB_FILE);
    std::fs::write(&path, b"").unwrap();
    let (conn, backup) = store::open_writer(&path).unwrap();
    assert!(backup.is_none(), "nothing to back up in an empty file");
    conn.execute(
        "INSERT INTO out_of_service (socket_id, since_ms) VALUES ('p1', 1)",
        [],
    )
    .unwrap();
    drop(conn);
    let (conn, backup) = store::open_writer(&path).unwrap();
    assert!(backup.is_none(), "already at the latest version");
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM out_of_service"), 1);
}

#[tokio::test]
async fn at_the_database_size_limit_samples_stop_and_session_records_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = setup(dir.path(), 40 * 4096);
    s.max_db_bytes = Some(100 * 4096); // 400 kB, of which 160 kB are kept for session records
    let (handle, _, thread) = StoreHandle::start(s).unwrap();
    let t0 = Instant::now();
    let mut ids = IdGen::new(5);
    // Sessions with many samples each, until the limit is near and well past it.
    for n in 0..40 {
        let at = Stamp {
            mono: t0 + Duration::from_secs(n * 100),
            wall_ms: 1_795_348_800_000 + n as i64 * 100_000,
            trusted: true,
        };
        let mut session = session(at);
        session.id = ids.next(at.wall_ms);
        handle
            .apply(vec![Write::Session {
                session: Box::new(session.clone()),
                change: SessionChange::Started,
                sample: None,
            }])
            .await
            .unwrap();
        for seq in 0..100 {
            let at = Stamp {
                wall_ms: at.wall_ms + seq as i64 * 1000,
                ..at
            };
            handle
                .apply(vec![Write::Session {
                    session: Box::new(session.clone()),
                    change: SessionChange::Sampled,
                    sample: Some(sample(&session, seq, at)),
                }])
                .await
                .unwrap();
        }
        session.stopped = Some(at);
        session.stop_reason = Some(sitegate::core::session::StopReason::Unplugged);
        handle
            .apply(vec![Write::Session {
                session: Box::new(session),
                change: SessionChange::Ended,
                sample: None,
            }])
            .await
            .unwrap();
    }
    drop(handle);
    thread.join().unwrap();
    let conn = store::open_reader(&dir.path().join(store::DB_FILE)).unwrap();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM sessions WHERE stopped_ms IS NOT NULL"
        ),
        40,
        "every session recorded, start and end"
    );
    assert!(
        count(
            &conn,
            "SELECT value FROM counters WHERE name = 'dropped_low_disk'"
        ) > 0,
        "samples were dropped near the limit"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'session_ended'"
        ),
        40
    );
}
