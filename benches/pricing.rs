//! Pricing benchmark (a bench binary, not a test: figures go to BENCHMARKS.md).
//!
//! `cargo bench --bench pricing`: the cost of a 24-hour session with a sample every minute
//! (1,441 samples, crossing the 22:00 and 06:00 boundaries of a day/night tariff, midnight, and
//! switching between charging and idle every hour) on a tariff with time prices, a grace, a
//! fixed fee and two stacked taxes, in Europe/Paris. Target <= 1 ms per cost. Prints one
//! Markdown table line.

use std::hint::black_box;

use chrono::{DateTime, Duration};
use rust_decimal::Decimal;
use sitegate::core::pricing::{CostInput, CostSample, Party, cost, parse_tariff};
use sitegate::core::session::Phase;

const TARIFF: &str = r#"{"id":"bench","currency":"EUR",
    "energy":{"prices":[
        {"price_kwh":"0.1500","conditions":{"start_time_of_day":"22:00","end_time_of_day":"06:00"}},
        {"price_kwh":"0.2200","conditions":{"days_of_week":["SATURDAY","SUNDAY"]}},
        {"price_kwh":"0.3000"}]},
    "charging_time":{"prices":[{"price_minute":"0.0100"}]},
    "idle_time":{"min_idle_minutes":15,"prices":[{"price_minute":"0.0500","conditions":{"max_idle_time_s":7200}},{"price_minute":"0.1000"}]},
    "fixed_fee":{"prices":[{"price_fixed":"0.50"}]},
    "taxes":[{"name":"VAT","percent":"20"},{"name":"local","percent":"2.5","stack":1}]}"#;

const TARGET_MS: f64 = 1.0;

fn main() {
    let tariff = parse_tariff(TARIFF).expect("valid bench tariff");
    // 2026-06-10T12:00:00Z: 14:00 local, through the night to 14:00 the next day.
    let started_at = DateTime::from_timestamp(1_781_092_800, 0).expect("valid time");
    let mut wh = 0i64;
    let samples = (0..=24 * 60)
        .map(|minute| {
            let charging = (minute / 60) % 2 == 0;
            let sample = CostSample {
                at: started_at + Duration::minutes(minute),
                energy_wh: Decimal::from(wh),
                phase: if charging {
                    Phase::Charging
                } else {
                    Phase::Idle
                },
            };
            if charging {
                wh += 117 + minute % 7; // about 7 kW, not perfectly steady
            }
            sample
        })
        .collect();
    let input = CostInput {
        time_zone: chrono_tz::Europe::Paris,
        started_at,
        samples,
        stopped_at: Some(started_at + Duration::hours(24)),
        party: Party::default(),
    };

    let once = cost(&tariff, &input, &[]).expect("priced");
    let runs = 200;
    // tokio's clock, as the project's lints ask (it reads the real clock outside a paused test).
    let begin = tokio::time::Instant::now();
    for _ in 0..runs {
        black_box(cost(black_box(&tariff), black_box(&input), &[]).expect("priced"));
    }
    let per_cost_ms = begin.elapsed().as_secs_f64() * 1000.0 / f64::from(runs);
    let verdict = if per_cost_ms <= TARGET_MS {
        "ok"
    } else {
        "OVER"
    };
    println!("| benchmark | figure | target | |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| pricing: cost of a 24 h session, 1-min samples ({} periods, total {} {}) | {per_cost_ms:.3} ms | <= {TARGET_MS} ms | {verdict} |",
        once.periods.len(),
        once.total_incl_tax,
        once.currency,
    );
}
