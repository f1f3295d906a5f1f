//! The Access page: a read-only view of what central synced (users, communities, tariffs,
//! promotions) with a search over users, and two tools: `explain` (would this token be accepted
//! on this socket now, and why not) and `price` (a tariff's breakdown for an energy, a start and
//! a duration), each a folder like the page's (`view`, `html`). Owns the page and its JSON
//! twins; decisions and prices come from the core's and pricing's own functions, never a copy.
//! Never writes.

mod explain;
mod html;
mod price;
mod view;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::web::error::WebError;
use crate::web::form::Refusals;
use crate::web::page::{Ctx, html_page};
use crate::web::state::AppState;

use view::{AccessView, UsersQuery, communities, parse_users_query, promotions, tariffs, users};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/access", get(page))
        .route("/api/v1/access/users", get(users_json))
        .route("/api/v1/access/communities", get(communities_json))
        .route("/api/v1/access/tariffs", get(tariffs_json))
        .route("/api/v1/access/promotions", get(promotions_json))
        .route("/access/explain", get(explain::explain))
        .route("/api/v1/access/explain", get(explain::explain))
        .route("/access/price", get(price::price))
        .route("/api/v1/access/price", get(price::price))
}

async fn page(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<UsersQuery>,
) -> Result<Response, WebError> {
    let lang = ctx.lang;
    let (status, search, page, errors) = match parse_users_query(&q, lang) {
        Ok((search, page)) => (StatusCode::OK, search, page, Refusals::default()),
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, None, 1, errors),
    };
    let view = AccessView {
        users: users(&app, search, page).await?,
        communities: communities(&app).await?,
        tariffs: tariffs(&app).await?,
        promotions: promotions(&app).await?,
    };
    let typed = q.q.clone().unwrap_or_default();
    let page = html::page(&ctx, &app.inner.site_name, &view, &typed, &errors);
    Ok(html_page(status, page))
}

async fn users_json(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<UsersQuery>,
) -> Result<Response, WebError> {
    let (search, page) = parse_users_query(&q, ctx.lang)?;
    Ok(axum::Json(users(&app, search, page).await?).into_response())
}

async fn communities_json(State(app): State<AppState>) -> Result<Response, WebError> {
    Ok(axum::Json(communities(&app).await?).into_response())
}

async fn tariffs_json(State(app): State<AppState>) -> Result<Response, WebError> {
    Ok(axum::Json(tariffs(&app).await?).into_response())
}

async fn promotions_json(State(app): State<AppState>) -> Result<Response, WebError> {
    Ok(axum::Json(promotions(&app).await?).into_response())
}
