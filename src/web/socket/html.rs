//! The socket page's HTML (maud, escaped): state, readings, current session, the action
//! buttons the account may use (with a refusal next to its field), and the last sessions.
//! Renders a `SocketDetail`; decides nothing.

use maud::{Markup, html};

use super::view::SocketDetail;
use super::{Control, ControlError};
use crate::web::i18n::{Text, t};
use crate::web::page::{Ctx, layout};

/// A duration as both languages write it (`1 h 05 min`, `3 min 07 s`).
fn duration(s: u64) -> String {
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if h == 0 {
        format!("{m} min {sec:02} s")
    } else {
        format!("{h} h {m:02} min")
    }
}

fn phases(values: &[Option<String>; 3], unit: &str) -> String {
    let parts: Vec<&str> = values.iter().map(|v| v.as_deref().unwrap_or("–")).collect();
    format!("{} {unit}", parts.join(" / "))
}

fn money(cost: &Option<String>, currency: &Option<String>) -> String {
    match (cost, currency) {
        (Some(c), Some(cur)) => format!("{c} {cur}"),
        (Some(c), None) => c.clone(),
        _ => "–".into(),
    }
}

fn action_form(ctx: &Ctx, d: &SocketDetail, control: Control) -> Markup {
    html! {
        form method="post" action={"/sockets/" (d.id) "/" (control.path())} class="inline" {
            (ctx.csrf_field())
            button type="submit" id={"action-" (control.path())} { (control.label(ctx.lang)) }
        }
    }
}

fn start_form(ctx: &Ctx, d: &SocketDetail, refused: Option<(&ControlError, &str)>) -> Markup {
    let lang = ctx.lang;
    let error = refused.filter(|(e, _)| e.field() == Some("user"));
    html! {
        form method="post" action={"/sockets/" (d.id) "/start"} {
            (ctx.csrf_field())
            label for="user" { (lang.pick("User or badge to let charge", "Utilisateur ou badge autorisé")) }
            @if let Some((e, typed)) = error {
                input id="user" name="user" value=(typed) required aria-invalid="true" aria-describedby="user-error";
                p class="field-error" id="user-error" { (e.message(lang)) }
            } @else {
                input id="user" name="user" required;
            }
            button type="submit" id="action-start" { (Control::Start.label(lang)) }
        }
    }
}

pub(super) fn render(
    ctx: &Ctx,
    site_name: &str,
    d: &SocketDetail,
    refused: Option<(&ControlError, &str)>,
) -> Markup {
    let lang = ctx.lang;
    let r = &d.readings;
    let may = |c: Control| d.actions.contains(&c.name());
    let body = html! {
        p { a href="/" { "← " (t(lang, Text::Dashboard)) } }
        h1 { (t(lang, Text::Socket)) " " (d.name) }
        section id="socket-live" data-socket=(d.id) data-lang=(lang.code())
            data-session=(if d.session.is_some() { "yes" } else { "no" }) {
            p class={"state-badge " (d.class)} id="live-state" { (d.words) }
            h2 { (lang.pick("Readings", "Mesures")) " " small class="live" { "● " (t(lang, Text::Live)) } }
            dl class="readings" {
                dt { (t(lang, Text::Power)) }
                dd id="live-power" { (r.power_kw.as_deref().unwrap_or("–")) " kW" }
                dt { (lang.pick("Current", "Courant")) }
                dd { (phases(&r.current_a, "A")) }
                dt { (lang.pick("Voltage", "Tension")) }
                dd { (phases(&r.voltage_v, "V")) }
                dt { (lang.pick("Energy meter", "Compteur d'énergie")) }
                dd { (r.meter_kwh.as_deref().unwrap_or("–")) " kWh" }
            }
            h2 { (lang.pick("Current session", "Session en cours")) }
            @match &d.session {
                None => p id="no-session" { (lang.pick("No session.", "Aucune session.")) },
                Some(x) => dl class="readings" id="session" {
                    dt { (t(lang, Text::Who)) }
                    dd id="live-user" { (x.user.as_deref().unwrap_or("–")) }
                    dt { (lang.pick("Started", "Début")) }
                    dd { (x.started.as_deref().unwrap_or("–")) }
                    dt { (lang.pick("Duration", "Durée")) }
                    dd { (duration(x.duration_s)) }
                    dt { (t(lang, Text::Energy)) }
                    dd id="live-energy" { (x.energy_kwh) " kWh" }
                    dt { (t(lang, Text::Cost)) }
                    dd id="live-cost" { (money(&x.cost, &x.currency)) }
                },
            }
        }
        @if !d.actions.is_empty() {
            h2 { (lang.pick("Actions", "Actions")) }
            @if let Some((e, _)) = refused.filter(|(e, _)| e.field().is_none()) {
                p class="error" role="alert" { (e.message(lang)) }
            }
            div class="actions" {
                @if may(Control::Stop) { (action_form(ctx, d, Control::Stop)) }
                @if may(Control::OutOfService) { (action_form(ctx, d, Control::OutOfService)) }
                @if may(Control::Return) { (action_form(ctx, d, Control::Return)) }
            }
            @if may(Control::Start) { (start_form(ctx, d, refused)) }
        }
        h2 { (lang.pick("Last sessions", "Dernières sessions")) }
        @if d.history.is_empty() {
            p { (lang.pick("No session yet.", "Aucune session pour l'instant.")) }
        } @else {
            div class="table-wrap" {
                table id="history" {
                    thead { tr {
                        th scope="col" { (lang.pick("Started", "Début")) }
                        th scope="col" { (lang.pick("Ended", "Fin")) }
                        th scope="col" { (t(lang, Text::Who)) }
                        th scope="col" { (t(lang, Text::Energy)) }
                        th scope="col" { (t(lang, Text::Cost)) }
                    } }
                    tbody {
                        @for h in &d.history {
                            tr {
                                td { (h.started.as_deref().unwrap_or("–")) }
                                td { @if h.stopped.is_some() || h.stop_reason.is_some() {
                                    (h.stopped.as_deref().unwrap_or("–"))
                                } @else { (lang.pick("running", "en cours")) } }
                                td { (h.user.as_deref().unwrap_or("–")) }
                                td { (h.energy_kwh) " kWh" }
                                td { (money(&h.cost, &h.currency)) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(lang, &d.name, site_name, Some(ctx), body)
}
