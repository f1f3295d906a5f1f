//! The statement page's HTML (maud, escaped): the form (user and period, errors next to their
//! fields), the totals, the statement's table and its notes. Renders a `Statement`.

use maud::{Markup, html};

use super::view::Statement;
use crate::export::table::LineKind;
use crate::web::form::{Refusals, field};
use crate::web::i18n::Lang;
use crate::web::page::{Ctx, layout};
use crate::web::sessions::view::FilterQuery;

/// The page: the form as asked, and the statement or the refusals of its fields.
pub(super) fn page(
    ctx: &Ctx,
    site_name: &str,
    q: &FilterQuery,
    statement: Option<&Statement>,
    errors: &Refusals,
) -> Markup {
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
    layout(lang, title, site_name, Some(ctx), body)
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
