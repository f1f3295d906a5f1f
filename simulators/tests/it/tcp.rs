//! The Modbus TCP transport seen by real clients: unknown units, injected faults, connection
//! limit, closing connections, pipelining with and without one-request-at-a-time.

use std::time::Duration;
use tokio::time::Instant;

use crate::common::*;
use socket_sim::{Command, Model, TcpOptions, UnitSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_modbus::prelude::*;

fn sockets() -> Vec<UnitSpec> {
    vec![
        UnitSpec::new(1, Model::GenericSocket),
        UnitSpec::new(2, Model::GenericSocket),
    ]
}

#[tokio::test]
async fn unknown_unit_gets_gateway_exception() {
    let sim = frozen_sim();
    let addr = serve_tcp(&sim, "a", sockets()).await;
    let mut c = tcp_client(addr, 7).await;
    assert_eq!(
        input(&mut c, 0, 1).await,
        Err(ExceptionCode::GatewayTargetDevice)
    );
    c.set_slave(Slave(2));
    assert_eq!(input(&mut c, 0, 1).await, Ok(vec![0]));
    assert_eq!(sim.truth("a", 2).unwrap().requests_served, 1);
}

#[tokio::test]
async fn injected_exception_garbage_slow_and_silence() {
    let sim = frozen_sim();
    let addr = serve_tcp(&sim, "a", sockets()).await;
    let mut c = tcp_client(addr, 1).await;

    sim.control(
        "a",
        1,
        Command::Exception {
            code: 4,
            count: Some(1),
        },
    )
    .unwrap();
    assert_eq!(
        input(&mut c, 0, 1).await,
        Err(ExceptionCode::ServerDeviceFailure)
    );
    assert_eq!(input(&mut c, 0, 1).await, Ok(vec![0]), "count 1: once");

    sim.control(
        "a",
        1,
        Command::Garbage {
            count: Some(1),
            prefix: false,
        },
    )
    .unwrap();
    let r = tokio::time::timeout(TIMEOUT, c.read_input_registers(0, 1))
        .await
        .unwrap();
    assert!(
        r.is_err(),
        "garbage is a transport error for the client: {r:?}"
    );
    // A TCP context is unusable after a bad frame: reconnect, as sitegate does.
    let mut c = tcp_client(addr, 1).await;
    assert_eq!(input(&mut c, 0, 1).await, Ok(vec![0]));

    sim.control(
        "a",
        1,
        Command::Slow {
            ms: 150,
            count: Some(1),
        },
    )
    .unwrap();
    let t0 = Instant::now();
    assert_eq!(input(&mut c, 0, 1).await, Ok(vec![0]));
    assert!(t0.elapsed() >= Duration::from_millis(150));

    sim.control("a", 1, Command::Silence { count: None })
        .unwrap();
    let r = tokio::time::timeout(Duration::from_millis(200), c.read_input_registers(0, 1)).await;
    assert!(r.is_err(), "no answer");
    sim.control("a", 1, Command::ClearFaultsInjected).unwrap();
    // The silenced request reached the unit even though nothing came back.
    eventually(|| sim.truth("a", 1).unwrap().requests_received == 6).await;
    assert_eq!(sim.truth("a", 1).unwrap().requests_served, 3);
    assert!(
        sim.control("a", 1, Command::BadCrc { count: None })
            .is_err(),
        "no CRC on TCP"
    );
}

#[tokio::test]
async fn drop_connections_closes_them() {
    let sim = frozen_sim();
    let addr = serve_tcp(&sim, "a", sockets()).await;
    let mut c = tcp_client(addr, 1).await;
    assert_eq!(input(&mut c, 0, 1).await, Ok(vec![0]));
    sim.control("a", 1, Command::DropConnections).unwrap();
    let r = tokio::time::timeout(TIMEOUT, c.read_input_registers(0, 1))
        .await
        .unwrap();
    assert!(r.is_err(), "closed: {r:?}");
    let mut c = tcp_client(addr, 1).await;
    assert_eq!(input(&mut c, 0, 1).await, Ok(vec![0]));
}

#[tokio::test]
async fn connection_limit_refuses_the_third_master() {
    let sim = frozen_sim();
    let opts = TcpOptions {
        max_connections: Some(2),
        ..Default::default()
    };
    let addr = sim
        .serve_tcp(
            "a",
            "127.0.0.1:0".parse().unwrap(),
            vec![UnitSpec::new(200, Model::AlfenNg9xx)],
            opts,
        )
        .await
        .unwrap();
    let mut a = tcp_client(addr, 1).await;
    let mut b = tcp_client(addr, 2).await;
    assert!(holding(&mut a, 1201, 5).await.is_ok());
    assert!(holding(&mut b, 1201, 5).await.is_ok());
    let mut third = tcp_client(addr, 1).await;
    let r = tokio::time::timeout(TIMEOUT, third.read_holding_registers(1201, 5))
        .await
        .unwrap();
    assert!(r.is_err(), "refused: {r:?}");
    drop(a);
    // The slot frees once the server has seen the close: retry until it has.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut c = tcp_client(addr, 1).await;
        if let Ok(Ok(Ok(_))) =
            tokio::time::timeout(TIMEOUT, c.read_holding_registers(1201, 5)).await
        {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A raw read-input-registers frame for unit 1 with transaction id `tid`.
fn raw_request(tid: u16) -> Vec<u8> {
    let mut f = tid.to_be_bytes().to_vec();
    f.extend_from_slice(&[0, 0, 0, 6, 1, 4, 0, 0, 0, 1]);
    f
}

async fn read_tid(s: &mut TcpStream) -> u16 {
    let mut r = [0u8; 11];
    tokio::time::timeout(TIMEOUT, s.read_exact(&mut r))
        .await
        .unwrap()
        .unwrap();
    u16::from_be_bytes([r[0], r[1]])
}

#[tokio::test]
async fn pipelined_requests_queue_or_drop() {
    let sim = frozen_sim();
    let addr = serve_tcp(&sim, "a", sockets()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[raw_request(1), raw_request(2), raw_request(3)].concat())
        .await
        .unwrap();
    for tid in 1..=3 {
        assert_eq!(read_tid(&mut s).await, tid, "answered in order by default");
    }

    let opts = TcpOptions {
        one_request_at_a_time: true,
        ..Default::default()
    };
    let addr = sim
        .serve_tcp("b", "127.0.0.1:0".parse().unwrap(), sockets(), opts)
        .await
        .unwrap();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[raw_request(1), raw_request(2), raw_request(3)].concat())
        .await
        .unwrap();
    assert_eq!(read_tid(&mut s).await, 1);
    s.write_all(&raw_request(4)).await.unwrap();
    assert_eq!(
        read_tid(&mut s).await,
        4,
        "requests 2 and 3 were dropped, as real devices do"
    );
}
