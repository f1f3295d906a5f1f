//! Who is at the page: the sign-in and first-start setup forms, sign-out, and the guard every
//! other route passes (a valid session cookie, and on state-changing requests its CSRF token).
//! Pages answer unknown visitors with the sign-in form, the API with 401.

use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use tokio::time::Instant;

use super::auth::login::{LoginError, login};
use super::auth::{csrf, password, sessions};
use super::i18n::{Lang, Text, t};
use super::pages::layout;
use super::server::ClientAddr;
use super::state::AppState;
use crate::store::Write;
use crate::store::accounts::{AccountAction, AccountChange, NewAccount};

/// Routes anyone may reach.
fn public(path: &str) -> bool {
    matches!(path, "/login" | "/setup") || path.starts_with("/assets/")
}

/// The largest form the pages post (a socket's settings, an account); larger ones are refused
/// with 413 before any handler runs.
pub const FORM_LIMIT: usize = 64 * 1024;

/// The guard: a session for every route but the public ones; a CSRF token on every
/// state-changing request, in the header `X-CSRF-Token` (scripts, the API) or the form field
/// `csrf` (pages). Both are checked here, so no handler can forget.
pub async fn guard(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if public(&path) {
        return next.run(request).await;
    }
    // Prometheus on this machine scrapes without a login; others sign in like for any page.
    if path == super::metrics::PATH
        && super::metrics::open_without_login(request.extensions().get::<ClientAddr>())
    {
        return next.run(request).await;
    }
    let session = request
        .headers()
        .get(header::COOKIE)
        .and_then(|h| h.to_str().ok())
        .and_then(sessions::from_cookie_header)
        .and_then(|id| app.inner.sessions.get(id, Instant::now()));
    let Some(session) = session else {
        return if path.starts_with("/api/") || path == super::metrics::PATH {
            (StatusCode::UNAUTHORIZED, "sign in first").into_response()
        } else {
            Redirect::to("/login").into_response()
        };
    };
    let form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes()
                .starts_with(b"application/x-www-form-urlencoded")
        });
    if csrf::required_for(request.method().as_str()) {
        let header = request
            .headers()
            .get(csrf::HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let sent = match (header, form) {
            (Some(h), _) => Some(h),
            (None, true) => {
                let (parts, body) = request.into_parts();
                let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
                    return (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large")
                        .into_response();
                };
                let field = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                    .ok()
                    .and_then(|fields| {
                        fields
                            .into_iter()
                            .find(|(k, _)| k == csrf::FORM_FIELD)
                            .map(|(_, v)| v)
                    });
                request = Request::from_parts(parts, axum::body::Body::from(bytes));
                field
            }
            (None, false) => None,
        };
        if !csrf::verify(&session.csrf_token, sent.as_deref()) {
            return (StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response();
        }
    }
    request.extensions_mut().insert(session);
    next.run(request).await
}

fn lang(headers: &HeaderMap) -> Lang {
    Lang::negotiate(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

fn form_page(
    lang: Lang,
    site: &str,
    title: &str,
    action: &str,
    error: Option<&str>,
    fields: Markup,
) -> Markup {
    layout(
        lang,
        title,
        site,
        None,
        html! {
            h1 { (title) }
            @if let Some(e) = error { p class="error" role="alert" { (e) } }
            form method="post" action=(action) { (fields) button type="submit" { (title) } }
        },
    )
}

fn login_form(lang: Lang, site: &str, error: Option<&str>) -> Markup {
    form_page(
        lang,
        site,
        t(lang, Text::SignIn),
        "/login",
        error,
        html! {
            label for="username" { (t(lang, Text::Username)) }
            input id="username" name="username" autocomplete="username" required;
            label for="password" { (t(lang, Text::Password)) }
            input id="password" name="password" type="password" autocomplete="current-password" required;
        },
    )
}

pub async fn login_page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if app.inner.setup_pending() {
        return Redirect::to("/setup").into_response();
    }
    Html(login_form(lang(&headers), &app.inner.site_name, None).into_string()).into_response()
}

#[derive(serde::Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

pub async fn login_submit(
    State(app): State<AppState>,
    axum::Extension(ClientAddr(peer)): axum::Extension<ClientAddr>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    let lang = lang(&headers);
    let inner = app.inner.clone();
    let attempt = app
        .read(move |conn| {
            Ok(login(
                conn,
                &inner.limiter,
                peer.ip(),
                &form.username,
                &form.password,
                Instant::now(),
                inner.clock.now().wall_ms,
            ))
        })
        .await;
    let refused = |status: StatusCode, message: String, retry: Option<u64>| {
        let page = login_form(lang, &app.inner.site_name, Some(&message)).into_string();
        let mut response = (status, Html(page)).into_response();
        if let Some(s) = retry
            && let Ok(v) = s.to_string().parse()
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    };
    match attempt {
        Ok(Ok(account)) => match app.inner.sessions.open(
            account.id,
            &account.username,
            account.role,
            Instant::now(),
        ) {
            Ok(opened) => {
                app.inner
                    .sessions
                    .set_language(account.id, account.language);
                log::info!("web: {} signed in", account.username);
                let mut response = Redirect::to("/").into_response();
                if let Ok(v) = sessions::set_cookie(&opened.id).parse() {
                    response.headers_mut().insert(header::SET_COOKIE, v);
                }
                response
            }
            Err(e) => refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), None),
        },
        Ok(Err(LoginError::Wait(w))) => refused(
            StatusCode::TOO_MANY_REQUESTS,
            w.to_string(),
            Some(w.seconds()),
        ),
        Ok(Err(e @ LoginError::Invalid { .. })) => {
            refused(StatusCode::UNAUTHORIZED, e.to_string(), None)
        }
        Ok(Err(e)) => refused(StatusCode::FORBIDDEN, e.to_string(), None),
        Err(e) => refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), None),
    }
}

pub async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = headers
        .get(header::COOKIE)
        .and_then(|h| h.to_str().ok())
        .and_then(sessions::from_cookie_header)
    {
        app.inner.sessions.close(id);
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(v) = sessions::clear_cookie().parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

fn setup_form(lang: Lang, site: &str, error: Option<&str>) -> Markup {
    form_page(
        lang,
        site,
        "Set up",
        "/setup",
        error,
        html! {
            p { "Enter the one-time setup code from the journal (journalctl -u sitegate) and create the first installer account." }
            label for="code" { "Setup code" }
            input id="code" name="code" autocomplete="off" required;
            label for="username" { (t(lang, Text::Username)) }
            input id="username" name="username" autocomplete="username" required;
            label for="password" { (t(lang, Text::Password)) " (12+)" }
            input id="password" name="password" type="password" autocomplete="new-password" required minlength="12";
        },
    )
}

pub async fn setup_page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if !app.inner.setup_pending() {
        return Redirect::to("/login").into_response();
    }
    Html(setup_form(lang(&headers), &app.inner.site_name, None).into_string()).into_response()
}

#[derive(serde::Deserialize)]
pub struct Setup {
    code: String,
    username: String,
    password: String,
}

pub async fn setup_submit(
    State(app): State<AppState>,
    axum::Extension(ClientAddr(peer)): axum::Extension<ClientAddr>,
    headers: HeaderMap,
    Form(form): Form<Setup>,
) -> Response {
    let lang = lang(&headers);
    let site = app.inner.site_name.clone();
    let refuse = |status: StatusCode, message: &str| {
        (
            status,
            Html(setup_form(lang, &site, Some(message)).into_string()),
        )
            .into_response()
    };
    if !app.inner.setup_pending() {
        return Redirect::to("/login").into_response();
    }
    if let Err(w) = app.inner.limiter.check(peer.ip(), Instant::now()) {
        return refuse(StatusCode::TOO_MANY_REQUESTS, &w.to_string());
    }
    let code_ok = app
        .inner
        .setup
        .as_ref()
        .is_some_and(|c| c.matches(&form.code));
    if !code_ok {
        app.inner.limiter.failed(peer.ip(), Instant::now());
        return refuse(StatusCode::FORBIDDEN, "wrong setup code");
    }
    if let Err(policy) = password::check(&form.password, &form.username) {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, &policy.to_string());
    }
    let pw = form.password.clone();
    let Ok(Ok(hash)) = tokio::task::spawn_blocking(move || password::hash(&pw)).await else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "cannot hash the password");
    };
    let now = app.inner.clock.now();
    let change = AccountChange {
        actor: "setup".into(),
        at: now,
        action: AccountAction::Create(NewAccount {
            username: form.username.trim().to_string(),
            display_name: form.username.trim().to_string(),
            role: crate::store::roles::Role::Installer,
            password_hash: hash,
            active_until_ms: None,
            language: None,
        }),
    };
    match app
        .inner
        .store
        .apply(vec![Write::Account(Box::new(change))])
        .await
    {
        Ok(()) => {
            if let Some(code) = &app.inner.setup {
                code.consume(&form.code);
            }
            log::info!(
                "web: first installer account {} created",
                form.username.trim()
            );
            Redirect::to("/login").into_response()
        }
        Err(e) => refuse(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    }
}
