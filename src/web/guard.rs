//! The guard every route passes: a valid session cookie for every route but the public ones
//! (the sign-in and setup forms, the assets, and `/metrics` to loopback clients), and on
//! every state-changing request its CSRF token (header or form field; forms over 64 KiB are
//! refused with 413), so no handler can forget them. Pages answer unknown visitors with the
//! sign-in form, the API with 401.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tokio::time::Instant;

use crate::web::auth::{csrf, sessions};
use crate::web::server::ClientAddr;
use crate::web::state::AppState;

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
