//! The system page (`/system`) and its JSON twin (`/api/v1/system`): version, uptime, disk and
//! database sizes, whether the clock is synchronised, the uplink in one line, the last log
//! lines (`view` reads them, `html` renders them), and the database backup download
//! (`/system/backup`, `backup`). Never writes the database (the backup is SQLite's online
//! copy into a temporary file, made by `store::backup`).

mod backup;
mod html;
pub(super) mod view;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::store::roles::Action;
use crate::web::error::WebError;
use crate::web::page::{Ctx, html_page};
use crate::web::state::AppState;

use backup::download_backup;
use html::page;
use view::build;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/system", get(system))
        .route("/api/v1/system", get(system))
        .route("/system/backup", get(download_backup))
}

/// 503 for what keeps the page or the backup from being made (logged).
fn unavailable(e: impl std::fmt::Display) -> WebError {
    WebError::unreadable(format!("system page: {e}"))
}

async fn system(State(app): State<AppState>, ctx: Ctx) -> Result<Response, WebError> {
    ctx.require(Action::View)?;
    let s = build(&app, ctx.lang).await.map_err(unavailable)?;
    Ok(ctx.reply(
        || html_page(StatusCode::OK, page(&ctx, &app.inner.site_name, &s)),
        || axum::Json(&s),
    ))
}
