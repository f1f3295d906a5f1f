//! Bad lines and bad devices: a dead unit does not stall its bus, a TCP link is reopened after
//! a timeout, an RTU line resynchronises after garbage and bad CRCs, exceptions are counted,
//! and setpoints are refreshed before a station forgets them.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use socket_sim::{Command, Model, SetpointSource, UnitSpec};

use crate::support::*;

fn plug(site: &Site, bus: &str, unit: u8) {
    site.sim
        .control(
            bus,
            unit,
            Command::Plug {
                vehicle_max_a: 16.0,
                phases: 1,
                wants_wh: 50_000.0,
            },
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_unit_does_not_stall_the_others_on_its_line() {
    let sim = sim(false);
    let units = (1..=3)
        .map(|u| UnitSpec::new(u, Model::GenericSocket))
        .collect();
    let path = rtu(&sim, "line", units, 115_200).await;
    let mut tables = rtu_bus(
        "line",
        &path,
        115_200,
        "request_timeout = \"100ms\"\nretries = 2\ndead_after = 2",
    );
    for u in 1..=3 {
        tables += &socket(&format!("s{u}"), "line", u, "generic-socket", "");
    }
    let site = Site::start(sim, &tables);
    site.wait_until("all sockets available", |s| {
        s.iter().all(|x| x.view.state.to_string() == "Available")
    })
    .await;
    site.sim
        .control("line", 2, Command::Silence { count: None })
        .unwrap();
    site.wait_state("s2", "NotConnected").await;

    // The live units still answer promptly: a vehicle plugged into each is seen charging.
    let stats = site.daemon().bus_stats[0].1.clone();
    let requests = || site.sim.truth("line", 2).unwrap().requests_received;
    let failures = || stats.devices[1].failures.load(Relaxed);
    let (requests_at_death, failures_at_death) = (requests(), failures());
    plug(&site, "line", 1);
    plug(&site, "line", 3);
    site.wait_state("s1", "Charging").await;
    site.wait_state("s3", "Charging").await;
    // Wait for at least one more attempt at the dead unit: each costs one request, no retries.
    site.wait_until("a retry of the dead unit", |_| {
        failures() > failures_at_death
    })
    .await;
    let (attempts, sent) = (
        failures() - failures_at_death,
        requests() - requests_at_death,
    );
    // One probe may be in flight (sent, not yet failed); with the bus's 2 retries every attempt
    // would cost 3 requests.
    assert!(
        sent <= attempts + 1,
        "{sent} requests for {attempts} attempts at a dead unit"
    );

    site.sim
        .control("line", 2, Command::ClearFaultsInjected)
        .unwrap();
    site.wait_state("s2", "Available").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_link_is_reopened_after_a_timeout() {
    let sim = sim(false);
    let addr = tcp(&sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let tables = tcp_bus("gw", addr, "request_timeout = \"150ms\"\nretries = 1")
        + &socket("s", "gw", 1, "generic-socket", "");
    let site = Site::start(sim, &tables);
    site.wait_state("s", "Available").await;
    let stats = site.daemon().bus_stats[0].1.clone();
    let opened = stats.reconnects.load(Relaxed);
    site.sim
        .control(
            "gw",
            1,
            Command::Slow {
                ms: 400,
                count: Some(1),
            },
        )
        .unwrap();
    site.wait_until("a timeout and a new connection", |_| {
        stats.timeouts.load(Relaxed) >= 1 && stats.reconnects.load(Relaxed) > opened
    })
    .await;
    // The late answer to the old request never confuses the new connection.
    plug(&site, "gw", 1);
    site.wait_state("s", "Charging").await;
    assert_eq!(
        stats.framing_errors.load(Relaxed),
        0,
        "no out-of-step answers after reconnecting"
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtu_line_resynchronises_after_garbage_and_bad_crcs() {
    let sim = sim(false);
    let path = rtu(
        &sim,
        "line",
        vec![
            UnitSpec::new(1, Model::GenericSocket),
            UnitSpec::new(2, Model::GenericSocket),
        ],
        38_400,
    )
    .await;
    let tables = rtu_bus(
        "line",
        &path,
        38_400,
        "request_timeout = \"200ms\"\nretries = 1\ndead_after = 5",
    ) + &socket("a", "line", 1, "generic-socket", "")
        + &socket("b", "line", 2, "generic-socket", "");
    let site = Site::start(sim, &tables);
    site.wait_until("both available", |s| {
        s.iter().all(|x| x.view.state.to_string() == "Available")
    })
    .await;
    let stats = site.daemon().bus_stats[0].1.clone();
    site.sim
        .control(
            "line",
            1,
            Command::Garbage {
                count: Some(2),
                prefix: false,
            },
        )
        .unwrap();
    site.sim
        .control(
            "line",
            2,
            Command::Garbage {
                count: Some(1),
                prefix: true,
            },
        )
        .unwrap();
    site.sim
        .control("line", 2, Command::BadCrc { count: Some(2) })
        .unwrap();
    site.wait_until("framing errors counted", |_| {
        stats.framing_errors.load(Relaxed) >= 2
    })
    .await;
    plug(&site, "line", 1);
    plug(&site, "line", 2);
    site.wait_state("a", "Charging").await;
    site.wait_state("b", "Charging").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_is_counted_and_the_device_stays_connected() {
    let sim = sim(false);
    let addr = tcp(&sim, "abb", vec![UnitSpec::new(1, Model::AbbTerraAc)]).await;
    let site = Site::start(
        sim,
        &(tcp_bus("abb", addr, "") + &socket("w", "abb", 1, "abb-terra-ac", "")),
    );
    site.wait_state("w", "Available").await;
    let stats = site.daemon().bus_stats[0].1.clone();
    site.sim
        .control(
            "abb",
            1,
            Command::Exception {
                code: 4,
                count: Some(2),
            },
        )
        .unwrap();
    site.wait_until("exceptions counted", |_| {
        stats.devices[0].exceptions.load(Relaxed) >= 1
    })
    .await;
    plug(&site, "abb", 1);
    site.wait_state("w", "Charging").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alfen_setpoint_is_rewritten_before_it_lapses() {
    let sim = sim(false);
    // A station whose setpoint lapses after 3 s, and a profile refreshing it every second.
    let station = UnitSpec {
        setpoint_validity: Some(Duration::from_secs(3)),
        ..UnitSpec::new(200, Model::AlfenNg9xx)
    };
    let addr = tcp(&sim, "alfen", vec![station]).await;
    let profile = include_str!("../../config/profiles/alfen-ng9xx.toml")
        .replace("name = \"alfen-ng9xx\"", "name = \"alfen-fast\"")
        .replace("refresh = \"25s\"", "refresh = \"1s\"");
    let mut subscription = sim.subscribe();
    let site_dir = tempfile::tempdir().unwrap();
    std::fs::write(site_dir.path().join("alfen-fast.toml"), profile).unwrap();
    let tables = format!(
        "[profiles]\nfiles = [\"{}\"]\n",
        site_dir.path().join("alfen-fast.toml").display()
    ) + &tcp_bus("alfen", addr, "")
        + &socket("p", "alfen", 1, "alfen-fast", "max_current_a = 20");
    let site = Site::start(sim, &tables);
    // A vehicle charging: the session holds the socket at its 20 A.
    plug(&site, "alfen", 1);
    site.wait_state("p", "Charging").await;
    site.wait_agree("p", "alfen", 1, |_, t| {
        if t.setpoint_writes >= 6 {
            Ok(())
        } else {
            Err(format!("{} writes", t.setpoint_writes))
        }
    })
    .await;
    let truth = site.sim.truth("alfen", 1).unwrap();
    assert_eq!(
        (truth.setpoint_a, truth.setpoint_source),
        (Some(20.0), Some(SetpointSource::Modbus))
    );
    // Once written, the setpoint never fell back to the safe current.
    let mut written = false;
    while let Ok(e) = subscription.try_recv() {
        if let socket_sim::Change::Setpoint { source, .. } = e.change
            && e.unit == 1
        {
            written |= source == Some(SetpointSource::Modbus);
            assert!(
                !(written && source == Some(SetpointSource::Fallback)),
                "lapsed after being written: {e:?}"
            );
        }
    }
    assert!(written);
    site.stop().await;
}
