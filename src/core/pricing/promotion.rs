//! Promotions (Orain): a date range in the site's time zone (from 00:00:00 on the first day to
//! 23:59:59 on the last), an optional daily window, targets, one action and usage limits.
//! Owns whether a promotion applies to a session (decided at its start) and the discount its
//! action gives; never counts uses (the caller passes the counts so far) nor reads a clock.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::cost::ChargingPeriod;
use super::tariff::Tariff;
use super::wire::WireNumber;
use crate::problems::Problems;

#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    pub id: String,
    pub first_day: NaiveDate,
    /// Inclusive: the promotion runs until 23:59:59 that day.
    pub last_day: NaiveDate,
    /// Local start (inclusive) and end (exclusive); wraps past midnight when end < start.
    pub daily_window: Option<(NaiveTime, NaiveTime)>,
    pub targets: Targets,
    pub action: Action,
    pub limit_per_user: Option<u32>,
    pub limit_total: Option<u32>,
}

/// Who a promotion is for. Each non-empty list must contain the session's value (AND across
/// kinds); an empty list targets everyone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Targets {
    pub sockets: Vec<String>,
    pub communities: Vec<String>,
    pub users: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    PercentOffEnergy(Decimal),
    PercentOffTotal(Decimal),
    /// The first N kWh of the session are free (at the prices they would have cost).
    FreeKwh(Decimal),
}

/// Who charges where, for targets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Party {
    pub socket: String,
    pub communities: Vec<String>,
    pub user: Option<String>,
}

/// A promotion with its uses so far (this session not included).
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    pub promotion: &'a Promotion,
    pub used_by_user: u32,
    pub used_total: u32,
}

/// Why a promotion on offer did not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    OutsideDates,
    OutsideDailyWindow,
    NotTargeted,
    UserLimitReached,
    TotalLimitReached,
    /// An anonymous session cannot use a promotion limited per user.
    Anonymous,
    AnotherApplied,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::OutsideDates => "outside its dates",
            Refusal::OutsideDailyWindow => "outside its daily window",
            Refusal::NotTargeted => "not for this socket, community or user",
            Refusal::UserLimitReached => "the user's limit is reached",
            Refusal::TotalLimitReached => "the site-wide limit is reached",
            Refusal::Anonymous => "limited per user, and the session is anonymous",
            Refusal::AnotherApplied => "another promotion applied",
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::PercentOffEnergy(p) => write!(f, "{p} % off energy"),
            Action::PercentOffTotal(p) => write!(f, "{p} % off the total"),
            Action::FreeKwh(k) => write!(f, "first {k} kWh free"),
        }
    }
}

impl Offer<'_> {
    /// `None` when the promotion applies to a session starting at `local_start` (site time).
    pub fn refusal(&self, party: &Party, local_start: NaiveDateTime) -> Option<Refusal> {
        let p = self.promotion;
        let day = local_start.date();
        if day < p.first_day || day > p.last_day {
            return Some(Refusal::OutsideDates);
        }
        if let Some((from, to)) = p.daily_window {
            let t = local_start.time();
            let inside = if from <= to {
                t >= from && t < to
            } else {
                t >= from || t < to
            };
            if !inside {
                return Some(Refusal::OutsideDailyWindow);
            }
        }
        let targeted =
            |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        let user_ok = p.targets.users.is_empty()
            || party
                .user
                .as_deref()
                .is_some_and(|u| targeted(&p.targets.users, u));
        let community_ok = p.targets.communities.is_empty()
            || party
                .communities
                .iter()
                .any(|c| targeted(&p.targets.communities, c));
        if !targeted(&p.targets.sockets, &party.socket) || !community_ok || !user_ok {
            return Some(Refusal::NotTargeted);
        }
        if p.limit_total.is_some_and(|l| self.used_total >= l) {
            return Some(Refusal::TotalLimitReached);
        }
        if let Some(limit) = p.limit_per_user {
            if party.user.is_none() {
                return Some(Refusal::Anonymous);
            }
            if self.used_by_user >= limit {
                return Some(Refusal::UserLimitReached);
            }
        }
        None
    }
}

impl Action {
    /// The discount before rounding: `energy` is the energy amount, `cost` the cost after min
    /// and max cost.
    pub(super) fn discount(
        &self,
        tariff: &Tariff,
        periods: &[ChargingPeriod],
        energy: Decimal,
        cost: Decimal,
    ) -> Decimal {
        let percent = |p: Decimal, of: Decimal| of * p / Decimal::ONE_HUNDRED;
        match *self {
            Action::PercentOffEnergy(p) => percent(p, energy),
            Action::PercentOffTotal(p) => percent(p, cost),
            Action::FreeKwh(kwh) => {
                // The first kWh in time order, each at the price of the period it fell in.
                let mut free_wh = kwh * Decimal::ONE_THOUSAND;
                let mut value = Decimal::ZERO;
                for period in periods {
                    let wh = period.energy_wh.min(free_wh);
                    let price = period
                        .energy_element
                        .map_or(Decimal::ZERO, |i| tariff.energy.elements[i].price);
                    value += wh * price / Decimal::ONE_THOUSAND;
                    free_wh -= wh;
                    if free_wh.is_zero() {
                        break;
                    }
                }
                value
            }
        }
    }
}

/// The JSON form of a promotion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WirePromotion {
    pub id: String,
    /// "YYYY-MM-DD".
    pub first_day: String,
    pub last_day: String,
    #[serde(default)]
    pub daily_window: Option<WireWindow>,
    #[serde(default)]
    pub sockets: Vec<String>,
    #[serde(default)]
    pub communities: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    pub action: WireAction,
    #[serde(default)]
    pub limit_per_user: Option<u32>,
    #[serde(default)]
    pub limit_total: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireWindow {
    /// "HH:MM".
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum WireAction {
    PercentOffEnergy(WireNumber),
    PercentOffTotal(WireNumber),
    FreeKwh(WireNumber),
}

/// Parses and validates a promotion from JSON text.
pub fn parse_promotion(json: &str) -> Result<Promotion, Problems> {
    let w: WirePromotion = serde_json::from_str(json).map_err(|e| {
        let mut p = Problems::new();
        p.push("", format!("not a promotion: {e}"));
        p
    })?;
    let mut p = Problems::new();
    if w.id.trim().is_empty() {
        p.push("id", "must not be empty");
    }
    let date = |s: &str, key: &str, p: &mut Problems| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| p.push(key, format!("{s:?} is not YYYY-MM-DD")))
            .ok()
    };
    let first_day = date(&w.first_day, "first_day", &mut p);
    let last_day = date(&w.last_day, "last_day", &mut p);
    if let (Some(a), Some(b)) = (first_day, last_day)
        && b < a
    {
        p.push("last_day", "is before first_day");
    }
    let time = |s: &str, key: &str, p: &mut Problems| {
        NaiveTime::parse_from_str(s, "%H:%M")
            .map_err(|_| p.push(key, format!("{s:?} is not HH:MM")))
            .ok()
    };
    let daily_window = w.daily_window.as_ref().and_then(|dw| {
        let s = time(&dw.start, "daily_window.start", &mut p);
        let e = time(&dw.end, "daily_window.end", &mut p);
        s.zip(e)
    });
    let (key, n) = match &w.action {
        WireAction::PercentOffEnergy(n) => ("action.percent_off_energy", n),
        WireAction::PercentOffTotal(n) => ("action.percent_off_total", n),
        WireAction::FreeKwh(n) => ("action.free_kwh", n),
    };
    let value = n.decimal(key, &mut p).filter(|v| {
        let percent = !matches!(w.action, WireAction::FreeKwh(_));
        let ok = *v >= Decimal::ZERO && (!percent || *v <= Decimal::ONE_HUNDRED) && v.scale() <= 4;
        if !ok {
            let range = if percent { "0..=100" } else { "0 or more" };
            p.push(key, format!("{v} must be {range} with at most 4 decimals"));
        }
        ok
    });
    let action = value.map(|v| match w.action {
        WireAction::PercentOffEnergy(_) => Action::PercentOffEnergy(v),
        WireAction::PercentOffTotal(_) => Action::PercentOffTotal(v),
        WireAction::FreeKwh(_) => Action::FreeKwh(v),
    });
    match (first_day, last_day, action) {
        (Some(first_day), Some(last_day), Some(action)) if p.is_empty() => Ok(Promotion {
            id: w.id,
            first_day,
            last_day,
            daily_window,
            targets: Targets {
                sockets: w.sockets,
                communities: w.communities,
                users: w.users,
            },
            action,
            limit_per_user: w.limit_per_user,
            limit_total: w.limit_total,
        }),
        _ => Err(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promotion() -> Promotion {
        parse_promotion(
            r#"{"id":"spring","first_day":"2026-04-01","last_day":"2026-04-30",
                "daily_window":{"start":"10:00","end":"16:00"},"communities":["staff"],
                "action":{"percent_off_energy":20},"limit_per_user":2,"limit_total":100}"#,
        )
        .unwrap()
    }

    fn at(d: u32, h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 4, d)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    #[test]
    fn each_rule_refuses_with_its_reason() {
        let p = promotion();
        let staff = Party {
            socket: "s1".into(),
            communities: vec!["default".into(), "staff".into()],
            user: Some("u1".into()),
        };
        let offer = |used_by_user, used_total| Offer {
            promotion: &p,
            used_by_user,
            used_total,
        };
        let table = [
            (offer(0, 0), &staff, at(1, 10, 0, 0), None),
            (offer(0, 0), &staff, at(30, 15, 59, 59), None),
            (offer(1, 99), &staff, at(15, 12, 0, 0), None),
            (
                offer(0, 0),
                &staff,
                at(15, 16, 0, 0),
                Some(Refusal::OutsideDailyWindow),
            ),
            (
                offer(2, 0),
                &staff,
                at(15, 12, 0, 0),
                Some(Refusal::UserLimitReached),
            ),
            (
                offer(0, 100),
                &staff,
                at(15, 12, 0, 0),
                Some(Refusal::TotalLimitReached),
            ),
        ];
        for (offer, party, when, expected) in table {
            assert_eq!(offer.refusal(party, when), expected, "{when}");
        }
        let may = NaiveDate::from_ymd_opt(2026, 5, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        assert_eq!(
            offer(0, 0).refusal(&staff, may),
            Some(Refusal::OutsideDates)
        );
        let outsider = Party {
            communities: vec!["default".into()],
            ..staff.clone()
        };
        assert_eq!(
            offer(0, 0).refusal(&outsider, at(2, 12, 0, 0)),
            Some(Refusal::NotTargeted)
        );
        let anonymous = Party {
            user: None,
            ..staff.clone()
        };
        assert_eq!(
            offer(0, 0).refusal(&anonymous, at(2, 12, 0, 0)),
            Some(Refusal::Anonymous)
        );
    }

    #[test]
    fn the_last_day_runs_until_its_last_second() {
        let p = Promotion {
            daily_window: None,
            ..promotion()
        };
        let offer = Offer {
            promotion: &p,
            used_by_user: 0,
            used_total: 0,
        };
        let party = Party {
            socket: "s".into(),
            communities: vec!["staff".into()],
            user: Some("u".into()),
        };
        assert_eq!(offer.refusal(&party, at(30, 23, 59, 59)), None);
        assert_eq!(offer.refusal(&party, at(1, 0, 0, 0)), None);
    }

    #[test]
    fn invalid_promotions_report_paths() {
        let e = parse_promotion(
            r#"{"id":"x","first_day":"2026-04-30","last_day":"2026-04-01","action":{"percent_off_total":150}}"#,
        )
        .unwrap_err();
        let got: Vec<String> = e.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            got,
            [
                "last_day: is before first_day",
                "action.percent_off_total: 150 must be 0..=100 with at most 4 decimals",
            ]
        );
    }
}
