//! Exports on a small fixed data set (`tests/fixtures/export_sessions.sql`: an anonymous
//! session, an unpriced one, one with estimated times, one stopped while the clock read 1970,
//! sessions just outside the month, one still charging, one never dated), compared with the
//! golden files in `tests/golden/`: CSV byte for byte, XLSX as read back by calamine.
//! `UPDATE_GOLDEN=1 cargo test --test it export` rewrites the goldens; review the diff.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::{Data, Reader, Xlsx};
use chrono::NaiveDate;
use sitegate::export::{self, By, Format, Period, Report, SiteInfo};
use sitegate::store::{self, DB_FILE};

const CONFIG: &str = r#"
[site]
id = "site-test"
name = "Résidence Les Tilleuls"
time_zone = "Europe/Paris"

[state]
directory = "state"

[[bus]]
name = "lan"
kind = "tcp"
host = "127.0.0.1"
"#;

/// A configuration and a database holding the fixture, in a temporary directory.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sitegate.toml"), CONFIG).unwrap();
        let (conn, _) = store::open_writer(&dir.path().join("state").join(DB_FILE)).unwrap();
        conn.execute_batch(include_str!("../fixtures/export_sessions.sql"))
            .unwrap();
        Self { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("sitegate.toml")
    }

    fn export(&self, report: &Report, format: Format) -> Vec<u8> {
        let conn = store::open_reader(&self.dir.path().join("state").join(DB_FILE)).unwrap();
        let site = SiteInfo {
            name: "Résidence Les Tilleuls".into(),
            time_zone: chrono_tz::Europe::Paris,
        };
        let mut out = Vec::new();
        export::export(&conn, &site, report, format, &mut out).unwrap();
        out
    }

    fn sitegate(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_sitegate"))
            .arg("export")
            .args(args)
            .arg("--config")
            .arg(self.config())
            .output()
            .unwrap()
    }
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn november() -> Period {
    Period::new(date("2026-11-01"), date("2026-11-30")).unwrap()
}

/// The four reports of the goldens, with their file stems.
fn reports() -> Vec<(&'static str, Report)> {
    vec![
        (
            "consumption_site",
            Report::Consumption {
                by: By::Site,
                period: november(),
            },
        ),
        (
            "consumption_user",
            Report::Consumption {
                by: By::User,
                period: november(),
            },
        ),
        (
            "expenses_2026-11",
            Report::Expenses {
                period: Period::month("2026-11").unwrap(),
            },
        ),
        (
            "statement_alice",
            Report::Statement {
                user: "alice".into(),
                period: november(),
            },
        ),
    ]
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn assert_golden(name: &str, actual: &[u8]) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{name} differs from its golden file\n--- expected\n{}\n--- actual\n{}",
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual)
    );
}

/// The first worksheet as calamine reads it: one line per row, cells separated by ` | `,
/// date-times as `YYYY-MM-DD HH:MM:SS`, durations as `[h:mm:ss]`, numbers as Rust prints them.
fn xlsx_text(bytes: Vec<u8>) -> (String, calamine::Range<Data>) {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let mut text = String::new();
    for row in range.rows() {
        let cells: Vec<String> = row.iter().map(cell_text).collect();
        text += cells.join(" | ").trim_end_matches(['|', ' ']);
        text += "\n";
    }
    (text, range)
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::DateTime(dt) if dt.is_duration() => {
            let seconds = (dt.as_f64() * 86_400.0).round() as i64;
            format!(
                "[{}:{:02}:{:02}]",
                seconds / 3600,
                seconds / 60 % 60,
                seconds % 60
            )
        }
        Data::DateTime(dt) => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
        }
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

#[test]
fn csv_exports_match_their_golden_files() {
    let site = Site::new();
    for (name, report) in reports() {
        let csv = site.export(&report, Format::Csv { bom: false });
        assert_golden(&format!("{name}.csv"), &csv);
        assert!(!String::from_utf8(csv).unwrap().contains("1970"), "{name}");
    }
}

#[test]
fn xlsx_exports_read_back_as_their_golden_files() {
    let site = Site::new();
    for (name, report) in reports() {
        let (text, range) = xlsx_text(site.export(&report, Format::Xlsx));
        assert_golden(&format!("{name}.xlsx.txt"), text.as_bytes());
        for cell in range.used_cells() {
            if let Data::DateTime(dt) = cell.2
                && dt.is_datetime()
            {
                assert!(dt.to_ymd_hms_milli().0 >= 2020, "{name}: {:?}", cell);
            }
        }
        assert!(!text.contains("1970"), "{name}");
    }
}

/// First row of `range` whose cell in `column` is the text `value`.
fn find_row<'r>(range: &'r calamine::Range<Data>, column: usize, value: &str) -> &'r [Data] {
    range
        .rows()
        .find(|row| matches!(&row[column], Data::String(s) if s == value))
        .unwrap_or_else(|| panic!("no row with {value} in column {column}"))
}

#[test]
fn xlsx_expense_notes_have_real_dates_numbers_and_an_honest_clock() {
    let site = Site::new();
    let report = Report::Expenses {
        period: Period::month("2026-11").unwrap(),
    };
    let (_, range) = xlsx_text(site.export(&report, Format::Xlsx));
    let headers: Vec<String> = range
        .rows()
        .find(|row| row[0] == Data::String("User".into()))
        .unwrap()
        .iter()
        .map(cell_text)
        .collect();
    assert_eq!(
        headers,
        [
            "User",
            "Start",
            "Stop",
            "Clock",
            "Socket",
            "Energy (kWh)",
            "Duration (h:mm:ss)",
            "Charging time (h:mm:ss)",
            "Idle time (h:mm:ss)",
            "Cost (EUR)",
            "Note"
        ]
    );
    let rows: Vec<&[Data]> = range.rows().collect();
    // alice's session on the 12th: taken before the clock was synchronised, shown and marked.
    let estimated = rows
        .iter()
        .find(|r| cell_text(&r[3]) == "estimated")
        .unwrap();
    assert_eq!(cell_text(&estimated[1]), "2026-11-12 07:00:05");
    assert!(matches!(&estimated[1], Data::DateTime(dt) if dt.is_datetime()));
    assert_eq!(estimated[5], Data::Float(15.0));
    assert_eq!(cell_text(&estimated[6]), "[1:59:55]");
    assert_eq!(estimated[9], Data::Float(6.0));
    // bob's session cut by a power failure: stopped while the clock read 1970.
    let unknown = rows.iter().find(|r| cell_text(&r[3]) == "unknown").unwrap();
    assert_eq!(cell_text(&unknown[1]), "2026-11-20 22:00:00");
    assert_eq!(unknown[2], Data::Empty);
    assert_eq!(unknown[6], Data::Empty);
    let anonymous = find_row(&range, 0, "anonymous");
    assert_eq!(anonymous[9], Data::Float(2.5));
    // The total of all users: no user, "Total" under Start.
    let total = rows
        .iter()
        .rfind(|r| r[1] == Data::String("Total".into()))
        .unwrap();
    assert_eq!(total[0], Data::Empty);
    assert_eq!(total[9], Data::Float(14.57));
    assert_eq!(total[10], Data::String("1 session not priced".into()));
}

#[test]
fn the_statement_runs_cumulative_energy_and_cost() {
    let site = Site::new();
    let report = Report::Statement {
        user: "bob".into(),
        period: november(),
    };
    let csv = String::from_utf8(site.export(&report, Format::Csv { bom: false })).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "line,start_local,stop_local,clock,socket,energy_kwh,duration_hms,charging_hms,\
         idle_hms,cost_eur,cumulative_energy_kwh,cumulative_cost_eur,note"
    );
    assert_eq!(
        lines[1],
        "session,2026-11-10 12:00:00,2026-11-10 13:00:00,,sock-1,7.500,1:00:00,0:55:00,\
         0:05:00,,7.500,,not priced"
    );
    assert_eq!(
        lines[2],
        "session,2026-11-20 22:00:00,,unknown,sock-2,5.000,,1:00:00,0:00:00,1.75,12.500,1.75,"
    );
    assert_eq!(
        lines[3],
        "total,,,,,12.500,,1:55:00,0:05:00,1.75,,,1 session not priced"
    );
}

#[test]
fn the_command_writes_the_same_csv_and_a_byte_order_mark_when_asked() {
    let site = Site::new();
    let path = site.dir.path().join("nov.csv");
    let out = site.sitegate(&[
        "expenses",
        "--month",
        "2026-11",
        "--output",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden = std::fs::read(golden_path("expenses_2026-11.csv")).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), golden);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "note: 1 session(s) started before the site's clock was ever set have no date and are \
         in no period's report\n"
    );

    let out = site.sitegate(&["expenses", "--month", "2026-11", "--bom"]);
    assert!(out.status.success());
    assert_eq!(out.stdout[..3], [0xEF, 0xBB, 0xBF]);
    assert_eq!(out.stdout[3..], golden);
}

#[test]
fn the_command_writes_xlsx_when_the_output_says_so() {
    let site = Site::new();
    let path = site.dir.path().join("nov.xlsx");
    let out = site.sitegate(&[
        "consumption",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--by",
        "user",
        "--output",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (text, _) = xlsx_text(std::fs::read(&path).unwrap());
    assert_eq!(
        text.as_bytes(),
        std::fs::read(golden_path("consumption_user.xlsx.txt")).unwrap()
    );
    assert!(!site.dir.path().join("nov.xlsx.partial").exists());
}

#[test]
fn the_command_explains_what_it_cannot_do_and_exits_1() {
    let site = Site::new();
    let cases: [(&[&str], &str); 3] = [
        (
            &["expenses", "--month", "2026-13"],
            "error: `2026-13` is not a month written YYYY-MM\n",
        ),
        (
            &[
                "statement",
                "--user",
                "bob",
                "--from",
                "2026-12-01",
                "--to",
                "2026-11-01",
            ],
            "error: the period starts (2026-12-01) after it ends (2026-11-01)\n",
        ),
        (
            &["expenses", "--month", "2026-11", "--format", "xlsx"],
            "error: an XLSX export needs --output FILE\n",
        ),
    ];
    for (args, message) in cases {
        let out = site.sitegate(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), message);
    }
    std::fs::remove_file(site.dir.path().join("state").join(DB_FILE)).unwrap();
    let out = site.sitegate(&["expenses", "--month", "2026-11"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database at"));
}
