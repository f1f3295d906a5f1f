//! The explain tool's HTML (maud, escaped): the token and socket form (errors next to their
//! fields) and the answer with what it weighed. Renders an `Explanation`.

use maud::{Markup, html};

use super::view::{ExplainQuery, Explanation};
use crate::web::form::{Refusals, field};
use crate::web::i18n::Lang;
use crate::web::page::{Ctx, layout};

/// The page: the form as asked, and the answer or the refusals of its fields.
pub(super) fn page(
    ctx: &Ctx,
    site_name: &str,
    q: &ExplainQuery,
    sockets: &[(String, String)],
    answer: Option<&Explanation>,
    errors: &Refusals,
) -> Markup {
    let lang = ctx.lang;
    let body = render(lang, q, sockets, answer, errors);
    let title = lang.pick("Explain a decision", "Expliquer une décision");
    layout(lang, title, site_name, Some(ctx), body)
}

fn render(
    lang: Lang,
    q: &ExplainQuery,
    sockets: &[(String, String)],
    answer: Option<&Explanation>,
    errors: &Refusals,
) -> Markup {
    let chosen = q.socket.clone().unwrap_or_default();
    let socket_error = errors.get("socket");
    html! {
        h1 { (lang.pick("Explain a decision", "Expliquer une décision")) }
        p { a href="/access" { (lang.pick("← Access", "← Accès")) } }
        form method="get" action="/access/explain" {
            (field("token", lang.pick("Token", "Badge"), "text", &q.token.clone().unwrap_or_default(), errors))
            div class="field" {
                label for="socket" { (lang.pick("Socket", "Prise")) }
                select id="socket" name="socket"
                    aria-invalid=[socket_error.map(|_| "true")]
                    aria-describedby=[socket_error.map(|_| "socket-error")] {
                    option value="" { "–" }
                    @for (id, name) in sockets {
                        option value=(id) selected[*id == chosen] { (name) " (" (id) ")" }
                    }
                }
                @if let Some(m) = socket_error { p class="field-error" id="socket-error" { (m) } }
            }
            button type="submit" { (lang.pick("Explain", "Expliquer")) }
        }
        @if let Some(a) = answer {
            section class={"explanation " (a.outcome)} aria-live="polite" {
                h2 id="outcome" {
                    (match a.outcome {
                        "accepted" => lang.pick("Accepted", "Accepté"),
                        "ask_central" => lang.pick("Central decides", "Le central décide"),
                        "stops_session" => lang.pick("Stops its session", "Arrête sa session"),
                        _ => lang.pick("Refused", "Refusé"),
                    })
                    @if let Some(r) = a.reason { " (" (r) ")" }
                }
                p id="why" { (a.why) }
                dl class="uplink" {
                    dt { (lang.pick("Uplink", "Liaison")) }
                    dd { (if a.online { lang.pick("online", "en ligne") } else { lang.pick("offline", "hors ligne") }) }
                    dt { (lang.pick("On the list", "Sur la liste")) }
                    dd { (if a.on_the_list { lang.pick("yes", "oui") } else { lang.pick("no", "non") }) }
                    dt { (lang.pick("In the cache", "Dans le cache")) }
                    dd { (if a.in_the_cache { lang.pick("yes", "oui") } else { lang.pick("no", "non") }) }
                    dt { (lang.pick("User", "Utilisateur")) }
                    dd {
                        (a.user.as_deref().unwrap_or("–"))
                        @if let Some(n) = &a.user_name { " · " (n) }
                    }
                    @if a.outcome == "accepted" {
                        dt { (lang.pick("Community", "Communauté")) }
                        dd { (a.community.as_deref().unwrap_or("–")) }
                        dt { (lang.pick("Tariff", "Tarif")) }
                        dd { (a.tariff.as_deref().unwrap_or("–")) }
                        dt { (lang.pick("Credit left", "Crédit restant")) }
                        dd { (a.credit_left.as_deref().unwrap_or("–")) }
                    }
                }
            }
        }
    }
}
