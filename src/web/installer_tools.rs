//! The installer's tools page (`/installer/tools`, `/api/v1/installer/tools`): every bus's
//! counters and each device's errors, a socket's live decoded registers, the relay test, a bus
//! scan and the uplink connection test. Reads what the bus owners publish (`modbus::tap`) and
//! asks them for scan reads, so a serial line keeps its one master; the relay test goes to the
//! core as a command. Never opens a bus link nor writes SQLite itself.

mod api_doc;
mod render;

pub use api_doc::{API_PATHS, openapi_paths};

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::auth::roles::Action;
use super::page::Ctx;
use super::state::AppState;
use crate::config::{Config, UplinkConfig};
use crate::core::site::{Command, RELAY_TEST_MAX, refusal_from_view};
use crate::modbus::frame::{ModbusError, ReadData, ReadRequest};
use crate::modbus::tap::{BusTap, RegisterReading};
use crate::profile::ProfileSet;
use crate::uplink::probe;

/// How long the relay test keeps a socket on.
pub const RELAY_TEST_DURATION: Duration = Duration::from_secs(3);
/// A whole scan stops after this, with what it found so far.
pub const SCAN_LIMIT: Duration = Duration::from_secs(120);
/// Each step of the uplink test.
pub const UPLINK_STEP_LIMIT: Duration = Duration::from_secs(5);

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
        .route("/installer/tools", get(overview_page))
        .route("/api/v1/installer/tools", get(overview_json))
        .route("/installer/tools/registers.js", get(registers_js))
        .route("/installer/tools/sockets/{id}", get(socket_page))
        .route("/api/v1/installer/tools/sockets/{id}", get(socket_json))
        .route(
            "/installer/tools/sockets/{id}/relay-test",
            post(relay_test_page),
        )
        .route(
            "/api/v1/installer/tools/sockets/{id}/relay-test",
            post(relay_test_json),
        )
        .route("/installer/tools/buses/{name}/scan", post(scan_page))
        .route("/api/v1/installer/tools/buses/{name}/scan", post(scan_json))
        .route("/installer/tools/uplink-test", post(uplink_page))
        .route("/api/v1/installer/tools/uplink-test", post(uplink_json))
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
                link: b.link_words(),
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

fn html(status: StatusCode, markup: maud::Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

async fn overview_page(State(app): State<AppState>, ctx: Ctx) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    let o = overview(&app);
    html(
        StatusCode::OK,
        render::overview(&ctx, &app.inner.site_name, &o, &render::Results::default()),
    )
}

async fn overview_json(State(app): State<AppState>, ctx: Ctx) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    axum::Json(overview(&app)).into_response()
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
            polled_at: live.polled_at.map(|t| {
                chrono::DateTime::<chrono::Utc>::from(t)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            }),
            registers: live.registers.into_values().collect(),
        },
    ))
}

fn not_found(ctx: &Ctx) -> Response {
    let message = ctx
        .lang
        .pick("no such socket or bus", "prise ou bus inconnu");
    if ctx.wants_json {
        (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({ "error": message })),
        )
            .into_response()
    } else {
        (StatusCode::NOT_FOUND, Html(format!("<p>{message}</p>"))).into_response()
    }
}

async fn socket_page(State(app): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    match socket_registers(&app, &id) {
        Some((_, r)) => html(
            StatusCode::OK,
            render::socket(&ctx, &app.inner.site_name, &r, None),
        ),
        None => not_found(&ctx),
    }
}

async fn socket_json(State(app): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    match socket_registers(&app, &id) {
        Some((_, r)) => axum::Json(r).into_response(),
        None => not_found(&ctx),
    }
}

async fn registers_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/registers.js"),
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
async fn relay_test(app: &AppState, ctx: &Ctx, index: usize) -> (StatusCode, RelayTestOutcome) {
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
                refused: Some(render::refusal_words(ctx.lang, refusal).to_string()),
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

async fn relay_test_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    let Some((index, _)) = socket_registers(&app, &id) else {
        return not_found(&ctx);
    };
    let (status, outcome) = relay_test(&app, &ctx, index).await;
    let Some((_, r)) = socket_registers(&app, &id) else {
        return not_found(&ctx);
    };
    html(
        status,
        render::socket(&ctx, &app.inner.site_name, &r, Some(&outcome)),
    )
}

async fn relay_test_json(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    let Some((index, _)) = socket_registers(&app, &id) else {
        return not_found(&ctx);
    };
    let (status, outcome) = relay_test(&app, &ctx, index).await;
    (status, axum::Json(outcome)).into_response()
}

// ---- the bus scan ----

/// The scan form, as text (kept to show it back when refused).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScanForm {
    #[serde(default)]
    pub first: String,
    #[serde(default)]
    pub last: String,
    /// Milliseconds per request.
    #[serde(default)]
    pub timeout_ms: String,
}

/// A valid scan request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanRequest {
    pub first: u8,
    pub last: u8,
    pub timeout: Duration,
}

/// A field and what is wrong with it.
pub type FieldErrors = Vec<(&'static str, &'static str)>;

fn parse_scan(form: &ScanForm, lang: super::i18n::Lang) -> Result<ScanRequest, FieldErrors> {
    let mut errors = Vec::new();
    let unit = |text: &str, default: u8| -> Option<u8> {
        let t = text.trim();
        if t.is_empty() {
            return Some(default);
        }
        t.parse::<u8>().ok().filter(|u| (1..=247).contains(u))
    };
    let bad_unit = lang.pick("a unit id from 1 to 247", "un numéro d'esclave de 1 à 247");
    let first = unit(&form.first, 1);
    let last = unit(&form.last, 247);
    if first.is_none() {
        errors.push(("first", bad_unit));
    }
    if last.is_none() {
        errors.push(("last", bad_unit));
    }
    if let (Some(f), Some(l)) = (first, last)
        && f > l
    {
        errors.push((
            "last",
            lang.pick(
                "the last unit id comes after the first",
                "le dernier numéro suit le premier",
            ),
        ));
    }
    let t = form.timeout_ms.trim();
    let timeout_ms = if t.is_empty() {
        Some(200)
    } else {
        t.parse::<u64>().ok().filter(|ms| (10..=5000).contains(ms))
    };
    if timeout_ms.is_none() {
        errors.push((
            "timeout_ms",
            lang.pick("a timeout from 10 to 5000 ms", "un délai de 10 à 5000 ms"),
        ));
    }
    match (first, last, timeout_ms, errors.is_empty()) {
        (Some(first), Some(last), Some(ms), true) => Ok(ScanRequest {
            first,
            last,
            timeout: Duration::from_millis(ms),
        }),
        _ => Err(errors),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanResult {
    pub bus: String,
    pub first: u8,
    pub last: u8,
    pub found: Vec<FoundUnit>,
    /// The time limit stopped the scan before `last`.
    pub incomplete: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FoundUnit {
    pub unit: u8,
    /// Profiles it looks like, most specific first.
    pub profiles: Vec<String>,
    /// What the best match read.
    pub detail: Option<String>,
}

/// Scan reads through the bus owner, each with the scan's timeout.
struct ThroughOwner<'a> {
    tap: &'a BusTap,
    timeout: Duration,
}

impl crate::tools::ProbeLink for ThroughOwner<'_> {
    async fn probe(&mut self, req: &ReadRequest) -> Result<ReadData, ModbusError> {
        match self.tap.read(*req, self.timeout).await {
            Ok(d) => Ok(d),
            Err(crate::modbus::tap::TapError::Modbus(e)) => Err(e),
            Err(e) => Err(ModbusError::Io(std::io::Error::other(e.to_string()))),
        }
    }
}

async fn scan(app: &AppState, bus: &BusTap, req: ScanRequest) -> ScanResult {
    let tools = &app.inner.installer_tools;
    let mut link = ThroughOwner {
        tap: bus,
        timeout: req.timeout,
    };
    let deadline = tokio::time::Instant::now() + SCAN_LIMIT;
    let mut found = Vec::new();
    let mut incomplete = false;
    log::info!(
        "scan of bus {} (units {}..={}) started",
        bus.bus.name,
        req.first,
        req.last
    );
    for unit in req.first..=req.last {
        if tokio::time::Instant::now() >= deadline {
            incomplete = true;
            break;
        }
        if let Some(f) = crate::tools::probe_unit(&mut link, &tools.profiles, unit).await {
            found.push(FoundUnit {
                unit: f.unit,
                profiles: f.looks_like.iter().map(|(p, _)| p.clone()).collect(),
                detail: f.looks_like.first().map(|(_, d)| d.clone()),
            });
        }
    }
    log::info!(
        "scan of bus {}: {} unit(s) answered",
        bus.bus.name,
        found.len()
    );
    ScanResult {
        bus: bus.bus.name.clone(),
        first: req.first,
        last: req.last,
        found,
        incomplete,
    }
}

fn bus_named<'a>(app: &'a AppState, name: &str) -> Option<&'a BusTap> {
    app.inner
        .installer_tools
        .buses
        .iter()
        .find(|b| b.bus.name == name)
}

async fn scan_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    axum::Form(form): axum::Form<ScanForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    let Some(bus) = bus_named(&app, &name) else {
        return not_found(&ctx);
    };
    let mut results = render::Results {
        scan_bus: Some(name.clone()),
        scan_form: form.clone(),
        ..Default::default()
    };
    let status = match parse_scan(&form, ctx.lang) {
        Ok(req) => {
            results.scan = Some(scan(&app, bus, req).await);
            StatusCode::OK
        }
        Err(errors) => {
            results.scan_errors = errors;
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    html(
        status,
        render::overview(&ctx, &app.inner.site_name, &overview(&app), &results),
    )
}

/// The API's scan request: numbers, each optional (1, 247, 200 ms).
#[derive(Debug, Default, Deserialize)]
pub struct ScanJson {
    pub first: Option<u64>,
    pub last: Option<u64>,
    pub timeout_ms: Option<u64>,
}

fn field_errors_json(errors: FieldErrors) -> Response {
    let fields: serde_json::Map<String, serde_json::Value> = errors
        .into_iter()
        .map(|(f, m)| (f.to_string(), serde_json::Value::from(m)))
        .collect();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(serde_json::json!({ "error": "invalid fields", "fields": fields })),
    )
        .into_response()
}

async fn scan_json(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    body: Option<axum::Json<ScanJson>>,
) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    let Some(bus) = bus_named(&app, &name) else {
        return not_found(&ctx);
    };
    let j = body.map(|b| b.0).unwrap_or_default();
    let text = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    let form = ScanForm {
        first: text(j.first),
        last: text(j.last),
        timeout_ms: text(j.timeout_ms),
    };
    match parse_scan(&form, ctx.lang) {
        Ok(req) => axum::Json(scan(&app, bus, req).await).into_response(),
        Err(errors) => field_errors_json(errors),
    }
}

// ---- the uplink connection test ----

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UplinkForm {
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UplinkTestResult {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    #[serde(flatten)]
    pub report: probe::Report,
}

/// The target of the test: the configured uplink, or the host and port the form gives (with
/// the configured TLS settings and credentials).
fn uplink_target(
    tools: &Tools,
    form: &UplinkForm,
    lang: super::i18n::Lang,
) -> Result<(probe::Target, Option<String>), FieldErrors> {
    let mut errors = Vec::new();
    let host = match form.host.trim() {
        "" => tools.uplink.as_ref().map(|u| u.host.clone()),
        h => Some(h.to_string()),
    };
    if host.is_none() {
        errors.push((
            "host",
            lang.pick(
                "no uplink is configured: give a host",
                "aucune liaison configurée : indiquez un hôte",
            ),
        ));
    }
    let port = match form.port.trim() {
        "" => Some(tools.uplink.as_ref().map_or(8883, |u| u.port)),
        p => p.parse::<u16>().ok().filter(|&p| p > 0),
    };
    if port.is_none() {
        errors.push((
            "port",
            lang.pick("a port from 1 to 65535", "un port de 1 à 65535"),
        ));
    }
    let (Some(host), Some(port)) = (host, port) else {
        return Err(errors);
    };
    let mut tls_problem = None;
    let tls = match tools.uplink.as_ref().and_then(|u| u.tls.as_ref()) {
        Some(t) => match crate::uplink::tls::client_config(
            &t.ca_pem,
            t.client.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice())),
        ) {
            Ok(c) => Some(c),
            Err(e) => {
                tls_problem = Some(e.to_string());
                None
            }
        },
        None => None,
    };
    Ok((
        probe::Target {
            host,
            port,
            tls,
            credentials: tools.uplink.as_ref().and_then(|u| u.credentials.clone()),
            client_id: format!("{}-probe", tools.site_id),
        },
        tls_problem,
    ))
}

async fn uplink_test(
    app: &AppState,
    ctx: &Ctx,
    form: &UplinkForm,
) -> Result<UplinkTestResult, FieldErrors> {
    let (target, tls_problem) = uplink_target(&app.inner.installer_tools, form, ctx.lang)?;
    let report = match tls_problem {
        // The configured TLS files are unusable: say so rather than trying plain MQTT.
        Some(p) => probe::Report {
            ok: false,
            steps: vec![probe::Step {
                step: "tls",
                ok: false,
                detail: p,
            }],
        },
        None => probe::probe(&target, UPLINK_STEP_LIMIT).await,
    };
    log::info!(
        "uplink test of {}:{} by {}: {}",
        target.host,
        target.port,
        ctx.session.username,
        if report.ok { "ok" } else { "failed" }
    );
    Ok(UplinkTestResult {
        host: target.host,
        port: target.port,
        tls: target.tls.is_some(),
        report,
    })
}

async fn uplink_page(
    State(app): State<AppState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<UplinkForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::UplinkSettings) {
        return f.into_response();
    }
    let mut results = render::Results {
        uplink_form: form.clone(),
        ..Default::default()
    };
    let status = match uplink_test(&app, &ctx, &form).await {
        Ok(r) => {
            results.uplink = Some(r);
            StatusCode::OK
        }
        Err(errors) => {
            results.uplink_errors = errors;
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    html(
        status,
        render::overview(&ctx, &app.inner.site_name, &overview(&app), &results),
    )
}

/// The API's uplink test: both fields optional (the configured uplink).
#[derive(Debug, Default, Deserialize)]
pub struct UplinkJson {
    pub host: Option<String>,
    pub port: Option<u16>,
}

async fn uplink_json(
    State(app): State<AppState>,
    ctx: Ctx,
    body: Option<axum::Json<UplinkJson>>,
) -> Response {
    if let Err(f) = ctx.require(Action::UplinkSettings) {
        return f.into_response();
    }
    let j = body.map(|b| b.0).unwrap_or_default();
    let form = UplinkForm {
        host: j.host.unwrap_or_default(),
        port: j.port.map(|p| p.to_string()).unwrap_or_default(),
    };
    match uplink_test(&app, &ctx, &form).await {
        Ok(r) => axum::Json(r).into_response(),
        Err(errors) => field_errors_json(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::i18n::Lang;

    fn form(first: &str, last: &str, timeout: &str) -> ScanForm {
        ScanForm {
            first: first.into(),
            last: last.into(),
            timeout_ms: timeout.into(),
        }
    }

    #[test]
    fn an_empty_scan_form_scans_every_unit_and_bad_fields_are_named() {
        let req = parse_scan(&form("", "", ""), Lang::En).unwrap();
        assert_eq!((req.first, req.last), (1, 247));
        assert_eq!(req.timeout, Duration::from_millis(200));
        let errors = parse_scan(&form("0", "300", "5"), Lang::En).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, vec!["first", "last", "timeout_ms"]);
        let errors = parse_scan(&form("9", "3", ""), Lang::Fr).unwrap_err();
        assert_eq!(errors, vec![("last", "le dernier numéro suit le premier")]);
    }
}
