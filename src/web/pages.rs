//! Server-rendered HTML (maud): the layout every page shares, and the pages. Everything shown
//! is escaped by maud; the only script is `assets/app.js` (live updates).

use maud::{DOCTYPE, Markup, html};

use super::dashboard::{Dashboard, SocketTile};
use super::i18n::{Lang, Text, t};
use super::page::Ctx;
use crate::store::roles::Action;

/// The page frame: language, title, the site's name, the stylesheet and script. Signed in
/// (`who`), it carries the menu the role may use, sign-out, and the CSRF token for scripts.
pub fn layout(lang: Lang, title: &str, site_name: &str, who: Option<&Ctx>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (site_name) }
                                link rel="stylesheet" href="/assets/app.css";
                @if let Some(ctx) = who {
                    meta name="csrf-token" content=(ctx.session.csrf_token);
                }
            }
            body {
                header {
                    strong { (site_name) }
                    @if let Some(ctx) = who { (menu(lang, ctx)) }
                }
                main { (body) }
                script src="/assets/app.js" defer {}
            }
        }
    }
}

/// The menu: the pages the account's role may open, its settings, and sign-out.
fn menu(lang: Lang, ctx: &Ctx) -> Markup {
    let links = [
        ("/", Text::Dashboard, Action::View),
        ("/sessions", Text::Sessions, Action::View),
        ("/access", Text::Access, Action::View),
        ("/installer", Text::Installer, Action::InstallerConfig),
        ("/accounts", Text::Accounts, Action::ManageAccounts),
        ("/system", Text::System, Action::View),
    ];
    html! {
        nav aria-label="menu" {
            @for (href, text, action) in links {
                @if ctx.may(action) { a href=(href) { (t(lang, text)) } }
            }
        }
        span class="who" {
            a href="/settings" { (ctx.session.username) " · " (t(lang, Text::Settings)) }
            form method="post" action="/logout" class="inline" {
                (ctx.csrf_field())
                button type="submit" class="link" { (t(lang, Text::SignOut)) }
            }
        }
    }
}

/// One tile of the live grid; `app.js` replaces it from the SSE stream by its id.
pub fn tile(lang: Lang, s: &SocketTile) -> Markup {
    html! {
        article class={"tile " (s.class)} id={"socket-" (s.id)} data-socket=(s.id) {
            h3 { a href={"/sockets/" (s.id)} { (s.name) } }
            p class="state" { (s.words) }
            dl {
                dt { (t(lang, Text::Power)) }
                dd { (s.power_kw.as_deref().unwrap_or("–")) " kW" }
                @if let Some(x) = &s.session {
                    dt { (t(lang, Text::Who)) }
                    dd { (x.user.as_deref().unwrap_or("–")) }
                    dt { (t(lang, Text::Energy)) }
                    dd { (x.energy_kwh) " kWh" }
                    dt { (t(lang, Text::Cost)) }
                    dd { (x.cost.as_deref().unwrap_or("–")) }
                }
            }
        }
    }
}

pub fn dashboard(ctx: &Ctx, d: &Dashboard) -> Markup {
    let lang = ctx.lang;
    let i = &d.indicators;
    let cost = match (&i.month_total_cost, &i.currency) {
        (Some(c), Some(cur)) => format!("{c} {cur}"),
        (Some(c), None) => c.clone(),
        _ => "–".into(),
    };
    let body = html! {
        h1 { (t(lang, Text::Dashboard)) }
        section class="indicators" aria-label=(t(lang, Text::Dashboard)) {
            div { span class="value" { (i.sockets) } span class="label" { (t(lang, Text::Sockets)) } }
            div { span class="value" id="active-sockets" { (i.active_sockets) } span class="label" { (t(lang, Text::ActiveSockets)) } }
            div { span class="value" { (i.users) } span class="label" { (t(lang, Text::Users)) } }
            div { span class="value" { (cost) } span class="label" { (t(lang, Text::MonthCost)) } }
            div { span class="value" { (i.month_hours_of_charge) " h" } span class="label" { (t(lang, Text::HoursOfCharge)) } }
            div { span class="value" { (i.month_energy_kwh) " kWh" } span class="label" { (t(lang, Text::Energy)) } }
        }
        h2 { (t(lang, Text::Sockets)) " " small class="live" { "● " (t(lang, Text::Live)) } }
        section class="grid" id="sockets" data-lang=(lang.code()) {
            @for s in &d.sockets { (tile(lang, s)) }
        }
        h2 { (t(lang, Text::Uplink)) }
        @match &d.uplink {
            None => p { (t(lang, Text::NoUplink)) },
            Some(u) => dl class="uplink" {
                dt { (t(lang, Text::Uplink)) }
                dd class=(if u.connected { "ok" } else { "bad" }) {
                    (if u.connected { t(lang, Text::Connected) } else { t(lang, Text::Disconnected) })
                    @if let Some(e) = &u.last_error { @if !u.connected { " (" (e) ")" } }
                }
                dt { (t(lang, Text::LastSync)) }
                dd { (u.last_sync.as_deref().unwrap_or(t(lang, Text::Never))) }
                dt { (t(lang, Text::OutboxDepth)) }
                dd { (u.events_waiting) }
                dt { (t(lang, Text::AccessListVersion)) }
                dd { (u.access_list_version) }
                dt { (t(lang, Text::TariffsVersion)) }
                dd { (u.tariffs_version) }
            },
        }
    };
    layout(
        lang,
        t(lang, Text::Dashboard),
        &d.site_name,
        Some(ctx),
        body,
    )
}
