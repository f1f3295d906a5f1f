//! What the tools page shows, as values the page and the API render: every bus owner's
//! counters and each device's errors (`Overview`), a socket's decoded registers as of the last
//! poll (`SocketRegisters`), a relay test's outcome. Read from the bus owners' taps, never from
//! a bus.

use std::sync::atomic::Ordering::Relaxed;

use serde::Serialize;

use crate::modbus::tap::RegisterReading;
use crate::web::state::AppState;

// ---- the overview: buses, counters, devices ----

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub buses: Vec<BusView>,
    /// The configured uplink (`None` without `[uplink]`).
    pub uplink: Option<UplinkTarget>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UplinkTarget {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BusView {
    /// The bus's name (scans go to it).
    pub name: String,
    /// The owner's label: the name, or `name/unit` for a parallel TCP connection.
    pub label: String,
    pub link: String,
    pub polls: u64,
    pub requests: u64,
    pub timeouts: u64,
    pub framing_errors: u64,
    pub exceptions: u64,
    pub io_errors: u64,
    pub reconnects: u64,
    pub skipped_polls: u64,
    pub write_failures: u64,
    /// How late 99 % of polls started (ms, bucket bound); `None` before any poll.
    pub lateness_p99_ms: Option<u64>,
    pub devices: Vec<DeviceView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    pub socket: String,
    pub name: String,
    pub unit_id: u8,
    pub profile: String,
    pub polls: u64,
    /// Polls that got no usable answer.
    pub failed_polls: u64,
    /// Exception answers (the device refused a block).
    pub exceptions: u64,
}

pub(super) fn overview(app: &AppState) -> Overview {
    let sockets = app.inner.sockets.borrow().clone();
    let tools = &app.inner.installer_tools;
    let buses = tools
        .buses
        .iter()
        .map(|b| {
            let s = &b.stats;
            let devices = b
                .sockets
                .iter()
                .enumerate()
                .filter_map(|(d, &i)| {
                    let snap = sockets.get(i)?;
                    let ds = s.devices.get(d)?;
                    Some(DeviceView {
                        socket: snap.id.clone(),
                        name: snap.name.clone(),
                        unit_id: snap.unit_id,
                        profile: snap.profile.clone(),
                        polls: ds.polls.load(Relaxed),
                        failed_polls: ds.failures.load(Relaxed),
                        exceptions: ds.exceptions.load(Relaxed),
                    })
                })
                .collect();
            BusView {
                name: b.bus.name.clone(),
                label: b.label.clone(),
                link: b.bus.link.to_string(),
                polls: s.polls.load(Relaxed),
                requests: s.requests.load(Relaxed),
                timeouts: s.timeouts.load(Relaxed),
                framing_errors: s.framing_errors.load(Relaxed),
                exceptions: s.exceptions.load(Relaxed),
                io_errors: s.io_errors.load(Relaxed),
                reconnects: s.reconnects.load(Relaxed),
                skipped_polls: s.skipped_polls.load(Relaxed),
                write_failures: s.write_failures.load(Relaxed),
                lateness_p99_ms: s.lateness_quantile_ms(0.99),
                devices,
            }
        })
        .collect();
    Overview {
        buses,
        uplink: tools.uplink.as_ref().map(|u| UplinkTarget {
            host: u.host.clone(),
            port: u.port,
            tls: u.tls.is_some(),
        }),
    }
}

// ---- a socket's live registers ----

#[derive(Debug, Clone, Serialize)]
pub struct SocketRegisters {
    pub socket: String,
    pub name: String,
    pub bus: String,
    pub unit_id: u8,
    pub profile: String,
    pub state: String,
    /// RFC 3339: when a poll last succeeded; `None` before the first answer.
    pub polled_at: Option<String>,
    pub registers: Vec<RegisterReading>,
}

pub(super) fn socket_registers(app: &AppState, id: &str) -> Option<(usize, SocketRegisters)> {
    let sockets = app.inner.sockets.borrow().clone();
    let index = sockets.iter().position(|s| s.id == id)?;
    let snap = &sockets[index];
    let (tap, device) = app.inner.installer_tools.owner_of(index)?;
    let live = tap.live.device(device).unwrap_or_default();
    Some((
        index,
        SocketRegisters {
            socket: snap.id.clone(),
            name: snap.name.clone(),
            bus: snap.bus.clone(),
            unit_id: snap.unit_id,
            profile: snap.profile.clone(),
            state: snap.view.state.name().to_string(),
            polled_at: live
                .polled_at
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            registers: live.registers.into_values().collect(),
        },
    ))
}

// ---- the relay test ----

#[derive(Debug, Clone, Serialize)]
pub struct RelayTestOutcome {
    pub started: bool,
    pub seconds: u64,
    /// Why it was refused, in words.
    pub refused: Option<String>,
}
