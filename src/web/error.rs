//! `WebError`: every way a signed-in handler refuses a request or fails to answer it, and how
//! each answers. Handlers return `Result<Response, WebError>` and use `?`: `ctx.require(..)?`
//! for the role, `app.read(..).await?` for the database. The variants are what callers branch
//! on: a page shows its form again on `Refused`; the API answers the refusals by field.
//! A failure of the site itself (its database, its core) is logged once, here, and never
//! shown beyond a short sentence. Never decides what is allowed or valid.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::Markup;

use super::auth::hashing::{self, GateError};
use super::form::Refusals;
use super::state::DbError;

/// A message as the request gets it: JSON for the API, a paragraph for a page, plain text, or a
/// whole page.
#[derive(Debug, Clone)]
pub enum Said {
    /// `{"error": message}`.
    Json(Cow<'static, str>),
    /// `<p>message</p>`: the page's own words (static, so there is nothing to escape).
    Html(&'static str),
    /// The message as plain text.
    Text(Cow<'static, str>),
    /// A whole page (the message inside it).
    Page(Markup),
}

impl IntoResponse for Said {
    fn into_response(self) -> Response {
        match self {
            Said::Json(message) => {
                axum::Json(serde_json::json!({ "error": message })).into_response()
            }
            Said::Html(message) => Html(format!("<p>{message}</p>")).into_response(),
            Said::Text(message) => message.into_response(),
            Said::Page(page) => Html(page.into_string()).into_response(),
        }
    }
}

/// How the API writes a form's refusals (each shape is what its clients already read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"errors": {field: message}}`: each field's first message.
    Errors,
    /// `{"errors": {field: [message, ...]}}`: every rule a value breaks (configuration edits;
    /// `""` is the file as a whole).
    Lists,
    /// `{"error": "invalid fields", "fields": {field: message}}` (the installer's tools).
    InvalidFields,
}

#[derive(Debug)]
pub enum WebError {
    /// 403: the account's role may not do this.
    Forbidden(Said),
    /// 404: no such socket, account, bus or action.
    NotFound(Said),
    /// 409: not now (a session runs on the socket).
    Conflict(Said),
    /// 400: a body that is not what the route reads.
    BadRequest(Said),
    /// 422: fields refused, as the API answers them (a page shows its form again instead).
    Refused { refusals: Refusals, shape: Shape },
    /// 503: the site cannot answer now (its database, a stopping core, no configuration file
    /// to edit). `cause`, when there is one, is logged, never shown.
    Unavailable { cause: Option<String>, said: Said },
    /// 507: not enough free disk for what was asked.
    InsufficientStorage(Said),
    /// 503 with `Retry-After`: too many password hashes at once; nothing was done or counted,
    /// the same request may simply be sent again.
    Busy(Said),
}

impl WebError {
    /// 503 for a failed database read or a failure behind it; the cause is logged.
    pub fn unreadable(cause: impl std::fmt::Display) -> WebError {
        WebError::Unavailable {
            cause: Some(cause.to_string()),
            said: Said::Text("the database cannot be read".into()),
        }
    }

    /// 503 for a failed database write; the cause is logged.
    pub fn unwritable(cause: impl std::fmt::Display) -> WebError {
        WebError::Unavailable {
            cause: Some(cause.to_string()),
            said: Said::Text("the database cannot be written".into()),
        }
    }

    /// 422 with `{"errors": {field: message}}`.
    pub fn refused(refusals: Refusals) -> WebError {
        WebError::Refused {
            refusals,
            shape: Shape::Errors,
        }
    }
}

impl From<DbError> for WebError {
    fn from(e: DbError) -> WebError {
        WebError::unreadable(e)
    }
}

impl From<Refusals> for WebError {
    fn from(refusals: Refusals) -> WebError {
        WebError::refused(refusals)
    }
}

impl From<GateError> for WebError {
    fn from(e: GateError) -> WebError {
        match e {
            GateError::Busy => WebError::Busy(Said::Text(e.to_string().into())),
            GateError::Failed => WebError::unwritable(e),
        }
    }
}

/// A 503 with `Retry-After` (`hashing::RETRY_AFTER_SECONDS`): the hash gate's queue is full.
pub fn busy(body: impl IntoResponse) -> Response {
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(hashing::RETRY_AFTER_SECONDS),
    );
    response
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Forbidden(said) => (StatusCode::FORBIDDEN, said).into_response(),
            WebError::NotFound(said) => (StatusCode::NOT_FOUND, said).into_response(),
            WebError::Conflict(said) => (StatusCode::CONFLICT, said).into_response(),
            WebError::BadRequest(said) => (StatusCode::BAD_REQUEST, said).into_response(),
            WebError::InsufficientStorage(said) => {
                (StatusCode::INSUFFICIENT_STORAGE, said).into_response()
            }
            WebError::Refused { refusals, shape } => {
                let body = match shape {
                    Shape::Errors => refusals.json(),
                    Shape::Lists => serde_json::json!({ "errors": refusals.lists() }),
                    Shape::InvalidFields => {
                        serde_json::json!({ "error": "invalid fields", "fields": refusals.by_field() })
                    }
                };
                (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
            }
            WebError::Busy(said) => busy(said),
            WebError::Unavailable { cause, said } => {
                if let Some(cause) = cause {
                    log::error!("web: {cause}");
                }
                (StatusCode::SERVICE_UNAVAILABLE, said).into_response()
            }
        }
    }
}
