//! CSV writer: RFC 4180 (CRLF, quotes where needed) in UTF-8, an optional byte-order mark for
//! Excel, one header row of lower-case names with their units, then one record per line with a
//! leading `line` column (session, socket, user or total) so that a program can keep what it
//! needs. Decimal points, energies in kWh with 3 decimals, durations `h:mm:ss`, times
//! `YYYY-MM-DD HH:MM:SS`. Never chooses what a report contains (see `layout`).

use std::fmt::Write as _;
use std::io::Write;

use chrono::{Datelike, Timelike};

use super::ExportError;
use super::table::{Cell, Table, hms, kwh, money};

const BOM: &[u8] = "\u{feff}".as_bytes();

pub fn write(table: Table<'_>, bom: bool, out: &mut dyn Write) -> Result<(), ExportError> {
    if bom {
        out.write_all(BOM).map_err(ExportError::Write)?;
    }
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    csv.write_field("line")?;
    for column in &table.columns {
        csv.write_field(&column.key)?;
    }
    csv.write_record(None::<&[u8]>)?;
    let mut text = String::new();
    for line in table.lines {
        csv.write_field(line.kind.as_str())?;
        for cell in &line.cells {
            text.clear();
            // Writing into a String cannot fail.
            let _ = write_cell(&mut text, cell);
            csv.write_field(&text)?;
        }
        csv.write_record(None::<&[u8]>)?;
    }
    csv.flush().map_err(ExportError::Write)?;
    Ok(())
}

/// A cell as the CSV shows it (the web page shows statements the same way).
pub(crate) fn write_cell(text: &mut String, cell: &Cell) -> std::fmt::Result {
    match cell {
        Cell::Empty => Ok(()),
        Cell::Text(s) => text.write_str(s),
        Cell::Count(n) => write!(text, "{n}"),
        // The same text as `LOCAL_FORMAT`, without chrono's format-string interpreter.
        Cell::DateTime(t) => write!(
            text,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Cell::EnergyWh(wh) => write!(text, "{:.3}", kwh(*wh)),
        Cell::DurationMs(ms) => text.write_str(&hms(*ms)),
        Cell::Money(value) => write!(text, "{}", money(*value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::table::{Column, Line, LineKind};

    fn table(lines: Vec<Line>) -> Table<'static> {
        Table {
            title: "t".into(),
            notes: vec![],
            sheet: "s",
            columns: vec![
                Column::new("user", "User", 10.0),
                Column::new("energy_kwh", "Energy (kWh)", 10.0),
            ],
            label_column: 0,
            lines: Box::new(lines.into_iter()),
        }
    }

    fn csv(table: Table<'_>, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        write(table, bom, &mut out).unwrap();
        out
    }

    #[test]
    fn records_end_in_crlf_and_fields_are_quoted_only_when_needed() {
        let out = csv(
            table(vec![Line {
                kind: LineKind::Session,
                cells: vec![Cell::text("Dupont, \"Jo\""), Cell::EnergyWh(12_345.6)],
            }]),
            false,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "line,user,energy_kwh\r\nsession,\"Dupont, \"\"Jo\"\"\",12.346\r\n"
        );
    }

    #[test]
    fn the_byte_order_mark_comes_first_when_asked_for() {
        let out = csv(table(vec![]), true);
        assert!(out.starts_with(&[0xEF, 0xBB, 0xBF, b'l']));
        assert!(!csv(table(vec![]), false).starts_with(BOM));
    }
}
