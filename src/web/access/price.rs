//! The price calculator: one of the site's tariffs, an energy, a start and a duration, priced by
//! `pricing::cost` (the function the core and `sitegate tariff quote` use) as a session that
//! charges evenly from start to end. Owns the form and its validation; prices nothing itself.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{NaiveDateTime, TimeZone};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::core::pricing::{Breakdown, CostInput, CostSample, Party, cost, parse_tariff};
use crate::core::session::Phase;
use crate::web::error::WebError;
use crate::web::form::{Refusals, field};
use crate::web::i18n::Lang;
use crate::web::page::Ctx;
use crate::web::pages::layout;
use crate::web::state::AppState;

/// The longest session the calculator prices: a week.
const MAX_DURATION_MIN: i64 = 7 * 24 * 60;
/// More than any vehicle takes in one session.
const MAX_ENERGY_KWH: i64 = 1000;

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct PriceQuery {
    tariff: Option<String>,
    energy_kwh: Option<String>,
    /// Site-local `YYYY-MM-DDTHH:MM` (a `datetime-local` field).
    start: Option<String>,
    /// Minutes.
    duration: Option<String>,
}

/// The question and its answer, as the page shows it and the API serves it.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    pub tariff: String,
    pub energy_kwh: String,
    pub start: String,
    pub duration_min: i64,
    /// The breakdown exactly as `sitegate tariff quote --json` prints it.
    pub breakdown: serde_json::Value,
    #[serde(skip)]
    pub lines: Breakdown,
}

struct Asked {
    tariff: String,
    energy_wh: Decimal,
    energy_kwh: Decimal,
    start: NaiveDateTime,
    duration_min: i64,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn validate(q: &PriceQuery, tariffs: &[String], lang: Lang) -> Result<Asked, Refusals> {
    let mut errors = Refusals::default();
    let tariff = match given(&q.tariff) {
        Some(t) if tariffs.iter().any(|x| x == t) => Some(t.to_owned()),
        Some(_) => {
            errors.add(
                "tariff",
                lang.pick(
                    "no such tariff at this site",
                    "pas de tel tarif sur ce site",
                ),
            );
            None
        }
        None => {
            errors.add(
                "tariff",
                lang.pick("choose a tariff", "choisissez un tarif"),
            );
            None
        }
    };
    let energy = match given(&q.energy_kwh).map(|t| t.replace(',', ".")) {
        None => {
            errors.add(
                "energy_kwh",
                lang.pick("an energy in kWh is needed", "il faut une énergie en kWh"),
            );
            None
        }
        Some(t) => match t.parse::<Decimal>() {
            Ok(e) if e >= Decimal::ZERO && e <= Decimal::from(MAX_ENERGY_KWH) => Some(e),
            _ => {
                errors.add(
                    "energy_kwh",
                    lang.pick(
                        "a number of kWh from 0 to 1000",
                        "un nombre de kWh de 0 à 1000",
                    ),
                );
                None
            }
        },
    };
    let start = match given(&q.start) {
        None => {
            errors.add(
                "start",
                lang.pick("a start time is needed", "il faut une heure de début"),
            );
            None
        }
        Some(t) => NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S"))
            .ok()
            .or_else(|| {
                errors.add(
                    "start",
                    lang.pick(
                        "a time written YYYY-MM-DDTHH:MM",
                        "une heure écrite AAAA-MM-JJTHH:MM",
                    ),
                );
                None
            }),
    };
    let duration = match given(&q.duration) {
        None => {
            errors.add(
                "duration",
                lang.pick(
                    "a duration in minutes is needed",
                    "il faut une durée en minutes",
                ),
            );
            None
        }
        Some(t) => match t.parse::<i64>() {
            Ok(d) if (1..=MAX_DURATION_MIN).contains(&d) => Some(d),
            _ => {
                errors.add(
                    "duration",
                    lang.pick(
                        "whole minutes from 1 to 10080",
                        "des minutes entières de 1 à 10080",
                    ),
                );
                None
            }
        },
    };
    match (tariff, energy, start, duration) {
        (Some(tariff), Some(energy_kwh), Some(start), Some(duration_min)) if errors.is_empty() => {
            Ok(Asked {
                tariff,
                energy_wh: energy_kwh * Decimal::ONE_THOUSAND,
                energy_kwh,
                start,
                duration_min,
            })
        }
        _ => Err(errors),
    }
}

async fn stored_tariffs(app: &AppState) -> Result<Vec<(String, String)>, WebError> {
    Ok(app.read(crate::store::access::tariffs).await?)
}

/// Prices the asked session: energy delivered evenly, charging all along, no promotion.
fn quote(
    app: &AppState,
    asked: Asked,
    tariffs: &[(String, String)],
    lang: Lang,
) -> Result<Quote, Refusals> {
    let mut errors = Refusals::default();
    let tz = app.inner.time_zone;
    let Some(json) = tariffs
        .iter()
        .find(|(id, _)| *id == asked.tariff)
        .map(|(_, j)| j)
    else {
        errors.add(
            "tariff",
            lang.pick(
                "no such tariff at this site",
                "pas de tel tarif sur ce site",
            ),
        );
        return Err(errors);
    };
    let Ok(tariff) = parse_tariff(json) else {
        errors.add(
            "tariff",
            lang.pick(
                "this stored tariff cannot be read",
                "ce tarif enregistré est illisible",
            ),
        );
        return Err(errors);
    };
    let Some(started_at) = tz.from_local_datetime(&asked.start).earliest() else {
        errors.add(
            "start",
            lang.pick(
                "this time does not exist here (clocks skip it)",
                "cette heure n'existe pas ici (changement d'heure)",
            ),
        );
        return Err(errors);
    };
    let started_at = started_at.with_timezone(&chrono::Utc);
    let stopped_at = started_at + chrono::Duration::minutes(asked.duration_min);
    let input = CostInput {
        time_zone: tz,
        started_at,
        samples: vec![CostSample {
            at: stopped_at,
            energy_wh: asked.energy_wh,
            phase: Phase::Charging,
        }],
        stopped_at: Some(stopped_at),
        party: Party {
            socket: String::new(),
            communities: vec![],
            user: None,
        },
    };
    match cost(&tariff, &input, &[]) {
        Ok(b) => Ok(Quote {
            tariff: asked.tariff,
            energy_kwh: asked.energy_kwh.to_string(),
            start: asked.start.format("%Y-%m-%dT%H:%M").to_string(),
            duration_min: asked.duration_min,
            breakdown: crate::wire::breakdown_value(&b, tz),
            lines: b,
        }),
        Err(_) => {
            errors.add(
                "start",
                lang.pick(
                    "the tariff does not apply at this time",
                    "le tarif ne s'applique pas à cette heure",
                ),
            );
            Err(errors)
        }
    }
}

fn asked(q: &PriceQuery) -> bool {
    q.tariff.is_some() || q.energy_kwh.is_some() || q.start.is_some() || q.duration.is_some()
}

pub(super) async fn price(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<PriceQuery>,
) -> Result<Response, WebError> {
    let tariffs = stored_tariffs(&app).await?;
    let ids: Vec<String> = tariffs.iter().map(|(id, _)| id.clone()).collect();
    // Nothing asked: the choices, as the empty form shows them.
    let quote = match asked(&q) {
        false => Ok(None),
        true => validate(&q, &ids, ctx.lang)
            .and_then(|a| quote(&app, a, &tariffs, ctx.lang))
            .map(Some)
            .map_err(WebError::from),
    };
    ctx.reply_form(
        quote,
        |quote, errors| {
            let lang = ctx.lang;
            let now = crate::clock::wall_utc()
                .with_timezone(&app.inner.time_zone)
                .format("%Y-%m-%dT%H:%M")
                .to_string();
            let body = render(lang, &q, &ids, &now, quote.and_then(Option::as_ref), errors);
            let title = lang.pick("Price calculator", "Calculateur de prix");
            layout(lang, title, &app.inner.site_name, Some(&ctx), body)
        },
        |quote| axum::Json(serde_json::json!({ "tariffs": ids, "quote": quote })),
    )
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
