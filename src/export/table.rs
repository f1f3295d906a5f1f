//! The shape every report takes before it becomes a file: a title, columns with their units,
//! and lines of typed cells. `csv` writes cells as text, `xlsx` as typed cells; neither decides
//! what a report contains, and this module writes nothing.

use chrono::NaiveDateTime;
use rust_decimal::Decimal;

/// One report, ready to be written. `lines` is consumed once, by one writer.
pub struct Table<'a> {
    /// First line of the spreadsheet, e.g. the site, the report and the period.
    pub title: String,
    /// Lines under the title: time zone, what `clock` means.
    pub notes: Vec<String>,
    /// Worksheet name (at most 31 characters, none of `[]:*?/\`).
    pub sheet: &'static str,
    pub columns: Vec<Column>,
    /// Column where a spreadsheet writes "Total" on total lines (the CSV has its `line` column).
    pub label_column: usize,
    pub lines: Box<dyn Iterator<Item = Line> + 'a>,
}

/// A column: its CSV header (lower case, unit in the name) and its spreadsheet header.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub key: String,
    pub label: String,
    /// Spreadsheet width in characters.
    pub width: f64,
}

impl Column {
    pub fn new(key: impl Into<String>, label: impl Into<String>, width: f64) -> Self {
        Self {
            key: key.into(),
            label: label.into(),
            width,
        }
    }
}

/// What a line is: the CSV's `line` column, so that a program can keep details or totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Session,
    Socket,
    User,
    Total,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Session => "session",
            LineKind::Socket => "socket",
            LineKind::User => "user",
            LineKind::Total => "total",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub kind: LineKind,
    pub cells: Vec<Cell>,
}

/// A value with its unit; how it is shown is the writer's business.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Count(u64),
    /// Site-local; only ever a plausible time (see `store::reports::Stamp::local_time`).
    DateTime(NaiveDateTime),
    /// Shown in kWh.
    EnergyWh(f64),
    DurationMs(i64),
    Money(Decimal),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Self {
        Cell::Text(s.into())
    }

    pub fn optional<T>(value: Option<T>, cell: impl FnOnce(T) -> Cell) -> Self {
        value.map_or(Cell::Empty, cell)
    }
}

/// `h:mm:ss`, hours unbounded, rounded to the nearest second.
pub fn hms(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let seconds = (ms.unsigned_abs() + 500) / 1000;
    format!(
        "{sign}{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// kWh rounded to the Wh, so that a spreadsheet holds the value a CSV shows (meters give
/// fractions of a Wh that nobody bills).
pub fn kwh(wh: f64) -> f64 {
    wh.round() / 1000.0
}

/// Money with at least two decimals ("2.5" is shown "2.50"), never rounded away.
pub fn money(value: Decimal) -> Decimal {
    let mut shown = value;
    if shown.scale() < 2 {
        shown.rescale(2);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn durations_are_hours_minutes_seconds() {
        assert_eq!(hms(0), "0:00:00");
        assert_eq!(hms(9_030_000), "2:30:30");
        assert_eq!(hms(1_499), "0:00:01");
        assert_eq!(hms(1_500), "0:00:02");
        assert_eq!(hms(100 * 3_600_000 + 59_000), "100:00:59");
        assert_eq!(hms(-61_000), "-0:01:01");
    }

    #[test]
    fn energy_is_shown_to_the_watt_hour() {
        assert_eq!(kwh(12_345.6), 12.346);
        assert_eq!(kwh(12_345.5), 12.346);
        assert_eq!(format!("{:.3}", kwh(7_500.25)), "7.500");
    }

    #[test]
    fn money_keeps_every_decimal_and_shows_at_least_two() {
        let d = |s| Decimal::from_str(s).unwrap();
        assert_eq!(money(d("2.5")).to_string(), "2.50");
        assert_eq!(money(d("3")).to_string(), "3.00");
        assert_eq!(money(d("0.125")).to_string(), "0.125");
    }
}
