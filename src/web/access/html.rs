//! The Access page's HTML (maud: every synced name is shown as text): the user search and its
//! paging, the communities, and the tariffs and promotions as central sent them. Renders an
//! `AccessView`; decides nothing.

use maud::{Markup, html};

use super::view::{AccessView, PublishedLine};
use crate::web::form::{Refusals, field};
use crate::web::i18n::Lang;
use crate::web::page::{Ctx, layout};

/// The page: the lists, and the search as typed with its refusals.
pub(super) fn page(
    ctx: &Ctx,
    site_name: &str,
    view: &AccessView,
    typed: &str,
    errors: &Refusals,
) -> Markup {
    let lang = ctx.lang;
    let body = render(lang, view, typed, errors);
    layout(
        lang,
        lang.pick("Access", "Accès"),
        site_name,
        Some(ctx),
        body,
    )
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
