//! The manager's dashboard (`/`, `/api/v1/dashboard`), every socket's tile
//! (`/api/v1/sockets`) and the live stream of tiles (`/api/v1/stream`, Server-Sent Events, at
//! most one update a second per client). `view` builds the one value the page (`html`) and the
//! API render. Reads only.

mod html;
pub(super) mod view;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_stream::{Stream, StreamExt};

use crate::web::error::WebError;
use crate::web::i18n::Lang;
use crate::web::page::{Ctx, html_page};
use crate::web::state::AppState;

/// Live updates go out at most this often per client: a dashboard needs no more, and a hundred
/// clients stay cheap.
const STREAM_PERIOD: Duration = Duration::from_secs(1);

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/api/v1/dashboard", get(dashboard))
        .route("/api/v1/sockets", get(sockets_json))
        .route("/api/v1/stream", get(stream))
}

fn lang(headers: &HeaderMap) -> Lang {
    Lang::negotiate(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

async fn dashboard(State(app): State<AppState>, ctx: Ctx) -> Result<Response, WebError> {
    let d = view::build(&app, ctx.lang).await?;
    Ok(ctx.reply(
        || html_page(StatusCode::OK, html::dashboard(&ctx, &d)),
        || axum::Json(&d),
    ))
}

async fn sockets_json(State(app): State<AppState>, ctx: Ctx) -> Response {
    let sockets = app.inner.sockets.borrow().clone();
    axum::Json(view::tiles(&sockets, ctx.lang)).into_response()
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
        let tiles = view::tiles(&sockets, lang);
        let json = serde_json::to_string(&tiles).unwrap_or_default();
        Ok(Event::default().event("sockets").data(json))
    });
    Sse::new(updates).keep_alive(KeepAlive::default())
}
