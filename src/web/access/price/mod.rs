//! The price calculator (`/access/price`, `/api/v1/access/price`): one of the site's
//! tariffs, an energy, a start and a duration, priced as a session that charges evenly.
//! `view` asks `pricing::cost`; `html` shows the breakdown.

mod html;
mod view;

use axum::extract::{Query, State};
use axum::response::Response;

use crate::web::error::WebError;
use crate::web::page::Ctx;
use crate::web::state::AppState;

use view::{PriceQuery, asked, quote, stored_tariffs, validate};

pub(super) async fn price(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<PriceQuery>,
) -> Result<Response, WebError> {
    let tariffs = stored_tariffs(&app).await?;
    let ids: Vec<String> = tariffs.iter().map(|(id, _)| id.clone()).collect();
    // Nothing asked: the choices, as the empty form shows them.
    let quote = match asked(&q) {
        false => Ok(None),
        true => validate(&q, &ids, ctx.lang)
            .and_then(|a| quote(&app, a, &tariffs, ctx.lang))
            .map(Some)
            .map_err(WebError::from),
    };
    ctx.reply_form(
        quote,
        |quote, errors| {
            // The start the form offers: now, in the site's time.
            let now = crate::clock::wall_utc()
                .with_timezone(&app.inner.time_zone)
                .format("%Y-%m-%dT%H:%M")
                .to_string();
            let quote = quote.and_then(Option::as_ref);
            html::page(&ctx, &app.inner.site_name, &q, &ids, &now, quote, errors)
        },
        |quote| axum::Json(serde_json::json!({ "tariffs": ids, "quote": quote })),
    )
}
