//! The Sessions page and its JSON twin: a period's sessions (running ones marked), filtered by
//! user and socket, fifty a page (`view` reads them, `html` renders them); CSV and XLSX
//! exports of the same filter (`export`) and a user's printable statement (`statement`). The
//! queries are `store::reports`' and the export layouts `export`'s, never a copy. Never
//! writes.

mod export;
mod html;
mod statement;
mod view;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;

use crate::web::error::WebError;
use crate::web::page::Ctx;
use crate::web::state::AppState;

use view::{FilterQuery, build, parse_filter, today};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sessions", get(list))
        .route("/api/v1/sessions", get(list))
        .route("/sessions/export.csv", get(export::csv))
        .route("/sessions/export.xlsx", get(export::xlsx))
        .route("/api/v1/sessions/export.csv", get(export::csv))
        .route("/api/v1/sessions/export.xlsx", get(export::xlsx))
        .route("/sessions/statement", get(statement::statement))
        .route("/api/v1/sessions/statement", get(statement::statement))
}

async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<FilterQuery>,
) -> Result<Response, WebError> {
    let today = today(&app);
    let list = async {
        let (filter, page) = parse_filter(&q, today, ctx.lang)?;
        build(&app, filter, page).await
    };
    ctx.reply_form(
        list.await,
        |list, refusals| {
            let sockets: Vec<(String, String)> = app
                .inner
                .sockets
                .borrow()
                .iter()
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect();
            html::page(
                &ctx,
                &app.inner.site_name,
                &q,
                today,
                &sockets,
                list,
                refusals,
            )
        },
        axum::Json,
    )
}
