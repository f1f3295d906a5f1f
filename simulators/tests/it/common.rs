//! Helpers shared by the integration tests: a frozen simulator, tokio-modbus clients with
//! timeouts, register decoding, and waiting for a condition instead of sleeping.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use socket_sim::{Sim, SimOptions, TcpOptions, UnitSpec};
use tokio_modbus::client::Context;
use tokio_modbus::prelude::*;

/// Generous: a loaded 2-core CI machine must not fail a correct simulator.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub fn frozen_sim() -> Sim {
    Sim::new(SimOptions {
        frozen: true,
        ..Default::default()
    })
    .unwrap()
}

pub async fn serve_tcp(sim: &Sim, bus: &str, units: Vec<UnitSpec>) -> SocketAddr {
    sim.serve_tcp(
        bus,
        "127.0.0.1:0".parse().unwrap(),
        units,
        TcpOptions::default(),
    )
    .await
    .unwrap()
}

pub async fn tcp_client(addr: SocketAddr, unit: u8) -> Context {
    tokio::time::timeout(TIMEOUT, tcp::connect_slave(addr, Slave(unit)))
        .await
        .unwrap()
        .unwrap()
}

pub type Reply<T> = Result<T, ExceptionCode>;

/// Holding registers; panics on transport errors and timeouts, returns exceptions.
pub async fn holding(ctx: &mut Context, addr: u16, n: u16) -> Reply<Vec<u16>> {
    tokio::time::timeout(TIMEOUT, ctx.read_holding_registers(addr, n))
        .await
        .unwrap()
        .unwrap()
}

pub async fn input(ctx: &mut Context, addr: u16, n: u16) -> Reply<Vec<u16>> {
    tokio::time::timeout(TIMEOUT, ctx.read_input_registers(addr, n))
        .await
        .unwrap()
        .unwrap()
}

pub async fn write_regs(ctx: &mut Context, addr: u16, words: &[u16]) -> Reply<()> {
    tokio::time::timeout(TIMEOUT, ctx.write_multiple_registers(addr, words))
        .await
        .unwrap()
        .unwrap()
}

pub async fn write_coil(ctx: &mut Context, addr: u16, on: bool) -> Reply<()> {
    tokio::time::timeout(TIMEOUT, ctx.write_single_coil(addr, on))
        .await
        .unwrap()
        .unwrap()
}

pub fn u32_at(w: &[u16], i: usize) -> u32 {
    (u32::from(w[i]) << 16) | u32::from(w[i + 1])
}

pub fn f32_at(w: &[u16], i: usize) -> f32 {
    f32::from_bits(u32_at(w, i))
}

pub fn u64_at(w: &[u16], i: usize) -> u64 {
    (u64::from(u32_at(w, i)) << 32) | u64::from(u32_at(w, i + 2))
}

pub fn f64_at(w: &[u16], i: usize) -> f64 {
    f64::from_bits(u64_at(w, i))
}

pub fn f32_words(v: f32) -> [u16; 2] {
    let b = v.to_bits();
    [(b >> 16) as u16, b as u16]
}

/// ASCII, two characters per register, NUL padding stripped.
pub fn text(w: &[u16]) -> String {
    let bytes: Vec<u8> = w
        .iter()
        .flat_map(|x| x.to_be_bytes())
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// Polls `cond` until it holds (panics after `TIMEOUT`).
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in {TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
