//! The Access page: a read-only view of what central synced (users, communities, tariffs,
//! promotions) with a search over users, and two tools: `explain` (would this token be accepted
//! on this socket now, and why not) and `price` (a tariff's breakdown for an energy, a start and
//! a duration). Owns the page and its JSON twins; decisions and prices come from the core's and
//! pricing's own functions, never a copy. Never writes.

mod explain;
mod price;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::error::WebError;
use super::form::{Refusals, field};
use super::i18n::Lang;
use super::page::{Ctx, html_page};
use super::pages::layout;
use super::state::AppState;
use crate::core::access::{CommunityKind, Credit, SiteRules, User};

/// Users per page.
pub const PER_PAGE: u32 = 50;

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

#[derive(Debug, Clone, Default, Deserialize)]
struct UsersQuery {
    q: Option<String>,
    page: Option<String>,
}

/// A synced user as shown.
#[derive(Debug, Clone, Serialize)]
pub struct UserLine {
    pub id: String,
    pub name: String,
    pub communities: Vec<String>,
    pub socket_access: bool,
    pub blocked: bool,
    /// Site-local `YYYY-MM-DD HH:MM`.
    pub active_until: Option<String>,
    /// limit or prepaid, with the amount left as a decision sees it.
    pub credit_kind: Option<&'static str>,
    pub credit: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserList {
    pub q: Option<String>,
    pub page: u64,
    pub pages: u64,
    pub per_page: u32,
    pub total: u64,
    pub version: u64,
    pub users: Vec<UserLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommunityLine {
    pub id: String,
    /// private or public.
    pub kind: &'static str,
    pub tariff: Option<String>,
    /// e.g. "Mon–Fri 07:00–19:00"; `None`: always.
    pub hours: Option<String>,
    pub at_this_site: bool,
    pub default: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishedLine {
    pub id: String,
    /// The document as central sent it.
    pub document: serde_json::Value,
}

/// Everything the page shows (each API twin serves one part).
#[derive(Debug, Clone, Serialize)]
pub struct AccessView {
    pub users: UserList,
    pub communities: Vec<CommunityLine>,
    pub tariffs: Vec<PublishedLine>,
    pub promotions: Vec<PublishedLine>,
}

fn local_time(app: &AppState, ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| {
        t.with_timezone(&app.inner.time_zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    })
}

fn user_line(app: &AppState, u: &User) -> UserLine {
    let (kind, amount) = match u.credit {
        Some(Credit::Limit(a)) => (Some("limit"), Some(a.to_string())),
        Some(Credit::Prepaid(a)) => (Some("prepaid"), Some(a.to_string())),
        None => (None, None),
    };
    UserLine {
        id: u.id.clone(),
        name: u.name.clone(),
        communities: u.communities.clone(),
        socket_access: u.socket_access,
        blocked: u.blocked,
        active_until: u.active_until_ms.and_then(|ms| local_time(app, ms)),
        credit_kind: kind,
        credit: amount,
    }
}

fn parse_users_query(q: &UsersQuery, lang: Lang) -> Result<(Option<String>, u64), Refusals> {
    let search =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
    let mut errors = Refusals::default();
    if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
        errors.add(
            "q",
            lang.pick("at most 100 characters", "au plus 100 caractères"),
        );
    }
    let page = match q.page.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 1,
        Some(t) => match t.parse::<u64>() {
            Ok(p) if p >= 1 => p,
            _ => {
                errors.add(
                    "page",
                    lang.pick("a page number from 1", "un numéro de page à partir de 1"),
                );
                1
            }
        },
    };
    if errors.is_empty() {
        Ok((search, page))
    } else {
        Err(errors)
    }
}

async fn users(app: &AppState, search: Option<String>, page: u64) -> Result<UserList, WebError> {
    let offset = (page - 1).saturating_mul(u64::from(PER_PAGE));
    let query = search.clone();
    let (found, version) = app
        .read(move |conn| {
            let found =
                crate::store::access::browse::users(conn, query.as_deref(), PER_PAGE, offset)?;
            Ok((found, crate::store::access::list_version(conn)?))
        })
        .await?;
    Ok(UserList {
        q: search,
        page,
        pages: found.total.div_ceil(u64::from(PER_PAGE)).max(1),
        per_page: PER_PAGE,
        total: found.total,
        version,
        users: found.users.iter().map(|u| user_line(app, u)).collect(),
    })
}

fn hours_text(h: &crate::core::access::Hours) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let days: Vec<&str> = DAYS
        .iter()
        .zip(h.days)
        .filter(|(_, on)| *on)
        .map(|(d, _)| *d)
        .collect();
    let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    format!("{} {}–{}", days.join(" "), hm(h.start_min), hm(h.end_min))
}

fn community_lines(rules: &SiteRules) -> Vec<CommunityLine> {
    let mut lines: Vec<CommunityLine> = rules
        .communities
        .values()
        .map(|c| CommunityLine {
            id: c.id.clone(),
            kind: match c.kind {
                CommunityKind::Private => "private",
                CommunityKind::Public => "public",
            },
            tariff: c.tariff.clone(),
            hours: c.hours.as_ref().map(hours_text),
            at_this_site: rules.site.communities.contains(&c.id),
            default: rules.site.default_community.as_ref() == Some(&c.id),
        })
        .collect();
    lines.sort_by(|a, b| a.id.cmp(&b.id));
    lines
}

async fn communities(app: &AppState) -> Result<Vec<CommunityLine>, WebError> {
    let rules = app.read(crate::store::access::load_rules).await?;
    Ok(community_lines(&rules))
}

fn published(rows: Vec<(String, String)>) -> Vec<PublishedLine> {
    rows.into_iter()
        .map(|(id, json)| PublishedLine {
            id,
            document: serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json)),
        })
        .collect()
}

async fn tariffs(app: &AppState) -> Result<Vec<PublishedLine>, WebError> {
    Ok(published(app.read(crate::store::access::tariffs).await?))
}

async fn promotions(app: &AppState) -> Result<Vec<PublishedLine>, WebError> {
    Ok(published(app.read(crate::store::access::promotions).await?))
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
    let body = render(lang, &view, &typed, &errors);
    let title = lang.pick("Access", "Accès");
    Ok(html_page(
        status,
        layout(lang, title, &app.inner.site_name, Some(&ctx), body),
    ))
}

fn render(lang: Lang, v: &AccessView, typed: &str, errors: &Refusals) -> Markup {
    let users = &v.users;
    let page_link = |page: u64| {
        format!(
            "/access?{}",
            serde_urlencoded::to_string([
                ("q", users.q.clone().unwrap_or_default()),
                ("page", page.to_string()),
            ])
            .unwrap_or_default()
        )
    };
    let yes_no = |b: bool| {
        if b {
            lang.pick("yes", "oui")
        } else {
            lang.pick("no", "non")
        }
    };
    html! {
        h1 { (lang.pick("Access", "Accès")) }
        p class="actions" {
            a href="/access/explain" { (lang.pick("Explain a decision", "Expliquer une décision")) }
            " · "
            a href="/access/price" { (lang.pick("Price calculator", "Calculateur de prix")) }
        }
        h2 { (lang.pick("Users", "Utilisateurs")) " " small { "(" (lang.pick("list version", "version de la liste")) " " (users.version) ")" } }
        form method="get" action="/access" class="filters" role="search" {
            (field("q", lang.pick("Search (token, user, community)", "Rechercher (badge, utilisateur, communauté)"), "search", typed, errors))
            @if let Some(m) = errors.get("page") { p class="field-error" id="page-error" { (m) } }
            button type="submit" { (lang.pick("Search", "Rechercher")) }
        }
        p { (users.total) " " (lang.pick("users", "utilisateurs")) }
        div class="table-wrap" {
            table class="users" {
                thead { tr {
                    th scope="col" { (lang.pick("Id", "Id")) }
                    th scope="col" { (lang.pick("Name", "Nom")) }
                    th scope="col" { (lang.pick("Communities", "Communautés")) }
                    th scope="col" { (lang.pick("Access", "Accès")) }
                    th scope="col" { (lang.pick("Blocked", "Bloqué")) }
                    th scope="col" { (lang.pick("Active until", "Actif jusqu'au")) }
                    th scope="col" { (lang.pick("Credit", "Crédit")) }
                } }
                tbody {
                    @for u in &users.users {
                        tr {
                            td { (u.id) }
                            td { (u.name) }
                            td { (u.communities.join(", ")) }
                            td { (yes_no(u.socket_access)) }
                            td { (yes_no(u.blocked)) }
                            td { (u.active_until.as_deref().unwrap_or("–")) }
                            td {
                                @match (u.credit_kind, &u.credit) {
                                    (Some(kind), Some(amount)) => {
                                        (amount) " (" (if kind == "limit" { lang.pick("limit", "plafond") } else { lang.pick("prepaid", "prépayé") }) ")"
                                    }
                                    _ => "–",
                                }
                            }
                        }
                    }
                }
            }
        }
        nav class="paging" aria-label=(lang.pick("pages", "pages")) {
            @if users.page > 1 { a rel="prev" href=(page_link(users.page - 1)) { (lang.pick("← Previous", "← Précédente")) } " " }
            span { (lang.pick("Page", "Page")) " " (users.page) " / " (users.pages) }
            @if users.page < users.pages { " " a rel="next" href=(page_link(users.page + 1)) { (lang.pick("Next →", "Suivante →")) } }
        }
        h2 { (lang.pick("Communities", "Communautés")) }
        div class="table-wrap" {
            table class="communities" {
                thead { tr {
                    th scope="col" { (lang.pick("Community", "Communauté")) }
                    th scope="col" { (lang.pick("Kind", "Type")) }
                    th scope="col" { (lang.pick("Tariff", "Tarif")) }
                    th scope="col" { (lang.pick("Hours", "Heures")) }
                    th scope="col" { (lang.pick("At this site", "Sur ce site")) }
                } }
                tbody {
                    @for c in &v.communities {
                        tr {
                            td { (c.id) @if c.default { " " small { (lang.pick("(default)", "(par défaut)")) } } }
                            td { (if c.kind == "public" { lang.pick("public", "publique") } else { lang.pick("private", "privée") }) }
                            td { (c.tariff.as_deref().unwrap_or("–")) }
                            td { (c.hours.as_deref().unwrap_or(lang.pick("always", "toujours"))) }
                            td { (yes_no(c.at_this_site)) }
                        }
                    }
                }
            }
        }
        h2 { (lang.pick("Tariffs", "Tarifs")) }
        (published_list(lang, &v.tariffs))
        h2 { (lang.pick("Promotions", "Promotions")) }
        (published_list(lang, &v.promotions))
    }
}

fn published_list(lang: Lang, items: &[PublishedLine]) -> Markup {
    html! {
        @if items.is_empty() { p { (lang.pick("None received.", "Aucun reçu.")) } }
        @for item in items {
            details {
                summary { (item.id) }
                pre { (serde_json::to_string_pretty(&item.document).unwrap_or_default()) }
            }
        }
    }
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
