//! The price calculator: one of the site's tariffs, an energy, a start and a duration, priced by
//! `pricing::cost` (the function the core and `sitegate tariff quote` use) as a session that
//! charges evenly from start to end. Owns the form and its validation; prices nothing itself.

use chrono::{NaiveDateTime, TimeZone};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::core::pricing::{Breakdown, CostInput, CostSample, Party, cost, parse_tariff};
use crate::core::session::Phase;
use crate::web::error::WebError;
use crate::web::form::Refusals;
use crate::web::i18n::Lang;
use crate::web::state::AppState;

/// The longest session the calculator prices: a week.
const MAX_DURATION_MIN: i64 = 7 * 24 * 60;

/// More than any vehicle takes in one session.
const MAX_ENERGY_KWH: i64 = 1000;

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct PriceQuery {
    pub(super) tariff: Option<String>,
    pub(super) energy_kwh: Option<String>,
    /// Site-local `YYYY-MM-DDTHH:MM` (a `datetime-local` field).
    pub(super) start: Option<String>,
    /// Minutes.
    pub(super) duration: Option<String>,
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

pub(super) struct Asked {
    tariff: String,
    energy_wh: Decimal,
    energy_kwh: Decimal,
    start: NaiveDateTime,
    duration_min: i64,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub(super) fn validate(q: &PriceQuery, tariffs: &[String], lang: Lang) -> Result<Asked, Refusals> {
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

pub(super) async fn stored_tariffs(app: &AppState) -> Result<Vec<(String, String)>, WebError> {
    Ok(app.read(crate::store::access::tariffs).await?)
}

/// Prices the asked session: energy delivered evenly, charging all along, no promotion.
pub(super) fn quote(
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

pub(super) fn asked(q: &PriceQuery) -> bool {
    q.tariff.is_some() || q.energy_kwh.is_some() || q.start.is_some() || q.duration.is_some()
}
