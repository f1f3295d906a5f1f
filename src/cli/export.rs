//! `sitegate export`: loads the configuration, opens the database read-only (it works while the
//! daemon runs) and writes one report to a file or to standard output. Owns the command line
//! and where the bytes go; never queries or formats anything itself.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::config;
use crate::export::{self, By, ExportError, Format, Period, Report, SiteInfo};
use crate::store::{self, reports};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub report: ReportArgs,
    /// Configuration file: the site's name and time zone, and the state directory that holds
    /// the database.
    #[arg(long, global = true, default_value = "/etc/sitegate/sitegate.toml")]
    pub config: PathBuf,
    /// csv or xlsx (default: from the --output extension, else csv).
    #[arg(long, global = true, value_enum)]
    pub format: Option<FormatArg>,
    /// File to write (replaced whole, only once the export succeeded); CSV goes to standard
    /// output without it.
    #[arg(long, global = true)]
    pub output: Option<PathBuf>,
    /// Start the CSV with a UTF-8 byte-order mark, for Excel.
    #[arg(long, global = true)]
    pub bom: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReportArgs {
    /// Sessions, energy, charging and idle time, costs: per socket with the site's total, or
    /// per user.
    Consumption {
        #[command(flatten)]
        period: PeriodArgs,
        #[arg(long, value_enum, default_value = "site")]
        by: By,
    },
    /// Monthly expense notes: each user's sessions and total.
    Expenses {
        /// YYYY-MM.
        #[arg(long)]
        month: String,
    },
    /// One user's sessions over a period, with cumulative energy and cost.
    Statement {
        /// The user's identity as recorded in sessions.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        period: PeriodArgs,
    },
}

/// Site-local dates, both included.
#[derive(Debug, clap::Args)]
pub struct PeriodArgs {
    /// First day, YYYY-MM-DD.
    #[arg(long)]
    pub from: NaiveDate,
    /// Last day (included), YYYY-MM-DD.
    #[arg(long)]
    pub to: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Csv,
    Xlsx,
}

pub fn run(args: &ExportArgs) -> Result<(), ExportError> {
    let report = report(&args.report)?;
    let format = format(args)?;
    let config = config::load(&args.config).map_err(|problems| ExportError::Config {
        path: args.config.clone(),
        problems,
    })?;
    let db = config.state_dir.join(store::DB_FILE);
    if !db.exists() {
        return Err(ExportError::NoDatabase(db));
    }
    let conn = store::open_reader(&db)?;
    let site = SiteInfo {
        name: config.site.name.clone(),
        time_zone: config.site.time_zone,
    };
    match &args.output {
        Some(path) => write_file(path, |out| {
            export::export(&conn, &site, &report, format, out)
        })?,
        None => {
            let mut out = std::io::stdout().lock();
            export::export(&conn, &site, &report, format, &mut out)?;
            out.flush().map_err(ExportError::Write)?;
        }
    }
    let undated = reports::undated_sessions(&conn)?;
    if undated > 0 {
        eprintln!(
            "note: {undated} session(s) started before the site's clock was ever set have no \
             date and are in no period's report"
        );
    }
    Ok(())
}

fn report(args: &ReportArgs) -> Result<Report, ExportError> {
    Ok(match args {
        ReportArgs::Consumption { period, by } => Report::Consumption {
            by: *by,
            period: Period::new(period.from, period.to)?,
        },
        ReportArgs::Expenses { month } => Report::Expenses {
            period: Period::month(month)?,
        },
        ReportArgs::Statement { user, period } => Report::Statement {
            user: user.clone(),
            period: Period::new(period.from, period.to)?,
        },
    })
}

fn format(args: &ExportArgs) -> Result<Format, ExportError> {
    let xlsx_output = args
        .output
        .as_deref()
        .and_then(Path::extension)
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let chosen = args.format.unwrap_or(if xlsx_output {
        FormatArg::Xlsx
    } else {
        FormatArg::Csv
    });
    match chosen {
        FormatArg::Csv => Ok(Format::Csv { bom: args.bom }),
        FormatArg::Xlsx if args.output.is_none() => Err(ExportError::Usage(
            "an XLSX export needs --output FILE".into(),
        )),
        FormatArg::Xlsx => Ok(Format::Xlsx),
    }
}

/// Writes next to `path` and renames over it once complete, so that a failed export leaves
/// no half-written file in place of a good one.
fn write_file(
    path: &Path,
    export: impl FnOnce(&mut dyn Write) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let io = |source| ExportError::Output {
        path: path.to_owned(),
        source,
    };
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let result = (|| {
        let mut out = BufWriter::new(File::create(&partial).map_err(io)?);
        export(&mut out)?;
        out.into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)?;
        std::fs::rename(&partial, path).map_err(io)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}
