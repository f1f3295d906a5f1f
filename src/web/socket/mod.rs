//! One socket's page and its API twin (`view` builds the value, `html` renders it), and the
//! control actions a manager may take (out of service, return, stop, start for a user). Every action is audited in the outbox (`Write::ControlAudit`) before its command goes
//! to the core, and logged once. Never switches a socket itself: the core decides and the page
//! shows what the live snapshot says.

mod html;
mod view;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::html;
use serde::Deserialize;

use crate::core::SocketSnapshot;
use crate::core::session::{AuthMethod, StopReason};
use crate::core::site::{Command, ControlAudit, start_for};
use crate::store::Write;
use crate::store::roles::Action;
use crate::web::error::{Said, WebError};
use crate::web::i18n::{Lang, Text, t};
use crate::web::input::{Input, Posted, lenient_json};
use crate::web::page::{Ctx, html_page, layout};
use crate::web::state::AppState;

use view::SocketDetail;

/// Longest name a manager may start a session for (an access-list user id or a token).
const MAX_USER: usize = 64;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sockets/{id}", get(detail))
        .route("/api/v1/sockets/{id}", get(detail))
        .route("/sockets/{id}/{action}", post(act))
        .route("/api/v1/sockets/{id}/{action}", post(act))
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
    pub(super) fn status(&self) -> StatusCode {
        match self {
            ControlError::UnknownSocket | ControlError::UnknownAction => StatusCode::NOT_FOUND,
            ControlError::NoSession | ControlError::Busy => StatusCode::CONFLICT,
            ControlError::MissingUser | ControlError::BadUser => StatusCode::UNPROCESSABLE_ENTITY,
            ControlError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub(super) fn message(&self, lang: Lang) -> &'static str {
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
    pub(super) fn field(&self) -> Option<&'static str> {
        matches!(self, ControlError::MissingUser | ControlError::BadUser).then_some("user")
    }
}

/// A control action of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Control {
    OutOfService,
    Return,
    Stop,
    Start,
}

impl Control {
    pub(super) fn parse(s: &str) -> Option<Control> {
        Some(match s {
            "out-of-service" => Control::OutOfService,
            "return" => Control::Return,
            "stop" => Control::Stop,
            "start" => Control::Start,
            _ => return None,
        })
    }

    /// The name in the audit record and in `SocketDetail::actions`.
    pub(super) fn name(self) -> &'static str {
        match self {
            Control::OutOfService => "out_of_service",
            Control::Return => "return",
            Control::Stop => "stop",
            Control::Start => "start",
        }
    }

    pub(super) fn path(self) -> &'static str {
        match self {
            Control::OutOfService => "out-of-service",
            Control::Return => "return",
            Control::Stop => "stop",
            Control::Start => "start",
        }
    }

    pub(super) fn label(self, lang: Lang) -> &'static str {
        match self {
            Control::OutOfService => lang.pick("Take out of service", "Mettre hors service"),
            Control::Return => lang.pick("Return to service", "Remettre en service"),
            Control::Stop => lang.pick("Stop the session", "Arrêter la session"),
            Control::Start => lang.pick("Let charge", "Autoriser la charge"),
        }
    }
}

pub(super) fn find(app: &AppState, id: &str) -> Option<(usize, SocketSnapshot)> {
    app.inner
        .sockets
        .borrow()
        .iter()
        .enumerate()
        .find(|(_, s)| s.id == id)
        .map(|(i, s)| (i, s.clone()))
}

/// 404 for a socket the site does not have: the page with the message, or `{"error": ..}`.
fn unknown_socket(app: &AppState, ctx: &Ctx) -> WebError {
    let message = ControlError::UnknownSocket.message(ctx.lang);
    WebError::NotFound(if ctx.api {
        Said::Json(message.into())
    } else {
        Said::Page(layout(
            ctx.lang,
            t(ctx.lang, Text::Socket),
            &app.inner.site_name,
            Some(ctx),
            html! { p class="error" { (message) } },
        ))
    })
}

async fn detail(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let d = view::build(&app, &ctx, &id)
        .await?
        .ok_or_else(|| unknown_socket(&app, &ctx))?;
    Ok(ctx.reply(|| page(&app, &ctx, &d, None, StatusCode::OK), || Json(&d)))
}

fn page(
    app: &AppState,
    ctx: &Ctx,
    d: &SocketDetail,
    refused: Option<(&ControlError, &str)>,
    status: StatusCode,
) -> Response {
    let page = html::render(ctx, &app.inner.site_name, d, refused);
    html_page(status, page)
}

/// What a start carries (pages: a form field; the API: JSON, or nothing). Other actions carry
/// nothing.
#[derive(Debug, Default, Deserialize)]
struct ActionBody {
    #[serde(default)]
    user: Option<String>,
}

impl Posted for ActionBody {
    async fn from_json(request: Request) -> Result<Self, Response> {
        lenient_json(request).await
    }
}

async fn act(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((id, action)): Path<(String, String)>,
    Input(body): Input<ActionBody>,
) -> Result<Response, WebError> {
    ctx.require(Action::ControlSockets)?;
    let typed = body.user.clone().unwrap_or_default();
    match control(&app, &ctx, &id, &action, body).await {
        Ok(()) => Ok(ctx.reply(
            || Redirect::to(&format!("/sockets/{id}")),
            || {
                let accepted =
                    serde_json::json!({ "socket": id, "action": action, "accepted": true });
                (StatusCode::ACCEPTED, Json(accepted))
            },
        )),
        // The socket's own answer: the API's names the field; the page is shown again with the
        // refusal next to its field or its buttons.
        Err(e) if ctx.api => Ok((
            e.status(),
            Json(serde_json::json!({ "error": e.message(ctx.lang), "field": e.field() })),
        )
            .into_response()),
        Err(e) => {
            let d = view::build(&app, &ctx, &id)
                .await?
                .ok_or_else(|| unknown_socket(&app, &ctx))?;
            Ok(page(&app, &ctx, &d, Some((&e, &typed)), e.status()))
        }
    }
}

/// Checks the action against the socket's state, audits it, then tells the core.
async fn control(
    app: &AppState,
    ctx: &Ctx,
    id: &str,
    action: &str,
    body: ActionBody,
) -> Result<(), ControlError> {
    let control = Control::parse(action).ok_or(ControlError::UnknownAction)?;
    let (index, s) = find(app, id).ok_or(ControlError::UnknownSocket)?;
    let command = match control {
        Control::OutOfService | Control::Return => Command::SetOutOfService {
            socket: index,
            out_of_service: control == Control::OutOfService,
        },
        Control::Stop => {
            if s.view.session.is_none() {
                return Err(ControlError::NoSession);
            }
            Command::StopSession {
                socket: index,
                reason: StopReason::Local,
            }
        }
        Control::Start => {
            let user = body.user.unwrap_or_default().trim().to_string();
            if user.is_empty() {
                return Err(ControlError::MissingUser);
            }
            if user.chars().count() > MAX_USER || user.chars().any(char::is_control) {
                return Err(ControlError::BadUser);
            }
            // As central's remote start: the listed user of a token typed in, if it is one.
            let found = looked_up(app, &user).await;
            start_for(index, &s.view, found.as_ref(), user, AuthMethod::Manager)
                .ok_or(ControlError::Busy)?
        }
    };
    // The user the command lets charge, if any.
    let user = match &command {
        Command::Authorize { identity, .. } => identity.clone(),
        _ => None,
    };
    // Audited before it happens: no action without its record.
    let audit = ControlAudit {
        socket: index,
        action: control.name(),
        actor: Some(ctx.session.username.clone()),
        user: user.clone(),
        reason: None,
        at: app.inner.clock.now(),
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

/// What the store knows of a token typed in, if it is one.
async fn looked_up(app: &AppState, typed: &str) -> Option<crate::core::access::Lookup> {
    let token = crate::core::access::IdToken::new(typed)?;
    app.read(move |conn| crate::store::access::lookup(conn, &token))
        .await
        .ok()
}
