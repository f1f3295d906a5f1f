//! The installer's tools page (`/installer/tools`, `/api/v1/installer/tools`): every bus's
//! counters and each device's errors, a socket's live decoded registers, the relay test, a bus
//! scan and the uplink connection test. Reads what the bus owners publish (`modbus::tap`) and
//! asks them for scan reads, so a serial line keeps its one master; the relay test goes to the
//! core as a command. Never opens a bus link nor writes SQLite itself.

mod api_doc;
mod html;
mod scan;
mod uplink;

pub use api_doc::{API_PATHS, openapi_paths};
pub use scan::{FoundUnit, SCAN_LIMIT, ScanForm, ScanResult};
pub use uplink::{UPLINK_STEP_LIMIT, UplinkForm, UplinkTestResult};

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::error::WebError;
use super::page::{Ctx, html_page};
use super::state::AppState;
use crate::config::{Config, UplinkConfig};
use crate::core::site::{Command, RELAY_TEST_MAX, refusal_from_view};
use crate::modbus::tap::{BusTap, RegisterReading};
use crate::profile::ProfileSet;
use crate::store::roles::Action;

/// How long the relay test keeps a socket on.
pub const RELAY_TEST_DURATION: Duration = Duration::from_secs(3);

/// What the tools need of the daemon (filled by `daemon::start_web`).
pub struct Tools {
    pub buses: Vec<BusTap>,
    pub profiles: ProfileSet,
    pub uplink: Option<UplinkConfig>,
    pub site_id: String,
    /// When each socket's last relay test ends: a second one meanwhile is refused here, with
    /// its reason, rather than only by the core.
    relay_tests: std::sync::Mutex<std::collections::HashMap<usize, tokio::time::Instant>>,
}

impl Tools {
    /// The counters of socket `socket`'s device on its bus owner.
    pub fn device_stats(&self, socket: usize) -> Option<&crate::modbus::stats::DeviceStats> {
        self.buses.iter().find_map(|b| {
            let d = b.sockets.iter().position(|&i| i == socket)?;
            b.stats.devices.get(d)
        })
    }

    pub fn new(config: &Config, buses: Vec<BusTap>) -> Tools {
        Tools {
            buses,
            profiles: config.profiles.clone(),
            uplink: config.uplink.clone(),
            site_id: config.site.id.clone(),
            relay_tests: Default::default(),
        }
    }

    /// The bus owner serving `socket`, and the socket's position among its devices.
    fn owner_of(&self, socket: usize) -> Option<(&BusTap, usize)> {
        self.buses.iter().find_map(|b| {
            let d = b.sockets.iter().position(|&s| s == socket)?;
            Some((b, d))
        })
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/installer/tools", get(overview_of_buses))
        .route("/api/v1/installer/tools", get(overview_of_buses))
        .route("/installer/tools/registers.js", get(registers_js))
        .route("/installer/tools/sockets/{id}", get(registers))
        .route("/api/v1/installer/tools/sockets/{id}", get(registers))
        .route("/installer/tools/sockets/{id}/relay-test", post(relay_test))
        .route(
            "/api/v1/installer/tools/sockets/{id}/relay-test",
            post(relay_test),
        )
        .route("/installer/tools/buses/{name}/scan", post(scan::scan_bus))
        .route(
            "/api/v1/installer/tools/buses/{name}/scan",
            post(scan::scan_bus),
        )
        .route("/installer/tools/uplink-test", post(uplink::test_uplink))
        .route(
            "/api/v1/installer/tools/uplink-test",
            post(uplink::test_uplink),
        )
}

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

fn overview(app: &AppState) -> Overview {
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

async fn overview_of_buses(State(app): State<AppState>, ctx: Ctx) -> Result<Response, WebError> {
    ctx.require(Action::InstallerConfig)?;
    let o = overview(&app);
    Ok(ctx.reply(
        || {
            let results = html::Results::default();
            html_page(
                StatusCode::OK,
                html::overview(&ctx, &app.inner.site_name, &o, &results),
            )
        },
        || axum::Json(&o),
    ))
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

fn socket_registers(app: &AppState, id: &str) -> Option<(usize, SocketRegisters)> {
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

fn not_found(ctx: &Ctx) -> WebError {
    ctx.not_found(
        ctx.lang
            .pick("no such socket or bus", "prise ou bus inconnu"),
    )
}

async fn registers(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    ctx.require(Action::InstallerConfig)?;
    let (_, r) = socket_registers(&app, &id).ok_or_else(|| not_found(&ctx))?;
    Ok(ctx.reply(
        || {
            let page = html::socket(&ctx, &app.inner.site_name, &r, None);
            html_page(StatusCode::OK, page)
        },
        || axum::Json(&r),
    ))
}

async fn registers_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/registers.js"),
    )
}

// ---- the relay test ----

#[derive(Debug, Clone, Serialize)]
pub struct RelayTestOutcome {
    pub started: bool,
    pub seconds: u64,
    /// Why it was refused, in words.
    pub refused: Option<String>,
}

/// Checks what the published view tells, then asks the core (which checks again).
async fn test_relay(app: &AppState, ctx: &Ctx, index: usize) -> (StatusCode, RelayTestOutcome) {
    let view = app
        .inner
        .sockets
        .borrow()
        .get(index)
        .map(|s| s.view.clone());
    let seconds = RELAY_TEST_DURATION.min(RELAY_TEST_MAX).as_secs();
    let now = tokio::time::Instant::now();
    let running = app
        .inner
        .installer_tools
        .relay_tests
        .lock()
        .ok()
        .and_then(|t| t.get(&index).copied())
        .is_some_and(|until| now < until);
    let refusal = match view.as_ref().and_then(refusal_from_view) {
        None if running => Some(crate::core::site::RelayTestRefusal::Running),
        r => r,
    };
    if let Some(refusal) = refusal {
        log::info!("relay test of socket {index} refused: {refusal}");
        return (
            StatusCode::CONFLICT,
            RelayTestOutcome {
                started: false,
                seconds,
                refused: Some(html::refusal_words(ctx.lang, refusal).to_string()),
            },
        );
    }
    let command = Command::RelayTest {
        socket: index,
        duration: RELAY_TEST_DURATION,
        by: Some(ctx.session.username.clone()),
    };
    if app.inner.commands.send(command).await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            RelayTestOutcome {
                started: false,
                seconds,
                refused: Some(
                    ctx.lang
                        .pick("the site is shutting down", "le site s'arrête")
                        .into(),
                ),
            },
        );
    }
    if let Ok(mut tests) = app.inner.installer_tools.relay_tests.lock() {
        // The core's ticks (1 s) switch it off: a moment more before another may start.
        tests.insert(index, now + RELAY_TEST_DURATION + Duration::from_secs(1));
    }
    log::info!(
        "relay test of socket {index} asked by {}",
        ctx.session.username
    );
    (
        StatusCode::OK,
        RelayTestOutcome {
            started: true,
            seconds,
            refused: None,
        },
    )
}

async fn relay_test(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    ctx.require(Action::InstallerConfig)?;
    let (index, _) = socket_registers(&app, &id).ok_or_else(|| not_found(&ctx))?;
    let (status, outcome) = test_relay(&app, &ctx, index).await;
    if ctx.api {
        return Ok((status, axum::Json(outcome)).into_response());
    }
    // The registers as the test left them, and its outcome.
    let (_, r) = socket_registers(&app, &id).ok_or_else(|| not_found(&ctx))?;
    let page = html::socket(&ctx, &app.inner.site_name, &r, Some(&outcome));
    Ok(html_page(status, page))
}
