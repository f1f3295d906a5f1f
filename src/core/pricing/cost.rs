//! The cost of a session: a pure function of a tariff, the session's samples, the site's time
//! zone and the promotions on offer. Owns the charging periods, the per-dimension amounts, min
//! and max cost, discounts and taxes, and the one rounding rule (`round_money`); never reads a
//! clock or a file, and never chooses the tariff (see `precedence`).
//!
//! Energy between two samples is attributed linearly in time: a boundary between two samples
//! (a price window, midnight, a DST change, an energy tier) splits their energy in proportion
//! to the time on each side.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};

use super::promotion::{Offer, Party, Refusal};
use super::tariff::{Moment, PriceList, Tariff, Tax};
use super::timeline::{Piece, Segment, Timeline, TimelineError};
use crate::core::session::Phase;

/// One sample as pricing sees it: when, the session's cumulative energy, and the phase the
/// socket is in from this sample on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostSample {
    pub at: DateTime<Utc>,
    pub energy_wh: Decimal,
    pub phase: Phase,
}

/// What the cost is computed from. Energy is 0 at `started_at`; from `started_at` to the first
/// sample the socket is in that sample's phase. A running session (`stopped_at: None`) is
/// priced up to its last sample.
#[derive(Debug, Clone, PartialEq)]
pub struct CostInput {
    pub time_zone: Tz,
    pub started_at: DateTime<Utc>,
    pub samples: Vec<CostSample>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// Who charges where: promotions target them.
    pub party: Party,
}

/// A stretch of the session over which the applicable price elements did not change.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargingPeriod {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Indices into the tariff's lists of the elements that applied (`None`: list empty).
    pub energy_element: Option<usize>,
    pub charging_element: Option<usize>,
    pub idle_element: Option<usize>,
    pub energy_wh: Decimal,
    pub charging_ms: i64,
    pub idle_ms: i64,
    /// Idle time beyond the grace: what the idle price applies to.
    pub billed_idle_ms: i64,
    /// Amounts of the period at full precision (not rounded: only the session's totals are).
    pub energy_amount: Decimal,
    pub charging_amount: Decimal,
    pub idle_amount: Decimal,
}

/// Money of one kind over the whole session.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Dimensions {
    pub energy: Decimal,
    pub charging_time: Decimal,
    pub idle_time: Decimal,
    pub fixed_fee: Decimal,
}

impl Dimensions {
    pub fn sum(&self) -> Decimal {
        self.energy + self.charging_time + self.idle_time + self.fixed_fee
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaxLine {
    pub tax: Tax,
    /// What the percentage was applied to.
    pub base: Decimal,
    pub amount: Decimal,
}

/// The promotion that applied, and the discount it gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Discount {
    pub promotion_id: String,
    pub description: String,
    pub amount: Decimal,
}

/// Everything the cost is made of. Every amount but the periods' is rounded to the currency's
/// minor unit, and the totals are sums of those lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub tariff_id: String,
    pub currency: String,
    pub periods: Vec<ChargingPeriod>,
    pub energy_wh: Decimal,
    pub charging_ms: i64,
    pub idle_ms: i64,
    pub billed_idle_ms: i64,
    pub amounts: Dimensions,
    /// Sum of the amounts.
    pub subtotal: Decimal,
    /// What min_cost added (positive) or max_cost removed (negative); zero otherwise.
    pub min_max_adjustment: Decimal,
    pub discount: Option<Discount>,
    /// Promotions on offer that did not apply, and why.
    pub refusals: Vec<(String, Refusal)>,
    pub total_excl_tax: Decimal,
    pub taxes: Vec<TaxLine>,
    pub total_incl_tax: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    #[error(transparent)]
    Timeline(#[from] TimelineError),
    #[error("the session started at {started} before the tariff is valid ({valid_from})")]
    TariffNotYetValid {
        started: DateTime<Utc>,
        valid_from: DateTime<Utc>,
    },
}

/// The one rounding rule: to the currency's minor unit, half to even, applied once to each
/// amount that adds up to the total (each dimension's total over the session, the fixed fee,
/// the discount, each tax) and never to intermediate values (quantities, per-period amounts).
/// The result always carries exactly the minor digits (4.5 comes out as 4.50).
pub fn round_money(amount: Decimal, minor_digits: u32) -> Decimal {
    let mut rounded =
        amount.round_dp_with_strategy(minor_digits, RoundingStrategy::MidpointNearestEven);
    rounded.rescale(minor_digits);
    rounded
}

/// The cost of a session. The first promotion in `offers` that applies is used.
pub fn cost(
    tariff: &Tariff,
    input: &CostInput,
    offers: &[Offer<'_>],
) -> Result<Breakdown, CostError> {
    if let Some(valid_from) = tariff.valid_from
        && input.started_at < valid_from
    {
        return Err(CostError::TariffNotYetValid {
            started: input.started_at,
            valid_from,
        });
    }
    let minor = tariff.currency.minor_digits();
    let timeline = Timeline::new(tariff, input)?;
    let periods = periods(tariff, &timeline);

    let fixed_fee = round_money(
        price(
            &tariff.fixed_fee,
            tariff.fixed_fee.applicable(&timeline.moment_at_start()),
        ),
        minor,
    );
    // Each dimension's total is price x quantity summed over the periods, divided by the unit
    // once: the products are exact, so the total does not depend on how the session was cut.
    let total = |unit: i64, quantity_price: &dyn Fn(&ChargingPeriod) -> Decimal| {
        let exact: Decimal = periods.iter().map(quantity_price).sum();
        round_money(exact / Decimal::from(unit), minor)
    };
    let amounts = Dimensions {
        energy: total(1000, &|p| {
            p.energy_wh * price(&tariff.energy, p.energy_element)
        }),
        charging_time: total(60_000, &|p| {
            Decimal::from(p.charging_ms) * price(&tariff.charging_time, p.charging_element)
        }),
        idle_time: total(60_000, &|p| {
            Decimal::from(p.billed_idle_ms) * price(&tariff.idle_time, p.idle_element)
        }),
        fixed_fee,
    };
    let subtotal = amounts.sum();
    let bounded = bound(subtotal, tariff);
    let min_max_adjustment = bounded - subtotal;

    let local_start = input
        .started_at
        .with_timezone(&input.time_zone)
        .naive_local();
    let mut refusals = Vec::new();
    let mut discount = None;
    for offer in offers {
        match offer.refusal(&input.party, local_start) {
            Some(r) => refusals.push((offer.promotion.id.clone(), r)),
            None if discount.is_none() => {
                let wanted =
                    offer
                        .promotion
                        .action
                        .discount(tariff, &periods, amounts.energy, bounded);
                discount = Some(Discount {
                    promotion_id: offer.promotion.id.clone(),
                    description: offer.promotion.action.to_string(),
                    // Never more than the cost: a total is never negative.
                    amount: round_money(wanted, minor).min(bounded),
                });
            }
            None => refusals.push((offer.promotion.id.clone(), Refusal::AnotherApplied)),
        }
    }
    let total_excl_tax = bounded - discount.as_ref().map_or(Decimal::ZERO, |d| d.amount);
    let taxes = taxes(&tariff.taxes, total_excl_tax, minor);
    let total_incl_tax = total_excl_tax + taxes.iter().map(|t| t.amount).sum::<Decimal>();

    Ok(Breakdown {
        tariff_id: tariff.id.clone(),
        currency: tariff.currency.code().to_string(),
        energy_wh: periods.iter().map(|p| p.energy_wh).sum(),
        charging_ms: periods.iter().map(|p| p.charging_ms).sum(),
        idle_ms: periods.iter().map(|p| p.idle_ms).sum(),
        billed_idle_ms: periods.iter().map(|p| p.billed_idle_ms).sum(),
        periods,
        amounts,
        subtotal,
        min_max_adjustment,
        discount,
        refusals,
        total_excl_tax,
        taxes,
        total_incl_tax,
    })
}

/// The price of element `i` of `list`; nothing when the list is empty.
fn price(list: &PriceList, i: Option<usize>) -> Decimal {
    i.map_or(Decimal::ZERO, |i| list.elements[i].price)
}

/// min_cost raises a lower cost; max_cost caps it (usage goes on, the cost stays).
fn bound(cost: Decimal, tariff: &Tariff) -> Decimal {
    let raised = tariff.min_cost.map_or(cost, |m| cost.max(m));
    tariff.max_cost.map_or(raised, |m| raised.min(m))
}

/// Stack 0 applies to the net price; stack n to the net price plus the (rounded) taxes of all
/// lower stacks. Lines come out in stack order, then in the tariff's order.
fn taxes(taxes: &[Tax], net: Decimal, minor: u32) -> Vec<TaxLine> {
    let mut sorted: Vec<&Tax> = taxes.iter().collect();
    sorted.sort_by_key(|t| t.stack);
    let mut lines: Vec<TaxLine> = Vec::with_capacity(sorted.len());
    for tax in sorted {
        let base = net
            + lines
                .iter()
                .filter(|l| l.tax.stack < tax.stack)
                .map(|l| l.amount)
                .sum::<Decimal>();
        let amount = round_money(base * tax.percent / Decimal::ONE_HUNDRED, minor);
        lines.push(TaxLine {
            tax: tax.clone(),
            base,
            amount,
        });
    }
    lines
}

/// Walks the timeline's pieces, merging consecutive pieces under the same elements into one
/// period, and prices each period.
fn periods(tariff: &Tariff, timeline: &Timeline) -> Vec<ChargingPeriod> {
    let mut out: Vec<ChargingPeriod> = Vec::new();
    timeline.for_each_piece(|piece: &Piece, moment: &Moment| {
        let key = [
            tariff.energy.applicable(moment),
            tariff.charging_time.applicable(moment),
            tariff.idle_time.applicable(moment),
        ];
        match out.last_mut() {
            Some(p) if [p.energy_element, p.charging_element, p.idle_element] == key => {
                p.end = ms_to_utc(piece.end_ms);
                p.energy_wh += piece.energy_wh;
                p.charging_ms += piece.charging_ms;
                p.idle_ms += piece.idle_ms;
                p.billed_idle_ms += piece.billed_idle_ms;
            }
            _ => out.push(ChargingPeriod {
                start: ms_to_utc(piece.start_ms),
                end: ms_to_utc(piece.end_ms),
                energy_element: key[0],
                charging_element: key[1],
                idle_element: key[2],
                energy_wh: piece.energy_wh,
                charging_ms: piece.charging_ms,
                idle_ms: piece.idle_ms,
                billed_idle_ms: piece.billed_idle_ms,
                energy_amount: Decimal::ZERO,
                charging_amount: Decimal::ZERO,
                idle_amount: Decimal::ZERO,
            }),
        }
    });
    let per_minute = |ms: i64| Decimal::from(ms) / Decimal::from(60_000);
    // Unrounded: only a dimension's total over the session is rounded (see `round_money`).
    for p in &mut out {
        p.energy_amount =
            price(&tariff.energy, p.energy_element) * p.energy_wh / Decimal::ONE_THOUSAND;
        p.charging_amount =
            price(&tariff.charging_time, p.charging_element) * per_minute(p.charging_ms);
        p.idle_amount = price(&tariff.idle_time, p.idle_element) * per_minute(p.billed_idle_ms);
    }
    out
}

pub(super) fn ms_to_utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .expect("within chrono's range: built from DateTime values")
}

/// The session's segments, for the timeline: between consecutive sample times.
pub(super) fn segments(input: &CostInput) -> Result<(i64, Vec<Segment>), TimelineError> {
    let start = input.started_at.timestamp_millis();
    let mut out = Vec::with_capacity(input.samples.len() + 1);
    let (mut t, mut e) = (start, Decimal::ZERO);
    let mut phase = input.samples.first().map_or(Phase::Idle, |s| s.phase);
    for (index, s) in input.samples.iter().enumerate() {
        let at = s.at.timestamp_millis();
        if at < t {
            return Err(TimelineError::OutOfOrder { index });
        }
        if s.energy_wh < e {
            return Err(TimelineError::EnergyDecreases { index });
        }
        out.push(Segment {
            start_ms: t,
            end_ms: at,
            start_wh: e,
            end_wh: s.energy_wh,
            phase,
        });
        (t, e, phase) = (at, s.energy_wh, s.phase);
    }
    if let Some(stop) = input.stopped_at {
        let stop = stop.timestamp_millis();
        if stop < t {
            return Err(TimelineError::StopBeforeLastSample);
        }
        out.push(Segment {
            start_ms: t,
            end_ms: stop,
            start_wh: e,
            end_wh: e,
            phase,
        });
    }
    Ok((start, out))
}
