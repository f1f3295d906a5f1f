//! Sessions as central and the portals will see them: recorded with the energy the vehicle
//! received, through restarts and meter resets, with their outbox events.

use std::time::Duration;

use rusqlite::Connection;
use sitegate::store;
use socket_sim::{Command, Model, UnitSpec};

use crate::support::*;

fn db(site: &Site) -> Connection {
    store::open_reader(&site.config.state_dir.join(store::DB_FILE)).unwrap()
}

/// (energy_wh, stop_reason, failed) of the socket's completed sessions, oldest first.
fn completed(conn: &Connection, socket: &str) -> Vec<(f64, String, Option<String>)> {
    conn.prepare("SELECT energy_wh, stop_reason, failed_reason FROM sessions WHERE socket_id = ?1 AND stopped_ms IS NOT NULL ORDER BY started_ms")
        .unwrap()
        .query_map([socket], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn outbox_kinds(conn: &Connection) -> Vec<String> {
    conn.prepare("SELECT kind FROM outbox ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

async fn charge_for(site: &Site, bus: &str, unit: u8, wh: f64) -> f64 {
    site.sim
        .control(
            bus,
            unit,
            Command::Plug {
                vehicle_max_a: 16.0,
                phases: 3,
                wants_wh: 1e6,
            },
        )
        .unwrap();
    let (_, truth) = site
        .wait_agree("s", bus, unit, |_, t| {
            if t.session_wh >= wh {
                Ok(())
            } else {
                Err(format!("{} Wh so far", t.session_wh))
            }
        })
        .await;
    truth.session_wh
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_recorded_with_the_energy_the_vehicle_received() {
    let sim = sim(false);
    let addr = tcp(&sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let site = Site::start(
        sim,
        &(tcp_bus("gw", addr, "")
            + &socket("s", "gw", 1, "generic-socket", "poll_interval = \"200ms\"")),
    );
    site.wait_state("s", "Available").await;
    charge_for(&site, "gw", 1, 30.0).await;
    site.sim.control("gw", 1, Command::Unplug).unwrap();
    let truth_wh = site.sim.truth("gw", 1).unwrap().session_wh;
    site.wait_state("s", "Available").await;
    let conn = db(&site);
    let sessions = completed(&conn, "s");
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(
        (sessions[0].0 - truth_wh).abs() <= 1.0,
        "recorded {} Wh, delivered {truth_wh} Wh",
        sessions[0].0
    );
    assert_eq!(
        (sessions[0].1.as_str(), sessions[0].2.as_deref()),
        ("unplugged", None)
    );
    let kinds = outbox_kinds(&conn);
    assert_eq!(
        kinds.iter().filter(|k| *k == "session_started").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "session_ended").count(),
        1,
        "{kinds:?}"
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_open_at_a_restart_closes_with_power_loss_when_the_vehicle_left() {
    let sim = sim(false);
    let addr = tcp(&sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let mut site = Site::start(
        sim,
        &(tcp_bus("gw", addr, "")
            + &socket("s", "gw", 1, "generic-socket", "poll_interval = \"200ms\"")),
    );
    site.wait_state("s", "Available").await;
    charge_for(&site, "gw", 1, 20.0).await;
    // The daemon stops; meanwhile the vehicle goes on charging a little, then leaves.
    let daemon = site.daemon.take().unwrap();
    assert!(daemon.shutdown(Duration::from_secs(5)).await);
    let before = site.sim.truth("gw", 1).unwrap().session_wh;
    site.wait_agree_truth("gw", 1, |t| t.session_wh >= before + 5.0)
        .await;
    site.sim.control("gw", 1, Command::Unplug).unwrap();
    let truth_wh = site.sim.truth("gw", 1).unwrap().session_wh;

    site.daemon = Some(sitegate::app::daemon::Daemon::start(&site.config).unwrap());
    site.wait_until("the open session closed", |_| {
        completed(&db(&site), "s").len() == 1
    })
    .await;
    let sessions = completed(&db(&site), "s");
    assert_eq!(sessions[0].1, "power_loss");
    assert!(
        (sessions[0].0 - truth_wh).abs() <= 1.0,
        "recorded {} Wh, delivered {truth_wh} Wh",
        sessions[0].0
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meter_reset_during_a_session_loses_no_energy() {
    let sim = sim(false);
    let addr = tcp(&sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let site = Site::start(
        sim,
        &(tcp_bus("gw", addr, "")
            + &socket("s", "gw", 1, "generic-socket", "poll_interval = \"200ms\"")),
    );
    site.wait_state("s", "Available").await;
    let first = charge_for(&site, "gw", 1, 15.0).await;
    site.sim.control("gw", 1, Command::MeterReset).unwrap();
    site.wait_agree_truth("gw", 1, |t| t.session_wh >= first + 15.0)
        .await;
    site.sim.control("gw", 1, Command::Unplug).unwrap();
    let truth_wh = site.sim.truth("gw", 1).unwrap().session_wh;
    site.wait_state("s", "Available").await;
    let sessions = completed(&db(&site), "s");
    // At most one poll interval of energy is unseen around the reset (the register restarts at 0
    // and its first reading already holds what was delivered since).
    assert!(
        (sessions[0].0 - truth_wh).abs() <= 1.0,
        "recorded {} Wh, delivered {truth_wh} Wh",
        sessions[0].0
    );
    site.stop().await;
}
