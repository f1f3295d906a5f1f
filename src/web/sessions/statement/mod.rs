//! One user's statement for a period: the export's statement layout (`export::layout::statement`,
//! the same table `sitegate export statement` writes) shown as a printable page and served as
//! JSON, with the totals a manager checks (sessions, energy, cost per currency). Never writes.

mod html;
mod view;

use axum::extract::{Query, State};
use axum::response::Response;

use super::view::FilterQuery;
use crate::web::error::WebError;
use crate::web::page::Ctx;
use crate::web::state::AppState;

use view::{asked, build};

pub(super) async fn statement(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<FilterQuery>,
) -> Result<Response, WebError> {
    // Nothing asked: no statement, as the empty form shows it.
    let statement = match asked(&q) {
        false => Ok(None),
        true => build(&app, &q, ctx.lang).await.map(Some),
    };
    ctx.reply_form(
        statement,
        |statement, errors| {
            let statement = statement.and_then(Option::as_ref);
            html::page(&ctx, &app.inner.site_name, &q, statement, errors)
        },
        |statement| axum::Json(serde_json::json!({ "statement": statement })),
    )
}
