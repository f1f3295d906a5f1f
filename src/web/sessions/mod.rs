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

/// This page's part of the OpenAPI document.
pub(super) fn api_paths() -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    let filter = json!([
        {"name": "from", "in": "query", "description": "First site-local date (YYYY-MM-DD); default: the first of this month", "schema": {"type": "string", "format": "date"}},
        {"name": "to", "in": "query", "description": "Last site-local date; default: the end of this month", "schema": {"type": "string", "format": "date"}},
        {"name": "user", "in": "query", "schema": {"type": "string"}},
        {"name": "socket", "in": "query", "schema": {"type": "string"}}
    ]);
    let refused = json!({"description": "A field is wrong: `{\"errors\": {field: message}}`"});
    let file = |kind: &str, mime: &str| {
        json!({"get": {
            "summary": format!("The filter's completed sessions as {kind} (expense notes layout); needs the Export right"),
            "parameters": filter,
            "responses": {
                "200": {"description": "An attachment", "content": {mime: {"schema": {"type": "string", "format": "binary"}}}},
                "403": {"description": "The role may not export"},
                "422": refused
            }
        }})
    };
    let session = json!({"type": "object", "properties": {
        "id": {"type": "string"}, "start": {"type": ["string", "null"]}, "end": {"type": ["string", "null"]},
        "clock": {"type": "string", "enum": ["trusted", "estimated", "unknown"]},
        "socket": {"type": "string"}, "user": {"type": ["string", "null"]},
        "energy_kwh": {"type": "string"}, "duration": {"type": ["string", "null"]},
        "cost": {"type": ["string", "null"]}, "currency": {"type": ["string", "null"]},
        "stop_reason": {"type": ["string", "null"]}, "running": {"type": "boolean"}
    }});
    let mut list_parameters = filter.as_array().cloned().unwrap_or_default();
    list_parameters
        .push(json!({"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}}));
    vec![
        (
            "/api/v1/sessions",
            json!({"get": {
                "summary": "Sessions of a period, running ones included and marked, newest first, 50 a page",
                "parameters": list_parameters,
                "responses": {"200": {"description": "A page of sessions", "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["from", "to", "page", "pages", "per_page", "total", "sessions"],
                    "properties": {
                        "from": {"type": "string"}, "to": {"type": "string"},
                        "user": {"type": ["string", "null"]}, "socket": {"type": ["string", "null"]},
                        "page": {"type": "integer"}, "pages": {"type": "integer"},
                        "per_page": {"type": "integer"}, "total": {"type": "integer"},
                        "sessions": {"type": "array", "items": session}
                    }
                }}}}, "422": refused}
            }}),
        ),
        ("/api/v1/sessions/export.csv", file("CSV", "text/csv")),
        (
            "/api/v1/sessions/export.xlsx",
            file(
                "XLSX",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        ),
        (
            "/api/v1/sessions/statement",
            json!({"get": {
                "summary": "A user's statement for a period (the export's statement layout) with its totals; without parameters, `{\"statement\": null}`",
                "parameters": filter,
                "responses": {"200": {"description": "`{\"statement\": null | {title, user, from, to, notes, columns, lines, totals}}`", "content": {"application/json": {"schema": {"type": "object"}}}}, "422": refused}
            }}),
        ),
    ]
}
