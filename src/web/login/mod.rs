//! Who is at the page: the sign-in form (rate-limited per address, the account's session
//! cookie set), sign-out, and the first start's setup form (the one-time code from the
//! journal creates the first installer). Each password is hashed or checked in its turn in the
//! hash gate (`auth::hashing`): beyond its queue a sign-in is answered 503 with `Retry-After`
//! at once and is not a failed guess for the rate limit. Open to anyone (`guard::public`); never shows why a
//! username is refused beyond "unknown username or wrong password".

mod html;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use tokio::time::Instant;

use crate::store::Write;
use crate::store::accounts::{AccountAction, AccountChange, NewAccount};
use crate::web::auth::hashing::{self, GateError};
use crate::web::auth::login::{LoginError, login};
use crate::web::auth::{password, sessions};
use crate::web::i18n::Lang;
use crate::web::server::ClientAddr;
use crate::web::state::AppState;

use html::{login_form, setup_form};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/setup", get(setup_page).post(setup_submit))
        .route("/logout", post(logout))
}

fn lang(headers: &HeaderMap) -> Lang {
    Lang::negotiate(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
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
    // An address that must wait takes no place in the hash gate's queue.
    if let Err(w) = app.inner.limiter.check(peer.ip(), Instant::now()) {
        return refused(
            StatusCode::TOO_MANY_REQUESTS,
            w.to_string(),
            Some(w.seconds()),
        );
    }
    let inner = app.inner.clone();
    let attempt = app
        .read_hashing(move |conn| {
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
    // Busy: no password was checked, so the limiter records nothing (not a failed guess).
    let attempt = match attempt {
        Ok(attempt) => attempt,
        Err(e @ GateError::Busy) => {
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                e.to_string(),
                Some(hashing::RETRY_AFTER_SECONDS),
            );
        }
        Err(e @ GateError::Failed) => {
            return refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), None);
        }
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
    let hash = match app.inner.hashing.run(move || password::hash(&pw)).await {
        Ok(Ok(hash)) => hash,
        Err(e @ GateError::Busy) => {
            let mut response = refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, hashing::RETRY_AFTER_SECONDS.into());
            return response;
        }
        _ => return refuse(StatusCode::SERVICE_UNAVAILABLE, "cannot hash the password"),
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
