//! The JSON form of a tariff (serde DTOs, snake_case, unknown keys refused) and its validation
//! into a `Tariff`, collecting every problem with its path
//! (`energy.prices[1].price_kwh: 0.123456 has more than 4 decimals`). Owns the wire shape and
//! the rules of a valid tariff; never evaluates one.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::tariff::{
    Conditions, Currency, MAX_PRICE, PriceElement, PriceList, TAX_PERCENT_DECIMALS, Tariff, Tax,
    UNIT_PRICE_DECIMALS,
};
use crate::problems::{Problems, join};

/// A number as written: a JSON number or a string ("0.25"), read as a `Decimal` from its text
/// so that no binary floating point is involved.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum WireNumber {
    Number(serde_json::Number),
    Text(String),
}

impl WireNumber {
    pub fn text(&self) -> String {
        match self {
            WireNumber::Number(n) => n.to_string(),
            WireNumber::Text(s) => s.clone(),
        }
    }

    /// The value, or a problem at `path`.
    pub fn decimal(&self, path: &str, problems: &mut Problems) -> Option<Decimal> {
        let text = self.text();
        // Exponent forms ("1e-3") are refused by `from_str`: try scientific notation too.
        match Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)) {
            Ok(d) => Some(d.normalize()),
            Err(_) => {
                problems.push(path, format!("{text:?} is not a decimal number"));
                None
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireTariff {
    pub id: String,
    pub currency: String,
    #[serde(default)]
    pub valid_from: Option<String>,
    #[serde(default)]
    pub energy: Option<WirePriceList>,
    #[serde(default)]
    pub charging_time: Option<WirePriceList>,
    #[serde(default)]
    pub idle_time: Option<WireIdle>,
    #[serde(default)]
    pub fixed_fee: Option<WirePriceList>,
    #[serde(default)]
    pub min_cost: Option<WireNumber>,
    #[serde(default)]
    pub max_cost: Option<WireNumber>,
    #[serde(default)]
    pub taxes: Vec<WireTax>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WirePriceList {
    pub prices: Vec<WirePrice>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireIdle {
    /// Grace: idle time not billed, in minutes.
    #[serde(default)]
    pub min_idle_minutes: u32,
    pub prices: Vec<WirePrice>,
}

/// One price: exactly one of the three price keys, the one its list expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WirePrice {
    #[serde(default)]
    pub price_kwh: Option<WireNumber>,
    #[serde(default)]
    pub price_minute: Option<WireNumber>,
    #[serde(default)]
    pub price_fixed: Option<WireNumber>,
    #[serde(default)]
    pub conditions: Option<WireConditions>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireConditions {
    /// "HH:MM" local time.
    pub start_time_of_day: Option<String>,
    pub end_time_of_day: Option<String>,
    /// "MONDAY" .. "SUNDAY".
    #[serde(default)]
    pub days_of_week: Vec<String>,
    /// "YYYY-MM-DD" local date, inclusive.
    pub valid_from_date: Option<String>,
    /// Exclusive.
    pub valid_to_date: Option<String>,
    pub min_energy_wh: Option<WireNumber>,
    pub max_energy_wh: Option<WireNumber>,
    pub min_power_w: Option<WireNumber>,
    pub max_power_w: Option<WireNumber>,
    pub min_duration_s: Option<i64>,
    pub max_duration_s: Option<i64>,
    pub min_charging_time_s: Option<i64>,
    pub max_charging_time_s: Option<i64>,
    pub min_idle_time_s: Option<i64>,
    pub max_idle_time_s: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireTax {
    pub name: String,
    pub percent: WireNumber,
    #[serde(default)]
    pub stack: u8,
}

/// Which price key a list expects, and how many decimals its prices may have.
#[derive(Clone, Copy)]
enum PriceKind {
    PerKwh,
    PerMinute,
    Fixed { decimals: u32 },
}

impl PriceKind {
    fn key(self) -> &'static str {
        match self {
            PriceKind::PerKwh => "price_kwh",
            PriceKind::PerMinute => "price_minute",
            PriceKind::Fixed { .. } => "price_fixed",
        }
    }

    fn decimals(self) -> u32 {
        match self {
            PriceKind::Fixed { decimals } => decimals,
            _ => UNIT_PRICE_DECIMALS,
        }
    }
}

/// Parses and validates a tariff from JSON text: every problem, or the tariff.
pub fn parse_tariff(json: &str) -> Result<Tariff, Problems> {
    let wire: WireTariff = serde_json::from_str(json).map_err(|e| {
        let mut p = Problems::new();
        p.push("", format!("not a tariff: {e}"));
        p
    })?;
    wire.validate()
}

impl WireTariff {
    pub fn validate(&self) -> Result<Tariff, Problems> {
        let mut problems = Problems::new();
        if self.id.trim().is_empty() {
            problems.push("id", "must not be empty");
        }
        let currency = Currency::parse(&self.currency)
            .map_err(|m| problems.push("currency", m))
            .ok();
        let minor = currency.map_or(2, |c| c.minor_digits());
        let valid_from = self.valid_from.as_ref().and_then(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| problems.push("valid_from", format!("{s:?} is not an RFC 3339 time")))
                .ok()
        });
        let list = |l: Option<&Vec<WirePrice>>, path: &str, kind, problems: &mut Problems| {
            l.map(|prices| price_list(prices, path, kind, problems))
                .unwrap_or_default()
        };
        let energy = list(
            self.energy.as_ref().map(|l| &l.prices),
            "energy",
            PriceKind::PerKwh,
            &mut problems,
        );
        let charging_time = list(
            self.charging_time.as_ref().map(|l| &l.prices),
            "charging_time",
            PriceKind::PerMinute,
            &mut problems,
        );
        let idle_time = list(
            self.idle_time.as_ref().map(|l| &l.prices),
            "idle_time",
            PriceKind::PerMinute,
            &mut problems,
        );
        let fixed_fee = list(
            self.fixed_fee.as_ref().map(|l| &l.prices),
            "fixed_fee",
            PriceKind::Fixed { decimals: minor },
            &mut problems,
        );
        let amount = |n: &Option<WireNumber>, path: &str, problems: &mut Problems| {
            n.as_ref()
                .and_then(|n| checked_price(n, path, minor, problems))
        };
        let min_cost = amount(&self.min_cost, "min_cost", &mut problems);
        let max_cost = amount(&self.max_cost, "max_cost", &mut problems);
        if let (Some(lo), Some(hi)) = (min_cost, max_cost)
            && lo > hi
        {
            problems.push("max_cost", format!("{hi} is below min_cost {lo}"));
        }
        let taxes = self
            .taxes
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.validate(&format!("taxes[{i}]"), &mut problems))
            .collect();
        let tariff = Tariff {
            id: self.id.clone(),
            currency: currency.unwrap_or_else(|| Currency::parse("EUR").expect("in the table")),
            valid_from,
            energy,
            charging_time,
            idle_time,
            min_idle_s: self
                .idle_time
                .as_ref()
                .map_or(0, |i| i64::from(i.min_idle_minutes) * 60),
            fixed_fee,
            min_cost,
            max_cost,
            taxes,
        };
        problems.into_result(tariff)
    }
}

impl WireTax {
    fn validate(&self, path: &str, problems: &mut Problems) -> Option<Tax> {
        if self.name.trim().is_empty() {
            problems.push(join(path, "name"), "must not be empty");
        }
        let at = join(path, "percent");
        let percent = self.percent.decimal(&at, problems)?;
        if percent < Decimal::ZERO || percent > Decimal::ONE_HUNDRED {
            problems.push(at, format!("{percent} is outside 0..=100"));
            return None;
        }
        if percent.scale() > TAX_PERCENT_DECIMALS {
            problems.push(
                at,
                format!("{percent} has more than {TAX_PERCENT_DECIMALS} decimals"),
            );
            return None;
        }
        Some(Tax {
            name: self.name.clone(),
            percent,
            stack: self.stack,
        })
    }
}

fn price_list(prices: &[WirePrice], path: &str, kind: PriceKind, p: &mut Problems) -> PriceList {
    let elements: Vec<PriceElement> = prices
        .iter()
        .enumerate()
        .filter_map(|(i, w)| price_element(w, &format!("{path}.prices[{i}]"), kind, p))
        .collect();
    if !prices.is_empty() {
        let last_unconditioned = prices
            .last()
            .is_some_and(|w| w.conditions.as_ref().is_none_or(is_empty_wire));
        if !last_unconditioned {
            p.push(
                path,
                "no unconditioned fallback (the last price must have no conditions)",
            );
        }
        for (i, w) in prices.iter().enumerate().take(prices.len() - 1) {
            if w.conditions.as_ref().is_none_or(is_empty_wire) {
                p.push(
                    format!("{path}.prices[{i}]"),
                    "unconditioned but not last: the prices after it can never apply",
                );
            }
        }
    }
    PriceList { elements }
}

fn is_empty_wire(c: &WireConditions) -> bool {
    c.start_time_of_day.is_none()
        && c.end_time_of_day.is_none()
        && c.days_of_week.is_empty()
        && c.valid_from_date.is_none()
        && c.valid_to_date.is_none()
        && c.min_energy_wh.is_none()
        && c.max_energy_wh.is_none()
        && c.min_power_w.is_none()
        && c.max_power_w.is_none()
        && c.min_duration_s.is_none()
        && c.max_duration_s.is_none()
        && c.min_charging_time_s.is_none()
        && c.max_charging_time_s.is_none()
        && c.min_idle_time_s.is_none()
        && c.max_idle_time_s.is_none()
}

fn price_element(
    w: &WirePrice,
    path: &str,
    kind: PriceKind,
    p: &mut Problems,
) -> Option<PriceElement> {
    let given = [
        ("price_kwh", &w.price_kwh),
        ("price_minute", &w.price_minute),
        ("price_fixed", &w.price_fixed),
    ];
    for (key, value) in given {
        if key != kind.key() && value.is_some() {
            p.push(
                join(path, key),
                format!("not allowed here (expected {})", kind.key()),
            );
        }
    }
    let key_path = join(path, kind.key());
    let price = match given
        .iter()
        .find(|(k, _)| *k == kind.key())
        .and_then(|(_, v)| v.as_ref())
    {
        Some(n) => checked_price(n, &key_path, kind.decimals(), p),
        None => {
            p.push(key_path, "missing");
            None
        }
    };
    let conditions = conditions(w.conditions.as_ref(), &join(path, "conditions"), p);
    Some(PriceElement {
        price: price?,
        conditions: conditions?,
    })
}

/// A price or amount: 0 ..= MAX_PRICE with at most `decimals` decimals.
fn checked_price(n: &WireNumber, path: &str, decimals: u32, p: &mut Problems) -> Option<Decimal> {
    let d = n.decimal(path, p)?;
    if d < Decimal::ZERO || d > MAX_PRICE {
        p.push(path, format!("{d} is outside 0..={MAX_PRICE}"));
        None
    } else if d.scale() > decimals {
        p.push(
            path,
            format!("{} has more than {decimals} decimals", n.text()),
        );
        None
    } else {
        Some(d)
    }
}

fn conditions(w: Option<&WireConditions>, path: &str, p: &mut Problems) -> Option<Conditions> {
    let Some(w) = w else {
        return Some(Conditions::default());
    };
    let before = p.len();
    let time = |s: &Option<String>, key: &str, p: &mut Problems| {
        s.as_ref().and_then(|s| {
            NaiveTime::parse_from_str(s, "%H:%M")
                .map_err(|_| p.push(join(path, key), format!("{s:?} is not HH:MM")))
                .ok()
        })
    };
    let date = |s: &Option<String>, key: &str, p: &mut Problems| {
        s.as_ref().and_then(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| p.push(join(path, key), format!("{s:?} is not YYYY-MM-DD")))
                .ok()
        })
    };
    let quantity = |n: &Option<WireNumber>, key: &str, p: &mut Problems| {
        let at = join(path, key);
        let d = n.as_ref().and_then(|n| n.decimal(&at, p));
        if d.is_some_and(|d| d < Decimal::ZERO) {
            p.push(at, "must not be negative");
        }
        d
    };
    let seconds = |s: Option<i64>, key: &str, p: &mut Problems| {
        if s.is_some_and(|s| !(0..=366 * 86_400).contains(&s)) {
            p.push(
                join(path, key),
                format!("{} is outside 0..=31622400 s", s.unwrap_or(0)),
            );
        }
        s
    };
    let days_of_week = w
        .days_of_week
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            weekday(d)
                .map_err(|m| p.push(format!("{}[{i}]", join(path, "days_of_week")), m))
                .ok()
        })
        .collect();
    let c = Conditions {
        start_time_of_day: time(&w.start_time_of_day, "start_time_of_day", p),
        end_time_of_day: time(&w.end_time_of_day, "end_time_of_day", p),
        days_of_week,
        valid_from_date: date(&w.valid_from_date, "valid_from_date", p),
        valid_to_date: date(&w.valid_to_date, "valid_to_date", p),
        min_energy_wh: quantity(&w.min_energy_wh, "min_energy_wh", p),
        max_energy_wh: quantity(&w.max_energy_wh, "max_energy_wh", p),
        min_power_w: quantity(&w.min_power_w, "min_power_w", p),
        max_power_w: quantity(&w.max_power_w, "max_power_w", p),
        min_duration_s: seconds(w.min_duration_s, "min_duration_s", p),
        max_duration_s: seconds(w.max_duration_s, "max_duration_s", p),
        min_charging_time_s: seconds(w.min_charging_time_s, "min_charging_time_s", p),
        max_charging_time_s: seconds(w.max_charging_time_s, "max_charging_time_s", p),
        min_idle_time_s: seconds(w.min_idle_time_s, "min_idle_time_s", p),
        max_idle_time_s: seconds(w.max_idle_time_s, "max_idle_time_s", p),
    };
    if let (Some(a), Some(b)) = (c.valid_from_date, c.valid_to_date)
        && a >= b
    {
        p.push(join(path, "valid_to_date"), "must be after valid_from_date");
    }
    if let (Some(a), Some(b)) = (c.start_time_of_day, c.end_time_of_day)
        && a == b
    {
        p.push(
            join(path, "end_time_of_day"),
            "equals start_time_of_day: an empty window",
        );
    }
    (p.len() == before).then_some(c)
}

fn weekday(name: &str) -> Result<Weekday, String> {
    const DAYS: [(&str, Weekday); 7] = [
        ("MONDAY", Weekday::Mon),
        ("TUESDAY", Weekday::Tue),
        ("WEDNESDAY", Weekday::Wed),
        ("THURSDAY", Weekday::Thu),
        ("FRIDAY", Weekday::Fri),
        ("SATURDAY", Weekday::Sat),
        ("SUNDAY", Weekday::Sun),
    ];
    DAYS.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, d)| *d)
        .ok_or_else(|| format!("{name:?} is not a day (MONDAY..SUNDAY)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(json: &str) -> Vec<String> {
        parse_tariff(json)
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn a_valid_tariff() {
        let t = parse_tariff(
            r#"{"id":"t","currency":"EUR",
                "energy":{"prices":[{"price_kwh":"0.20","conditions":{"start_time_of_day":"22:00","end_time_of_day":"06:00"}},{"price_kwh":0.3}]},
                "idle_time":{"min_idle_minutes":15,"prices":[{"price_minute":0.05}]},
                "taxes":[{"name":"VAT","percent":20}]}"#,
        )
        .unwrap();
        assert_eq!(t.energy.elements.len(), 2);
        assert_eq!(t.energy.elements[1].price, Decimal::new(3, 1));
        assert_eq!(t.min_idle_s, 900);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let got = problems_of(
            r#"{"id":"t","currency":"EUR",
                "energy":{"prices":[{"price_kwh":0.2,"conditions":{"min_energy_wh":100}},{"price_kwh":0.123456,"conditions":{"days_of_week":["FUNDAY"]}}]},
                "fixed_fee":{"prices":[{"price_fixed":"0.505"}]},
                "taxes":[{"name":"VAT","percent":120}]}"#,
        );
        assert_eq!(
            got,
            [
                "energy.prices[1].price_kwh: 0.123456 has more than 4 decimals",
                "energy.prices[1].conditions.days_of_week[0]: \"FUNDAY\" is not a day (MONDAY..SUNDAY)",
                "energy: no unconditioned fallback (the last price must have no conditions)",
                "fixed_fee.prices[0].price_fixed: 0.505 has more than 2 decimals",
                "taxes[0].percent: 120 is outside 0..=100",
            ]
        );
    }

    #[test]
    fn currency_keys_and_windows() {
        let got = problems_of(
            r#"{"id":"","currency":"eur",
                "charging_time":{"prices":[{"price_kwh":1,"conditions":{"start_time_of_day":"25:00","end_time_of_day":"08:00"}},{"price_minute":-1}]}}"#,
        );
        assert_eq!(
            got,
            [
                "id: must not be empty",
                "currency: \"eur\" is not an ISO 4217 code (3 uppercase letters)",
                "charging_time.prices[0].price_kwh: not allowed here (expected price_minute)",
                "charging_time.prices[0].price_minute: missing",
                "charging_time.prices[0].conditions.start_time_of_day: \"25:00\" is not HH:MM",
                "charging_time.prices[1].price_minute: -1 is outside 0..=1000000",
            ]
        );
    }

    #[test]
    fn yen_has_no_minor_unit_and_min_cost_stays_below_max_cost() {
        let got = problems_of(r#"{"id":"t","currency":"JPY","min_cost":"100.5","max_cost":50}"#);
        assert_eq!(got, ["min_cost: 100.5 has more than 0 decimals"]);
        let got = problems_of(r#"{"id":"t","currency":"JPY","min_cost":100,"max_cost":50}"#);
        assert_eq!(got, ["max_cost: 50 is below min_cost 100"]);
    }

    #[test]
    fn an_unconditioned_price_before_the_last_is_unreachable() {
        let got = problems_of(
            r#"{"id":"t","currency":"EUR","energy":{"prices":[{"price_kwh":1},{"price_kwh":2}]}}"#,
        );
        assert_eq!(
            got,
            ["energy.prices[0]: unconditioned but not last: the prices after it can never apply"]
        );
    }
}
