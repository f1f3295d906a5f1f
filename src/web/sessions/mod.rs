//! The Sessions page and its JSON twin: a period's sessions (running ones marked), filtered by
//! user and socket, fifty a page; CSV and XLSX exports of the same filter and a user's printable
//! statement (`statement`). Owns the filter form (validated, errors next to their fields) and
//! the list's shape; the queries are `store::reports`' and the export layouts `export`'s, never
//! a copy. Never writes.

mod export;
mod statement;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::error::WebError;
use super::form::{Refusals, field};
use super::i18n::Lang;
use super::page::Ctx;
use super::pages::layout;
use super::state::AppState;
use crate::export::table::{hms, kwh, money};
use crate::store::reports::listing::{self, ListedSession, SessionPage};
use crate::store::reports::{Clock, Filter};
use crate::store::roles::Action;

/// Sessions per page.
pub const PER_PAGE: u32 = 50;

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

/// What the filter form sends; every field optional (empty means "not given").
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct FilterQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub user: Option<String>,
    pub socket: Option<String>,
    pub page: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The site's today, for default periods.
pub(super) fn today(app: &AppState) -> NaiveDate {
    crate::clock::wall_utc()
        .with_timezone(&app.inner.time_zone)
        .date_naive()
}

fn month_of(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).unwrap_or(day);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    (first, next.pred_opt().unwrap_or(first))
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| d.year() >= 2000 && d.year() <= 9999)
}

/// The filter the form asks for (this month when no period is given), and the page.
pub(super) fn parse_filter(
    q: &FilterQuery,
    today: NaiveDate,
    lang: Lang,
) -> Result<(Filter, u64), Refusals> {
    let mut errors = Refusals::default();
    let (month_from, month_to) = month_of(today);
    let bad_date = lang.pick("a date written YYYY-MM-DD", "une date écrite AAAA-MM-JJ");
    let from = match given(&q.from) {
        None => Some(month_from),
        Some(t) => parse_date(t).or_else(|| {
            errors.add("from", bad_date);
            None
        }),
    };
    let to = match given(&q.to) {
        None => Some(month_to),
        Some(t) => parse_date(t).or_else(|| {
            errors.add("to", bad_date);
            None
        }),
    };
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        errors.add(
            "to",
            lang.pick(
                "the period ends before it starts",
                "la période finit avant de commencer",
            ),
        );
    }
    let page = match given(&q.page) {
        None => Some(1),
        Some(t) => t.parse::<u64>().ok().filter(|p| *p >= 1).or_else(|| {
            errors.add(
                "page",
                lang.pick("a page number from 1", "un numéro de page à partir de 1"),
            );
            None
        }),
    };
    match (from, to, page) {
        (Some(from), Some(to), Some(page)) if errors.is_empty() => Ok((
            Filter {
                from,
                to,
                identity: given(&q.user).map(str::to_owned),
                socket: given(&q.socket).map(str::to_owned),
            },
            page,
        )),
        _ => Err(errors),
    }
}

/// One session as the page and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionLine {
    pub id: String,
    /// Site-local `YYYY-MM-DD HH:MM:SS`; `None` when the clock was not set.
    pub start: Option<String>,
    /// `None` while running, or when the clock was not set.
    pub end: Option<String>,
    /// trusted, estimated or unknown: how far the times can be believed.
    pub clock: &'static str,
    pub socket: String,
    /// `None`: anonymous.
    pub user: Option<String>,
    pub energy_kwh: String,
    /// `h:mm:ss`; `None` while running or when it cannot be known.
    pub duration: Option<String>,
    pub cost: Option<String>,
    pub currency: Option<String>,
    pub stop_reason: Option<String>,
    pub running: bool,
}

impl SessionLine {
    fn of(listed: &ListedSession) -> SessionLine {
        let s = &listed.session;
        let time = |t: Option<chrono::NaiveDateTime>| {
            t.map(|t| t.format(crate::store::reports::LOCAL_FORMAT).to_string())
        };
        let clock = if listed.running {
            s.started.clock()
        } else {
            s.clock()
        };
        SessionLine {
            id: s.id.clone(),
            start: time(s.started.local_time()),
            end: if listed.running {
                None
            } else {
                time(s.stopped.local_time())
            },
            clock: match clock {
                Clock::Trusted => "trusted",
                Clock::Estimated => "estimated",
                Clock::Unknown => "unknown",
            },
            socket: s.socket_id.clone(),
            user: s.identity.clone(),
            energy_kwh: format!("{:.3}", kwh(s.energy_wh)),
            duration: if listed.running {
                None
            } else {
                s.duration_ms().map(hms)
            },
            cost: s.total_cost.map(|c| money(c).to_string()),
            currency: s.currency.clone(),
            stop_reason: s.stop_reason.clone(),
            running: listed.running,
        }
    }
}

/// The list: its filter, its page and the sessions on it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionList {
    pub from: String,
    pub to: String,
    pub user: Option<String>,
    pub socket: Option<String>,
    pub page: u64,
    pub pages: u64,
    pub per_page: u32,
    pub total: u64,
    pub sessions: Vec<SessionLine>,
}

/// Reads one page of sessions (the same function serves the page and the API).
async fn build(app: &AppState, filter: Filter, page: u64) -> Result<SessionList, WebError> {
    let offset = (page - 1).saturating_mul(u64::from(PER_PAGE));
    let query = filter.clone();
    let found: SessionPage = app
        .read(move |conn| {
            listing::session_page(conn, &query, PER_PAGE, offset).map_err(report_error)
        })
        .await?;
    let mut sessions: Vec<SessionLine> = found.sessions.iter().map(SessionLine::of).collect();
    live_figures(app, &mut sessions);
    Ok(SessionList {
        from: filter.from.to_string(),
        to: filter.to.to_string(),
        user: filter.identity,
        socket: filter.socket,
        page,
        pages: found.total.div_ceil(u64::from(PER_PAGE)).max(1),
        per_page: PER_PAGE,
        total: found.total,
        sessions,
    })
}

/// A running session's stored energy and cost are those of its last write; the core's live
/// view is fresher, so running lines show it.
fn live_figures(app: &AppState, lines: &mut [SessionLine]) {
    let sockets = app.inner.sockets.borrow();
    for line in lines.iter_mut().filter(|l| l.running) {
        let live = sockets
            .iter()
            .filter_map(|s| s.view.session.as_ref())
            .find(|x| x.id.to_string() == line.id);
        if let Some(session) = live {
            line.energy_kwh = format!("{:.3}", kwh(session.meter.energy_wh));
            if let Some(cost) = &session.cost {
                line.cost = Some(money(cost.total_incl_tax).to_string());
                line.currency = Some(cost.currency.clone());
            }
        }
    }
}

pub(super) fn report_error(e: crate::store::reports::ReportError) -> crate::store::StoreError {
    crate::store::StoreError::Failed(e.to_string())
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
            let body = render(&ctx, &q, today, &sockets, list, refusals);
            let title = ctx.lang.pick("Sessions", "Sessions");
            layout(ctx.lang, title, &app.inner.site_name, Some(&ctx), body)
        },
        axum::Json,
    )
}

/// `path?query` keeping the filter, with `extra` fields (e.g. the page).
fn link(path: &str, list: &SessionList, extra: &[(&str, String)]) -> String {
    let mut fields: Vec<(&str, String)> =
        vec![("from", list.from.clone()), ("to", list.to.clone())];
    if let Some(u) = &list.user {
        fields.push(("user", u.clone()));
    }
    if let Some(s) = &list.socket {
        fields.push(("socket", s.clone()));
    }
    fields.extend(extra.iter().cloned());
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(&fields).unwrap_or_default()
    )
}

fn render(
    ctx: &Ctx,
    q: &FilterQuery,
    today: NaiveDate,
    sockets: &[(String, String)],
    list: Option<&SessionList>,
    errors: &Refusals,
) -> Markup {
    let lang = ctx.lang;
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let (this_from, this_to) = month_of(today);
    let (last_from, last_to) = month_of(this_from.pred_opt().unwrap_or(this_from));
    let preset = |from: NaiveDate, to: NaiveDate| {
        format!(
            "/sessions?{}",
            serde_urlencoded::to_string([
                ("from", from.to_string()),
                ("to", to.to_string()),
                ("user", value(&q.user)),
                ("socket", value(&q.socket)),
            ])
            .unwrap_or_default()
        )
    };
    let (from_value, to_value) = match list {
        Some(l) => (l.from.clone(), l.to.clone()),
        None => (value(&q.from), value(&q.to)),
    };
    let chosen_socket = value(&q.socket);
    html! {
        h1 { (lang.pick("Sessions", "Sessions")) }
        form method="get" action="/sessions" class="filters" {
            (field("from", lang.pick("From", "Du"), "date", &from_value, errors))
            (field("to", lang.pick("To", "Au"), "date", &to_value, errors))
            (field("user", lang.pick("User", "Utilisateur"), "text", &value(&q.user), errors))
            div class="field" {
                label for="socket" { (lang.pick("Socket", "Prise")) }
                select id="socket" name="socket" {
                    option value="" { (lang.pick("All sockets", "Toutes les prises")) }
                    @for (id, name) in sockets {
                        option value=(id) selected[*id == chosen_socket] { (name) " (" (id) ")" }
                    }
                }
            }
            @if let Some(message) = errors.get("page") {
                p class="field-error" id="page-error" { (message) }
            }
            button type="submit" { (lang.pick("Show", "Afficher")) }
        }
        p class="presets" {
            a href=(preset(this_from, this_to)) { (lang.pick("This month", "Ce mois-ci")) }
            " · "
            a href=(preset(last_from, last_to)) { (lang.pick("Last month", "Le mois dernier")) }
        }
        @if let Some(list) = list {
            (exports(ctx, list))
            (table(lang, list))
            (paging(lang, list))
        }
    }
}

fn exports(ctx: &Ctx, list: &SessionList) -> Markup {
    let lang = ctx.lang;
    html! {
        p class="actions" {
            @if ctx.may(Action::Export) {
                a class="button" href=(link("/sessions/export.csv", list, &[])) download { "CSV" }
                " "
                a class="button" id="export-xlsx" href=(link("/sessions/export.xlsx", list, &[])) download { "XLSX" }
                " "
            }
            @if list.user.is_some() {
                a href=(link("/sessions/statement", list, &[])) { (lang.pick("Statement", "Relevé")) }
            }
        }
        @if ctx.may(Action::Export) {
            p class="note" { (lang.pick(
                "Exports hold the completed sessions of the filter.",
                "Les exports contiennent les sessions terminées du filtre.",
            )) }
        }
    }
}

fn table(lang: Lang, list: &SessionList) -> Markup {
    html! {
        p { (list.total) " " (lang.pick("sessions", "sessions")) }
        div class="table-wrap" {
            table class="sessions" {
                thead { tr {
                    th scope="col" { (lang.pick("Start", "Début")) }
                    th scope="col" { (lang.pick("End", "Fin")) }
                    th scope="col" { (lang.pick("Socket", "Prise")) }
                    th scope="col" { (lang.pick("User", "Utilisateur")) }
                    th scope="col" { (lang.pick("Energy (kWh)", "Énergie (kWh)")) }
                    th scope="col" { (lang.pick("Duration", "Durée")) }
                    th scope="col" { (lang.pick("Cost", "Coût")) }
                    th scope="col" { (lang.pick("Stop reason", "Raison de l'arrêt")) }
                } }
                tbody {
                    @for s in &list.sessions {
                        tr class=[s.running.then_some("running")] {
                            td {
                                (s.start.as_deref().unwrap_or("–"))
                                @if s.clock == "estimated" { " " small { (lang.pick("(estimated)", "(estimée)")) } }
                            }
                            td {
                                @if s.running { strong class="running" { (lang.pick("running", "en cours")) } }
                                @else { (s.end.as_deref().unwrap_or("–")) }
                            }
                            td { (s.socket) }
                            td { (s.user.as_deref().unwrap_or(lang.pick("anonymous", "anonyme"))) }
                            td class="number" { (s.energy_kwh) }
                            td class="number" { (s.duration.as_deref().unwrap_or("–")) }
                            td class="number" {
                                @match (&s.cost, &s.currency) {
                                    (Some(c), Some(cur)) => { (c) " " (cur) }
                                    _ => "–",
                                }
                            }
                            td { (s.stop_reason.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

fn paging(lang: Lang, list: &SessionList) -> Markup {
    html! {
        nav class="paging" aria-label=(lang.pick("pages", "pages")) {
            @if list.page > 1 {
                a rel="prev" href=(link("/sessions", list, &[("page", (list.page - 1).to_string())])) {
                    (lang.pick("← Previous", "← Précédente"))
                }
                " "
            }
            span { (lang.pick("Page", "Page")) " " (list.page) " / " (list.pages) }
            @if list.page < list.pages {
                " "
                a rel="next" href=(link("/sessions", list, &[("page", (list.page + 1).to_string())])) {
                    (lang.pick("Next →", "Suivante →"))
                }
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn without_a_period_the_filter_is_this_month() {
        let (filter, page) =
            parse_filter(&FilterQuery::default(), date("2026-02-14"), Lang::En).unwrap();
        assert_eq!(
            (filter.from, filter.to),
            (date("2026-02-01"), date("2026-02-28"))
        );
        assert_eq!(page, 1);
    }

    #[test]
    fn bad_fields_are_named() {
        let q = FilterQuery {
            from: Some("2026-13-01".into()),
            to: Some("yesterday".into()),
            page: Some("0".into()),
            ..Default::default()
        };
        let errors = parse_filter(&q, date("2026-02-14"), Lang::En).unwrap_err();
        assert!(errors.get("from").is_some());
        assert!(errors.get("to").is_some());
        assert!(errors.get("page").is_some());
        let q = FilterQuery {
            from: Some("2026-03-01".into()),
            to: Some("2026-02-01".into()),
            ..Default::default()
        };
        let errors = parse_filter(&q, date("2026-02-14"), Lang::Fr).unwrap_err();
        assert_eq!(
            errors.get("to"),
            Some("la période finit avant de commencer")
        );
    }
}
