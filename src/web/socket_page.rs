//! One socket's page and its API twin: live readings, the current session, the socket's last
//! sessions, and the control actions a manager may take (out of service, return, stop, start
//! for a user). Every action is audited in the outbox (`Write::ControlAudit`) before its
//! command goes to the core, and logged once. Never switches a socket itself: the core decides
//! and the page shows what the live snapshot says.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::auth::roles::Action;
use super::i18n::{Lang, Text, state_words, t};
use super::page::Ctx;
use super::pages::layout;
use super::state::{AppState, DbError};
use crate::core::session::{AuthMethod, StopReason};
use crate::core::site::Command;
use crate::daemon::SocketSnapshot;
use crate::store::Write;
use crate::store::control_audit::ControlAudit;

/// How many past sessions the page lists.
const HISTORY: u32 = 20;
/// Longest name a manager may start a session for (an access-list user id or a token).
const MAX_USER: usize = 64;
/// Times before 2020 come from the Pi's unset clock: shown as unknown, never as 1970.
const CLOCK_SET_MS: i64 = 1_577_836_800_000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sockets/{id}", get(page))
        .route("/api/v1/sockets/{id}", get(detail_json))
        .route("/sockets/{id}/{action}", post(act_page))
        .route("/api/v1/sockets/{id}/{action}", post(act_json))
}

/// The socket as its page shows it and `GET /api/v1/sockets/{id}` serialises it.
#[derive(Debug, Clone, Serialize)]
pub struct SocketDetail {
    pub id: String,
    pub name: String,
    pub state: &'static str,
    pub words: &'static str,
    pub class: &'static str,
    pub out_of_service: bool,
    pub readings: LiveReadings,
    pub session: Option<CurrentSession>,
    /// The socket's last sessions, newest first (the running one included).
    pub history: Vec<PastSession>,
    /// The actions the signed-in account may take now (`out_of_service`, `return`, `stop`,
    /// `start`).
    pub actions: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveReadings {
    pub power_kw: Option<String>,
    pub current_a: [Option<String>; 3],
    pub voltage_v: [Option<String>; 3],
    /// The device's energy register.
    pub meter_kwh: Option<String>,
    /// Seconds in the current state.
    pub state_for_s: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CurrentSession {
    pub id: String,
    pub user: Option<String>,
    pub auth: &'static str,
    /// Site time, `YYYY-MM-DD HH:MM`; `None` before the clock was set.
    pub started: Option<String>,
    pub duration_s: u64,
    pub energy_kwh: String,
    /// Running cost, tax included, in `currency`.
    pub cost: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PastSession {
    pub id: String,
    pub user: Option<String>,
    pub started: Option<String>,
    pub stopped: Option<String>,
    pub energy_kwh: String,
    pub cost: Option<String>,
    pub currency: Option<String>,
    pub stop_reason: Option<String>,
}

/// Why a page or action is refused; the status says how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("there is no such socket")]
    UnknownSocket,
    #[error("there is no such action")]
    UnknownAction,
    #[error("no session runs on this socket")]
    NoSession,
    #[error("the socket is out of service or already has a session")]
    Busy,
    #[error("name the user or token to let charge")]
    MissingUser,
    #[error("the user or token is too long or has control characters")]
    BadUser,
    #[error("the site is stopping or its database cannot be written")]
    Unavailable,
}

impl ControlError {
    fn status(&self) -> StatusCode {
        match self {
            ControlError::UnknownSocket | ControlError::UnknownAction => StatusCode::NOT_FOUND,
            ControlError::NoSession | ControlError::Busy => StatusCode::CONFLICT,
            ControlError::MissingUser | ControlError::BadUser => StatusCode::UNPROCESSABLE_ENTITY,
            ControlError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn message(&self, lang: Lang) -> &'static str {
        match self {
            ControlError::UnknownSocket => {
                lang.pick("There is no such socket.", "Cette prise n'existe pas.")
            }
            ControlError::UnknownAction => {
                lang.pick("There is no such action.", "Cette action n'existe pas.")
            }
            ControlError::NoSession => lang.pick(
                "No session runs on this socket.",
                "Aucune session en cours sur cette prise.",
            ),
            ControlError::Busy => lang.pick(
                "The socket is out of service or already has a session.",
                "La prise est hors service ou a déjà une session.",
            ),
            ControlError::MissingUser => lang.pick(
                "Name the user or token to let charge.",
                "Indiquez l'utilisateur ou le badge autorisé à charger.",
            ),
            ControlError::BadUser => lang.pick(
                "At most 64 characters, without control characters.",
                "64 caractères au plus, sans caractères de contrôle.",
            ),
            ControlError::Unavailable => lang.pick(
                "The site cannot take this action now; try again.",
                "Le site ne peut pas faire cette action maintenant ; réessayez.",
            ),
        }
    }

    /// The form field the message belongs next to.
    fn field(&self) -> Option<&'static str> {
        matches!(self, ControlError::MissingUser | ControlError::BadUser).then_some("user")
    }
}

/// A control action of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    OutOfService,
    Return,
    Stop,
    Start,
}

impl Control {
    fn parse(s: &str) -> Option<Control> {
        Some(match s {
            "out-of-service" => Control::OutOfService,
            "return" => Control::Return,
            "stop" => Control::Stop,
            "start" => Control::Start,
            _ => return None,
        })
    }

    /// The name in the audit record and in `SocketDetail::actions`.
    fn name(self) -> &'static str {
        match self {
            Control::OutOfService => "out_of_service",
            Control::Return => "return",
            Control::Stop => "stop",
            Control::Start => "start",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Control::OutOfService => "out-of-service",
            Control::Return => "return",
            Control::Stop => "stop",
            Control::Start => "start",
        }
    }

    fn label(self, lang: Lang) -> &'static str {
        match self {
            Control::OutOfService => lang.pick("Take out of service", "Mettre hors service"),
            Control::Return => lang.pick("Return to service", "Remettre en service"),
            Control::Stop => lang.pick("Stop the session", "Arrêter la session"),
            Control::Start => lang.pick("Let charge", "Autoriser la charge"),
        }
    }
}

fn find(app: &AppState, id: &str) -> Option<(usize, SocketSnapshot)> {
    app.inner
        .sockets
        .borrow()
        .iter()
        .enumerate()
        .find(|(_, s)| s.id == id)
        .map(|(i, s)| (i, s.clone()))
}

fn local_time(app: &AppState, ms: Option<i64>) -> Option<String> {
    let ms = ms.filter(|&ms| ms >= CLOCK_SET_MS)?;
    let at = chrono::DateTime::from_timestamp_millis(ms)?;
    Some(
        at.with_timezone(&app.inner.time_zone)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
    )
}

fn one_decimal(x: Option<f64>) -> Option<String> {
    x.map(|v| format!("{v:.1}"))
}

/// What `ctx`'s account may do on the socket now.
fn allowed(ctx: &Ctx, s: &SocketSnapshot) -> Vec<&'static str> {
    if !ctx.may(Action::ControlSockets) {
        return Vec::new();
    }
    let mut actions = Vec::new();
    if s.view.out_of_service {
        actions.push(Control::Return.name());
    } else {
        actions.push(Control::OutOfService.name());
    }
    if s.view.session.is_some() {
        actions.push(Control::Stop.name());
    } else if !s.view.out_of_service {
        actions.push(Control::Start.name());
    }
    actions
}

async fn history(app: &AppState, socket: String) -> Result<Vec<PastSession>, DbError> {
    let rows = app
        .read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, identity, started_ms, stopped_ms, energy_wh, total_cost, currency,
                        stop_reason
                 FROM sessions WHERE socket_id = ?1 ORDER BY started_ms DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(rusqlite::params![socket, HISTORY], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, user, started, stopped, energy_wh, cost, currency, reason)| PastSession {
                id,
                user,
                started: local_time(app, Some(started)),
                stopped: local_time(app, stopped),
                energy_kwh: format!("{:.3}", energy_wh / 1000.0),
                cost,
                currency,
                stop_reason: reason,
            },
        )
        .collect())
}

/// The socket's detail for `ctx`'s account; `Ok(None)` for an unknown socket.
pub async fn build(app: &AppState, ctx: &Ctx, id: &str) -> Result<Option<SocketDetail>, DbError> {
    let Some((_, s)) = find(app, id) else {
        return Ok(None);
    };
    let (words, class) = state_words(ctx.lang, &s.view.state);
    let r = &s.view.readings;
    let session = s.view.session.as_ref().map(|x| CurrentSession {
        id: x.id.to_string(),
        user: x.identity.clone(),
        auth: x.auth.name(),
        started: local_time(app, Some(x.started.wall_ms)),
        duration_s: x.started.mono.elapsed().as_secs(),
        energy_kwh: format!("{:.3}", x.meter.energy_wh / 1000.0),
        cost: x
            .cost
            .as_ref()
            .map(|c| c.total_incl_tax.round_dp(2).to_string()),
        currency: x.cost.as_ref().map(|c| c.currency.clone()),
    });
    Ok(Some(SocketDetail {
        id: s.id.clone(),
        name: s.name.clone(),
        state: s.view.state.name(),
        words,
        class,
        out_of_service: s.view.out_of_service,
        readings: LiveReadings {
            power_kw: r.power_w.map(|w| format!("{:.2}", w / 1000.0)),
            current_a: r.current_a.map(one_decimal),
            voltage_v: r.voltage_v.map(one_decimal),
            meter_kwh: r.energy_wh.map(|wh| format!("{:.3}", wh / 1000.0)),
            state_for_s: s.view.since.elapsed().as_secs(),
        },
        session,
        history: history(app, s.id.clone()).await?,
        actions: allowed(ctx, &s),
    }))
}

fn unavailable(e: DbError) -> Response {
    log::error!("web: socket page: {e}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the database cannot be read",
    )
        .into_response()
}

async fn page(State(app): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    render_page(&app, &ctx, &id, None, StatusCode::OK).await
}

async fn render_page(
    app: &AppState,
    ctx: &Ctx,
    id: &str,
    refused: Option<(&ControlError, &str)>,
    status: StatusCode,
) -> Response {
    match build(app, ctx, id).await {
        Ok(Some(d)) => (
            status,
            Html(render(ctx, &app.inner.site_name, &d, refused).into_string()),
        )
            .into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Html(
                layout(
                    ctx.lang,
                    t(ctx.lang, Text::Socket),
                    &app.inner.site_name,
                    Some(ctx),
                    html! { p class="error" { (ControlError::UnknownSocket.message(ctx.lang)) } },
                )
                .into_string(),
            ),
        )
            .into_response(),
        Err(e) => unavailable(e),
    }
}

async fn detail_json(State(app): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    match build(&app, &ctx, &id).await {
        Ok(Some(d)) => Json(d).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": ControlError::UnknownSocket.message(ctx.lang) })),
        )
            .into_response(),
        Err(e) => unavailable(e),
    }
}

/// What a start carries (pages: a form field; the API: JSON). Other actions carry nothing.
#[derive(Debug, Default, Deserialize)]
struct ActionBody {
    #[serde(default)]
    user: Option<String>,
}

async fn act_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((id, action)): Path<(String, String)>,
    Form(body): Form<ActionBody>,
) -> Response {
    if let Err(f) = ctx.require(Action::ControlSockets) {
        return f.into_response();
    }
    let typed = body.user.clone().unwrap_or_default();
    match act(&app, &ctx, &id, &action, body).await {
        Ok(()) => Redirect::to(&format!("/sockets/{id}")).into_response(),
        Err(e) => render_page(&app, &ctx, &id, Some((&e, &typed)), e.status()).await,
    }
}

async fn act_json(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(f) = ctx.require(Action::ControlSockets) {
        return f.into_response();
    }
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({ "error": e.to_string() })),
                )
                    .into_response();
            }
        }
    };
    match act(&app, &ctx, &id, &action, body).await {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "socket": id, "action": action, "accepted": true })),
        )
            .into_response(),
        Err(e) => (
            e.status(),
            Json(serde_json::json!({
                "error": e.message(ctx.lang),
                "field": e.field(),
            })),
        )
            .into_response(),
    }
}

/// Checks the action against the socket's state, audits it, then tells the core.
async fn act(
    app: &AppState,
    ctx: &Ctx,
    id: &str,
    action: &str,
    body: ActionBody,
) -> Result<(), ControlError> {
    let control = Control::parse(action).ok_or(ControlError::UnknownAction)?;
    let (index, s) = find(app, id).ok_or(ControlError::UnknownSocket)?;
    let (command, user) = match control {
        Control::OutOfService | Control::Return => (
            Command::SetOutOfService {
                socket: index,
                out_of_service: control == Control::OutOfService,
            },
            None,
        ),
        Control::Stop => {
            if s.view.session.is_none() {
                return Err(ControlError::NoSession);
            }
            (
                Command::StopSession {
                    socket: index,
                    reason: StopReason::Local,
                },
                None,
            )
        }
        Control::Start => {
            let user = body.user.unwrap_or_default().trim().to_string();
            if user.is_empty() {
                return Err(ControlError::MissingUser);
            }
            if user.chars().count() > MAX_USER || user.chars().any(char::is_control) {
                return Err(ControlError::BadUser);
            }
            if s.view.out_of_service || s.view.session.is_some() {
                return Err(ControlError::Busy);
            }
            let identity = listed_user(app, &user).await.unwrap_or(user);
            (
                Command::Authorize {
                    socket: index,
                    identity: Some(identity.clone()),
                    method: AuthMethod::Manager,
                },
                Some(identity),
            )
        }
    };
    // Audited before it happens: no action without its record.
    let audit = ControlAudit {
        actor: ctx.session.username.clone(),
        action: control.name(),
        socket: s.id.clone(),
        user: user.clone(),
        at: now(),
    };
    if let Err(e) = app
        .inner
        .store
        .apply(vec![Write::ControlAudit(Box::new(audit))])
        .await
    {
        log::error!(
            "web: the audit of {} on {} failed: {e}",
            control.name(),
            s.id
        );
        return Err(ControlError::Unavailable);
    }
    if app.inner.commands.send(command).await.is_err() {
        return Err(ControlError::Unavailable);
    }
    log::info!(
        "web: {} did {} on socket {}{}",
        ctx.session.username,
        control.name(),
        s.id,
        user.map(|u| format!(" for {u}")).unwrap_or_default()
    );
    Ok(())
}

/// The access list's user of a token typed in (as central's remote start does), if it is one.
async fn listed_user(app: &AppState, typed: &str) -> Option<String> {
    let token = crate::core::access::IdToken::new(typed)?;
    app.read(move |conn| crate::store::access::lookup(conn, &token))
        .await
        .ok()
        .and_then(|found| found.user.map(|u| u.id))
}

/// The moment of an action. The clock counts as trusted once past 2020 (the Pi's unset clock
/// starts in 1970).
fn now() -> crate::core::time::Stamp {
    let wall_ms = chrono::Utc::now().timestamp_millis();
    crate::core::time::Stamp {
        mono: tokio::time::Instant::now(),
        wall_ms,
        trusted: wall_ms >= CLOCK_SET_MS,
    }
}

/// A duration as both languages write it (`1 h 05 min`, `3 min 07 s`).
fn duration(s: u64) -> String {
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if h == 0 {
        format!("{m} min {sec:02} s")
    } else {
        format!("{h} h {m:02} min")
    }
}

fn phases(values: &[Option<String>; 3], unit: &str) -> String {
    let parts: Vec<&str> = values.iter().map(|v| v.as_deref().unwrap_or("–")).collect();
    format!("{} {unit}", parts.join(" / "))
}

fn money(cost: &Option<String>, currency: &Option<String>) -> String {
    match (cost, currency) {
        (Some(c), Some(cur)) => format!("{c} {cur}"),
        (Some(c), None) => c.clone(),
        _ => "–".into(),
    }
}

fn action_form(ctx: &Ctx, d: &SocketDetail, control: Control) -> Markup {
    html! {
        form method="post" action={"/sockets/" (d.id) "/" (control.path())} class="inline" {
            (ctx.csrf_field())
            button type="submit" id={"action-" (control.path())} { (control.label(ctx.lang)) }
        }
    }
}

fn start_form(ctx: &Ctx, d: &SocketDetail, refused: Option<(&ControlError, &str)>) -> Markup {
    let lang = ctx.lang;
    let error = refused.filter(|(e, _)| e.field() == Some("user"));
    html! {
        form method="post" action={"/sockets/" (d.id) "/start"} {
            (ctx.csrf_field())
            label for="user" { (lang.pick("User or badge to let charge", "Utilisateur ou badge autorisé")) }
            @if let Some((e, typed)) = error {
                input id="user" name="user" value=(typed) required aria-invalid="true" aria-describedby="user-error";
                p class="field-error" id="user-error" { (e.message(lang)) }
            } @else {
                input id="user" name="user" required;
            }
            button type="submit" id="action-start" { (Control::Start.label(lang)) }
        }
    }
}

fn render(
    ctx: &Ctx,
    site_name: &str,
    d: &SocketDetail,
    refused: Option<(&ControlError, &str)>,
) -> Markup {
    let lang = ctx.lang;
    let r = &d.readings;
    let may = |c: Control| d.actions.contains(&c.name());
    let body = html! {
        p { a href="/" { "← " (t(lang, Text::Dashboard)) } }
        h1 { (t(lang, Text::Socket)) " " (d.name) }
        section id="socket-live" data-socket=(d.id) data-lang=(lang.code())
            data-session=(if d.session.is_some() { "yes" } else { "no" }) {
            p class={"state-badge " (d.class)} id="live-state" { (d.words) }
            h2 { (lang.pick("Readings", "Mesures")) " " small class="live" { "● " (t(lang, Text::Live)) } }
            dl class="readings" {
                dt { (t(lang, Text::Power)) }
                dd id="live-power" { (r.power_kw.as_deref().unwrap_or("–")) " kW" }
                dt { (lang.pick("Current", "Courant")) }
                dd { (phases(&r.current_a, "A")) }
                dt { (lang.pick("Voltage", "Tension")) }
                dd { (phases(&r.voltage_v, "V")) }
                dt { (lang.pick("Energy meter", "Compteur d'énergie")) }
                dd { (r.meter_kwh.as_deref().unwrap_or("–")) " kWh" }
            }
            h2 { (lang.pick("Current session", "Session en cours")) }
            @match &d.session {
                None => p id="no-session" { (lang.pick("No session.", "Aucune session.")) },
                Some(x) => dl class="readings" id="session" {
                    dt { (t(lang, Text::Who)) }
                    dd id="live-user" { (x.user.as_deref().unwrap_or("–")) }
                    dt { (lang.pick("Started", "Début")) }
                    dd { (x.started.as_deref().unwrap_or("–")) }
                    dt { (lang.pick("Duration", "Durée")) }
                    dd { (duration(x.duration_s)) }
                    dt { (t(lang, Text::Energy)) }
                    dd id="live-energy" { (x.energy_kwh) " kWh" }
                    dt { (t(lang, Text::Cost)) }
                    dd id="live-cost" { (money(&x.cost, &x.currency)) }
                },
            }
        }
        @if !d.actions.is_empty() {
            h2 { (lang.pick("Actions", "Actions")) }
            @if let Some((e, _)) = refused.filter(|(e, _)| e.field().is_none()) {
                p class="error" role="alert" { (e.message(lang)) }
            }
            div class="actions" {
                @if may(Control::Stop) { (action_form(ctx, d, Control::Stop)) }
                @if may(Control::OutOfService) { (action_form(ctx, d, Control::OutOfService)) }
                @if may(Control::Return) { (action_form(ctx, d, Control::Return)) }
            }
            @if may(Control::Start) { (start_form(ctx, d, refused)) }
        }
        h2 { (lang.pick("Last sessions", "Dernières sessions")) }
        @if d.history.is_empty() {
            p { (lang.pick("No session yet.", "Aucune session pour l'instant.")) }
        } @else {
            div class="table-wrap" {
                table id="history" {
                    thead { tr {
                        th scope="col" { (lang.pick("Started", "Début")) }
                        th scope="col" { (lang.pick("Ended", "Fin")) }
                        th scope="col" { (t(lang, Text::Who)) }
                        th scope="col" { (t(lang, Text::Energy)) }
                        th scope="col" { (t(lang, Text::Cost)) }
                    } }
                    tbody {
                        @for h in &d.history {
                            tr {
                                td { (h.started.as_deref().unwrap_or("–")) }
                                td { @if h.stopped.is_some() || h.stop_reason.is_some() {
                                    (h.stopped.as_deref().unwrap_or("–"))
                                } @else { (lang.pick("running", "en cours")) } }
                                td { (h.user.as_deref().unwrap_or("–")) }
                                td { (h.energy_kwh) " kWh" }
                                td { (money(&h.cost, &h.currency)) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(lang, &d.name, site_name, Some(ctx), body)
}
