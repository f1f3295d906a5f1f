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

/// This page's part of the OpenAPI document.
pub(super) fn api_paths() -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    let refused = json!({"description": "A field is wrong: `{\"errors\": {field: message}}`"});
    let list = |summary: &str| {
        json!({"get": {
            "summary": summary,
            "responses": {"200": {"description": "As central sent them", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}}
        }})
    };
    vec![
        (
            "/api/v1/access/users",
            json!({"get": {
                "summary": "Synced users matching a search (a token exactly, or part of a user's id, name or community), 50 a page",
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 100}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}}
                ],
                "responses": {"200": {"description": "A page of users", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "q": {"type": ["string", "null"]}, "page": {"type": "integer"}, "pages": {"type": "integer"},
                    "per_page": {"type": "integer"}, "total": {"type": "integer"}, "version": {"type": "integer"},
                    "users": {"type": "array", "items": {"type": "object"}}
                }}}}}, "422": refused}
            }}),
        ),
        (
            "/api/v1/access/communities",
            list("Communities of the synced access rules"),
        ),
        ("/api/v1/access/tariffs", list("Tariffs central published")),
        (
            "/api/v1/access/promotions",
            list("Promotions central published, in its order"),
        ),
        (
            "/api/v1/access/explain",
            json!({"get": {
                "summary": "Would this token be accepted on this socket now, and if not, why (the core's own decision); without parameters, the sockets to ask about",
                "parameters": [
                    {"name": "token", "in": "query", "schema": {"type": "string", "maxLength": 36}},
                    {"name": "socket", "in": "query", "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "`{sockets, explanation: null | {outcome: accepted|rejected|ask_central|stops_session, reason, why, ...}}`", "content": {"application/json": {"schema": {"type": "object"}}}}, "422": refused}
            }}),
        ),
        (
            "/api/v1/access/price",
            json!({"get": {
                "summary": "A tariff's breakdown for an energy delivered evenly from a start over a duration (the quote tool's code); without parameters, the tariffs to choose from",
                "parameters": [
                    {"name": "tariff", "in": "query", "schema": {"type": "string"}},
                    {"name": "energy_kwh", "in": "query", "schema": {"type": "string"}},
                    {"name": "start", "in": "query", "description": "Site-local YYYY-MM-DDTHH:MM", "schema": {"type": "string"}},
                    {"name": "duration", "in": "query", "description": "Minutes", "schema": {"type": "integer", "minimum": 1, "maximum": 10080}}
                ],
                "responses": {"200": {"description": "`{tariffs, quote: null | {tariff, energy_kwh, start, duration_min, breakdown}}`; the breakdown as `sitegate tariff quote --json` prints it", "content": {"application/json": {"schema": {"type": "object"}}}}, "422": refused}
            }}),
        ),
    ]
}
