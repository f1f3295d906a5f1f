//! One user's statement for a period: the export's statement layout (`export::layout::statement`,
//! the same table `sitegate export statement` writes) shown as a printable page and served as
//! JSON, with the totals a manager checks (sessions, energy, cost per currency). Never writes.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Serialize;

use super::{FilterQuery, given, parse_filter, today};
use crate::export::table::{LineKind, kwh, money};
use crate::store::reports::Totals;
use crate::web::error::WebError;
use crate::web::form::{Refusals, field};
use crate::web::i18n::Lang;
use crate::web::page::Ctx;
use crate::web::pages::layout;
use crate::web::state::AppState;

/// A statement as the page shows it and the API serves it.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub title: String,
    pub user: String,
    pub from: String,
    pub to: String,
    pub notes: Vec<String>,
    /// Column keys (as the CSV names them) and labels.
    pub columns: Vec<(String, String)>,
    pub lines: Vec<StatementLine>,
    pub totals: StatementTotals,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatementLine {
    /// session or total.
    pub kind: &'static str,
    /// Each cell as the CSV writes it.
    pub cells: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatementTotals {
    pub sessions: u64,
    pub energy_kwh: String,
    /// Cost per currency of the priced sessions.
    pub costs: BTreeMap<String, String>,
    pub unpriced: u64,
}

/// The user's completed sessions in the filter's period, through the export's layout.
async fn build(app: &AppState, q: &FilterQuery, lang: Lang) -> Result<Statement, WebError> {
    let (mut filter, _) = parse_filter(q, today(app), lang)?;
    let Some(user) = given(&q.user).map(str::to_owned) else {
        return Err(Refusals::from([(
            "user",
            lang.pick(
                "whose statement? a user",
                "le relevé de qui ? un utilisateur",
            ),
        )])
        .into());
    };
    filter.identity = Some(user.clone());
    let site = crate::export::SiteInfo {
        name: app.inner.site_name.clone(),
        time_zone: app.inner.time_zone,
    };
    let statement = app
        .read(move |conn| {
            let failed =
                |e: &dyn std::fmt::Display| crate::store::StoreError::Failed(e.to_string());
            let period =
                crate::export::Period::new(filter.from, filter.to).map_err(|e| failed(&e))?;
            let sessions =
                crate::store::reports::sessions(conn, &filter).map_err(|e| failed(&e))?;
            let mut totals = Totals::default();
            sessions.iter().for_each(|s| totals.add(s));
            let table = crate::export::layout::statement(&site, &user, period, &sessions);
            let columns = table
                .columns
                .iter()
                .map(|c| (c.key.clone(), c.label.clone()))
                .collect();
            let lines = table
                .lines
                .map(|line| StatementLine {
                    kind: line.kind.as_str(),
                    cells: line
                        .cells
                        .iter()
                        .map(|cell| {
                            let mut text = String::new();
                            let _ = crate::export::csv::write_cell(&mut text, cell);
                            text
                        })
                        .collect(),
                })
                .collect();
            Ok(Statement {
                title: table.title,
                notes: table.notes,
                user,
                from: period.from().to_string(),
                to: period.to().to_string(),
                columns,
                lines,
                totals: StatementTotals {
                    sessions: totals.sessions,
                    energy_kwh: format!("{:.3}", kwh(totals.energy_wh)),
                    costs: totals
                        .costs
                        .by_currency
                        .iter()
                        .map(|(c, v)| (c.clone(), money(*v).to_string()))
                        .collect(),
                    unpriced: totals.costs.unpriced,
                },
            })
        })
        .await?;
    Ok(statement)
}

fn asked(q: &FilterQuery) -> bool {
    q.user.is_some() || q.from.is_some() || q.to.is_some()
}

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
            let lang = ctx.lang;
            let value = |v: &Option<String>| v.clone().unwrap_or_default();
            let body = html! {
                h1 { (lang.pick("Statement", "Relevé")) }
                form method="get" action="/sessions/statement" class="filters no-print" {
                    (field("user", lang.pick("User", "Utilisateur"), "text", &value(&q.user), errors))
                    (field("from", lang.pick("From", "Du"), "date",
                        &statement.map_or_else(|| value(&q.from), |s| s.from.clone()), errors))
                    (field("to", lang.pick("To", "Au"), "date",
                        &statement.map_or_else(|| value(&q.to), |s| s.to.clone()), errors))
                    button type="submit" { (lang.pick("Show", "Afficher")) }
                }
                @if let Some(s) = statement { (render(lang, s)) }
            };
            let title = lang.pick("Statement", "Relevé");
            layout(lang, title, &app.inner.site_name, Some(&ctx), body)
        },
        |statement| axum::Json(serde_json::json!({ "statement": statement })),
    )
}

fn render(lang: Lang, s: &Statement) -> Markup {
    html! {
        h2 { (s.title) }
        dl class="totals" {
            dt { (lang.pick("Sessions", "Sessions")) } dd id="total-sessions" { (s.totals.sessions) }
            dt { (lang.pick("Energy", "Énergie")) } dd id="total-energy" { (s.totals.energy_kwh) " kWh" }
            dt { (lang.pick("Cost", "Coût")) }
            dd id="total-cost" {
                @if s.totals.costs.is_empty() { "–" }
                @for (currency, amount) in &s.totals.costs { (amount) " " (currency) " " }
            }
        }
        div class="table-wrap" {
            table class="statement" {
                thead { tr { @for (key, label) in &s.columns { th scope="col" { (column_label(lang, key, label)) } } } }
                tbody {
                    @for line in &s.lines {
                        tr class=[(line.kind == LineKind::Total.as_str()).then_some("total")] {
                            @for cell in &line.cells { td { (cell) } }
                        }
                    }
                }
            }
        }
        @for note in &s.notes { p class="note" { (note) } }
    }
}

/// The export layout's column labels are English; French pages name them by their key.
fn column_label(lang: Lang, key: &str, label: &str) -> String {
    if lang == Lang::En {
        return label.to_owned();
    }
    // Cost columns carry their currency in the key: `cost_eur`, `cumulative_cost_eur`.
    let currency = label
        .rsplit_once('(')
        .map(|(_, c)| c.trim_end_matches(')'))
        .filter(|_| key.contains("cost"));
    let french = match key {
        "start_local" => "Début",
        "stop_local" => "Fin",
        "clock" => "Horloge",
        "socket" => "Prise",
        "energy_kwh" => "Énergie (kWh)",
        "duration_hms" => "Durée (h:mm:ss)",
        "charging_hms" => "Temps de charge (h:mm:ss)",
        "idle_hms" => "Temps d'inactivité (h:mm:ss)",
        "cumulative_energy_kwh" => "Énergie cumulée (kWh)",
        "note" => "Note",
        k if k.starts_with("cumulative_cost") => "Coût cumulé",
        k if k.starts_with("cost") => "Coût",
        _ => return label.to_owned(),
    };
    match currency {
        Some(c) => format!("{french} ({c})"),
        None => french.to_owned(),
    }
}
