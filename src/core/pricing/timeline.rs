//! A session cut into pieces over which no condition of the tariff can change: the segments
//! between samples, cut again at every instant a condition may flip (a time of day, local
//! midnight, a UTC-offset change, an energy, duration, charging- or idle-time threshold).
//! Owns finding those instants and the state of the session at each piece; never prices.
//!
//! Times are milliseconds since the Unix epoch (sub-millisecond parts of the input are
//! dropped). A piece's conditions are evaluated at its midpoint, strictly inside it, so that a
//! threshold reached at a cut belongs to the piece after the cut whatever the rounding of the
//! crossing instant.

use chrono::{Datelike, Duration, LocalResult, NaiveTime, Offset, TimeZone};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::cost::{CostInput, ms_to_utc, segments};
use super::tariff::{Conditions, Moment, Tariff};
use crate::core::session::Phase;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimelineError {
    #[error("sample {index} is earlier than the sample (or the start) before it")]
    OutOfOrder { index: usize },
    #[error("sample {index}: the cumulative energy decreases")]
    EnergyDecreases { index: usize },
    #[error("the session stops before its last sample")]
    StopBeforeLastSample,
    #[error("sample energy must not be negative")]
    NegativeEnergy,
}

/// Between two consecutive samples: energy grows linearly, the phase is constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub start_ms: i64,
    pub end_ms: i64,
    pub start_wh: Decimal,
    pub end_wh: Decimal,
    pub phase: Phase,
}

/// A part of a segment over which the tariff's conditions do not change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece {
    pub start_ms: i64,
    pub end_ms: i64,
    pub energy_wh: Decimal,
    pub charging_ms: i64,
    pub idle_ms: i64,
    pub billed_idle_ms: i64,
}

pub struct Timeline {
    time_zone: Tz,
    start_ms: i64,
    segments: Vec<Segment>,
    /// Local times of day, midnights and offset changes inside the session, sorted.
    calendar_cuts: Vec<i64>,
    energy_thresholds: Vec<Decimal>,
    duration_thresholds: Vec<i64>,
    charging_thresholds: Vec<i64>,
    idle_thresholds: Vec<i64>,
    grace_ms: i64,
}

const MS_PER_HOUR: i64 = 3_600_000;

impl Timeline {
    pub fn new(tariff: &Tariff, input: &CostInput) -> Result<Timeline, TimelineError> {
        if input.samples.iter().any(|s| s.energy_wh < Decimal::ZERO) {
            return Err(TimelineError::NegativeEnergy);
        }
        let (start_ms, segments) = segments(input)?;
        let end_ms = segments.last().map_or(start_ms, |s| s.end_ms);
        let conditions: Vec<&Conditions> = tariff
            .running_lists()
            .into_iter()
            .flat_map(|l| l.conditions())
            .collect();
        let seconds = |f: &dyn Fn(&Conditions) -> [Option<i64>; 2]| {
            sorted(
                conditions
                    .iter()
                    .flat_map(|c| f(c))
                    .flatten()
                    .map(|s| s * 1000),
            )
        };
        Ok(Timeline {
            time_zone: input.time_zone,
            calendar_cuts: calendar_cuts(input.time_zone, start_ms, end_ms, &conditions),
            energy_thresholds: sorted(
                conditions
                    .iter()
                    .flat_map(|c| [c.min_energy_wh, c.max_energy_wh])
                    .flatten(),
            ),
            duration_thresholds: seconds(&|c| [c.min_duration_s, c.max_duration_s]),
            charging_thresholds: seconds(&|c| [c.min_charging_time_s, c.max_charging_time_s]),
            idle_thresholds: seconds(&|c| [c.min_idle_time_s, c.max_idle_time_s]),
            grace_ms: tariff.min_idle_s * 1000,
            start_ms,
            segments,
        })
    }

    /// The session at its start, for the fixed fee.
    pub fn moment_at_start(&self) -> Moment {
        let power_w = self
            .segments
            .iter()
            .find(|s| s.end_ms > s.start_ms)
            .map_or(Decimal::ZERO, power_w);
        self.moment(self.start_ms, Decimal::ZERO, power_w, 0, 0)
    }

    fn moment(
        &self,
        at_ms: i64,
        energy_wh: Decimal,
        power_w: Decimal,
        charging_ms: i64,
        idle_ms: i64,
    ) -> Moment {
        let local = ms_to_utc(at_ms).with_timezone(&self.time_zone);
        Moment {
            local_date: local.date_naive(),
            local_time: local.time(),
            weekday: local.weekday(),
            energy_wh,
            power_w,
            duration_ms: at_ms - self.start_ms,
            charging_ms,
            idle_ms,
        }
    }

    /// Calls `f` for each piece in time order, with the session's state at its midpoint.
    pub fn for_each_piece(&self, mut f: impl FnMut(&Piece, &Moment)) {
        let (mut charging_ms, mut idle_ms) = (0i64, 0i64);
        let mut next_calendar = 0;
        let mut cuts: Vec<i64> = Vec::new();
        for seg in &self.segments {
            let (t0, t1) = (seg.start_ms, seg.end_ms);
            let de = seg.end_wh - seg.start_wh;
            if t1 == t0 && de.is_zero() {
                continue;
            }
            let charging = seg.phase == Phase::Charging;
            let idle = matches!(seg.phase, Phase::Idle | Phase::Suspended);
            cuts.clear();
            while next_calendar < self.calendar_cuts.len()
                && self.calendar_cuts[next_calendar] <= t0
            {
                next_calendar += 1;
            }
            cuts.extend(
                self.calendar_cuts[next_calendar..]
                    .iter()
                    .take_while(|&&c| c < t1),
            );
            if t1 > t0 {
                let span = Decimal::from(t1 - t0);
                for &th in inside(&self.energy_thresholds, seg.start_wh, seg.end_wh) {
                    let at = Decimal::from(t0) + (th - seg.start_wh) * span / de;
                    cuts.extend(at.ceil().to_i64().filter(|&c| c > t0 && c < t1));
                }
                let offsets = [
                    (&self.duration_thresholds, t0 - self.start_ms, true),
                    (&self.charging_thresholds, charging_ms, charging),
                    (&self.idle_thresholds, idle_ms, idle),
                ];
                for (thresholds, before, grows) in offsets {
                    if grows {
                        let after = before + (t1 - t0);
                        cuts.extend(
                            inside(thresholds, before, after)
                                .iter()
                                .map(|th| t0 + th - before),
                        );
                    }
                }
            }
            cuts.sort_unstable();
            cuts.dedup();
            let power = if t1 > t0 { power_w(seg) } else { Decimal::ZERO };
            let mut a = t0;
            for b in cuts.iter().copied().chain(std::iter::once(t1)) {
                if b <= a && !(b == t1 && t1 == t0) {
                    continue;
                }
                let piece_ms = b - a;
                let (c_ms, i_ms) = (
                    if charging { piece_ms } else { 0 },
                    if idle { piece_ms } else { 0 },
                );
                let billed_idle_ms = (idle_ms + i_ms - idle_ms.max(self.grace_ms)).max(0);
                let mid = a + piece_ms / 2;
                let moment = self.moment(
                    mid,
                    energy_at(seg, Decimal::from(a + b) / Decimal::TWO),
                    power,
                    charging_ms + if charging { mid - a } else { 0 },
                    idle_ms + if idle { mid - a } else { 0 },
                );
                let piece = Piece {
                    start_ms: a,
                    end_ms: b,
                    energy_wh: energy_at(seg, Decimal::from(b)) - energy_at(seg, Decimal::from(a)),
                    charging_ms: c_ms,
                    idle_ms: i_ms,
                    billed_idle_ms,
                };
                f(&piece, &moment);
                charging_ms += c_ms;
                idle_ms += i_ms;
                a = b;
            }
        }
    }
}

/// Cumulative energy at `at_ms` inside the segment: linear in time, exact at its ends.
fn energy_at(seg: &Segment, at_ms: Decimal) -> Decimal {
    if at_ms >= Decimal::from(seg.end_ms) {
        return seg.end_wh;
    }
    if at_ms <= Decimal::from(seg.start_ms) {
        return seg.start_wh;
    }
    let span = Decimal::from(seg.end_ms - seg.start_ms);
    seg.start_wh + (seg.end_wh - seg.start_wh) * (at_ms - Decimal::from(seg.start_ms)) / span
}

fn power_w(seg: &Segment) -> Decimal {
    (seg.end_wh - seg.start_wh) * Decimal::from(MS_PER_HOUR)
        / Decimal::from(seg.end_ms - seg.start_ms)
}

/// The thresholds strictly between `lo` and `hi`.
fn inside<T: PartialOrd + Copy>(thresholds: &[T], lo: T, hi: T) -> &[T] {
    let from = thresholds.partition_point(|&t| t <= lo);
    let to = thresholds.partition_point(|&t| t < hi);
    &thresholds[from..to.max(from)]
}

fn sorted<T: PartialOrd + Copy>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = values.collect();
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN in Decimal or i64"));
    v.dedup();
    v
}

/// Instants in `(start, end)` where a calendar condition may flip: each local midnight and
/// each time of day the conditions name (both instants when the clock goes back through it;
/// none when it falls in the spring gap), and every change of the UTC offset (a time of day in
/// the gap flips there).
fn calendar_cuts(tz: Tz, start_ms: i64, end_ms: i64, conditions: &[&Conditions]) -> Vec<i64> {
    if end_ms <= start_ms {
        return Vec::new();
    }
    let mut times: Vec<NaiveTime> = conditions
        .iter()
        .flat_map(|c| [c.start_time_of_day, c.end_time_of_day])
        .flatten()
        .chain(std::iter::once(NaiveTime::MIN))
        .collect();
    times.sort();
    times.dedup();
    let first_day = ms_to_utc(start_ms).with_timezone(&tz).date_naive() - Duration::days(1);
    let last_day = ms_to_utc(end_ms).with_timezone(&tz).date_naive() + Duration::days(1);
    let mut cuts = Vec::new();
    let mut day = first_day;
    while day <= last_day {
        for t in &times {
            match tz.from_local_datetime(&day.and_time(*t)) {
                LocalResult::Single(at) => cuts.push(at.timestamp_millis()),
                LocalResult::Ambiguous(a, b) => {
                    cuts.extend([a.timestamp_millis(), b.timestamp_millis()]);
                }
                LocalResult::None => {}
            }
        }
        day += Duration::days(1);
    }
    cuts.extend(offset_changes(tz, start_ms, end_ms));
    cuts.retain(|&c| c > start_ms && c < end_ms);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Instants (whole seconds) in `[start, end]` where the zone's UTC offset changes.
fn offset_changes(tz: Tz, start_ms: i64, end_ms: i64) -> Vec<i64> {
    let offset_at = |s: i64| {
        tz.offset_from_utc_datetime(&ms_to_utc(s * 1000).naive_utc())
            .fix()
    };
    let mut out = Vec::new();
    let (mut lo, end) = (start_ms.div_euclid(1000), end_ms.div_euclid(1000) + 1);
    while lo < end {
        let hi = (lo + 3600).min(end);
        let before = offset_at(lo);
        if offset_at(hi) != before {
            // Offsets change at most once an hour: find the first second of the new one.
            let (mut a, mut b) = (lo, hi);
            while b - a > 1 {
                let m = a + (b - a) / 2;
                if offset_at(m) == before { a = m } else { b = m }
            }
            out.push(b * 1000);
        }
        lo = hi;
    }
    out
}
