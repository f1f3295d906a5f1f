//! The installer's tools page (`/installer/tools`, `/api/v1/installer/tools`): every bus's
//! counters and each device's errors, a socket's live decoded registers, the relay test, a bus
//! scan and the uplink connection test. Reads what the bus owners publish (`modbus::tap`) and
//! asks them for scan reads, so a serial line keeps its one master; the relay test goes to the
//! core as a command. `view` holds what the page and the API render, `html` the page; the scan
//! and the uplink test, shown on this page, are modules of their own (`scan`, `uplink`). Never opens a bus link nor writes SQLite itself.

mod html;
mod scan;
mod uplink;
mod view;

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::config::{Config, UplinkConfig};
use crate::core::site::{Command, RELAY_TEST_MAX, refusal_from_view};
use crate::modbus::tap::BusTap;
use crate::profile::ProfileSet;
use crate::store::roles::Action;
use crate::web::error::WebError;
use crate::web::page::{Ctx, html_page};
use crate::web::state::AppState;

use view::{RelayTestOutcome, overview, socket_registers};

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
