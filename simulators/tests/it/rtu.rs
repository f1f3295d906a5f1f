//! Modbus RTU on a real PTY, read by tokio-modbus's RTU client: unit filtering, broadcast,
//! injected faults, reopening the line, and the timing emulation (asserted as a lower bound
//! only: a loaded machine may be late, never early).

use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

use crate::common::*;
use socket_sim::{Command, Model, RtuOptions, Sim, UnitSpec};
use tokio_modbus::client::Context;
use tokio_modbus::prelude::*;

fn sockets(n: u8) -> Vec<UnitSpec> {
    (1..=n)
        .map(|u| UnitSpec::new(u, Model::GenericSocket))
        .collect()
}

/// Opens the PTY as a client would: no parity (PTYs refuse it), the emulated speed.
fn open(path: &Path, baud: u32, unit: u8) -> Context {
    let builder = tokio_serial::new(path.to_string_lossy(), baud);
    let port = tokio_serial::SerialStream::open(&builder).unwrap();
    rtu::attach_slave(port, Slave(unit))
}

async fn line(sim: &Sim, bus: &str, baud: u32, units: Vec<UnitSpec>) -> std::path::PathBuf {
    let opts = RtuOptions {
        baud,
        ..Default::default()
    };
    sim.serve_rtu_pty(bus, units, opts).await.unwrap()
}

#[tokio::test]
async fn reads_over_a_pty_and_absent_units_are_silent() {
    let sim = frozen_sim();
    let path = line(&sim, "rs485", 115_200, sockets(3)).await;
    let mut c = open(&path, 115_200, 2);
    let w = input(&mut c, 0, 22).await.unwrap();
    assert_eq!(text(&w[14..22]), "GS-0000000000002");
    assert_eq!(sim.truth("rs485", 2).unwrap().requests_served, 1);

    c.set_slave(Slave(9));
    let r = tokio::time::timeout(Duration::from_millis(300), c.read_input_registers(0, 1)).await;
    assert!(r.is_err(), "no unit 9 on the line: silence");
    drop(c);

    // Closing and reopening the path keeps the line alive.
    let mut c = open(&path, 115_200, 3);
    assert_eq!(input(&mut c, 0, 1).await, Ok(vec![0]));
    let received: u64 = (1..=3)
        .map(|u| sim.truth("rs485", u).unwrap().requests_received)
        .sum();
    assert_eq!(received, 2);
}

#[tokio::test]
async fn broadcast_writes_apply_without_answer() {
    let sim = frozen_sim();
    let path = line(&sim, "rs485", 115_200, sockets(3)).await;
    let mut c = open(&path, 115_200, 0);
    let r = tokio::time::timeout(Duration::from_millis(300), c.write_single_coil(0, true)).await;
    assert!(r.is_err(), "a broadcast is never answered");
    eventually(|| (1..=3).all(|u| sim.truth("rs485", u).unwrap().relays == vec![true])).await;
}

#[tokio::test]
async fn injected_exception_and_bad_crc_reach_the_client() {
    let sim = frozen_sim();
    let path = line(&sim, "rs485", 115_200, sockets(1)).await;
    let mut c = open(&path, 115_200, 1);
    sim.control(
        "rs485",
        1,
        Command::Exception {
            code: 6,
            count: Some(1),
        },
    )
    .unwrap();
    assert_eq!(
        input(&mut c, 0, 1).await,
        Err(ExceptionCode::ServerDeviceBusy)
    );

    sim.control("rs485", 1, Command::BadCrc { count: Some(1) })
        .unwrap();
    let r = tokio::time::timeout(Duration::from_millis(500), c.read_input_registers(0, 1)).await;
    assert!(
        !matches!(r, Ok(Ok(Ok(_)))),
        "a bad CRC must not pass: {r:?}"
    );
    drop(c);
    let mut c = open(&path, 115_200, 1);
    assert_eq!(input(&mut c, 0, 1).await, Ok(vec![0]));
}

#[tokio::test]
async fn responses_take_the_wire_time() {
    let sim = frozen_sim();
    let path = line(&sim, "slow", 9_600, sockets(1)).await;
    let mut c = open(&path, 9_600, 1);
    // 11 bits per character at 9,600 baud: request 8 bytes, t3.5, response 5 + 2 × 10 bytes.
    let tc = 11.0 / 9_600.0;
    let one = Duration::from_secs_f64((8.0 + 3.5 + 25.0) * tc);
    let t0 = Instant::now();
    input(&mut c, 0, 10).await.unwrap();
    assert!(t0.elapsed() >= one, "{:?} < {one:?}", t0.elapsed());

    // Back to back, each transaction also waits for the previous one's closing t3.5.
    let t0 = Instant::now();
    for _ in 0..3 {
        input(&mut c, 0, 10).await.unwrap();
    }
    let three = one * 3 + Duration::from_secs_f64(3.5 * tc) * 3;
    assert!(t0.elapsed() >= three, "{:?} < {three:?}", t0.elapsed());
}
