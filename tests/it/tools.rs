//! The installer's tools against simulated hardware, without the daemon.

use std::time::Duration;

use sitegate::config::{BusConfig, LinkConfig};
use sitegate::profile::ProfileSet;
use sitegate::tools::{self, WriteAction};
use socket_sim::{Command, Model, UnitSpec};

use crate::support::*;

fn tcp_bus_config(addr: std::net::SocketAddr) -> BusConfig {
    BusConfig {
        name: "t".into(),
        link: LinkConfig::Tcp {
            host: addr.ip().to_string(),
            port: addr.port(),
            multiple_connections: false,
        },
        request_timeout: Duration::from_millis(150),
        retries: 0,
        inter_request_delay: Duration::ZERO,
        dead_after: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_finds_each_unit_and_recognises_its_profile() {
    let sim = sim(true);
    let addr = tcp(
        &sim,
        "gw",
        vec![
            UnitSpec::new(3, Model::GenericSocket),
            UnitSpec::new(7, Model::AbbTerraAc),
            UnitSpec::new(9, Model::EastronSdm630),
        ],
    )
    .await;
    let mut out = Vec::new();
    let found = tools::scan(
        &tcp_bus_config(addr),
        &ProfileSet::builtin(),
        1..=10,
        &mut out,
    )
    .await
    .unwrap();
    let summary: Vec<_> = found
        .iter()
        .map(|f| (f.unit, f.looks_like.first().map(|l| l.0.clone())))
        .collect();
    assert_eq!(
        summary,
        [
            (3, Some("generic-socket".into())),
            (7, Some("abb-terra-ac".into())),
            (9, Some("eastron-sdm630".into()))
        ],
        "{}",
        String::from_utf8_lossy(&out)
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_shows_a_plugged_socket_with_an_open_relay_as_occupied() {
    let sim = sim(true);
    let addr = tcp(&sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    sim.control(
        "gw",
        1,
        Command::Plug {
            vehicle_max_a: 16.0,
            phases: 3,
            wants_wh: 1000.0,
        },
    )
    .unwrap();
    let profiles = ProfileSet::builtin();
    let bus = tcp_bus_config(addr);
    let mut out = Vec::new();
    tools::write(
        &bus,
        profiles.get("generic-socket").unwrap(),
        1,
        0,
        WriteAction::Enable(false),
        &mut out,
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let readings = tools::read(
        &bus,
        profiles.get("generic-socket").unwrap(),
        1,
        0,
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert_eq!(
        (readings.plug, readings.enabled),
        (Some(true), Some(false)),
        "{text}"
    );
    assert!(text.contains("state: Occupied"), "{text}");
    assert!(
        text.contains("voltage_l1") && text.contains(" V"),
        "units shown: {text}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_sets_a_station_current_and_confirms_it() {
    let sim = sim(true);
    let addr = tcp(&sim, "alfen", vec![UnitSpec::new(200, Model::AlfenNg9xx)]).await;
    let profiles = ProfileSet::builtin();
    let mut out = Vec::new();
    let confirmed = tools::write(
        &tcp_bus_config(addr),
        profiles.get("alfen-ng9xx").unwrap(),
        2,
        0,
        WriteAction::SetpointA(13.0),
        &mut out,
    )
    .await
    .unwrap();
    assert!(confirmed, "{}", String::from_utf8_lossy(&out));
    assert_eq!(sim.truth("alfen", 2).unwrap().setpoint_a, Some(13.0));
    sim.shutdown().await;
}
