//! The price calculator's HTML (maud, escaped): the form (errors next to their fields) and
//! the breakdown with its charging periods. Renders a `Quote`.

use maud::{Markup, html};
use rust_decimal::Decimal;

use super::view::{PriceQuery, Quote};
use crate::web::form::{Refusals, field};
use crate::web::i18n::Lang;
use crate::web::page::{Ctx, layout};

/// The page: the form as asked (the start offered: `now`), and the quote or the refusals.
pub(super) fn page(
    ctx: &Ctx,
    site_name: &str,
    q: &PriceQuery,
    tariffs: &[String],
    now: &str,
    quote: Option<&Quote>,
    errors: &Refusals,
) -> Markup {
    let lang = ctx.lang;
    let body = render(lang, q, tariffs, now, quote, errors);
    let title = lang.pick("Price calculator", "Calculateur de prix");
    layout(lang, title, site_name, Some(ctx), body)
}

fn render(
    lang: Lang,
    q: &PriceQuery,
    tariffs: &[String],
    now: &str,
    answer: Option<&Quote>,
    errors: &Refusals,
) -> Markup {
    let chosen = q.tariff.clone().unwrap_or_default();
    let tariff_error = errors.get("tariff");
    let value = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.to_owned());
    html! {
        h1 { (lang.pick("Price calculator", "Calculateur de prix")) }
        p { a href="/access" { (lang.pick("← Access", "← Accès")) } }
        form method="get" action="/access/price" {
            div class="field" {
                label for="tariff" { (lang.pick("Tariff", "Tarif")) }
                select id="tariff" name="tariff"
                    aria-invalid=[tariff_error.map(|_| "true")]
                    aria-describedby=[tariff_error.map(|_| "tariff-error")] {
                    option value="" { "–" }
                    @for id in tariffs { option value=(id) selected[*id == chosen] { (id) } }
                }
                @if let Some(m) = tariff_error { p class="field-error" id="tariff-error" { (m) } }
            }
            (field("energy_kwh", lang.pick("Energy (kWh)", "Énergie (kWh)"), "text", &value(&q.energy_kwh, ""), errors))
            (field("start", lang.pick("Start (site time)", "Début (heure du site)"), "datetime-local", &value(&q.start, now), errors))
            (field("duration", lang.pick("Duration (minutes)", "Durée (minutes)"), "number", &value(&q.duration, ""), errors))
            button type="submit" { (lang.pick("Price it", "Calculer")) }
        }
        @if let Some(a) = answer { (breakdown(lang, a)) }
    }
}

fn breakdown(lang: Lang, a: &Quote) -> Markup {
    let b = &a.lines;
    let c = &b.currency;
    let row = |label: String, amount: Decimal| {
        html! {
            tr { th scope="row" { (label) } td class="number" { (amount) " " (c) } }
        }
    };
    let minutes = |ms: i64| (Decimal::from(ms) / Decimal::from(60_000)).round_dp(2);
    let kwh = |wh: Decimal| (wh / Decimal::ONE_THOUSAND).round_dp(3);
    html! {
        h2 { (lang.pick("Breakdown", "Détail")) " · " (b.tariff_id) }
        table class="breakdown" id="breakdown" {
            tbody {
                (row(format!("{} ({} kWh)", lang.pick("Energy", "Énergie"), kwh(b.energy_wh)), b.amounts.energy))
                (row(format!("{} ({} min)", lang.pick("Charging time", "Temps de charge"), minutes(b.charging_ms)), b.amounts.charging_time))
                (row(format!("{} ({} min)", lang.pick("Idle time", "Temps d'inactivité"), minutes(b.billed_idle_ms)), b.amounts.idle_time))
                (row(lang.pick("Fixed fee", "Frais fixes").to_owned(), b.amounts.fixed_fee))
                (row(lang.pick("Subtotal", "Sous-total").to_owned(), b.subtotal))
                @if !b.min_max_adjustment.is_zero() {
                    (row(lang.pick("Min/max cost adjustment", "Ajustement min/max").to_owned(), b.min_max_adjustment))
                }
                (row(lang.pick("Total excl. tax", "Total HT").to_owned(), b.total_excl_tax))
                @for t in &b.taxes {
                    (row(format!("{} {} %", t.tax.name, t.tax.percent), t.amount))
                }
                tr class="total" {
                    th scope="row" { (lang.pick("Total incl. tax", "Total TTC")) }
                    td class="number" id="total" { (b.total_incl_tax) " " (c) }
                }
            }
        }
        h3 { (lang.pick("Charging periods", "Périodes de charge")) }
        div class="table-wrap" {
            table class="periods" {
                thead { tr {
                    th scope="col" { (lang.pick("From", "De")) }
                    th scope="col" { (lang.pick("To", "À")) }
                    th scope="col" { "kWh" }
                    th scope="col" { (lang.pick("Charging (min)", "Charge (min)")) }
                } }
                tbody {
                    @for p in &b.periods {
                        tr {
                            td { (p.start.to_rfc3339()) }
                            td { (p.end.to_rfc3339()) }
                            td class="number" { (kwh(p.energy_wh)) }
                            td class="number" { (minutes(p.charging_ms)) }
                        }
                    }
                }
            }
        }
    }
}
