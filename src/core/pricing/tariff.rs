//! The validated tariff, after OCPP 2.1 `TariffType`: price lists per dimension, each element
//! with conditions combined with AND, taxes, min/max cost. Owns the types and the evaluation of
//! a condition against a moment of a session; never parses JSON (see `wire`) nor computes a cost
//! (see `cost`).

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use rust_decimal::Decimal;

/// Decimals allowed in a price per kWh or per minute: a tenth of a cent, and one more digit so
/// that cheap per-minute prices stay exact.
pub const UNIT_PRICE_DECIMALS: u32 = 4;
/// Decimals allowed in a tax rate (e.g. 5.5 %, 8.25 %).
pub const TAX_PERCENT_DECIMALS: u32 = 2;
/// Highest unit price or fixed amount accepted: far above any real tariff, and low enough that
/// no session's cost can overflow a `Decimal`.
pub const MAX_PRICE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// An ISO 4217 currency the table knows, with the digits of its minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    code: [u8; 3],
    minor_digits: u32,
}

/// Currencies sitegate prices in, with their minor-unit digits (ISO 4217).
const CURRENCIES: [(&str, u32); 8] = [
    ("EUR", 2),
    ("NOK", 2),
    ("SEK", 2),
    ("DKK", 2),
    ("CHF", 2),
    ("GBP", 2),
    ("USD", 2),
    ("JPY", 0),
];

impl Currency {
    /// `Err` says why: not three uppercase letters, or not in the table.
    pub fn parse(code: &str) -> Result<Currency, String> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "{code:?} is not an ISO 4217 code (3 uppercase letters)"
            ));
        }
        let (_, minor_digits) = CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .ok_or_else(|| format!("{code} is not in the currency table"))?;
        let b = code.as_bytes();
        Ok(Currency {
            code: [b[0], b[1], b[2]],
            minor_digits: *minor_digits,
        })
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).expect("validated ASCII")
    }

    /// Digits after the decimal point of the minor unit (2 for cents, 0 for yen).
    pub fn minor_digits(&self) -> u32 {
        self.minor_digits
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A validated tariff.
#[derive(Debug, Clone, PartialEq)]
pub struct Tariff {
    pub id: String,
    pub currency: Currency,
    /// The tariff applies to sessions starting at or after this instant.
    pub valid_from: Option<DateTime<Utc>>,
    /// Price per kWh.
    pub energy: PriceList,
    /// Price per minute of charging.
    pub charging_time: PriceList,
    /// Price per minute of idle time beyond the grace.
    pub idle_time: PriceList,
    /// Idle time not billed (Sparklin's parking starts after it), in seconds, over the session.
    pub min_idle_s: i64,
    /// Fixed fee, evaluated once at the start of the session.
    pub fixed_fee: PriceList,
    pub min_cost: Option<Decimal>,
    pub max_cost: Option<Decimal>,
    pub taxes: Vec<Tax>,
}

/// Prices of one dimension: the first element whose conditions hold applies. Empty: the
/// dimension is free.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceList {
    pub elements: Vec<PriceElement>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PriceElement {
    /// Per kWh, per minute or fixed, depending on the list.
    pub price: Decimal,
    pub conditions: Conditions,
}

/// Conditions of a price element, combined with AND; `None` or empty means "any". Minimums are
/// inclusive, maximums exclusive, so that adjacent elements (`max_energy_wh: 20000` then
/// `min_energy_wh: 20000`) never overlap. Time of day, days and dates are in the site's local
/// time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conditions {
    pub start_time_of_day: Option<NaiveTime>,
    /// Exclusive; before `start_time_of_day` the window wraps past midnight.
    pub end_time_of_day: Option<NaiveTime>,
    pub days_of_week: Vec<Weekday>,
    pub valid_from_date: Option<NaiveDate>,
    /// Exclusive.
    pub valid_to_date: Option<NaiveDate>,
    pub min_energy_wh: Option<Decimal>,
    pub max_energy_wh: Option<Decimal>,
    pub min_power_w: Option<Decimal>,
    pub max_power_w: Option<Decimal>,
    pub min_duration_s: Option<i64>,
    pub max_duration_s: Option<i64>,
    pub min_charging_time_s: Option<i64>,
    pub max_charging_time_s: Option<i64>,
    pub min_idle_time_s: Option<i64>,
    pub max_idle_time_s: Option<i64>,
}

/// One tax: stack 0 applies to the net price, stack n to the net price plus the taxes of the
/// stacks below it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tax {
    pub name: String,
    pub percent: Decimal,
    pub stack: u8,
}

/// Where a session stands at one instant: what conditions are evaluated against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moment {
    /// Local date and time at the site.
    pub local_date: NaiveDate,
    pub local_time: NaiveTime,
    pub weekday: Weekday,
    pub energy_wh: Decimal,
    pub power_w: Decimal,
    /// Since the start of the session, in milliseconds (as are the two below).
    pub duration_ms: i64,
    pub charging_ms: i64,
    pub idle_ms: i64,
}

impl Conditions {
    pub fn hold_at(&self, m: &Moment) -> bool {
        self.time_of_day_holds(m.local_time)
            && (self.days_of_week.is_empty() || self.days_of_week.contains(&m.weekday))
            && self.valid_from_date.is_none_or(|d| m.local_date >= d)
            && self.valid_to_date.is_none_or(|d| m.local_date < d)
            && in_range(m.energy_wh, self.min_energy_wh, self.max_energy_wh)
            && in_range(m.power_w, self.min_power_w, self.max_power_w)
            && in_range(
                m.duration_ms,
                ms(self.min_duration_s),
                ms(self.max_duration_s),
            )
            && in_range(
                m.charging_ms,
                ms(self.min_charging_time_s),
                ms(self.max_charging_time_s),
            )
            && in_range(
                m.idle_ms,
                ms(self.min_idle_time_s),
                ms(self.max_idle_time_s),
            )
    }

    fn time_of_day_holds(&self, t: NaiveTime) -> bool {
        match (self.start_time_of_day, self.end_time_of_day) {
            (None, None) => true,
            (Some(s), None) => t >= s,
            (None, Some(e)) => t < e,
            (Some(s), Some(e)) if s <= e => t >= s && t < e,
            // Wraps past midnight: 22:00-06:00.
            (Some(s), Some(e)) => t >= s || t < e,
        }
    }
}

fn ms(seconds: Option<i64>) -> Option<i64> {
    seconds.map(|s| s * 1000)
}

fn in_range<T: PartialOrd>(v: T, min: Option<T>, max: Option<T>) -> bool {
    min.is_none_or(|m| v >= m) && max.is_none_or(|m| v < m)
}

impl PriceList {
    /// Index of the element that applies at `m`; `None` when the list is empty (or, impossible
    /// for a validated list, nothing holds).
    pub fn applicable(&self, m: &Moment) -> Option<usize> {
        self.elements.iter().position(|e| e.conditions.hold_at(m))
    }

    pub fn conditions(&self) -> impl Iterator<Item = &Conditions> {
        self.elements.iter().map(|e| &e.conditions)
    }
}

impl Tariff {
    /// The three lists that can change during a session (the fixed fee is evaluated once).
    pub fn running_lists(&self) -> [&PriceList; 3] {
        [&self.energy, &self.charging_time, &self.idle_time]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moment(h: u32, m: u32) -> Moment {
        Moment {
            local_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            local_time: NaiveTime::from_hms_opt(h, m, 0).unwrap(),
            weekday: Weekday::Mon,
            energy_wh: Decimal::ZERO,
            power_w: Decimal::ZERO,
            duration_ms: 0,
            charging_ms: 0,
            idle_ms: 0,
        }
    }

    fn window(s: (u32, u32), e: (u32, u32)) -> Conditions {
        Conditions {
            start_time_of_day: NaiveTime::from_hms_opt(s.0, s.1, 0),
            end_time_of_day: NaiveTime::from_hms_opt(e.0, e.1, 0),
            ..Conditions::default()
        }
    }

    #[test]
    fn time_windows_include_the_start_exclude_the_end_and_wrap() {
        let day = window((8, 0), (20, 0));
        let night = window((22, 0), (6, 0));
        let table = [
            ((7, 59), false, false),
            ((8, 0), true, false),
            ((19, 59), true, false),
            ((20, 0), false, false),
            ((22, 0), false, true),
            ((0, 0), false, true),
            ((5, 59), false, true),
            ((6, 0), false, false),
        ];
        for ((h, m), in_day, in_night) in table {
            assert_eq!(day.hold_at(&moment(h, m)), in_day, "day {h}:{m}");
            assert_eq!(night.hold_at(&moment(h, m)), in_night, "night {h}:{m}");
        }
    }

    #[test]
    fn minimums_are_inclusive_maximums_exclusive() {
        let c = Conditions {
            min_energy_wh: Some(Decimal::from(1000)),
            max_energy_wh: Some(Decimal::from(2000)),
            ..Conditions::default()
        };
        for (wh, holds) in [(999, false), (1000, true), (1999, true), (2000, false)] {
            let m = Moment {
                energy_wh: Decimal::from(wh),
                ..moment(12, 0)
            };
            assert_eq!(c.hold_at(&m), holds, "{wh} Wh");
        }
    }

    #[test]
    fn days_and_dates() {
        let c = Conditions {
            days_of_week: vec![Weekday::Sat, Weekday::Sun],
            ..Conditions::default()
        };
        assert!(!c.hold_at(&moment(12, 0)));
        let d = Conditions {
            valid_from_date: NaiveDate::from_ymd_opt(2026, 3, 2),
            valid_to_date: NaiveDate::from_ymd_opt(2026, 3, 3),
            ..Conditions::default()
        };
        assert!(d.hold_at(&moment(12, 0)));
        let after = Moment {
            local_date: NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
            ..moment(12, 0)
        };
        assert!(!d.hold_at(&after));
    }

    #[test]
    fn the_currency_table() {
        assert_eq!(Currency::parse("EUR").unwrap().minor_digits(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().minor_digits(), 0);
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XYZ").unwrap_err().contains("table"));
    }
}
