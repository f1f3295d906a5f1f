//! Each model's register encoding, read over real Modbus TCP with tokio-modbus's client and
//! compared with devices.md / docs/generic-socket.md and with the simulator's ground truth.
//! Units are frozen: nothing changes between a control command and the read.

use crate::common::*;
use socket_sim::{Command, Iec61851, Model, RelayLink, SetpointSource, UnitSpec};
use tokio_modbus::prelude::*;

fn plug(max_a: f64, phases: u8, wants_wh: f64) -> Command {
    Command::Plug {
        vehicle_max_a: max_a,
        phases,
        wants_wh,
    }
}

#[tokio::test]
async fn generic_socket_map() {
    let sim = frozen_sim();
    let specs = vec![
        UnitSpec::new(1, Model::GenericSocket).with_serial("SG-TEST-0001"),
        UnitSpec {
            phases: Some(1),
            ..UnitSpec::new(2, Model::GenericSocket)
        },
    ];
    let addr = serve_tcp(&sim, "a", specs).await;
    let mut c = tcp_client(addr, 1).await;

    let w = input(&mut c, 0, 22).await.unwrap();
    assert_eq!(&w[0..4], &[0, 0, 0, 0], "no plug, no fault, 0 W");
    assert_eq!(&w[8..14], &[2300, 2300, 2300, 0, 0, 0]);
    assert_eq!(text(&w[14..22]), "SG-TEST-0001");

    sim.control("a", 1, plug(10.0, 3, 50_000.0)).unwrap();
    assert_eq!(
        input(&mut c, 0, 4).await.unwrap(),
        vec![1, 0, 0, 0],
        "relay open: no power"
    );
    write_coil(&mut c, 0, true).await.unwrap();
    assert_eq!(
        tokio::time::timeout(TIMEOUT, c.read_coils(0, 1))
            .await
            .unwrap()
            .unwrap(),
        Ok(vec![true])
    );
    sim.control("a", 1, Command::SetEnergy { wh: 12_345.9 })
        .unwrap();
    let w = input(&mut c, 0, 22).await.unwrap();
    let truth = sim.truth("a", 1).unwrap();
    assert_eq!(truth.power_w, 6_900.0);
    assert_eq!(u32_at(&w, 2) as i32, 6_900);
    assert_eq!(u64_at(&w, 4), 12_345, "energy truncated to whole Wh");
    assert!((truth.energy_wh - 12_345.9).abs() < 1e-9);
    assert_eq!(&w[11..14], &[1000, 1000, 1000]);
    assert_eq!(truth.state, Some(Iec61851::C2));
    assert_eq!(truth.setpoint_writes, 1);

    sim.control("a", 1, Command::Fault { code: 3 }).unwrap();
    let w = input(&mut c, 0, 4).await.unwrap();
    assert_eq!(&w[..4], &[1, 3, 0, 0]);
    assert_eq!(sim.truth("a", 1).unwrap().state, Some(Iec61851::F));

    assert_eq!(
        holding(&mut c, 0, 1).await,
        Err(ExceptionCode::IllegalFunction)
    );
    assert_eq!(
        input(&mut c, 20, 4).await,
        Err(ExceptionCode::IllegalDataAddress)
    );

    c.set_slave(Slave(2));
    let w = input(&mut c, 8, 6).await.unwrap();
    assert_eq!(
        w,
        vec![2300, 0xFFFF, 0xFFFF, 0, 0xFFFF, 0xFFFF],
        "single phase: L2/L3 unavailable"
    );
}

#[tokio::test]
async fn sdm630_and_relay_module_map() {
    let sim = frozen_sim();
    let specs = vec![
        UnitSpec::new(10, Model::GenericRelay),
        UnitSpec {
            relay: Some(RelayLink {
                unit: 10,
                channel: 0,
            }),
            ..UnitSpec::new(1, Model::EastronSdm630).with_serial("12345678")
        },
    ];
    let addr = serve_tcp(&sim, "a", specs).await;
    let mut meter = tcp_client(addr, 1).await;
    let mut relay = tcp_client(addr, 10).await;

    sim.control("a", 1, plug(16.0, 3, 50_000.0)).unwrap();
    let di = tokio::time::timeout(TIMEOUT, relay.read_discrete_inputs(0, 8))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(di.unwrap()[..2], [true, false], "channel 0 senses the plug");
    let w = input(&mut meter, 0x0034, 2).await.unwrap();
    assert_eq!(f32_at(&w, 0), 0.0, "relay open");

    write_coil(&mut relay, 0, true).await.unwrap();
    sim.control("a", 1, Command::SetEnergy { wh: 1_500.0 })
        .unwrap();
    let w = input(&mut meter, 0, 80).await.unwrap();
    assert_eq!([f32_at(&w, 0), f32_at(&w, 2), f32_at(&w, 4)], [230.0; 3]);
    assert_eq!([f32_at(&w, 6), f32_at(&w, 8), f32_at(&w, 10)], [16.0; 3]);
    assert_eq!(f32_at(&w, 0x0C), 3_680.0);
    assert_eq!(f32_at(&w, 0x34), 11_040.0, "total system power (W)");
    assert_eq!(f32_at(&w, 0x46), 50.0);
    assert_eq!(f32_at(&w, 0x48), 1.5, "import energy in kWh");
    let truth = sim.truth("a", 1).unwrap();
    assert_eq!((truth.power_w, truth.energy_wh), (11_040.0, 1_500.0));
    assert_eq!(f32_at(&input(&mut meter, 0x0156, 2).await.unwrap(), 0), 1.5);
    assert_eq!(
        u32_at(&holding(&mut meter, 0xFC00, 2).await.unwrap(), 0),
        12_345_678
    );

    assert_eq!(
        input(&mut meter, 0, 82).await,
        Err(ExceptionCode::IllegalDataValue),
        "80 at most"
    );
    assert_eq!(
        input(&mut meter, 0x0049, 2).await,
        Err(ExceptionCode::IllegalDataAddress),
        "pairs"
    );
    assert_eq!(
        input(&mut meter, 0x0200, 2).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
    assert_eq!(
        holding(&mut meter, 0x0048, 2).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
    let coils = tokio::time::timeout(TIMEOUT, meter.read_coils(0, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(coils, Err(ExceptionCode::IllegalFunction));
    assert_eq!(
        input(&mut relay, 0, 1).await,
        Err(ExceptionCode::IllegalFunction)
    );
    let far = tokio::time::timeout(TIMEOUT, relay.read_coils(7, 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(far, Err(ExceptionCode::IllegalDataAddress), "8 channels");
}

#[tokio::test]
async fn abb_terra_ac_map() {
    let sim = frozen_sim();
    let addr = serve_tcp(&sim, "a", vec![UnitSpec::new(3, Model::AbbTerraAc)]).await;
    let mut c = tcp_client(addr, 3).await;

    assert_eq!(
        holding(&mut c, 0x400C, 2).await.unwrap(),
        vec![0x0000, 0x8000],
        "idle"
    );
    assert_eq!(
        input(&mut c, 0x400C, 2).await.unwrap(),
        vec![0x0000, 0x8000],
        "function 4 too"
    );
    let all = holding(&mut c, 0x4000, 37).await.unwrap();
    assert_eq!(
        &all[0..4],
        &[0x0216, 0x0100, 0x141A, 0x0003],
        "serial bytes"
    );
    assert_eq!(u32_at(&all, 4), 0x0106_0500, "firmware 1.6.5");
    assert_eq!(u32_at(&all, 6), 32_000);
    assert_eq!(all[0x20], 60, "communication timeout read-back");
    assert_eq!(all[0x24], 0xFF, "no fallback");

    sim.control("a", 3, plug(32.0, 3, 50_000.0)).unwrap();
    assert_eq!(
        holding(&mut c, 0x400C, 2).await.unwrap(),
        vec![0, 0x0400],
        "C2 at the limit"
    );
    write_regs(&mut c, 0x4100, &[0, 16_000]).await.unwrap();
    let w = holding(&mut c, 0x4000, 37).await.unwrap();
    assert_eq!(
        u32_at(&w, 0x0A),
        0x0111,
        "cable in station and vehicle, locked"
    );
    assert_eq!(u32_at(&w, 0x0E), 16_000);
    assert_eq!(u32_at(&w, 0x10), 16_000);
    assert_eq!(u32_at(&w, 0x16), 2300);
    assert_eq!(u32_at(&w, 0x1C), 11_040);
    assert_eq!(u32_at(&w, 0x22), 16_000);
    let t = sim.truth("a", 3).unwrap();
    assert_eq!(
        (t.setpoint_a, t.setpoint_source),
        (Some(16.0), Some(SetpointSource::Modbus))
    );

    sim.control("a", 3, Command::Unplug).unwrap();
    sim.control("a", 3, plug(10.0, 1, 50_000.0)).unwrap();
    assert_eq!(
        holding(&mut c, 0x400C, 2).await.unwrap(),
        vec![0, 0x8400],
        "below the limit"
    );
    // Unpolled for an hour, the wallbox would time out after 60 s: stretch the timeout first.
    write_regs(&mut c, 0x4106, &[65_535]).await.unwrap();
    sim.control("a", 3, Command::Advance { ms: 3_600_000 })
        .unwrap();
    assert_eq!(
        u32_at(&holding(&mut c, 0x401E, 2).await.unwrap(), 0),
        2_300,
        "session Wh"
    );
    sim.control("a", 3, Command::Unplug).unwrap();
    sim.control("a", 3, plug(10.0, 1, 50_000.0)).unwrap();
    assert_eq!(
        u32_at(&holding(&mut c, 0x401E, 2).await.unwrap(), 0),
        0,
        "restarts on plug-in"
    );
    assert_eq!(sim.truth("a", 3).unwrap().meter_wh, 2_300.0);

    write_regs(&mut c, 0x4100, &[0, 5_000]).await.unwrap();
    sim.control("a", 3, Command::Advance { ms: 1_000 }).unwrap();
    write_regs(&mut c, 0x4100, &[0, 4_000]).await.unwrap();
    let t = sim.truth("a", 3).unwrap();
    assert_eq!(
        (t.power_w, t.state),
        (0.0, Some(Iec61851::B1)),
        "below 6 A pauses"
    );
    write_regs(&mut c, 0x4105, &[1]).await.unwrap();
    assert_eq!(
        holding(&mut c, 0x400C, 2).await.unwrap(),
        vec![0, 0x0500],
        "session stopped"
    );

    let fc6 = tokio::time::timeout(TIMEOUT, c.write_single_register(0x4100, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fc6, Err(ExceptionCode::IllegalFunction));
    assert_eq!(
        write_regs(&mut c, 0x4100, &[1]).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
    assert_eq!(
        write_regs(&mut c, 0x4106, &[5]).await,
        Err(ExceptionCode::IllegalDataValue)
    );
    assert_eq!(
        holding(&mut c, 0x4100, 2).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
}

#[tokio::test]
async fn alfen_station_and_sockets_map() {
    let sim = frozen_sim();
    let station = UnitSpec::new(200, "alfen-ng9xx".parse().unwrap()).with_serial("ACE0123456");
    let addr = serve_tcp(&sim, "a", vec![station]).await;
    let mut st = tcp_client(addr, 200).await;
    let mut s1 = tcp_client(addr, 1).await;

    assert_eq!(text(&holding(&mut st, 117, 5).await.unwrap()), "Alfen NV");
    assert_eq!(
        text(&holding(&mut st, 157, 11).await.unwrap()),
        "ACE0123456"
    );
    assert_eq!(holding(&mut st, 1105, 1).await.unwrap(), vec![2]);
    assert_eq!(f32_at(&holding(&mut st, 1100, 2).await.unwrap(), 0), 32.0);
    assert_eq!(holding(&mut st, 168, 3).await.unwrap(), vec![2026, 1, 1]);

    assert_eq!(text(&holding(&mut s1, 1201, 5).await.unwrap()), "A");
    sim.control("a", 1, plug(32.0, 3, 50_000.0)).unwrap();
    let w = holding(&mut s1, 1200, 16).await.unwrap();
    assert_eq!(text(&w[1..6]), "C2", "charging at the safe current");
    assert_eq!(f32_at(&w, 6), 6.0);
    assert_eq!(u32_at(&w, 8), 0, "no valid setpoint");
    assert_eq!(w[14], 0);

    write_regs(&mut s1, 1210, &f32_words(16.0)).await.unwrap();
    sim.control("a", 1, Command::Advance { ms: 3_600_000 / 4 })
        .unwrap();
    let w = holding(&mut s1, 1200, 16).await.unwrap();
    assert_eq!(
        f32_at(&w, 6),
        6.0,
        "15 minutes later the 60 s validity is over: safe current"
    );
    assert_eq!(u32_at(&w, 8), 0);
    let t = sim.truth("a", 1).unwrap();
    assert_eq!(t.setpoint_source, Some(SetpointSource::Fallback));

    write_regs(&mut s1, 1210, &f32_words(16.0)).await.unwrap();
    let w = holding(&mut s1, 300, 78).await.unwrap();
    let t = sim.truth("a", 1).unwrap();
    assert_eq!(w[0], 0x03);
    assert_eq!([f32_at(&w, 6), f32_at(&w, 8), f32_at(&w, 10)], [230.0; 3]);
    assert_eq!(
        &w[12..20],
        &[0xFFFF; 8],
        "reserved registers inside the read"
    );
    assert_eq!(f32_at(&w, 20), 16.0);
    assert_eq!(f32_at(&w, 44), 11_040.0);
    assert_eq!(f64_at(&w, 74), t.energy_wh, "f64 energy sum, exact");
    assert_eq!(
        f64_at(&w, 62) + f64_at(&w, 66) + f64_at(&w, 70),
        t.energy_wh
    );
    let w = holding(&mut s1, 1206, 10).await.unwrap();
    assert_eq!(u32_at(&w, 2), 60, "validity left (s)");
    assert_eq!(f32_at(&w, 4), 16.0);
    assert_eq!(f32_at(&w, 6), 6.0, "safe current");
    assert_eq!(w[8], 1, "setpoint accounted for");

    let fc6 = tokio::time::timeout(TIMEOUT, s1.write_single_register(1210, 0))
        .await
        .unwrap()
        .unwrap();
    assert!(fc6.is_err(), "1210 needs function 16");
    let ph = tokio::time::timeout(TIMEOUT, s1.write_single_register(1215, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ph, Ok(()));
    assert_eq!(sim.truth("a", 1).unwrap().power_w, 3_680.0, "one phase");
    let bad = tokio::time::timeout(TIMEOUT, s1.write_single_register(1215, 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bad, Err(ExceptionCode::IllegalDataValue));
    assert_eq!(
        input(&mut s1, 300, 2).await,
        Err(ExceptionCode::IllegalFunction)
    );
    assert_eq!(
        holding(&mut s1, 0, 10).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
    assert_eq!(
        write_regs(&mut s1, 1212, &f32_words(10.0)).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
    assert_eq!(
        holding(&mut s1, 300, 126).await,
        Err(ExceptionCode::IllegalDataValue),
        "125 at most"
    );
}

#[tokio::test]
async fn plain_4_map() {
    let sim = frozen_sim();
    let addr = serve_tcp(&sim, "a", vec![UnitSpec::new(4, Model::Plain4)]).await;
    let mut c = tcp_client(addr, 4).await;

    assert_eq!(holding(&mut c, 0, 4).await.unwrap(), vec![0, 0, 0, 0], "A");
    sim.control("a", 4, plug(32.0, 3, 50_000.0)).unwrap();
    sim.control("a", 4, Command::SetEnergy { wh: 70_000.9 })
        .unwrap();
    let w = holding(&mut c, 0, 4).await.unwrap();
    let truth = sim.truth("a", 4).unwrap();
    assert_eq!(
        truth.state,
        Some(Iec61851::C2),
        "no control: charges at once"
    );
    assert_eq!(truth.power_w, 11_040.0, "16 A rating, 3 phases");
    assert_eq!(u32_at(&w, 0), 70_000, "energy truncated to whole Wh");
    assert_eq!(&w[2..4], &[11_040, 4], "power, state C2");

    sim.control("a", 4, Command::Advance { ms: 3_600_000 })
        .unwrap();
    let w = holding(&mut c, 0, 4).await.unwrap();
    assert_eq!(u32_at(&w, 0), 81_040, "an hour at 11,040 W");
    sim.control("a", 4, Command::EvFull).unwrap();
    assert_eq!(&holding(&mut c, 2, 2).await.unwrap(), &[0, 2], "B2");
    sim.control("a", 4, Command::Fault { code: 1 }).unwrap();
    assert_eq!(holding(&mut c, 3, 1).await.unwrap(), vec![6], "F");

    assert_eq!(
        input(&mut c, 0, 4).await,
        Err(ExceptionCode::IllegalFunction)
    );
    assert_eq!(
        holding(&mut c, 2, 3).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
}
