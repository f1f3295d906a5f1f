//! The explain tool (`/access/explain`, `/api/v1/access/explain`): would this token be
//! accepted on this socket now, and if not, why. `view` asks the core's own question; `html`
//! shows the answer.

mod html;
mod view;

use axum::extract::{Query, State};
use axum::response::Response;

use crate::web::error::WebError;
use crate::web::page::Ctx;
use crate::web::state::AppState;

use view::{ExplainQuery, decide, socket_ids, validate};

pub(super) async fn explain(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ExplainQuery>,
) -> Result<Response, WebError> {
    let sockets = socket_ids(&app);
    let ids: Vec<String> = sockets.iter().map(|(id, _)| id.clone()).collect();
    // Nothing asked (the first visit): the empty form, the choices; once asked, every field is
    // checked.
    let answer = match q.token.is_some() || q.socket.is_some() {
        false => Ok(None),
        true => match validate(&q, &ids, ctx.lang) {
            Ok(asked) => decide(&app, asked, ctx.lang).await.map(Some),
            Err(refusals) => Err(refusals.into()),
        },
    };
    ctx.reply_form(
        answer,
        |answer, errors| {
            let answer = answer.and_then(Option::as_ref);
            html::page(&ctx, &app.inner.site_name, &q, &sockets, answer, errors)
        },
        |answer| axum::Json(serde_json::json!({ "sockets": ids, "explanation": answer })),
    )
}
