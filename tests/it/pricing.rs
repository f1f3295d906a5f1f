//! Pricing: the worked examples of docs/pricing.md (same numbers), table tests per rule, and
//! properties of the cost function (never negative, monotone in energy and time, the same
//! total however the samples are split, min/max cost respected).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use rust_decimal::Decimal;
use sitegate::core::pricing::{
    Breakdown, CostInput, CostSample, Offer, Party, Promotion, Tariff, TariffSet, cost,
    parse_promotion, parse_session, parse_tariff,
};
use sitegate::core::session::Phase;

const PARIS: Tz = chrono_tz::Europe::Paris;

fn tariff(json: &str) -> Tariff {
    parse_tariff(json).unwrap_or_else(|p| panic!("{p}"))
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// A session from `start` with samples `(minutes after start, cumulative Wh, phase from then)`.
fn session(start: &str, samples: &[(i64, i64, Phase)], stop_min: Option<i64>) -> CostInput {
    let started_at = utc(start);
    CostInput {
        time_zone: PARIS,
        started_at,
        samples: samples
            .iter()
            .map(|&(m, wh, phase)| CostSample {
                at: started_at + Duration::minutes(m),
                energy_wh: Decimal::from(wh),
                phase,
            })
            .collect(),
        stopped_at: stop_min.map(|m| started_at + Duration::minutes(m)),
        party: Party {
            socket: "s1".into(),
            communities: vec!["default".into()],
            user: Some("u1".into()),
        },
    }
}

fn price(t: &Tariff, s: &CostInput) -> Breakdown {
    cost(t, s, &[]).unwrap()
}

use Phase::{Charging, Idle};

const SPARKLIN: &str = r#"{"id":"sparklin","currency":"EUR",
    "energy":{"prices":[{"price_kwh":"0.25"}]},
    "idle_time":{"min_idle_minutes":15,"prices":[{"price_minute":"0.10"}]},
    "taxes":[{"name":"VAT","percent":20}]}"#;

#[test]
fn example_sparklin_kwh_and_parking() {
    // 10:00-12:00 local charging 14 kWh, then parked an hour: 45 min billed after the grace.
    let s = session(
        "2026-05-04T08:00:00Z",
        &[(0, 0, Charging), (120, 14_000, Idle)],
        Some(180),
    );
    let b = price(&tariff(SPARKLIN), &s);
    assert_eq!(b.amounts.energy, d("3.50"));
    assert_eq!(b.idle_ms, 60 * 60_000);
    assert_eq!(b.billed_idle_ms, 45 * 60_000);
    assert_eq!(b.amounts.idle_time, d("4.50"));
    assert_eq!(b.total_excl_tax, d("8.00"));
    assert_eq!(b.taxes[0].amount, d("1.60"));
    assert_eq!(b.total_incl_tax, d("9.60"));
}

const DAY_NIGHT: &str = r#"{"id":"day-night","currency":"EUR",
    "energy":{"prices":[
        {"price_kwh":"0.15","conditions":{"start_time_of_day":"22:00","end_time_of_day":"06:00"}},
        {"price_kwh":"0.30"}]},
    "charging_time":{"prices":[{"price_minute":"0.01"}]}}"#;

#[test]
fn example_day_night_window_splits_energy_linearly_between_samples() {
    // 21:00-23:00 local (CEST) at 7 kW; the 22:00 boundary falls between the samples of
    // 21:30 (3.5 kWh) and 22:30 (10.5 kWh): 7 kWh is attributed to each side.
    let s = session(
        "2026-06-10T19:00:00Z",
        &[
            (0, 0, Charging),
            (30, 3_500, Charging),
            (90, 10_500, Charging),
            (120, 14_000, Idle),
        ],
        Some(120),
    );
    let b = price(&tariff(DAY_NIGHT), &s);
    assert_eq!(b.periods.len(), 2);
    assert_eq!(b.periods[0].end, utc("2026-06-10T20:00:00Z"));
    assert_eq!(b.periods[0].energy_wh, d("7000"));
    assert_eq!(b.periods[0].energy_amount, d("2.10"));
    assert_eq!(b.periods[1].energy_amount, d("1.05"));
    assert_eq!(b.amounts.charging_time, d("1.20"));
    assert_eq!(b.total_incl_tax, d("4.35"));
}

#[test]
fn example_across_midnight_into_the_weekend() {
    let weekend = tariff(
        r#"{"id":"weekend","currency":"EUR","energy":{"prices":[
            {"price_kwh":"0.20","conditions":{"days_of_week":["SATURDAY","SUNDAY"]}},
            {"price_kwh":"0.30"}]}}"#,
    );
    // Friday 23:00 to Saturday 01:00 local at 11 kW.
    let s = session(
        "2026-06-12T21:00:00Z",
        &[(0, 0, Charging), (120, 22_000, Idle)],
        Some(120),
    );
    let b = price(&weekend, &s);
    assert_eq!(b.periods.len(), 2);
    assert_eq!(b.periods[1].start, utc("2026-06-12T22:00:00Z"));
    assert_eq!(
        (b.periods[0].energy_amount, b.periods[1].energy_amount),
        (d("3.30"), d("2.20"))
    );
    assert_eq!(b.total_incl_tax, d("5.50"));
}

const NIGHT_5KW: &str = r#"{"id":"night","currency":"EUR",
    "energy":{"prices":[
        {"price_kwh":"0.15","conditions":{"start_time_of_day":"22:00","end_time_of_day":"06:00"}},
        {"price_kwh":"0.30"}]},
    "charging_time":{"prices":[{"price_minute":"0.01"}]}}"#;

#[test]
fn example_spring_forward_in_paris() {
    // 2026-03-29: 01:00 CET to 08:00 CEST is 6 real hours at 5 kW. Night ends at 06:00 CEST
    // (04:00 UTC): 4 h then 2 h.
    let s = session(
        "2026-03-29T00:00:00Z",
        &[(0, 0, Charging), (360, 30_000, Idle)],
        Some(360),
    );
    let b = price(&tariff(NIGHT_5KW), &s);
    assert_eq!(b.periods.len(), 2);
    assert_eq!(b.periods[1].start, utc("2026-03-29T04:00:00Z"));
    assert_eq!(b.periods[0].energy_amount, d("3.00"));
    assert_eq!(b.periods[1].energy_amount, d("3.00"));
    assert_eq!(b.amounts.charging_time, d("3.60"));
    assert_eq!(b.total_incl_tax, d("9.60"));
}

#[test]
fn example_fall_back_in_paris() {
    // 2026-10-25: 01:00 CEST to 07:00 CET is 7 real hours at 5 kW. Night ends at 06:00 CET
    // (05:00 UTC): 6 h then 1 h.
    let s = session(
        "2026-10-24T23:00:00Z",
        &[(0, 0, Charging), (420, 35_000, Idle)],
        Some(420),
    );
    let b = price(&tariff(NIGHT_5KW), &s);
    assert_eq!(b.periods.len(), 2);
    assert_eq!(b.periods[1].start, utc("2026-10-25T05:00:00Z"));
    assert_eq!(b.periods[0].energy_amount, d("4.50"));
    assert_eq!(b.periods[1].energy_amount, d("1.50"));
    assert_eq!(b.amounts.charging_time, d("4.20"));
    assert_eq!(b.total_incl_tax, d("10.20"));
}

#[test]
fn example_min_and_max_cost() {
    let t = tariff(
        r#"{"id":"bounded","currency":"EUR","energy":{"prices":[{"price_kwh":"0.30"}]},
            "min_cost":"2.00","max_cost":"10.00"}"#,
    );
    let small = price(
        &t,
        &session(
            "2026-05-04T08:00:00Z",
            &[(0, 0, Charging), (30, 3_000, Idle)],
            None,
        ),
    );
    assert_eq!(small.subtotal, d("0.90"));
    assert_eq!(small.min_max_adjustment, d("1.10"));
    assert_eq!(small.total_incl_tax, d("2.00"));
    let large = price(
        &t,
        &session(
            "2026-05-04T08:00:00Z",
            &[(0, 0, Charging), (300, 50_000, Idle)],
            None,
        ),
    );
    assert_eq!(large.subtotal, d("15.00"));
    assert_eq!(large.min_max_adjustment, d("-5.00"));
    assert_eq!(large.total_incl_tax, d("10.00"));
}

#[test]
fn example_two_stacked_taxes_and_half_even() {
    let t = tariff(
        r#"{"id":"stacked","currency":"EUR","energy":{"prices":[{"price_kwh":"0.35"}]},
            "taxes":[{"name":"QST","percent":10,"stack":1},{"name":"GST","percent":5,"stack":0}]}"#,
    );
    let b = price(
        &t,
        &session(
            "2026-05-04T08:00:00Z",
            &[(0, 0, Charging), (240, 30_000, Idle)],
            None,
        ),
    );
    assert_eq!(b.total_excl_tax, d("10.50"));
    // 5 % of 10.50 is 0.525: half to even gives 0.52.
    assert_eq!(
        (b.taxes[0].tax.name.as_str(), b.taxes[0].amount),
        ("GST", d("0.52"))
    );
    // 10 % of 10.50 + 0.52 = 11.02 is 1.102.
    assert_eq!(b.taxes[1].base, d("11.02"));
    assert_eq!(b.taxes[1].amount, d("1.10"));
    assert_eq!(b.total_incl_tax, d("12.12"));
}

fn first_five_kwh_free() -> Promotion {
    parse_promotion(
        r#"{"id":"welcome","first_day":"2026-05-01","last_day":"2026-05-31",
            "action":{"free_kwh":5},"limit_per_user":1}"#,
    )
    .unwrap()
}

#[test]
fn example_promotion_first_kwh_free() {
    let s = session(
        "2026-05-04T08:00:00Z",
        &[(0, 0, Charging), (120, 14_000, Idle)],
        Some(180),
    );
    let promotion = first_five_kwh_free();
    let offer = Offer {
        promotion: &promotion,
        used_by_user: 0,
        used_total: 0,
    };
    let b = cost(&tariff(SPARKLIN), &s, &[offer]).unwrap();
    let discount = b.discount.as_ref().unwrap();
    assert_eq!(discount.amount, d("1.25"));
    assert_eq!(discount.description, "first 5 kWh free");
    assert_eq!(b.total_excl_tax, d("6.75"));
    assert_eq!(b.taxes[0].amount, d("1.35"));
    assert_eq!(b.total_incl_tax, d("8.10"));
    // Used once already: refused with its reason, full price.
    let used = Offer {
        used_by_user: 1,
        ..offer
    };
    let b = cost(&tariff(SPARKLIN), &s, &[used]).unwrap();
    assert!(b.discount.is_none());
    assert_eq!(b.refusals[0].1.to_string(), "the user's limit is reached");
    assert_eq!(b.total_incl_tax, d("9.60"));
}

#[test]
fn amounts_round_half_even_once_per_dimension() {
    // 0.125 -> 0.12 and 0.135 -> 0.14: half to even.
    let t = tariff(r#"{"id":"t","currency":"EUR","energy":{"prices":[{"price_kwh":"0.25"}]}}"#);
    let table = [(500, "0.12"), (540, "0.14"), (502, "0.13"), (0, "0.00")];
    for (wh, expected) in table {
        let b = price(
            &t,
            &session(
                "2026-05-04T08:00:00Z",
                &[(0, 0, Charging), (10, wh, Idle)],
                None,
            ),
        );
        assert_eq!(b.total_incl_tax, d(expected), "{wh} Wh");
    }
    let yen = tariff(r#"{"id":"t","currency":"JPY","energy":{"prices":[{"price_kwh":"35"}]}}"#);
    let b = price(
        &yen,
        &session(
            "2026-05-04T08:00:00Z",
            &[(0, 0, Charging), (10, 2_500, Idle)],
            None,
        ),
    );
    assert_eq!(b.total_incl_tax, d("88")); // 87.5 -> 88 (8 is even)
}

#[test]
fn energy_tiers_cut_where_the_threshold_is_crossed() {
    let t = tariff(
        r#"{"id":"tiers","currency":"EUR","energy":{"prices":[
            {"price_kwh":"0.40","conditions":{"max_energy_wh":10000}},{"price_kwh":"0.20"}]}}"#,
    );
    // 16 kWh in one interval of 80 minutes: 10 kWh reached after 50 minutes.
    let b = price(
        &t,
        &session(
            "2026-05-04T08:00:00Z",
            &[(0, 0, Charging), (80, 16_000, Idle)],
            None,
        ),
    );
    assert_eq!(b.periods.len(), 2);
    assert_eq!(b.periods[1].start, utc("2026-05-04T08:50:00Z"));
    assert_eq!(b.periods[0].energy_wh, d("10000"));
    assert_eq!(b.total_incl_tax, d("5.20"));
}

#[test]
fn duration_charging_and_idle_conditions() {
    // Idle costs 0.05/min for the first hour of idle time, then 0.20/min; the fixed fee
    // depends on the power at the start.
    let t = tariff(
        r#"{"id":"t","currency":"EUR",
            "idle_time":{"prices":[{"price_minute":"0.05","conditions":{"max_idle_time_s":3600}},{"price_minute":"0.20"}]},
            "charging_time":{"prices":[{"price_minute":"0.00","conditions":{"max_duration_s":1800}},{"price_minute":"0.02"}]},
            "fixed_fee":{"prices":[{"price_fixed":"1.00","conditions":{"min_power_w":11000}},{"price_fixed":"0.50"}]}}"#,
    );
    let b = price(
        &t,
        &session(
            "2026-05-04T08:00:00Z",
            &[(0, 0, Charging), (60, 7_000, Idle)],
            Some(150),
        ),
    );
    assert_eq!(b.amounts.fixed_fee, d("0.50"));
    assert_eq!(b.amounts.charging_time, d("0.60")); // 30 free minutes, then 30 at 0.02
    assert_eq!(b.amounts.idle_time, d("9.00")); // 60 at 0.05, 30 at 0.20
    let fast = price(
        &t,
        &session(
            "2026-05-04T08:00:00Z",
            &[(0, 0, Charging), (60, 22_000, Idle)],
            Some(60),
        ),
    );
    assert_eq!(fast.amounts.fixed_fee, d("1.00"));
}

#[test]
fn precedence_socket_over_community_over_site() {
    let named = |id: &str, valid_from: Option<&str>| Tariff {
        id: id.into(),
        valid_from: valid_from.map(utc),
        ..tariff(SPARKLIN)
    };
    let mut set = TariffSet {
        site: Some(named("site", None)),
        ..TariffSet::default()
    };
    set.communities.insert("staff".into(), named("staff", None));
    set.sockets
        .insert("s1".into(), named("s1", Some("2026-06-01T00:00:00Z")));
    let staff = ["default".to_string(), "staff".to_string()];
    let at = |s| utc(s);
    let id = |t: Option<&Tariff>| t.map(|t| t.id.clone());
    assert_eq!(
        id(set.for_session("s1", &staff, at("2026-06-02T00:00:00Z"))),
        Some("s1".into())
    );
    // The socket's tariff is not valid yet: the community's applies.
    assert_eq!(
        id(set.for_session("s1", &staff, at("2026-05-02T00:00:00Z"))),
        Some("staff".into())
    );
    assert_eq!(
        id(set.for_session("s2", &staff[..1], at("2026-05-02T00:00:00Z"))),
        Some("site".into())
    );
}

#[test]
fn invalid_sessions_are_refused() {
    let t = tariff(SPARKLIN);
    let backwards = session(
        "2026-05-04T08:00:00Z",
        &[(10, 100, Charging), (5, 200, Idle)],
        None,
    );
    assert!(
        cost(&t, &backwards, &[])
            .unwrap_err()
            .to_string()
            .contains("sample 1")
    );
    let decreasing = session(
        "2026-05-04T08:00:00Z",
        &[(10, 300, Charging), (20, 200, Idle)],
        None,
    );
    assert!(
        cost(&t, &decreasing, &[])
            .unwrap_err()
            .to_string()
            .contains("decreases")
    );
    let early_stop = session("2026-05-04T08:00:00Z", &[(10, 300, Charging)], Some(5));
    assert!(cost(&t, &early_stop, &[]).is_err());
}

#[test]
fn the_session_json_of_the_quote_tool() {
    let s = parse_session(
        r#"{"started_at":"2026-05-04T10:00:00+02:00","stopped_at":"2026-05-04T11:00:00Z",
            "socket":"s1","user":"u1","samples":[
            {"at":"2026-05-04T08:00:00Z","energy_wh":0,"phase":"charging"},
            {"at":"2026-05-04T10:00:00Z","energy_wh":"14000","phase":"idle"}]}"#,
        PARIS,
    )
    .unwrap();
    assert_eq!(price(&tariff(SPARKLIN), &s).total_incl_tax, d("9.60"));
    let e = parse_session(
        r#"{"started_at":"x","samples":[{"at":"2026-05-04T08:00:00Z","energy_wh":"a","phase":"flying"}]}"#,
        PARIS,
    )
    .unwrap_err();
    assert_eq!(e.len(), 3, "{e}");
}

// ---- properties ----

/// A family of tariffs for the properties: day/night energy with a tier, charging and idle
/// time with a grace, a weekend price, fixed fee, optional min/max cost, two taxes. No price
/// of time depends on energy or power (those would make the cost fall as energy grows).
fn tariff_family(min_cost: Option<u32>, max_cost: Option<u32>) -> Tariff {
    let bound = |k: &str, v: Option<u32>| v.map_or(String::new(), |v| format!(r#","{k}":"{v}""#));
    tariff(&format!(
        r#"{{"id":"family","currency":"EUR",
        "energy":{{"prices":[
            {{"price_kwh":"0.1875","conditions":{{"start_time_of_day":"22:00","end_time_of_day":"06:00"}}}},
            {{"price_kwh":"0.2233","conditions":{{"days_of_week":["SATURDAY","SUNDAY"]}}}},
            {{"price_kwh":"0.3333","conditions":{{"max_energy_wh":20000}}}},
            {{"price_kwh":"0.2999"}}]}},
        "charging_time":{{"prices":[{{"price_minute":"0.0125","conditions":{{"start_time_of_day":"08:00","end_time_of_day":"20:00"}}}},{{"price_minute":"0.0050"}}]}},
        "idle_time":{{"min_idle_minutes":15,"prices":[{{"price_minute":"0.1005"}}]}},
        "fixed_fee":{{"prices":[{{"price_fixed":"0.35"}}]}},
        "taxes":[{{"name":"VAT","percent":"20"}},{{"name":"local","percent":"2.5","stack":1}}]
        {}{}}}"#,
        bound("min_cost", min_cost),
        bound("max_cost", max_cost),
    ))
}

/// Segments: (seconds, Wh, phase) with the seconds and Wh divisible by every split factor used.
fn segments() -> impl Strategy<Value = Vec<(i64, i64, Phase)>> {
    let phase = prop_oneof![
        Just(Phase::Charging),
        Just(Phase::Idle),
        Just(Phase::Suspended),
        Just(Phase::Lost)
    ];
    prop::collection::vec((1i64..=240, 0i64..=200, phase), 1..12).prop_map(|v| {
        v.into_iter()
            .map(|(m, wh, p)| (m * 60, wh * 60, p))
            .collect()
    })
}

/// Builds the input: the phase of each segment is the phase of the sample that opens it.
fn build(start_s: i64, segs: &[(i64, i64, Phase)], split: i64, extra_stop_s: i64) -> CostInput {
    let started_at = DateTime::from_timestamp(start_s, 0).unwrap();
    let mut samples = Vec::new();
    let (mut t, mut wh) = (0i64, 0i64);
    for (i, &(secs, energy, phase)) in segs.iter().enumerate() {
        let opening = if i == 0 { phase } else { segs[i].2 };
        samples.push(CostSample {
            at: started_at + Duration::seconds(t),
            energy_wh: Decimal::from(wh),
            phase: opening,
        });
        for k in 1..split {
            samples.push(CostSample {
                at: started_at + Duration::seconds(t + secs * k / split),
                energy_wh: Decimal::from(wh + energy * k / split),
                phase: opening,
            });
        }
        t += secs;
        wh += energy;
    }
    samples.push(CostSample {
        at: started_at + Duration::seconds(t),
        energy_wh: Decimal::from(wh),
        phase: Phase::Idle,
    });
    CostInput {
        time_zone: PARIS,
        started_at,
        samples,
        stopped_at: Some(started_at + Duration::seconds(t + extra_stop_s)),
        party: Party::default(),
    }
}

// 2026 in seconds, starting from 2026-01-01T00:00:00Z: the DST changes are inside.
const YEAR_2026: std::ops::Range<i64> = 1_767_225_600..1_798_761_600;

proptest! {
    // No regression files: the project's files are its own; a failure prints its minimal input.
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn splitting_the_samples_changes_nothing(start in YEAR_2026, segs in segments(), split in 2i64..=6, extra in 0i64..7200) {
        let t = tariff_family(None, None);
        let whole = price(&t, &build(start, &segs, 1, extra));
        let split = price(&t, &build(start, &segs, split, extra));
        prop_assert_eq!(whole.amounts, split.amounts);
        prop_assert_eq!(whole.total_incl_tax, split.total_incl_tax);
        prop_assert_eq!(whole.periods.len(), split.periods.len());
    }

    #[test]
    fn never_negative_and_within_min_max(start in YEAR_2026, segs in segments(), extra in 0i64..7200,
        min in prop::option::of(0u32..5), span in prop::option::of(0u32..20), free in 0u32..50) {
        let max = span.map(|s| min.unwrap_or(0) + s);
        let t = tariff_family(min, max);
        let promotion = parse_promotion(&format!(
            r#"{{"id":"p","first_day":"2026-01-01","last_day":"2026-12-31","action":{{"free_kwh":{free}}}}}"#
        )).unwrap();
        let offer = Offer { promotion: &promotion, used_by_user: 0, used_total: 0 };
        let b = cost(&t, &build(start, &segs, 1, extra), &[offer]).unwrap();
        prop_assert!(b.total_excl_tax >= Decimal::ZERO);
        prop_assert!(b.total_incl_tax >= b.total_excl_tax);
        let bounded = b.subtotal + b.min_max_adjustment;
        if let Some(m) = min { prop_assert!(bounded >= Decimal::from(m)); }
        if let Some(m) = max { prop_assert!(bounded <= Decimal::from(m)); }
    }

    #[test]
    fn monotone_in_energy_and_time(start in YEAR_2026, segs in segments(), extra in 0i64..7200,
        which in any::<prop::sample::Index>(), more_wh in 1i64..5000, more_s in 1i64..7200) {
        let t = tariff_family(Some(1), Some(25));
        let base = price(&t, &build(start, &segs, 1, extra)).total_incl_tax;
        let mut more = segs.clone();
        let i = which.index(more.len());
        more[i].1 += more_wh;
        prop_assert!(price(&t, &build(start, &more, 1, extra)).total_incl_tax >= base);
        prop_assert!(price(&t, &build(start, &segs, 1, extra + more_s)).total_incl_tax >= base);
    }
}

#[test]
fn the_quote_tool_prints_the_breakdown_as_a_table_and_as_json() {
    use sitegate::cli::tariff::{QuoteArgs, quote};
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let args = QuoteArgs {
        tariff: file("t.json", SPARKLIN),
        promotion: Some(file(
            "p.json",
            r#"{"id":"welcome","first_day":"2026-05-01","last_day":"2026-05-31","action":{"free_kwh":5}}"#,
        )),
        used_by_user: 0,
        used_total: 0,
        session: file(
            "s.json",
            r#"{"started_at":"2026-05-04T08:00:00Z","stopped_at":"2026-05-04T11:00:00Z","samples":[
                {"at":"2026-05-04T08:00:00Z","energy_wh":0,"phase":"charging"},
                {"at":"2026-05-04T10:00:00Z","energy_wh":14000,"phase":"idle"}]}"#,
        ),
        timezone: "Europe/Paris".into(),
        json: false,
    };
    let table = quote(&args).unwrap();
    assert!(table.contains("2026-05-04 10:00:00 CEST"), "{table}");
    assert!(
        table.contains("Promotion welcome: first 5 kWh free"),
        "{table}"
    );
    let total = table
        .lines()
        .find(|l| l.starts_with("Total incl. tax"))
        .unwrap();
    assert!(total.ends_with("8.10 EUR"), "{total}");
    let json: serde_json::Value =
        serde_json::from_str(&quote(&QuoteArgs { json: true, ..args }).unwrap()).unwrap();
    assert_eq!(json["total_incl_tax"], "8.10");
    assert_eq!(json["discount"]["amount"], "1.25");
    assert_eq!(json["periods"][0]["start"], "2026-05-04T08:00:00+00:00");
}

#[test]
fn the_quote_tool_names_the_file_at_fault() {
    use sitegate::cli::tariff::{QuoteArgs, quote};
    let dir = tempfile::tempdir().unwrap();
    let tariff = dir.path().join("t.json");
    std::fs::write(
        &tariff,
        r#"{"id":"t","currency":"EUR","energy":{"prices":[{"price_kwh":"0.123456"}]}}"#,
    )
    .unwrap();
    let args = QuoteArgs {
        tariff: tariff.clone(),
        promotion: None,
        used_by_user: 0,
        used_total: 0,
        session: dir.path().join("missing.json"),
        timezone: "Europe/Paris".into(),
        json: false,
    };
    let e = quote(&args).unwrap_err().to_string();
    assert!(
        e.contains("energy.prices[0].price_kwh: 0.123456 has more than 4 decimals"),
        "{e}"
    );
    let e = quote(&QuoteArgs {
        timezone: "Mars/Olympus".into(),
        ..args
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("not an IANA time zone"), "{e}");
}

#[test]
fn a_time_of_day_in_the_spring_gap_takes_effect_at_the_change() {
    // 02:30 does not exist on 2026-03-29 in Paris: the 02:30-05:00 window opens at 03:00 CEST
    // (01:00 UTC), when the clock jumps past it.
    let t = tariff(
        r#"{"id":"gap","currency":"EUR","energy":{"prices":[
            {"price_kwh":"0.10","conditions":{"start_time_of_day":"02:30","end_time_of_day":"05:00"}},
            {"price_kwh":"0.30"}]}}"#,
    );
    let b = price(
        &t,
        &session(
            "2026-03-29T00:00:00Z",
            &[(0, 0, Charging), (180, 18_000, Idle)],
            None,
        ),
    );
    assert_eq!(b.periods.len(), 2);
    assert_eq!(b.periods[1].start, utc("2026-03-29T01:00:00Z"));
    assert_eq!(b.total_incl_tax, d("3.00")); // 6 kWh x 0.30 + 12 kWh x 0.10
}

#[test]
fn a_time_of_day_that_happens_twice_in_the_fall_opens_its_window_twice() {
    // 02:30-03:00 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET) on 2026-10-25.
    let t = tariff(
        r#"{"id":"twice","currency":"EUR","energy":{"prices":[
            {"price_kwh":"0.10","conditions":{"start_time_of_day":"02:30","end_time_of_day":"03:00"}},
            {"price_kwh":"0.30"}]}}"#,
    );
    let b = price(
        &t,
        &session(
            "2026-10-25T00:00:00Z",
            &[(0, 0, Charging), (120, 12_000, Idle)],
            None,
        ),
    );
    let starts: Vec<_> = b.periods.iter().map(|p| p.start).collect();
    assert_eq!(
        starts,
        [
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T01:30:00Z"
        ]
        .map(utc)
    );
    assert_eq!(b.total_incl_tax, d("2.40"));
}
