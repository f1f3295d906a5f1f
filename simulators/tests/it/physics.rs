//! The physical model and the device timers: energy integration, EV full, setpoint validity,
//! ABB's communication timeout, faults, meter reset, the ground-truth log and the scenario.
//! Time is either stepped by hand (`advance` on frozen units) or tokio's paused clock.

use std::time::Duration;

use crate::common::*;
use socket_sim::{
    ABB_COMM_TIMEOUT_ERROR, Change, Command, Iec61851, Model, SetpointSource, Sim, SimOptions,
    TruthEvent, UnitSpec,
};
use tokio::sync::broadcast;

fn plug(max_a: f64, phases: u8, wants_wh: f64) -> Command {
    Command::Plug {
        vehicle_max_a: max_a,
        phases,
        wants_wh,
    }
}

fn drain(rx: &mut broadcast::Receiver<TruthEvent>) -> Vec<TruthEvent> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

async fn alfen(sim: &Sim) -> std::net::SocketAddr {
    serve_tcp(sim, "a", vec![UnitSpec::new(200, Model::AlfenNg9xx)]).await
}

#[tokio::test]
async fn energy_integrates_until_the_vehicle_is_full() {
    let sim = frozen_sim();
    alfen(&sim).await;
    let mut rx = sim.subscribe();
    // Safe current 6 A × 230 V × 3 phases = 4,140 W.
    sim.control("a", 1, plug(16.0, 3, 1_000.0)).unwrap();
    sim.control("a", 1, Command::Advance { ms: 60_000 })
        .unwrap();
    let t = sim.truth("a", 1).unwrap();
    assert_eq!(t.power_w, 4_140.0);
    assert!((t.energy_wh - 69.0).abs() < 1e-9, "{}", t.energy_wh);

    sim.control("a", 1, Command::Advance { ms: 3_540_000 })
        .unwrap();
    let t = sim.truth("a", 1).unwrap();
    assert!((t.energy_wh - 1_000.0).abs() < 1e-6);
    assert_eq!(
        (t.power_w, t.plugged, t.state),
        (0.0, true, Some(Iec61851::B2)),
        "SuspendedEV"
    );
    assert!(t.vehicle.unwrap().full);

    // The state changed at the exact instant the vehicle had its 1,000 Wh: 869.565 s.
    let full_at = drain(&mut rx)
        .into_iter()
        .find(|e| {
            e.change
                == Change::State {
                    state: Some(Iec61851::B2),
                }
        })
        .unwrap()
        .clock_ms;
    assert_eq!(full_at, 869_565);

    sim.control("a", 1, Command::MeterReset).unwrap();
    assert_eq!(sim.truth("a", 1).unwrap().energy_wh, 0.0);
    sim.control("a", 2, plug(32.0, 3, 100.0)).unwrap();
    sim.control("a", 2, Command::EvFull).unwrap();
    assert_eq!(sim.truth("a", 2).unwrap().state, Some(Iec61851::B2));
}

#[tokio::test]
async fn alfen_setpoint_lapses_to_the_safe_current() {
    let sim = frozen_sim();
    let addr = alfen(&sim).await;
    let mut c = tcp_client(addr, 1).await;
    sim.control("a", 1, plug(32.0, 3, 100_000.0)).unwrap();
    write_regs(&mut c, 1210, &f32_words(16.0)).await.unwrap();
    let mut rx = sim.subscribe();

    sim.control("a", 1, Command::Advance { ms: 59_000 })
        .unwrap();
    let t = sim.truth("a", 1).unwrap();
    assert_eq!(
        (t.setpoint_a, t.setpoint_source),
        (Some(16.0), Some(SetpointSource::Modbus))
    );
    assert_eq!(
        u32_at(&holding(&mut c, 1208, 2).await.unwrap(), 0),
        1,
        "1 s of validity left"
    );

    sim.control("a", 1, Command::Advance { ms: 2_000 }).unwrap();
    let t = sim.truth("a", 1).unwrap();
    assert_eq!(
        (t.setpoint_a, t.setpoint_source),
        (Some(6.0), Some(SetpointSource::Fallback))
    );
    assert_eq!(t.current_a, 6.0);
    // 60 s at 16 A then 1 s at 6 A, three phases.
    let expect = (16.0 * 690.0 * 60.0 + 6.0 * 690.0 * 1.0) / 3600.0;
    assert!(
        (t.energy_wh - expect).abs() < 1e-9,
        "{} vs {expect}",
        t.energy_wh
    );
    let lapse = drain(&mut rx)
        .into_iter()
        .find(|e| {
            matches!(
                e.change,
                Change::Setpoint {
                    source: Some(SetpointSource::Fallback),
                    ..
                }
            )
        })
        .unwrap();
    assert_eq!(lapse.clock_ms, 60_000);
    assert_eq!(t.setpoint_writes, 1);

    // Rewriting it in time keeps it valid.
    write_regs(&mut c, 1210, &f32_words(20.0)).await.unwrap();
    for _ in 0..4 {
        sim.control("a", 1, Command::Advance { ms: 25_000 })
            .unwrap();
        write_regs(&mut c, 1210, &f32_words(20.0)).await.unwrap();
    }
    let t = sim.truth("a", 1).unwrap();
    assert_eq!(
        (t.current_a, t.setpoint_source),
        (20.0, Some(SetpointSource::Modbus))
    );
}

#[tokio::test(start_paused = true)]
async fn abb_stops_when_not_polled() {
    // Not frozen: the tick advances physics on tokio's paused clock.
    let sim = Sim::new(SimOptions::default()).unwrap();
    serve_tcp(&sim, "a", vec![UnitSpec::new(1, Model::AbbTerraAc)]).await;
    sim.control("a", 1, plug(32.0, 3, 100_000.0)).unwrap();
    tokio::time::sleep(Duration::from_secs(59)).await;
    let t = sim.truth("a", 1).unwrap();
    assert_eq!((t.power_w, t.fault), (22_080.0, 0));

    tokio::time::sleep(Duration::from_secs(2)).await;
    let t = sim.truth("a", 1).unwrap();
    assert_eq!(
        (t.power_w, t.fault, t.state),
        (0.0, ABB_COMM_TIMEOUT_ERROR, Some(Iec61851::F))
    );
    assert!(
        (t.energy_wh - 368.0).abs() < 1e-9,
        "60 s at 22,080 W: {}",
        t.energy_wh
    );
    assert_eq!(t.setpoint_a, None);
}

#[tokio::test]
async fn abb_falls_back_to_its_fallback_limit() {
    let sim = frozen_sim();
    let addr = serve_tcp(&sim, "a", vec![UnitSpec::new(1, Model::AbbTerraAc)]).await;
    let mut c = tcp_client(addr, 1).await;
    sim.control("a", 1, plug(32.0, 3, 100_000.0)).unwrap();
    write_regs(&mut c, 0x4109, &[10]).await.unwrap();
    write_regs(&mut c, 0x4106, &[30]).await.unwrap();
    sim.control("a", 1, Command::Advance { ms: 31_000 })
        .unwrap();
    let t = sim.truth("a", 1).unwrap();
    assert_eq!(
        (t.setpoint_a, t.setpoint_source),
        (Some(10.0), Some(SetpointSource::Fallback))
    );
    assert_eq!((t.current_a, t.fault), (10.0, 0));
    // The next poll ends the timeout.
    let w = holding(&mut c, 0x400E, 2).await.unwrap();
    assert_eq!(u32_at(&w, 0), 32_000);
    assert_eq!(
        sim.truth("a", 1).unwrap().setpoint_source,
        Some(SetpointSource::Default)
    );
}

#[tokio::test]
async fn faults_stop_and_clear() {
    let sim = frozen_sim();
    alfen(&sim).await;
    sim.control("a", 1, plug(16.0, 1, 10_000.0)).unwrap();
    assert_eq!(sim.truth("a", 1).unwrap().power_w, 1_380.0);
    sim.control("a", 1, Command::Fault { code: 2 }).unwrap();
    let t = sim.truth("a", 1).unwrap();
    assert_eq!((t.power_w, t.fault, t.state), (0.0, 2, Some(Iec61851::F)));
    sim.control("a", 1, Command::ClearFault).unwrap();
    assert_eq!(sim.truth("a", 1).unwrap().power_w, 1_380.0);
    assert!(
        sim.control("a", 200, plug(16.0, 1, 1.0)).is_err(),
        "the station has no socket"
    );
    assert!(
        sim.control("a", 1, plug(16.0, 1, 1.0)).is_err(),
        "plugged already"
    );
    assert!(
        sim.control("a", 1, Command::SetPower { w: 1.0 }).is_ok(),
        "frozen"
    );
    assert_eq!(sim.truth("a", 1).unwrap().power_w, 1.0);
    sim.control("a", 1, Command::Unfreeze).unwrap();
    assert_eq!(sim.truth("a", 1).unwrap().power_w, 1_380.0);
    assert!(
        sim.control("a", 1, Command::SetPower { w: 1.0 }).is_err(),
        "not frozen"
    );
    assert!(sim.control("b", 1, Command::Unplug).is_err());
}

#[tokio::test]
async fn truth_log_has_one_json_line_per_change() {
    let path = std::env::temp_dir().join(format!("socket-sim-truth-{}.jsonl", std::process::id()));
    let sim = Sim::new(SimOptions {
        truth_log: Some(path.clone()),
        frozen: true,
        ..Default::default()
    })
    .unwrap();
    alfen(&sim).await;
    sim.control("a", 1, plug(16.0, 3, 10_000.0)).unwrap();
    sim.control("a", 1, Command::Advance { ms: 10_000 })
        .unwrap();
    sim.shutdown().await;
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let events: Vec<TruthEvent> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e.change, Change::Plugged { plugged: true, .. }))
    );
    assert!(
        events
            .iter()
            .any(|e| e.change == Change::Power { w: 4_140.0 })
    );
    let last_energy = events.iter().rev().find_map(|e| match e.change {
        Change::Energy { wh } => Some(wh),
        _ => None,
    });
    assert_eq!(
        last_energy.map(f64::floor),
        Some(11.0),
        "4,140 W for 10 s = 11.5 Wh"
    );
}

/// The commands a scenario sent, in order.
async fn scenario_commands(seed: u64) -> Vec<(String, u8, Command)> {
    let sim = Sim::new(SimOptions::default()).unwrap();
    serve_tcp(&sim, "a", vec![UnitSpec::new(200, Model::AlfenNg9xx)]).await;
    serve_tcp(
        &sim,
        "b",
        vec![
            UnitSpec::new(1, Model::GenericSocket),
            UnitSpec::new(2, Model::AbbTerraAc),
        ],
    )
    .await;
    let mut rx = sim.subscribe();
    sim.run_scenario(seed);
    let mut out = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(3600);
    while tokio::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(10)).await;
        for e in drain(&mut rx) {
            if let Change::Command { command } = e.change {
                out.push((e.bus, e.unit, command));
            }
        }
    }
    sim.shutdown().await;
    out
}

#[tokio::test(start_paused = true)]
async fn scenario_is_deterministic_and_lively() {
    let a = scenario_commands(7).await;
    let b = scenario_commands(7).await;
    assert_eq!(a, b);
    let has = |f: fn(&Command) -> bool| a.iter().any(|(_, _, c)| f(c));
    assert!(has(|c| matches!(c, Command::Plug { .. })));
    assert!(has(|c| matches!(c, Command::Unplug)));
    assert!(has(|c| matches!(c, Command::Fault { .. })));
    assert!(has(|c| matches!(c, Command::ClearFault)));
    assert!(has(|c| matches!(c, Command::EvFull)));
    assert!(has(|c| matches!(c, Command::MeterReset)));
    assert_ne!(a, scenario_commands(8).await);
}
