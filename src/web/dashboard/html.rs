//! The dashboard's HTML (maud: everything shown is escaped): the indicators, the live grid of
//! socket tiles (`assets/app.js` replaces a tile from the stream by its id) and the uplink.
//! Renders a `Dashboard`; decides nothing.

use maud::{Markup, html};

use super::view::{Dashboard, SocketTile};
use crate::web::i18n::{Lang, Text, t};
use crate::web::page::{Ctx, layout};

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
