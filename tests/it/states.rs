//! Each socket state transition, as a manager would see it, with the simulator's physics
//! running: plug in, charge, vehicle full, unplug, fault, out of service, unreachable.

use socket_sim::{Command as Sim, Model, UnitSpec};

use crate::support::*;
use sitegate::core::site::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart_socket_life_cycle() {
    let sim = sim(false);
    let path = rtu(
        &sim,
        "line",
        vec![UnitSpec::new(1, Model::GenericSocket)],
        115_200,
    )
    .await;
    let site = Site::start(
        sim,
        &(rtu_bus("line", &path, 115_200, "") + &socket("s", "line", 1, "generic-socket", "")),
    );
    let ctl = |c: Sim| site.sim.control("line", 1, c).unwrap();

    site.wait_state("s", "Available").await;
    ctl(Sim::Plug {
        vehicle_max_a: 16.0,
        phases: 3,
        wants_wh: 50_000.0,
    });
    let charging = site.wait_state("s", "Charging").await;
    assert!(charging.view.readings.power_w.unwrap() > 1000.0);
    ctl(Sim::EvFull);
    site.wait_state("s", "SuspendedEV").await;
    ctl(Sim::Unplug);
    site.wait_state("s", "Available").await;
    ctl(Sim::Fault { code: 2 });
    let faulted = site.wait_state("s", "Faulted (2)").await;
    assert_eq!(
        faulted.view.readings.fault.as_deref(),
        Some("2"),
        "the device's code"
    );
    ctl(Sim::ClearFault);
    site.wait_state("s", "Available").await;
    ctl(Sim::Silence { count: None });
    site.wait_state("s", "NotConnected").await;
    ctl(Sim::ClearFaultsInjected);
    site.wait_state("s", "Available").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_service_switches_the_station_off_and_survives_a_restart() {
    let sim = sim(false);
    let addr = tcp(&sim, "alfen", vec![UnitSpec::new(200, Model::AlfenNg9xx)]).await;
    let tables = tcp_bus("alfen", addr, "") + &socket("p1", "alfen", 1, "alfen-ng9xx", "");
    let mut site = Site::start(sim, &tables);
    site.sim
        .control(
            "alfen",
            1,
            Sim::Plug {
                vehicle_max_a: 32.0,
                phases: 3,
                wants_wh: 50_000.0,
            },
        )
        .unwrap();
    site.wait_state("p1", "Charging").await;

    site.daemon()
        .commands
        .send(Command::SetOutOfService {
            socket: 0,
            out_of_service: true,
        })
        .await
        .unwrap();
    site.wait_state("p1", "Disabled").await;
    site.wait_agree("p1", "alfen", 1, |_, t| {
        if t.power_w == 0.0 {
            Ok(())
        } else {
            Err(format!("still {} W", t.power_w))
        }
    })
    .await;

    // Restart the daemon: the socket stays out of service, and the station stays off.
    let daemon = site.daemon.take().unwrap();
    assert!(daemon.shutdown(std::time::Duration::from_secs(5)).await);
    site.daemon = Some(sitegate::app::daemon::Daemon::start(&site.config).unwrap());
    site.wait_state("p1", "Disabled").await;
    let truth = site.sim.truth("alfen", 1).unwrap();
    assert_eq!(
        truth.setpoint_a,
        Some(0.0),
        "0 A keeps the station paused: {truth:?}"
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_accepting_several_connections_gets_one_per_socket() {
    let sim = sim(false);
    let any: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let opts = socket_sim::TcpOptions {
        max_connections: Some(2),
        one_request_at_a_time: true,
        idle_timeout: None,
    };
    let addr = sim
        .serve_tcp(
            "alfen",
            any,
            vec![UnitSpec::new(200, Model::AlfenNg9xx)],
            opts,
        )
        .await
        .unwrap();
    let tables = tcp_bus("alfen", addr, "multiple_connections = true")
        + &socket("left", "alfen", 1, "alfen-ng9xx", "")
        + &socket("right", "alfen", 2, "alfen-ng9xx", "");
    let site = Site::start(sim, &tables);
    let owners: Vec<_> = site
        .daemon()
        .bus_stats
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    assert_eq!(owners, ["alfen/1", "alfen/2"]);
    for unit in [1, 2] {
        site.sim
            .control(
                "alfen",
                unit,
                Sim::Plug {
                    vehicle_max_a: 16.0,
                    phases: 3,
                    wants_wh: 50_000.0,
                },
            )
            .unwrap();
    }
    site.wait_state("left", "Charging").await;
    site.wait_state("right", "Charging").await;
    site.stop().await;
}
