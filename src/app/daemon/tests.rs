//! Shutdown order against a simulated socket: what the core was handed before the stop is
//! decided and committed before it stops.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use socket_sim::{Command as SimCommand, Model, Sim, SimOptions, TcpOptions, UnitSpec};

use super::*;
use crate::core::site::Command;

/// Longest a condition may take before the test fails; a bound, not an expectation.
const PATIENCE: Duration = Duration::from_secs(20);

/// Waits until `ready` holds, looking at each change of the snapshot.
async fn wait_snapshot(daemon: &Daemon, what: &str, ready: impl Fn(&[SocketSnapshot]) -> bool) {
    let mut rx = daemon.snapshot.clone();
    let waited = tokio::time::timeout(PATIENCE, async {
        while !ready(&rx.borrow_and_update()) {
            rx.changed().await.expect("the core runs");
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "gave up waiting for {what}: {:#?}",
        rx.borrow()
    );
}

/// Waits until `ready` holds, looking again every few milliseconds (for counters).
async fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let waited = tokio::time::timeout(PATIENCE, async {
        while !ready() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "gave up waiting for {what}");
}

/// (stop_reason, stopped) of the socket's sessions, oldest first.
fn sessions(config: &Config, socket: &str) -> Vec<(Option<String>, bool)> {
    let db = crate::store::open_reader(&config.state_dir.join(crate::store::DB_FILE)).unwrap();
    db.prepare(
        "SELECT stop_reason, stopped_ms IS NOT NULL FROM sessions WHERE socket_id = ?1 ORDER BY started_ms",
    )
    .unwrap()
    .query_map([socket], |r| Ok((r.get(0)?, r.get(1)?)))
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vehicle_unplugged_just_before_shutdown_ends_its_session_unplugged_not_by_power_loss() {
    let sim = Sim::new(SimOptions::default()).unwrap();
    let units = vec![
        UnitSpec::new(1, Model::GenericSocket),
        UnitSpec::new(2, Model::GenericSocket),
    ];
    let options = TcpOptions {
        one_request_at_a_time: true,
        ..TcpOptions::default()
    };
    let addr = sim
        .serve_tcp("gw", ([127, 0, 0, 1], 0).into(), units, options)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = |id: &str, unit: u8| {
        format!(
            "[[socket]]\nid = \"{id}\"\nname = \"{id}\"\nbus = \"gw\"\nunit_id = {unit}\nprofile = \"generic-socket\"\nfree = true\npoll_interval = \"200ms\"\n"
        )
    };
    let text = format!(
        "[site]\nid = \"test\"\nname = \"Test\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \"state\"\n[web]\nenabled = false\n[[bus]]\nname = \"gw\"\nkind = \"tcp\"\nhost = \"127.0.0.1\"\nport = {}\n{}{}",
        addr.port(),
        socket("a", 1),
        socket("b", 2)
    );
    let config = crate::config::parse(&text, dir.path()).unwrap();
    let daemon = Daemon::start(&config).unwrap();
    let plug = SimCommand::Plug {
        vehicle_max_a: 16.0,
        phases: 3,
        wants_wh: 1e6,
    };
    sim.control("gw", 1, plug).unwrap();
    wait_snapshot(&daemon, "a charging", |s| {
        s[0].view.state == crate::core::SocketState::Charging && s[0].view.session.is_some()
    })
    .await;

    // The database is busy (another writer holds it, as `sitegate account add` may): the core
    // waits on the commit of its next turn (b taken out of service), and what comes meanwhile
    // queues up behind it, as behind a slow SD card.
    let blocker = rusqlite::Connection::open(config.state_dir.join(crate::store::DB_FILE)).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let busy = Command::SetOutOfService {
        socket: 1,
        out_of_service: true,
    };
    daemon.events.send(Event::Command(busy)).await.unwrap();
    for _ in 0..40 {
        daemon.events.send(Event::Tick).await.unwrap();
    }
    // The vehicle leaves. A device's poll count grows as its poll starts: once it grew by two,
    // a whole poll began after the unplug and its readings are queued for the core.
    sim.control("gw", 1, SimCommand::Unplug).unwrap();
    let stats = daemon.bus_stats[0].1.clone();
    let polls = stats.devices[0].polls.load(Relaxed);
    wait_until("a polled after the unplug", || {
        stats.devices[0].polls.load(Relaxed) >= polls + 2
    })
    .await;

    // SIGTERM: the shutdown stops the inputs and cancels the core, which is still waiting for
    // the disk; then the disk frees up.
    let core = daemon.core.cancel.clone();
    let stopping = tokio::spawn(daemon.shutdown(Duration::from_secs(10)));
    tokio::time::timeout(PATIENCE, core.cancelled())
        .await
        .expect("the core is told to stop");
    blocker.execute_batch("ROLLBACK").unwrap();
    assert!(stopping.await.unwrap(), "stopped within the deadline");

    // At the next start the vehicle is gone: a session still open would end as a power loss.
    let daemon = Daemon::start(&config).unwrap();
    wait_snapshot(&daemon, "a available", |s| {
        s[0].view.state == crate::core::SocketState::Available
    })
    .await;
    assert_eq!(
        sessions(&config, "a"),
        vec![(Some("unplugged".to_string()), true)],
        "the session ended when the vehicle left"
    );
    assert!(daemon.shutdown(Duration::from_secs(10)).await);
    sim.shutdown().await;
}
