//! Exports for managers: consumption per site or per user, monthly expense notes per user, and
//! one user's statement for a period, each as CSV or XLSX. Owns which report is asked for
//! (`Report`, `Period`) and the path from the store's answers to a file: `layout` decides what
//! a report shows, `csv` and `xlsx` write it, `cli::export` is the `sitegate export` command.
//!
//! Never writes to the database and never reads a clock: periods come from the caller, and
//! every time shown is one the daemon recorded (an impossible one is never shown).

pub(crate) mod csv;
pub(crate) mod layout;
pub(crate) mod table;
pub(crate) mod xlsx;

use std::io::Write;
use std::path::PathBuf;

use chrono::{Datelike, NaiveDate};
use rusqlite::Connection;

use crate::problems::Problems;
use crate::store::StoreError;
use crate::store::reports::{self, Filter, ReportError};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: invalid configuration:\n{problems}")]
    Config { path: PathBuf, problems: Problems },
    #[error("no database at {0}: the daemon has not recorded any session there")]
    NoDatabase(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("{0}")]
    Usage(String),
    #[error("writing CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("writing XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("writing the export: {0}")]
    Write(std::io::Error),
    #[error("{path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Inclusive range of site-local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

impl Period {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, ExportError> {
        if from > to {
            return Err(ExportError::Usage(format!(
                "the period starts ({from}) after it ends ({to})"
            )));
        }
        Ok(Self { from, to })
    }

    /// A calendar month written `YYYY-MM`.
    pub fn month(text: &str) -> Result<Self, ExportError> {
        let bad = || ExportError::Usage(format!("`{text}` is not a month written YYYY-MM"));
        let (year, month) = text.split_once('-').ok_or_else(bad)?;
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if year.len() != 4 || month.len() != 2 || !digits(year) || !digits(month) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let month: u32 = month.parse().map_err(|_| bad())?;
        let from = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        };
        let to = next.and_then(|d| d.pred_opt()).ok_or_else(bad)?;
        debug_assert_eq!((to.year(), to.month()), (year, month));
        Self::new(from, to)
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    fn filter(&self) -> Filter {
        Filter::period(self.from, self.to)
    }
}

/// What the site is called and where its clocks are, for titles.
#[derive(Debug, Clone)]
pub struct SiteInfo {
    pub name: String,
    pub time_zone: chrono_tz::Tz,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// One line per socket and the site's total.
    Site,
    /// One line per user (anonymous sessions together) and the total.
    User,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Consumption {
        by: By,
        period: Period,
    },
    /// Expense notes per user; the command asks for a month.
    Expenses {
        period: Period,
    },
    Statement {
        user: String,
        period: Period,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `bom`: start with a UTF-8 byte-order mark, so that Excel reads accents right.
    Csv {
        bom: bool,
    },
    Xlsx,
}

/// Queries `report` on `conn` and writes it to `out`.
pub fn export(
    conn: &Connection,
    site: &SiteInfo,
    report: &Report,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    match report {
        Report::Consumption {
            by: By::Site,
            period,
        } => {
            let data = reports::site_consumption(conn, &period.filter())?;
            write(layout::site_consumption(site, *period, &data), format, out)
        }
        Report::Consumption {
            by: By::User,
            period,
        } => {
            let data = reports::user_consumption(conn, &period.filter())?;
            write(layout::user_consumption(site, *period, &data), format, out)
        }
        Report::Expenses { period } => {
            let sessions = reports::sessions(conn, &period.filter())?;
            write(layout::expenses(site, *period, &sessions), format, out)
        }
        Report::Statement { user, period } => {
            let filter = Filter {
                identity: Some(user.clone()),
                ..period.filter()
            };
            let sessions = reports::sessions(conn, &filter)?;
            write(
                layout::statement(site, user, *period, &sessions),
                format,
                out,
            )
        }
    }
}

/// Writes a report's table in `format`.
pub fn write(
    table: table::Table<'_>,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    match format {
        Format::Csv { bom } => csv::write(table, bom, out),
        Format::Xlsx => xlsx::write(table, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_month_is_its_first_to_its_last_day() {
        let feb = Period::month("2028-02").unwrap();
        assert_eq!(
            (feb.from(), feb.to()),
            (date("2028-02-01"), date("2028-02-29"))
        );
        let dec = Period::month("2026-12").unwrap();
        assert_eq!(
            (dec.from(), dec.to()),
            (date("2026-12-01"), date("2026-12-31"))
        );
    }

    #[test]
    fn a_month_is_written_yyyy_mm() {
        for bad in [
            "2026-13",
            "2026-1",
            "26-11",
            "2026/11",
            "2026-11-01",
            "2026-+1",
            "",
            "-",
        ] {
            assert!(Period::month(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_period_cannot_end_before_it_starts() {
        let err = Period::new(date("2026-11-30"), date("2026-11-01")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the period starts (2026-11-30) after it ends (2026-11-01)"
        );
    }
}
