//! What every signed-in handler starts from: `Ctx`, the request's account (role, CSRF token)
//! and language (the account's setting, else Accept-Language). Owns the role check that turns
//! a forbidden action into 403 and the hidden CSRF field of forms; never reads the database.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use super::auth::csrf;
use super::auth::sessions::Session;
use super::i18n::Lang;
use crate::store::accounts::Language;
use crate::store::roles::{Action, can};

/// The signed-in request's context. Extracting it from a request the guard let through never
/// fails; without a session (a route outside the guard) it answers 401.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub session: Session,
    pub lang: Lang,
    /// Whether the client asked for JSON (an API path or `Accept: application/json`): errors
    /// answer in kind.
    pub wants_json: bool,
}

impl Ctx {
    /// `Ok` when the account's role may do `action`; else the 403 answer to return
    /// (`Forbidden` is a response: handlers returning `Result<_, Response>` can `?` it after
    /// `.map_err(IntoResponse::into_response)`).
    pub fn require(&self, action: Action) -> Result<(), Forbidden> {
        if can(self.session.role, action) {
            Ok(())
        } else {
            Err(Forbidden {
                lang: self.lang,
                json: self.wants_json,
            })
        }
    }

    pub fn forbidden(&self) -> Response {
        Forbidden {
            lang: self.lang,
            json: self.wants_json,
        }
        .into_response()
    }

    /// The hidden field every form of a signed-in page carries (checked by the guard).
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name=(csrf::FORM_FIELD) value=(self.session.csrf_token); }
    }

    pub fn may(&self, action: Action) -> bool {
        can(self.session.role, action)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Ctx, Response> {
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            return Err((StatusCode::UNAUTHORIZED, "sign in first").into_response());
        };
        let lang = match session.language {
            Some(Language::En) => Lang::En,
            Some(Language::Fr) => Lang::Fr,
            None => Lang::negotiate(
                parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            ),
        };
        let wants_json = parts.uri.path().starts_with("/api/")
            || parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.starts_with("application/json"));
        Ok(Ctx {
            session,
            lang,
            wants_json,
        })
    }
}

/// The answer to an action the account's role does not allow: 403, in the request's language
/// and kind (JSON for the API).
#[derive(Debug, Clone, Copy)]
pub struct Forbidden {
    lang: Lang,
    json: bool,
}

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        let message = self.lang.pick(
            "your role does not allow this",
            "votre rôle ne le permet pas",
        );
        if self.json {
            (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({ "error": message })),
            )
                .into_response()
        } else {
            (StatusCode::FORBIDDEN, Html(format!("<p>{message}</p>"))).into_response()
        }
    }
}
