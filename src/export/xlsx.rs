//! XLSX writer (rust_xlsxwriter): one worksheet with the title and notes on top, a bold frozen
//! header row with units, real date-time cells (site-local), real numbers with number formats
//! (kWh to 3 decimals, durations `[h]:mm:ss`, money to 2), and bold total lines. Never chooses
//! what a report contains (see `layout`).

use std::io::Write;

use chrono::{Datelike, NaiveDateTime, Timelike};
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{ExcelDateTime, Format, FormatBorder, Workbook, Worksheet, XlsxError};

use super::ExportError;
use super::table::{Cell, LineKind, Table, kwh, money};

const MS_PER_DAY: f64 = 86_400_000.0;
/// Header labels wrap onto two lines within their column.
const HEADER_HEIGHT: f64 = 30.0;

pub fn write(table: Table<'_>, out: &mut dyn Write) -> Result<(), ExportError> {
    let mut workbook = Workbook::new();
    fill(workbook.add_worksheet(), table)?;
    let bytes = workbook.save_to_buffer()?;
    out.write_all(&bytes).map_err(ExportError::Write)
}

fn fill(sheet: &mut Worksheet, table: Table<'_>) -> Result<(), XlsxError> {
    let formats = Formats::new();
    sheet.set_name(table.sheet)?;
    sheet.write_string_with_format(0, 0, &table.title, &formats.title)?;
    let mut row: u32 = 1;
    for note in &table.notes {
        sheet.write_string_with_format(row, 0, note, &formats.note)?;
        row += 1;
    }
    row += 1;
    for (col, column) in (0u16..).zip(&table.columns) {
        sheet.write_string_with_format(row, col, &column.label, &formats.header)?;
        sheet.set_column_width(col, column.width)?;
    }
    sheet.set_row_height(row, HEADER_HEIGHT)?;
    sheet.set_freeze_panes(row + 1, 0)?;
    let label_column = table.label_column;
    for line in table.lines {
        row += 1;
        let total = line.kind == LineKind::Total;
        let f = if total {
            &formats.total
        } else {
            &formats.detail
        };
        for (col, cell) in line.cells.iter().enumerate() {
            let c = u16::try_from(col).map_err(|_| XlsxError::RowColumnLimitError)?;
            match cell {
                Cell::Empty if total && col == label_column => {
                    sheet.write_string_with_format(row, c, "Total", &f.text)?;
                }
                // Blank cells carry the total line's border across the row.
                Cell::Empty if total => {
                    sheet.write_blank(row, c, &f.text)?;
                }
                Cell::Empty => {}
                Cell::Text(s) => {
                    sheet.write_string_with_format(row, c, s, &f.text)?;
                }
                Cell::Count(n) => {
                    sheet.write_number_with_format(row, c, *n as f64, &f.count)?;
                }
                Cell::DateTime(t) => {
                    sheet.write_datetime_with_format(row, c, excel_datetime(t)?, &f.datetime)?;
                }
                Cell::EnergyWh(wh) => {
                    sheet.write_number_with_format(row, c, kwh(*wh), &f.energy)?;
                }
                Cell::DurationMs(ms) => {
                    let days = *ms as f64 / MS_PER_DAY;
                    sheet.write_number_with_format(row, c, days, &f.duration)?;
                }
                // Sums are exact Decimals; a spreadsheet number is an f64 whatever we do.
                Cell::Money(value) => match money(*value).to_f64() {
                    Some(n) => {
                        sheet.write_number_with_format(row, c, n, &f.money)?;
                    }
                    None => {
                        sheet.write_string_with_format(row, c, value.to_string(), &f.text)?;
                    }
                },
            }
        }
    }
    Ok(())
}

fn excel_datetime(t: &NaiveDateTime) -> Result<ExcelDateTime, XlsxError> {
    let year = u16::try_from(t.year()).map_err(|_| XlsxError::DateTimeRangeError(t.to_string()))?;
    // chrono's month, day, hour, minute and second all fit a u8.
    ExcelDateTime::from_ymd(year, t.month() as u8, t.day() as u8)?.and_hms(
        t.hour() as u16,
        t.minute() as u8,
        t.second(),
    )
}

struct Formats {
    title: Format,
    note: Format,
    header: Format,
    detail: CellFormats,
    total: CellFormats,
}

/// One format per kind of value, for detail or total lines.
struct CellFormats {
    text: Format,
    count: Format,
    datetime: Format,
    energy: Format,
    duration: Format,
    money: Format,
}

impl CellFormats {
    fn new(base: Format) -> Self {
        Self {
            count: base.clone().set_num_format("0"),
            datetime: base.clone().set_num_format("yyyy-mm-dd hh:mm:ss"),
            energy: base.clone().set_num_format("0.000"),
            duration: base.clone().set_num_format("[h]:mm:ss"),
            money: base.clone().set_num_format("#,##0.00"),
            text: base,
        }
    }
}

impl Formats {
    fn new() -> Self {
        Self {
            title: Format::new().set_bold().set_font_size(14),
            note: Format::new().set_italic(),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_border_bottom(FormatBorder::Thin),
            detail: CellFormats::new(Format::new()),
            total: CellFormats::new(Format::new().set_bold().set_border_top(FormatBorder::Thin)),
        }
    }
}
