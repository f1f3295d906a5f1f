//! The JSON of a cost breakdown (docs/pricing.md): what a session body carries to central, what
//! `sitegate tariff quote --json` prints and what the web page's price calculator answers.
//! Amounts are strings (exact decimals), times RFC 3339 UTC, element indices 0-based or null.

use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::core::pricing::cost::{ChargingPeriod, Discount, TaxLine};

/// A decimal as text, so no binary floating point is involved.
fn text(d: Decimal) -> String {
    d.to_string()
}

/// A breakdown as it travels. Fields in alphabetical order, as every body of `wire` (see the
/// module's doc).
#[derive(Debug, Serialize)]
pub struct Breakdown<'a> {
    amounts: Amounts,
    billed_idle_ms: i64,
    charging_ms: i64,
    currency: &'a str,
    discount: Option<DiscountJson<'a>>,
    energy_wh: String,
    idle_ms: i64,
    min_max_adjustment: String,
    periods: Vec<Period>,
    refused_promotions: Vec<RefusedPromotion<'a>>,
    subtotal: String,
    tariff_id: &'a str,
    taxes: Vec<Tax<'a>>,
    time_zone: &'static str,
    total_excl_tax: String,
    total_incl_tax: String,
}

#[derive(Debug, Serialize)]
struct Amounts {
    charging_time: String,
    energy: String,
    fixed_fee: String,
    idle_time: String,
}

#[derive(Debug, Serialize)]
struct DiscountJson<'a> {
    amount: String,
    description: &'a str,
    promotion_id: &'a str,
}

#[derive(Debug, Serialize)]
struct Period {
    billed_idle_ms: i64,
    charging_amount: String,
    charging_element: Option<usize>,
    charging_ms: i64,
    end: String,
    energy_amount: String,
    energy_element: Option<usize>,
    energy_wh: String,
    idle_amount: String,
    idle_element: Option<usize>,
    idle_ms: i64,
    start: String,
}

#[derive(Debug, Serialize)]
struct RefusedPromotion<'a> {
    promotion_id: &'a str,
    reason: String,
}

#[derive(Debug, Serialize)]
struct Tax<'a> {
    amount: String,
    base: String,
    name: &'a str,
    percent: String,
    stack: u8,
}

impl<'a> Breakdown<'a> {
    /// `b` as central and the quote tool show it; `time_zone` is the site's.
    pub fn new(b: &'a crate::core::pricing::Breakdown, time_zone: Tz) -> Breakdown<'a> {
        Breakdown {
            amounts: Amounts {
                charging_time: text(b.amounts.charging_time),
                energy: text(b.amounts.energy),
                fixed_fee: text(b.amounts.fixed_fee),
                idle_time: text(b.amounts.idle_time),
            },
            billed_idle_ms: b.billed_idle_ms,
            charging_ms: b.charging_ms,
            currency: &b.currency,
            discount: b.discount.as_ref().map(DiscountJson::new),
            energy_wh: text(b.energy_wh.round_dp(6)),
            idle_ms: b.idle_ms,
            min_max_adjustment: text(b.min_max_adjustment),
            periods: b.periods.iter().map(Period::new).collect(),
            refused_promotions: b
                .refusals
                .iter()
                .map(|(id, why)| RefusedPromotion {
                    promotion_id: id,
                    reason: why.to_string(),
                })
                .collect(),
            subtotal: text(b.subtotal),
            tariff_id: &b.tariff_id,
            taxes: b.taxes.iter().map(Tax::new).collect(),
            time_zone: time_zone.name(),
            total_excl_tax: text(b.total_excl_tax),
            total_incl_tax: text(b.total_incl_tax),
        }
    }
}

impl<'a> DiscountJson<'a> {
    fn new(d: &'a Discount) -> DiscountJson<'a> {
        DiscountJson {
            amount: text(d.amount),
            description: &d.description,
            promotion_id: &d.promotion_id,
        }
    }
}

impl Period {
    fn new(p: &ChargingPeriod) -> Period {
        Period {
            billed_idle_ms: p.billed_idle_ms,
            charging_amount: text(p.charging_amount.round_dp(8)),
            charging_element: p.charging_element,
            charging_ms: p.charging_ms,
            end: p.end.to_rfc3339(),
            energy_amount: text(p.energy_amount.round_dp(8)),
            energy_element: p.energy_element,
            energy_wh: text(p.energy_wh.round_dp(6)),
            idle_amount: text(p.idle_amount.round_dp(8)),
            idle_element: p.idle_element,
            idle_ms: p.idle_ms,
            start: p.start.to_rfc3339(),
        }
    }
}

impl<'a> Tax<'a> {
    fn new(t: &'a TaxLine) -> Tax<'a> {
        Tax {
            amount: text(t.amount),
            base: text(t.base),
            name: &t.tax.name,
            percent: text(t.tax.percent),
            stack: t.tax.stack,
        }
    }
}

/// The breakdown as `sitegate tariff quote --json` prints it: pretty, with a final newline.
pub fn breakdown_pretty(b: &crate::core::pricing::Breakdown, time_zone: Tz) -> String {
    let mut text = serde_json::to_string_pretty(&Breakdown::new(b, time_zone))
        .expect("a breakdown always serializes");
    text.push('\n');
    text
}

/// The breakdown as a JSON value, for an answer that embeds it (the web's price calculator).
pub fn breakdown_value(b: &crate::core::pricing::Breakdown, time_zone: Tz) -> serde_json::Value {
    serde_json::to_value(Breakdown::new(b, time_zone)).expect("a breakdown always serializes")
}

/// The breakdown as the `sessions.cost_breakdown` column keeps it: the JSON of the session
/// body's `cost.breakdown`, compact.
pub fn breakdown_text(b: &crate::core::pricing::Breakdown, time_zone: Tz) -> String {
    serde_json::to_string(&Breakdown::new(b, time_zone)).expect("a breakdown always serializes")
}
