//! Every built-in profile decodes every point as the simulator's ground truth says, over real
//! Modbus TCP and RTU.

use socket_sim::{Command, Model, RelayLink, Truth, UnitSpec};

use crate::support::*;
use sitegate::core::SocketSnapshot;

/// Compares every point the profile provides with the truth.
fn points_agree(s: &SocketSnapshot, t: &Truth, serial: &str) -> Result<(), String> {
    let r = &s.view.readings;
    // Stations report the pilot state; smart sockets a plug sensor; meters neither.
    let has_pilot = matches!(s.profile.as_str(), "alfen-ng9xx" | "abb-terra-ac");
    close("energy Wh", r.energy_wh, Some(t.energy_wh), 0.5)?;
    close("power W", r.power_w, Some(t.power_w), 0.5)?;
    for i in 0..3 {
        close(
            &format!("voltage L{}", i + 1),
            r.voltage_v[i],
            t.voltages_v[i],
            0.05,
        )?;
        close(
            &format!("current L{}", i + 1),
            r.current_a[i],
            t.currents_a[i],
            0.005,
        )?;
    }
    if let Some(state) = t.state.filter(|_| has_pilot) {
        let got = r.vehicle.map(|v| v.name().to_string());
        if got.as_deref() != Some(state.as_str()) {
            return Err(format!(
                "vehicle: sitegate {got:?}, simulator {}",
                state.as_str()
            ));
        }
    }
    if r.plug.is_some() && r.plug != Some(t.plugged) {
        return Err(format!(
            "plug: sitegate {:?}, simulator {}",
            r.plug, t.plugged
        ));
    }
    if (t.fault != 0) != r.fault.is_some() {
        return Err(format!(
            "fault: sitegate {:?}, simulator {}",
            r.fault, t.fault
        ));
    }
    match &r.serial {
        Some(got) if got.eq_ignore_ascii_case(serial) => Ok(()),
        other => Err(format!("serial: sitegate {other:?}, simulator {serial}")),
    }
}

fn charging(sim: &socket_sim::Sim, bus: &str, unit: u8, phases: u8, energy_wh: f64) {
    sim.control(
        bus,
        unit,
        Command::Plug {
            vehicle_max_a: 16.0,
            phases,
            wants_wh: 30_000.0,
        },
    )
    .unwrap();
    sim.control(bus, unit, Command::SetEnergy { wh: energy_wh })
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_socket_over_rtu() {
    let sim = sim(true);
    let path = rtu(
        &sim,
        "line",
        vec![UnitSpec::new(7, Model::GenericSocket).with_serial("SGS-TEST-0007")],
        38_400,
    )
    .await;
    charging(&sim, "line", 7, 3, 123_456.0);
    let site = Site::start(
        sim,
        &(rtu_bus("line", &path, 38_400, "") + &socket("s", "line", 7, "generic-socket", "")),
    );
    // sitegate closes the relay once the socket answers; the vehicle then draws.
    site.wait_state("s", "Charging").await;
    let (_, truth) = site
        .wait_agree("s", "line", 7, |s, t| points_agree(s, t, "SGS-TEST-0007"))
        .await;
    assert!(truth.power_w > 1000.0 && truth.enabled, "{truth:?}");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alfen_station_over_tcp() {
    let sim = sim(true);
    let spec = UnitSpec {
        serial: Some("ACE0012345".into()),
        ..UnitSpec::new(200, Model::AlfenNg9xx)
    };
    let addr = tcp(&sim, "alfen", vec![spec]).await;
    charging(&sim, "alfen", 2, 3, 9_876_543.25);
    let tables = tcp_bus("alfen", addr, "")
        + &socket("left", "alfen", 1, "alfen-ng9xx", "")
        + &socket("right", "alfen", 2, "alfen-ng9xx", "");
    let site = Site::start(sim, &tables);
    let (snap, _) = site
        .wait_agree("right", "alfen", 2, |s, t| points_agree(s, t, "ACE0012345"))
        .await;
    assert_eq!(snap.view.state.to_string(), "Charging");
    site.wait_agree("left", "alfen", 1, |s, t| points_agree(s, t, "ACE0012345"))
        .await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abb_terra_ac_over_tcp() {
    let sim = sim(true);
    let addr = tcp(
        &sim,
        "abb",
        vec![UnitSpec::new(1, Model::AbbTerraAc).with_serial("0A16B2C3D4E5F607")],
    )
    .await;
    charging(&sim, "abb", 1, 1, 4321.0);
    let site = Site::start(
        sim,
        &(tcp_bus("abb", addr, "") + &socket("w", "abb", 1, "abb-terra-ac", "")),
    );
    // The limit sitegate sets (the socket's 16 A) is read back from 0x4022.
    site.wait_agree("w", "abb", 1, |s, t| {
        points_agree(s, t, "0A16B2C3D4E5F607")?;
        close("limit A", s.view.readings.setpoint_a, t.setpoint_a, 0.001)?;
        close("limit set by sitegate", t.setpoint_a, Some(16.0), 0.001)
    })
    .await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdm630_meter_with_relay_module_over_rtu() {
    let sim = sim(true);
    let meter = UnitSpec {
        serial: Some("19283746".into()),
        relay: Some(RelayLink {
            unit: 20,
            channel: 3,
        }),
        ..UnitSpec::new(5, Model::EastronSdm630)
    };
    let path = rtu(
        &sim,
        "line",
        vec![meter, UnitSpec::new(20, Model::GenericRelay)],
        9_600,
    )
    .await;
    charging(&sim, "line", 5, 3, 55_555.0);
    let relay = "relay = { unit_id = 20, channel = 3 }";
    let site = Site::start(
        sim,
        &(rtu_bus("line", &path, 9_600, "request_timeout = \"1s\"")
            + &socket("plain", "line", 5, "eastron-sdm630", relay)),
    );
    // sitegate closes relay channel 3 once the meter and the module answer.
    site.wait_agree("plain", "line", 5, |s, t| {
        points_agree(s, t, "19283746")?;
        match s.view.readings.enabled {
            Some(true) => Ok(()),
            other => Err(format!("relay read back {other:?}")),
        }
    })
    .await;
    assert!(
        site.sim.truth("line", 20).unwrap().relays[3],
        "the module's channel 3 is closed"
    );
    site.stop().await;
}
