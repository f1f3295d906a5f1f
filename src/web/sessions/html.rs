//! The Sessions page's HTML (maud, escaped): the filter form (errors next to their fields),
//! the month presets, the export links the role may use, the table (running sessions marked)
//! and the paging. Renders a `SessionList`; decides nothing.

use chrono::NaiveDate;
use maud::{Markup, html};

use super::view::{FilterQuery, SessionList, month_of};
use crate::store::roles::Action;
use crate::web::form::{Refusals, field};
use crate::web::i18n::Lang;
use crate::web::page::{Ctx, layout};

/// The page: the filter as asked, and the list it found or the refusals of its fields.
pub(super) fn page(
    ctx: &Ctx,
    site_name: &str,
    q: &FilterQuery,
    today: NaiveDate,
    sockets: &[(String, String)],
    list: Option<&SessionList>,
    errors: &Refusals,
) -> Markup {
    let body = render(ctx, q, today, sockets, list, errors);
    let title = ctx.lang.pick("Sessions", "Sessions");
    layout(ctx.lang, title, site_name, Some(ctx), body)
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
