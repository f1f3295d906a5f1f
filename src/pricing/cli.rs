//! `sitegate tariff quote`: reads a tariff, an optional promotion and a session from JSON
//! files, prices the session with the same `cost` the daemon uses and prints the breakdown as
//! a table or JSON. Owns the command line, the files and the rendering; never prices anything
//! itself.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde_json::json;

use super::cost::{Breakdown, CostError, cost};
use super::input::parse_session;
use super::promotion::{Offer, parse_promotion};
use super::wire::parse_tariff;
use crate::problems::Problems;

#[derive(Debug, clap::Args)]
pub struct TariffArgs {
    #[command(subcommand)]
    pub command: TariffCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TariffCommand {
    /// Price a session: the breakdown per charging period, discount, taxes and totals.
    Quote(QuoteArgs),
}

#[derive(Debug, clap::Args)]
pub struct QuoteArgs {
    /// Tariff (JSON, see docs/pricing.md).
    #[arg(long)]
    pub tariff: PathBuf,
    /// Promotion on offer (JSON).
    #[arg(long)]
    pub promotion: Option<PathBuf>,
    /// Times the user already used the promotion.
    #[arg(long, default_value_t = 0)]
    pub used_by_user: u32,
    /// Times the promotion was already used at the site.
    #[arg(long, default_value_t = 0)]
    pub used_total: u32,
    /// Session with its samples (JSON).
    #[arg(long)]
    pub session: PathBuf,
    /// The site's time zone (IANA name).
    #[arg(long)]
    pub timezone: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum QuoteError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid {what}:\n{problems}")]
    Invalid {
        path: PathBuf,
        what: &'static str,
        problems: Problems,
    },
    #[error("{0:?} is not an IANA time zone")]
    TimeZone(String),
    #[error("cannot price the session: {0}")]
    Cost(#[from] CostError),
}

pub fn run(args: &TariffArgs) -> Result<(), QuoteError> {
    match &args.command {
        TariffCommand::Quote(q) => {
            print!("{}", quote(q)?);
            Ok(())
        }
    }
}

/// The quote's text (table or JSON), from the files named by `args`.
pub fn quote(args: &QuoteArgs) -> Result<String, QuoteError> {
    let time_zone: Tz = args
        .timezone
        .parse()
        .map_err(|_| QuoteError::TimeZone(args.timezone.clone()))?;
    let tariff = parse_tariff(&read(&args.tariff)?).map_err(invalid(&args.tariff, "tariff"))?;
    let session = parse_session(&read(&args.session)?, time_zone)
        .map_err(invalid(&args.session, "session"))?;
    let promotion = match &args.promotion {
        Some(p) => Some(parse_promotion(&read(p)?).map_err(invalid(p, "promotion"))?),
        None => None,
    };
    let offers: Vec<Offer<'_>> = promotion
        .iter()
        .map(|promotion| Offer {
            promotion,
            used_by_user: args.used_by_user,
            used_total: args.used_total,
        })
        .collect();
    let breakdown = cost(&tariff, &session, &offers)?;
    Ok(if args.json {
        let mut text = serde_json::to_string_pretty(&to_json(&breakdown, time_zone))
            .expect("a JSON value always serializes");
        text.push('\n');
        text
    } else {
        table(&breakdown, time_zone)
    })
}

/// Maps a file's problems to the error that names the file.
fn invalid(path: &Path, what: &'static str) -> impl FnOnce(Problems) -> QuoteError {
    let path = path.to_path_buf();
    move |problems| QuoteError::Invalid {
        path,
        what,
        problems,
    }
}

fn read(path: &Path) -> Result<String, QuoteError> {
    std::fs::read_to_string(path).map_err(|source| QuoteError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn minutes(ms: i64) -> Decimal {
    (Decimal::from(ms) / Decimal::from(60_000)).round_dp(2)
}

fn kwh(wh: Decimal) -> Decimal {
    (wh / Decimal::ONE_THOUSAND).round_dp(3)
}

/// Element index for people: 1-based, "-" when the list is empty.
fn element(i: Option<usize>) -> String {
    i.map_or("-".to_string(), |i| format!("#{}", i + 1))
}

/// The breakdown as a human table; times in the site's zone.
pub fn table(b: &Breakdown, tz: Tz) -> String {
    let mut out = String::new();
    let local =
        |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z");
    let _ = writeln!(
        out,
        "Tariff {} ({}), times in {tz}",
        b.tariff_id, b.currency
    );
    let _ = writeln!(
        out,
        "{:<25} {:<25} {:>10} {:>9} {:>9} {:>9}  prices (energy/charging/idle)",
        "from", "to", "kWh", "charg min", "idle min", "billed"
    );
    for p in &b.periods {
        let _ = writeln!(
            out,
            "{:<25} {:<25} {:>10} {:>9} {:>9} {:>9}  {}/{}/{}",
            local(p.start).to_string(),
            local(p.end).to_string(),
            kwh(p.energy_wh),
            minutes(p.charging_ms),
            minutes(p.idle_ms),
            minutes(p.billed_idle_ms),
            element(p.energy_element),
            element(p.charging_element),
            element(p.idle_element),
        );
    }
    let c = &b.currency;
    let mut line = |label: &str, amount: Decimal| {
        let _ = writeln!(out, "{label:<40} {amount:>12} {c}");
    };
    line(
        &format!("Energy ({} kWh)", kwh(b.energy_wh)),
        b.amounts.energy,
    );
    line(
        &format!("Charging time ({} min)", minutes(b.charging_ms)),
        b.amounts.charging_time,
    );
    line(
        &format!(
            "Idle time ({} min billed of {})",
            minutes(b.billed_idle_ms),
            minutes(b.idle_ms)
        ),
        b.amounts.idle_time,
    );
    line("Fixed fee", b.amounts.fixed_fee);
    line("Subtotal", b.subtotal);
    if !b.min_max_adjustment.is_zero() {
        line("Min/max cost adjustment", b.min_max_adjustment);
    }
    if let Some(d) = &b.discount {
        line(
            &format!("Promotion {}: {}", d.promotion_id, d.description),
            -d.amount,
        );
    }
    line("Total excl. tax", b.total_excl_tax);
    for t in &b.taxes {
        line(
            &format!(
                "{} {} % (stack {}) on {}",
                t.tax.name, t.tax.percent, t.tax.stack, t.base
            ),
            t.amount,
        );
    }
    line("Total incl. tax", b.total_incl_tax);
    for (id, why) in &b.refusals {
        let _ = writeln!(out, "Promotion {id} not applied: {why}");
    }
    out
}

/// The breakdown as JSON: amounts as strings (exact decimals), times in RFC 3339 UTC.
pub fn to_json(b: &Breakdown, tz: Tz) -> serde_json::Value {
    let s = |d: Decimal| d.to_string();
    json!({
        "tariff_id": b.tariff_id,
        "currency": b.currency,
        "time_zone": tz.name(),
        "periods": b.periods.iter().map(|p| json!({
            "start": p.start.to_rfc3339(),
            "end": p.end.to_rfc3339(),
            "energy_element": p.energy_element,
            "charging_element": p.charging_element,
            "idle_element": p.idle_element,
            "energy_wh": s(p.energy_wh.round_dp(6)),
            "charging_ms": p.charging_ms,
            "idle_ms": p.idle_ms,
            "billed_idle_ms": p.billed_idle_ms,
            "energy_amount": s(p.energy_amount.round_dp(8)),
            "charging_amount": s(p.charging_amount.round_dp(8)),
            "idle_amount": s(p.idle_amount.round_dp(8)),
        })).collect::<Vec<_>>(),
        "energy_wh": s(b.energy_wh.round_dp(6)),
        "charging_ms": b.charging_ms,
        "idle_ms": b.idle_ms,
        "billed_idle_ms": b.billed_idle_ms,
        "amounts": {
            "energy": s(b.amounts.energy),
            "charging_time": s(b.amounts.charging_time),
            "idle_time": s(b.amounts.idle_time),
            "fixed_fee": s(b.amounts.fixed_fee),
        },
        "subtotal": s(b.subtotal),
        "min_max_adjustment": s(b.min_max_adjustment),
        "discount": b.discount.as_ref().map(|d| json!({
            "promotion_id": d.promotion_id,
            "description": d.description,
            "amount": s(d.amount),
        })),
        "refused_promotions": b.refusals.iter().map(|(id, why)| json!({
            "promotion_id": id,
            "reason": why.to_string(),
        })).collect::<Vec<_>>(),
        "total_excl_tax": s(b.total_excl_tax),
        "taxes": b.taxes.iter().map(|t| json!({
            "name": t.tax.name,
            "percent": s(t.tax.percent),
            "stack": t.tax.stack,
            "base": s(t.base),
            "amount": s(t.amount),
        })).collect::<Vec<_>>(),
        "total_incl_tax": s(b.total_incl_tax),
    })
}
