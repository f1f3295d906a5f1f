//! The installer page (`/installer`, `/api/v1/installer`): buses and their sockets with state
//! and error counters, the configuration's generation and last reload, and the forms that add,
//! change and remove a socket and change the uplink settings. Owns the page's data (one value,
//! `InstallerView`, rendered by `installer_html` and served as JSON) and the form handlers.
//! Never writes the file itself (`config::edit` validates and replaces it) and never awaits a
//! reload: the reload stops the server this handler runs in, so it answers first (303 or 202)
//! and the supervisor reloads after.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::i18n::{Lang, state_words};
use super::installer_html as html;
use super::page::Ctx;
use super::state::AppState;
use crate::config::edit::{self, EditError, SocketForm, UplinkForm};
use crate::store::Write;
use crate::store::roles::Action;
use crate::web::reload::ReloadOutcome;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/installer", get(page))
        .route("/api/v1/installer", get(json))
        .route("/installer/sockets", post(add_socket))
        .route("/api/v1/installer/sockets", post(add_socket_json))
        .route(
            "/installer/sockets/{id}",
            get(socket_page).post(edit_socket),
        )
        .route("/installer/sockets/{id}/remove", post(remove_socket))
        .route("/installer/uplink", post(set_uplink))
        .route(
            "/api/v1/installer/sockets/{id}",
            axum::routing::put(edit_socket_json).delete(remove_socket_json),
        )
        .route(
            "/api/v1/installer/uplink",
            axum::routing::put(set_uplink_json),
        )
}

/// Everything the installer page shows.
#[derive(Debug, Clone, Serialize)]
pub struct InstallerView {
    /// Whether the configuration file can be edited here (the daemon runs from a file).
    pub editable: bool,
    pub config_file: Option<String>,
    /// 0 at start, one more per applied reload.
    pub generation: u64,
    pub last_reload: Option<ReloadOutcome>,
    pub buses: Vec<BusView>,
    /// Profiles a socket may name: the built-in ones and the file's `[profiles]`.
    pub profiles: Vec<String>,
    /// The file's `[uplink]` connection settings (no password); `None` without the section.
    pub uplink: Option<UplinkForm>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BusView {
    pub name: String,
    /// TCP address, or serial device and settings.
    pub link: String,
    pub sockets: Vec<SocketRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SocketRow {
    pub id: String,
    pub name: String,
    pub serial_number: Option<String>,
    pub uid: Option<String>,
    pub profile: String,
    pub unit_id: u8,
    pub state: &'static str,
    pub words: &'static str,
    pub class: &'static str,
    pub session_running: bool,
    pub failed_polls: u64,
    pub exception_answers: u64,
}

/// Builds the view from the running configuration, the live snapshot and the file (blocking
/// read of the file: small).
pub async fn build(app: &AppState, lang: Lang) -> InstallerView {
    use std::sync::atomic::Ordering::Relaxed;
    let config = app.inner.config.clone();
    let snapshot = app.inner.sockets.borrow().clone();
    let mut buses: Vec<BusView> = config
        .buses
        .iter()
        .map(|b| BusView {
            name: b.name.clone(),
            link: b.link.to_string(),
            sockets: Vec::new(),
        })
        .collect();
    for (i, s) in config.sockets.iter().enumerate() {
        let live = snapshot.iter().find(|x| x.id == s.id);
        let (state, words, class, session_running) = match live {
            Some(x) => {
                let (words, class) = state_words(lang, &x.view.state);
                (x.view.state.name(), words, class, x.view.session.is_some())
            }
            None => ("NotConnected", "–", "unreachable", false),
        };
        let (failed_polls, exception_answers) = app
            .inner
            .installer_tools
            .device_stats(i)
            .map_or((0, 0), |d| {
                (d.failures.load(Relaxed), d.exceptions.load(Relaxed))
            });
        buses[s.bus].sockets.push(SocketRow {
            id: s.id.clone(),
            name: s.name.clone(),
            serial_number: s.serial_number.clone(),
            uid: s.uid.clone(),
            profile: s.profile.name.clone(),
            unit_id: s.unit_id,
            state,
            words,
            class,
            session_running,
            failed_polls,
            exception_answers,
        });
    }
    let profiles = config
        .profiles
        .names()
        .filter(|n| {
            config
                .profiles
                .get(n)
                .is_some_and(|p| p.kind != crate::profile::DeviceKind::Relay)
        })
        .map(str::to_string)
        .collect();
    let link = app.inner.installer.clone();
    let uplink = match &link {
        Some(l) => {
            let file = l.config_file.clone();
            tokio::task::spawn_blocking(move || file.read().ok())
                .await
                .ok()
                .flatten()
                .and_then(|text| edit::uplink_form(&text))
        }
        None => None,
    };
    let status = link.as_ref().map(|l| l.status.borrow().clone());
    InstallerView {
        editable: link.is_some(),
        config_file: link
            .as_ref()
            .map(|l| l.config_file.path().display().to_string()),
        generation: status.as_ref().map_or(0, |s| s.generation),
        last_reload: status.and_then(|s| s.last),
        buses,
        profiles,
        uplink,
    }
}

/// What a form shows again: the values sent and the problems by field.
#[derive(Debug, Default)]
pub struct Refusal {
    pub errors: BTreeMap<String, Vec<String>>,
}

#[derive(serde::Deserialize)]
struct Applied {
    applied: Option<u64>,
}

async fn page(State(app): State<AppState>, ctx: Ctx, Query(q): Query<Applied>) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    let view = build(&app, ctx.lang).await;
    let page = html::page(&ctx, &app.inner.site_name, &view, q.applied, None);
    Html(page.into_string()).into_response()
}

async fn json(State(app): State<AppState>, ctx: Ctx) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    axum::Json(build(&app, ctx.lang).await).into_response()
}

/// Which form a refusal belongs to, with what was sent.
pub enum Sent {
    AddSocket(SocketForm),
    Uplink(UplinkForm),
    /// Not tied to one form (a remove refused).
    Notice(String),
}

fn unavailable(ctx: &Ctx) -> Response {
    let message = ctx.lang.pick(
        "editing is unavailable: the daemon does not run from a configuration file",
        "modification impossible : le démon ne tourne pas depuis un fichier de configuration",
    );
    (StatusCode::SERVICE_UNAVAILABLE, message).into_response()
}

/// Runs an edit of the file off the async threads; on success audits it for central (`audit`:
/// what changed, and which socket or host), asks for a reload and returns the generation the
/// result will be compared with.
async fn run_edit(
    app: &AppState,
    ctx: &Ctx,
    (action, target): (&'static str, String),
    change: impl FnOnce(&str) -> Result<edit::Candidate, EditError> + Send + 'static,
) -> Option<Result<u64, EditError>> {
    let link = app.inner.installer.clone()?;
    let before = link.status.borrow().generation;
    let file = link.config_file.clone();
    let outcome = tokio::task::spawn_blocking(move || file.edit(change))
        .await
        .unwrap_or_else(|_| {
            Err(EditError::Io(std::io::Error::other(
                "the edit was interrupted",
            )))
        });
    if outcome.is_ok() {
        let audit = crate::store::ConfigAudit {
            actor: ctx.session.username.clone(),
            action,
            target,
            at: app.inner.clock.now(),
        };
        // The file is written: a failed audit is logged, the edit stands.
        if let Err(e) = app
            .inner
            .store
            .apply(vec![Write::ConfigAudit(Box::new(audit))])
            .await
        {
            log::error!("web: the audit of a configuration edit failed: {e}");
        }
    }
    Some(outcome.map(|_| {
        // Full: a reload is already pending, and it will read this file.
        let _ = link.reloads.try_send(());
        log::info!(
            "configuration file edited by {} on the installer page; reload requested",
            ctx.session.username
        );
        before
    }))
}

/// The errors of a refused edit by field (anything else under `""`).
fn refusal(e: EditError) -> BTreeMap<String, Vec<String>> {
    match e {
        EditError::Refused(fields) => fields,
        other => BTreeMap::from([(String::new(), vec![other.to_string()])]),
    }
}

async fn refused_page(app: &AppState, ctx: &Ctx, sent: Sent, e: EditError) -> Response {
    let view = build(app, ctx.lang).await;
    let refusal = Refusal { errors: refusal(e) };
    let page = html::page(
        ctx,
        &app.inner.site_name,
        &view,
        None,
        Some((&sent, &refusal)),
    );
    (StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response()
}

async fn add_socket(
    State(app): State<AppState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<SocketForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    let sent = form.clone();
    match run_edit(
        &app,
        &ctx,
        ("socket_added", form.id.trim().to_string()),
        move |text| edit::add_socket(text, &form),
    )
    .await
    {
        None => unavailable(&ctx),
        Some(Ok(before)) => Redirect::to(&format!("/installer?applied={before}")).into_response(),
        Some(Err(e)) => refused_page(&app, &ctx, Sent::AddSocket(sent), e).await,
    }
}

/// The API's answer to an edit: 202 once the file is written (the reload follows; watch
/// `generation` in `GET /api/v1/installer`), 422 with the problems by field, 409 while a
/// session runs on the socket, 404 for an unknown socket.
fn api_answer(ctx: &Ctx, outcome: Option<Result<u64, EditError>>) -> Response {
    match outcome {
        None => unavailable(ctx),
        Some(Ok(before)) => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({ "generation_before": before })),
        )
            .into_response(),
        Some(Err(EditError::UnknownSocket(id))) => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({ "error": format!("no socket `{id}`") })),
        )
            .into_response(),
        Some(Err(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(serde_json::json!({ "errors": refusal(e) })),
        )
            .into_response(),
    }
}

fn in_use(ctx: &Ctx) -> Response {
    let message = ctx.lang.pick(
        "a session runs on this socket: it cannot be removed or renamed now",
        "une session est en cours sur cette prise : elle ne peut être retirée ni renommée maintenant",
    );
    (
        StatusCode::CONFLICT,
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

async fn add_socket_json(
    State(app): State<AppState>,
    ctx: Ctx,
    axum::Json(form): axum::Json<SocketForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    let outcome = run_edit(
        &app,
        &ctx,
        ("socket_added", form.id.trim().to_string()),
        move |text| edit::add_socket(text, &form),
    )
    .await;
    api_answer(&ctx, outcome)
}

async fn edit_socket_json(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Json(form): axum::Json<SocketForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    if form.id.trim() != id && session_running(&app, &id) {
        return in_use(&ctx);
    }
    let outcome = run_edit(&app, &ctx, ("socket_changed", id.clone()), move |text| {
        edit::edit_socket(text, &id, &form)
    })
    .await;
    api_answer(&ctx, outcome)
}

async fn remove_socket_json(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    if session_running(&app, &id) {
        return in_use(&ctx);
    }
    let outcome = run_edit(&app, &ctx, ("socket_removed", id.clone()), move |text| {
        edit::remove_socket(text, &id)
    })
    .await;
    api_answer(&ctx, outcome)
}

async fn set_uplink_json(
    State(app): State<AppState>,
    ctx: Ctx,
    axum::Json(form): axum::Json<UplinkForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::UplinkSettings) {
        return f.into_response();
    }
    let outcome = run_edit(
        &app,
        &ctx,
        ("uplink_changed", form.host.trim().to_string()),
        move |text| edit::set_uplink(text, &form),
    )
    .await;
    api_answer(&ctx, outcome)
}

async fn socket_page(State(app): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    let view = build(&app, ctx.lang).await;
    let Some(row) = view
        .buses
        .iter()
        .flat_map(|b| b.sockets.iter().map(move |s| (b.name.clone(), s)))
        .find(|(_, s)| s.id == id)
    else {
        return (
            StatusCode::NOT_FOUND,
            ctx.lang.pick("no such socket", "prise inconnue"),
        )
            .into_response();
    };
    let (bus, s) = row;
    let form = SocketForm {
        id: s.id.clone(),
        name: s.name.clone(),
        serial_number: s.serial_number.clone().unwrap_or_default(),
        uid: s.uid.clone().unwrap_or_default(),
        profile: s.profile.clone(),
        bus,
        unit_id: s.unit_id.to_string(),
    };
    let page = html::socket_page(
        &ctx,
        &app.inner.site_name,
        &view,
        &id,
        &form,
        &Refusal::default(),
    );
    Html(page.into_string()).into_response()
}

fn session_running(app: &AppState, id: &str) -> bool {
    app.inner
        .sockets
        .borrow()
        .iter()
        .any(|s| s.id == id && s.view.session.is_some())
}

async fn edit_socket(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<SocketForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    let sent = form.clone();
    let outcome = if form.id.trim() != id && session_running(&app, &id) {
        Some(Err(EditError::Refused(BTreeMap::from([(
            "id".to_string(),
            vec![ctx
                .lang
                .pick(
                    "a session runs on this socket: its id cannot change now",
                    "une session est en cours sur cette prise : son identifiant ne peut changer maintenant",
                )
                .to_string()],
        )]))))
    } else {
        let target = id.clone();
        run_edit(&app, &ctx, ("socket_changed", id.clone()), move |text| {
            edit::edit_socket(text, &target, &form)
        })
        .await
    };
    match outcome {
        None => unavailable(&ctx),
        Some(Ok(before)) => Redirect::to(&format!("/installer?applied={before}")).into_response(),
        Some(Err(e)) => {
            let view = build(&app, ctx.lang).await;
            let refusal = Refusal { errors: refusal(e) };
            let page = html::socket_page(&ctx, &app.inner.site_name, &view, &id, &sent, &refusal);
            (StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response()
        }
    }
}

async fn remove_socket(State(app): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    if let Err(f) = ctx.require(Action::InstallerConfig) {
        return f.into_response();
    }
    if session_running(&app, &id) {
        let message = ctx.lang.pick(
            "a session runs on this socket: it cannot be removed now",
            "une session est en cours sur cette prise : elle ne peut être retirée maintenant",
        );
        let e = EditError::Refused(BTreeMap::from([(String::new(), vec![message.to_string()])]));
        return refused_page(&app, &ctx, Sent::Notice(id), e).await;
    }
    let target = id.clone();
    match run_edit(&app, &ctx, ("socket_removed", id.clone()), move |text| {
        edit::remove_socket(text, &target)
    })
    .await
    {
        None => unavailable(&ctx),
        Some(Ok(before)) => Redirect::to(&format!("/installer?applied={before}")).into_response(),
        Some(Err(e)) => refused_page(&app, &ctx, Sent::Notice(id), e).await,
    }
}

async fn set_uplink(
    State(app): State<AppState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<UplinkForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::UplinkSettings) {
        return f.into_response();
    }
    let mut sent = form.clone();
    sent.password.clear();
    match run_edit(
        &app,
        &ctx,
        ("uplink_changed", form.host.trim().to_string()),
        move |text| edit::set_uplink(text, &form),
    )
    .await
    {
        None => unavailable(&ctx),
        Some(Ok(before)) => Redirect::to(&format!("/installer?applied={before}")).into_response(),
        Some(Err(e)) => refused_page(&app, &ctx, Sent::Uplink(sent), e).await,
    }
}
