//! What every signed-in handler starts from, and the frame of every page: `Ctx`, the
//! request's account (role, CSRF token), language (the account's setting, else
//! Accept-Language) and kind (a page, or the API); the one role check (`require`: 403 in the
//! request's language and kind); the answer in the route's kind (`reply`, `reply_form`); the
//! page layout with the menu the role may use, and the forms' hidden CSRF field. Never reads
//! the database.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::auth::csrf;
use super::auth::sessions::Session;
use super::error::{Said, WebError};
use super::form::Refusals;
use super::i18n::{Lang, Text, t};
use crate::store::accounts::Language;
use crate::store::roles::{Action, can};

/// The signed-in request's context. Extracting it from a request the guard let through never
/// fails; without a session (a route outside the guard) it answers 401.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub session: Session,
    pub lang: Lang,
    /// Whether the route is the API's (under `/api/`): the answer is JSON, else the page.
    pub api: bool,
    /// Whether the client asked for JSON (an API path or `Accept: application/json`): errors
    /// answer in kind.
    pub wants_json: bool,
}

impl Ctx {
    /// `Ok` when the account's role may do `action`; else 403, in the request's language and
    /// kind.
    pub fn require(&self, action: Action) -> Result<(), WebError> {
        if can(self.session.role, action) {
            Ok(())
        } else {
            Err(WebError::Forbidden(self.said(self.lang.pick(
                "your role does not allow this",
                "votre rôle ne le permet pas",
            ))))
        }
    }

    pub fn may(&self, action: Action) -> bool {
        can(self.session.role, action)
    }

    /// A page's own words in the request's kind: `{"error": ..}` for JSON, else a paragraph.
    pub fn said(&self, message: &'static str) -> Said {
        if self.wants_json {
            Said::Json(message.into())
        } else {
            Said::Html(message)
        }
    }

    /// 404 with the page's words, in the request's kind.
    pub fn not_found(&self, message: &'static str) -> WebError {
        WebError::NotFound(self.said(message))
    }

    /// The answer in the route's kind: `page()` on a page, `api()` under `/api/` (only the one
    /// asked for is made).
    pub fn reply<P: IntoResponse, J: IntoResponse>(
        &self,
        page: impl FnOnce() -> P,
        api: impl FnOnce() -> J,
    ) -> Response {
        if self.api {
            api().into_response()
        } else {
            page().into_response()
        }
    }

    /// The answer of a page with a form, and of its API twin: on the page, the form again with
    /// the answer, or with the refusals next to their fields (422); under `/api/`, the answer,
    /// or the refusals by field (422). Other errors answer for themselves.
    pub fn reply_form<T, J: IntoResponse>(
        &self,
        answer: Result<T, WebError>,
        page: impl FnOnce(Option<&T>, &Refusals) -> Markup,
        api: impl FnOnce(T) -> J,
    ) -> Result<Response, WebError> {
        match answer {
            Ok(answer) if self.api => Ok(api(answer).into_response()),
            Ok(answer) => Ok(html_page(
                StatusCode::OK,
                page(Some(&answer), &Refusals::default()),
            )),
            Err(WebError::Refused { refusals, .. }) if !self.api => Ok(html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(None, &refusals),
            )),
            Err(e) => Err(e),
        }
    }

    /// The hidden field every form of a signed-in page carries (checked by the guard).
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name=(csrf::FORM_FIELD) value=(self.session.csrf_token); }
    }
}

/// A page's HTML with its status.
pub fn html_page(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
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
        let api = parts.uri.path().starts_with("/api/");
        let wants_json = api
            || parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.starts_with("application/json"));
        Ok(Ctx {
            session,
            lang,
            api,
            wants_json,
        })
    }
}

/// The page frame: language, title, the site's name, the stylesheet and script. Signed in
/// (`who`), it carries the menu the role may use, sign-out, and the CSRF token for scripts.
pub fn layout(lang: Lang, title: &str, site_name: &str, who: Option<&Ctx>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (site_name) }
                                link rel="stylesheet" href="/assets/app.css";
                @if let Some(ctx) = who {
                    meta name="csrf-token" content=(ctx.session.csrf_token);
                }
            }
            body {
                header {
                    strong { (site_name) }
                    @if let Some(ctx) = who { (menu(lang, ctx)) }
                }
                main { (body) }
                script src="/assets/app.js" defer {}
            }
        }
    }
}

/// The menu: the pages the account's role may open, its settings, and sign-out.
fn menu(lang: Lang, ctx: &Ctx) -> Markup {
    let links = [
        ("/", Text::Dashboard, Action::View),
        ("/sessions", Text::Sessions, Action::View),
        ("/access", Text::Access, Action::View),
        ("/installer", Text::Installer, Action::InstallerConfig),
        ("/accounts", Text::Accounts, Action::ManageAccounts),
        ("/system", Text::System, Action::View),
    ];
    html! {
        nav aria-label="menu" {
            @for (href, text, action) in links {
                @if ctx.may(action) { a href=(href) { (t(lang, text)) } }
            }
        }
        span class="who" {
            a href="/settings" { (ctx.session.username) " · " (t(lang, Text::Settings)) }
            form method="post" action="/logout" class="inline" {
                (ctx.csrf_field())
                button type="submit" class="link" { (t(lang, Text::SignOut)) }
            }
        }
    }
}
