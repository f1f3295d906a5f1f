//! `sitegate tariff quote`: reads a tariff, an optional promotion and a session from JSON
//! files, prices the session with the same `cost` the daemon uses and prints the breakdown as
//! a table or as the JSON central receives (`wire`). Owns the command line, the files and the
//! table; never prices anything itself, and never shapes the JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::core::pricing::cost::{Breakdown, CostError, cost};
use crate::core::pricing::input::parse_session;
use crate::core::pricing::promotion::{Offer, parse_promotion};
use crate::core::pricing::wire::parse_tariff;
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
        crate::wire::breakdown_pretty(&breakdown, time_zone)
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
