//! The installer page (`/installer`, `/api/v1/installer`): buses and their sockets with state
//! and error counters, the configuration's generation and last reload, and the forms that add,
//! change and remove a socket and change the uplink settings. Owns the page's data (one value,
//! `view::InstallerView`, rendered by `html` and served as JSON) and the form handlers.
//! Never writes the file itself (`config::edit` validates and replaces it) and never awaits a
//! reload: the reload stops the server this handler runs in, so it answers first (303 or 202)
//! and the supervisor reloads after.

mod html;
mod view;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::config::edit::{self, EditError, SocketForm, UplinkForm};
use crate::store::Write;
use crate::store::roles::Action;
use crate::web::error::{Said, Shape, WebError};
use crate::web::form::Refusals;
use crate::web::input::{Input, Posted};
use crate::web::page::{Ctx, html_page};
use crate::web::state::AppState;

use view::build;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/installer", get(page))
        .route("/api/v1/installer", get(json))
        .route("/installer/sockets", post(add_socket))
        .route("/api/v1/installer/sockets", post(add_socket))
        .route(
            "/installer/sockets/{id}",
            get(socket_page).post(edit_socket),
        )
        .route("/installer/sockets/{id}/remove", post(remove_socket))
        .route("/installer/uplink", post(set_uplink))
        .route(
            "/api/v1/installer/sockets/{id}",
            axum::routing::put(edit_socket).delete(remove_socket),
        )
        .route("/api/v1/installer/uplink", axum::routing::put(set_uplink))
}

#[derive(serde::Deserialize)]
struct Applied {
    applied: Option<u64>,
}

/// The page; `?applied=N` while the reload of an edit made at generation N is pending.
async fn page(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<Applied>,
) -> Result<Response, WebError> {
    ctx.require(Action::InstallerConfig)?;
    let view = build(&app, ctx.lang).await;
    let page = html::page(&ctx, &app.inner.site_name, &view, q.applied, None);
    Ok(html_page(StatusCode::OK, page))
}

async fn json(State(app): State<AppState>, ctx: Ctx) -> Result<Response, WebError> {
    ctx.require(Action::InstallerConfig)?;
    Ok(axum::Json(build(&app, ctx.lang).await).into_response())
}

/// Which form a refusal belongs to, with what was sent.
pub enum Sent {
    AddSocket(SocketForm),
    Uplink(UplinkForm),
    /// Not tied to one form (a remove refused).
    Notice,
}

impl Posted for SocketForm {}

impl Posted for UplinkForm {}

/// 503 when the daemon does not run from a file (tests, demo): nothing to edit.
fn unavailable(ctx: &Ctx) -> WebError {
    let message = ctx.lang.pick(
        "editing is unavailable: the daemon does not run from a configuration file",
        "modification impossible : le démon ne tourne pas depuis un fichier de configuration",
    );
    WebError::Unavailable {
        cause: None,
        said: Said::Text(message.into()),
    }
}

/// A refused edit: on a page every problem is shown by field (anything else under `""`);
/// the API answers 404 for an unknown socket, else 422 with every problem by field.
fn refused(e: EditError, ctx: &Ctx) -> WebError {
    match e {
        EditError::UnknownSocket(id) if ctx.api => {
            WebError::NotFound(Said::Json(format!("no socket `{id}`").into()))
        }
        EditError::Refused(fields) => WebError::Refused {
            refusals: fields.into(),
            shape: Shape::Lists,
        },
        other => refusal("", other.to_string()),
    }
}

/// One problem, by field (`""`: the form as a whole), as the installer's edits write them.
fn refusal(field: &'static str, message: impl Into<String>) -> WebError {
    WebError::Refused {
        refusals: Refusals::from([(field, message.into())]),
        shape: Shape::Lists,
    }
}

/// Runs an edit of the file off the async threads; on success audits it for central (`audit`:
/// what changed, and which socket or host), asks for a reload and returns the generation the
/// result will be compared with.
async fn run_edit(
    app: &AppState,
    ctx: &Ctx,
    (action, target): (&'static str, String),
    change: impl FnOnce(&str) -> Result<edit::Candidate, EditError> + Send + 'static,
) -> Result<u64, WebError> {
    let link = app
        .inner
        .installer
        .clone()
        .ok_or_else(|| unavailable(ctx))?;
    let before = link.status.borrow().generation;
    let file = link.config_file.clone();
    tokio::task::spawn_blocking(move || file.edit(change))
        .await
        .unwrap_or_else(|_| {
            Err(EditError::Io(std::io::Error::other(
                "the edit was interrupted",
            )))
        })
        .map_err(|e| refused(e, ctx))?;
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
    // Full: a reload is already pending, and it will read this file.
    let _ = link.reloads.try_send(());
    log::info!(
        "configuration file edited by {} on the installer page; reload requested",
        ctx.session.username
    );
    Ok(before)
}

/// An edit's answer: the page refreshes until the reload applied it (303); the API says 202
/// once the file is written (the reload follows; watch `generation` in `GET /api/v1/installer`).
/// Refused, the page is shown again with the problems next to the form `sent`.
async fn answer(
    app: &AppState,
    ctx: &Ctx,
    edited: Result<u64, WebError>,
    sent: Sent,
) -> Result<Response, WebError> {
    match edited {
        Ok(before) => Ok(ctx.reply(
            || Redirect::to(&format!("/installer?applied={before}")),
            || {
                let accepted = serde_json::json!({ "generation_before": before });
                (StatusCode::ACCEPTED, axum::Json(accepted))
            },
        )),
        Err(WebError::Refused { refusals, .. }) if !ctx.api => {
            let view = build(app, ctx.lang).await;
            let page = html::page(
                ctx,
                &app.inner.site_name,
                &view,
                None,
                Some((&sent, &refusals)),
            );
            Ok(html_page(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Err(e) => Err(e),
    }
}

/// 409: the socket's session keeps it (and its id) in the file.
fn in_use(ctx: &Ctx) -> WebError {
    let message = ctx.lang.pick(
        "a session runs on this socket: it cannot be removed or renamed now",
        "une session est en cours sur cette prise : elle ne peut être retirée ni renommée maintenant",
    );
    WebError::Conflict(Said::Json(message.into()))
}

async fn add_socket(
    State(app): State<AppState>,
    ctx: Ctx,
    Input(form): Input<SocketForm>,
) -> Result<Response, WebError> {
    ctx.require(Action::InstallerConfig)?;
    let sent = Sent::AddSocket(form.clone());
    let target = form.id.trim().to_string();
    let edited = run_edit(&app, &ctx, ("socket_added", target), move |text| {
        edit::add_socket(text, &form)
    })
    .await;
    answer(&app, &ctx, edited, sent).await
}

async fn edit_socket(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Input(form): Input<SocketForm>,
) -> Result<Response, WebError> {
    ctx.require(Action::InstallerConfig)?;
    let sent = form.clone();
    let edited = if form.id.trim() != id && session_running(&app, &id) {
        Err(if ctx.api {
            in_use(&ctx)
        } else {
            refusal(
                "id",
                ctx.lang.pick(
                    "a session runs on this socket: its id cannot change now",
                    "une session est en cours sur cette prise : son identifiant ne peut changer maintenant",
                ),
            )
        })
    } else {
        let target = id.clone();
        run_edit(&app, &ctx, ("socket_changed", id.clone()), move |text| {
            edit::edit_socket(text, &target, &form)
        })
        .await
    };
    match edited {
        // This socket's form again, with the problems next to its fields.
        Err(WebError::Refused { refusals, .. }) if !ctx.api => {
            let view = build(&app, ctx.lang).await;
            let page = html::socket_page(&ctx, &app.inner.site_name, &view, &id, &sent, &refusals);
            Ok(html_page(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        edited => answer(&app, &ctx, edited, Sent::Notice).await,
    }
}

async fn remove_socket(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    ctx.require(Action::InstallerConfig)?;
    let edited = if !session_running(&app, &id) {
        let target = id.clone();
        run_edit(&app, &ctx, ("socket_removed", id.clone()), move |text| {
            edit::remove_socket(text, &target)
        })
        .await
    } else if ctx.api {
        Err(in_use(&ctx))
    } else {
        Err(refusal(
            "",
            ctx.lang.pick(
                "a session runs on this socket: it cannot be removed now",
                "une session est en cours sur cette prise : elle ne peut être retirée maintenant",
            ),
        ))
    };
    answer(&app, &ctx, edited, Sent::Notice).await
}

async fn set_uplink(
    State(app): State<AppState>,
    ctx: Ctx,
    Input(form): Input<UplinkForm>,
) -> Result<Response, WebError> {
    ctx.require(Action::UplinkSettings)?;
    let mut sent = form.clone();
    sent.password.clear();
    let target = form.host.trim().to_string();
    let edited = run_edit(&app, &ctx, ("uplink_changed", target), move |text| {
        edit::set_uplink(text, &form)
    })
    .await;
    answer(&app, &ctx, edited, Sent::Uplink(sent)).await
}

async fn socket_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    ctx.require(Action::InstallerConfig)?;
    let view = build(&app, ctx.lang).await;
    let Some((bus, s)) = view
        .buses
        .iter()
        .flat_map(|b| b.sockets.iter().map(move |s| (b.name.clone(), s)))
        .find(|(_, s)| s.id == id)
    else {
        let message = ctx.lang.pick("no such socket", "prise inconnue");
        return Err(WebError::NotFound(Said::Text(message.into())));
    };
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
        &Refusals::default(),
    );
    Ok(html_page(StatusCode::OK, page))
}

fn session_running(app: &AppState, id: &str) -> bool {
    app.inner
        .sockets
        .borrow()
        .iter()
        .any(|s| s.id == id && s.view.session.is_some())
}
