//! The page's routes: HTML pages and the JSON API under `/api/v1` they share their data with,
//! the live stream (Server-Sent Events) and the embedded assets.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_stream::{Stream, StreamExt};

use super::dashboard;
use super::error::WebError;
use super::i18n::Lang;
use super::page::{Ctx, html_page};
use super::pages;
use super::state::AppState;

/// Live updates go out at most this often per client: a dashboard needs no more, and a hundred
/// clients stay cheap.
const STREAM_PERIOD: Duration = Duration::from_secs(1);

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/api/v1/dashboard", get(dashboard))
        .route("/api/v1/sockets", get(sockets_json))
        .route("/api/v1/stream", get(stream))
        .route(
            "/api/v1/openapi.json",
            get(|| async { axum::Json(super::openapi::document()) }),
        )
        .route("/assets/app.css", get(css))
        .route("/assets/app.js", get(js))
        .route(
            "/login",
            get(super::login::login_page).post(super::login::login_submit),
        )
        .route(
            "/setup",
            get(super::login::setup_page).post(super::login::setup_submit),
        )
        .route("/logout", axum::routing::post(super::login::logout))
        .merge(super::system::routes())
        .merge(super::installer::routes())
        .merge(super::sessions::routes())
        .merge(super::access::routes())
        .merge(super::socket::routes())
        .merge(super::accounts::routes())
        .merge(super::settings::routes())
        .merge(super::installer_tools::routes())
        // JSON bodies too: nothing the API takes comes near it.
        .layer(axum::extract::DefaultBodyLimit::max(
            super::login::FORM_LIMIT,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::login::guard,
        ))
        .with_state(state)
}

fn lang(headers: &HeaderMap) -> Lang {
    Lang::negotiate(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

async fn dashboard(State(app): State<AppState>, ctx: Ctx) -> Result<Response, WebError> {
    let d = dashboard::build(&app, ctx.lang).await?;
    Ok(ctx.reply(
        || html_page(StatusCode::OK, pages::dashboard(&ctx, &d)),
        || axum::Json(&d),
    ))
}

async fn sockets_json(State(app): State<AppState>, ctx: Ctx) -> Response {
    let sockets = app.inner.sockets.borrow().clone();
    axum::Json(dashboard::tiles(&sockets, ctx.lang)).into_response()
}

#[derive(serde::Deserialize)]
struct StreamQuery {
    lang: Option<String>,
}

/// `event: sockets`, data: the tiles as JSON; first at once, then on change, at most once per
/// `STREAM_PERIOD`.
async fn stream(
    State(app): State<AppState>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let lang = q
        .lang
        .as_deref()
        .and_then(Lang::from_code)
        .unwrap_or_else(|| lang(&headers));
    let stopping = app.inner.stopping.clone().cancelled_owned();
    let throttled =
        tokio_stream::wrappers::WatchStream::new(app.inner.sockets.clone()).throttle(STREAM_PERIOD);
    let updates = futures_util::StreamExt::take_until(throttled, stopping).map(move |sockets| {
        let tiles = dashboard::tiles(&sockets, lang);
        let json = serde_json::to_string(&tiles).unwrap_or_default();
        Ok(Event::default().event("sockets").data(json))
    });
    Sse::new(updates).keep_alive(KeepAlive::default())
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/app.css"),
    )
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/app.js"),
    )
}
