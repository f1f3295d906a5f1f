//! Export benchmark (a bench binary, not a test: figures go to BENCHMARKS.md).
//!
//! `cargo bench --bench export`: builds a database of 100,000 completed sessions in a temporary
//! directory (a year at a site with 64 sockets and 200 users: starts spread over 2026, more in
//! the morning and evening, 5 % anonymous, 3 % not priced, 1 % with estimated times), prints
//! its file size, then times each export of the whole year read through `open_reader`, as
//! `sitegate export` does: expense notes (every session, one line each) to CSV (target <= 2 s)
//! and XLSX (target <= 10 s), consumption per user, and one user's statement, each with the
//! process's peak RSS during it.

use sitegate::core::rng::SplitMix64;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use chrono::{NaiveDate, TimeZone, Utc};
use rusqlite::{Connection, params};
use sitegate::export::{self, By, Format, Period, Report, SiteInfo};
use sitegate::store::reports::{self, Filter};
use sitegate::store::{self, DB_FILE};

const SESSIONS: usize = 100_000;
const USERS: u64 = 200;
const SOCKETS: u64 = 64;
const YEAR_START_MS: i64 = 1_767_222_000_000; // 2026-01-01T00:00:00+01:00
const DAY_MS: i64 = 86_400_000;

/// One timed export: what the table says, the report, the format, its file extension and
/// its target in seconds.
struct Run {
    name: &'static str,
    report: Report,
    format: Format,
    ext: &'static str,
    target_s: Option<f64>,
}

fn runs() -> Vec<Run> {
    let year = Period::new(date(2026, 1, 1), date(2026, 12, 31)).unwrap();
    let by_user = Report::Consumption {
        by: By::User,
        period: year,
    };
    let statement = Report::Statement {
        user: "user-007".into(),
        period: year,
    };
    let csv = Format::Csv { bom: true };
    let run = |name, report: &Report, format, ext, target_s| Run {
        name,
        report: report.clone(),
        format,
        ext,
        target_s,
    };
    let expenses = Report::Expenses { period: year };
    vec![
        run(
            "expense notes, all sessions",
            &expenses,
            csv,
            "csv",
            Some(2.0),
        ),
        run(
            "expense notes, all sessions",
            &expenses,
            Format::Xlsx,
            "xlsx",
            Some(10.0),
        ),
        run("consumption by user", &by_user, csv, "csv", None),
        run("consumption by user", &by_user, Format::Xlsx, "xlsx", None),
        run("statement of one user", &statement, csv, "csv", None),
        run(
            "statement of one user",
            &statement,
            Format::Xlsx,
            "xlsx",
            None,
        ),
    ]
}

/// `export [child DB INDEX]`: without `child`, builds the database and runs each export in a
/// child process of its own, so that each peak RSS is that export's alone.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "child") {
        let path = Path::new(&args[i + 1]);
        let index: usize = args[i + 2].parse().unwrap();
        child(path, index);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let build = tokio::time::Instant::now();
    {
        let (mut conn, _) = store::open_writer(&path).unwrap();
        fill(&mut conn);
    }
    let build = build.elapsed().as_secs_f64();
    let db_bytes = std::fs::metadata(&path).unwrap().len();
    println!("## Exports of {SESSIONS} sessions (a year, {SOCKETS} sockets, {USERS} users)");
    println!();
    println!(
        "Database: {:.1} MB per 100,000 sessions (sessions table and its indexes, no samples; \
         built in {build:.1} s)",
        db_bytes as f64 * 100_000.0 / SESSIONS as f64 / 1e6
    );
    println!();
    println!("| export | format | time | target | file | peak RSS |");
    println!("|---|---|---|---|---|---|");
    let query = spawn_child(&path, usize::MAX);
    println!(
        "| query alone (`store::reports::sessions`, the year) | - | {} | - | - | {} |",
        query[0], query[1]
    );
    for (i, run) in runs().iter().enumerate() {
        let figures = spawn_child(&path, i);
        let target = run.target_s.map_or("-".to_owned(), |t| format!("<= {t} s"));
        println!(
            "| {} | {} | {} | {target} | {} | {} |",
            run.name, run.ext, figures[0], figures[2], figures[1]
        );
    }
}

/// Runs `child` in a new process; returns its printed figures.
fn spawn_child(db: &Path, index: usize) -> Vec<String> {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("child")
        .arg(db)
        .arg(index.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .split('\t')
        .map(str::to_owned)
        .collect()
}

/// Times one export (or the query alone, for an index past the runs) and prints its time,
/// peak RSS and output size, tab-separated.
fn child(db: &Path, index: usize) {
    let conn = store::open_reader(db).unwrap();
    let t0 = tokio::time::Instant::now();
    let Some(run) = runs().into_iter().nth(index) else {
        let year = Filter::period(date(2026, 1, 1), date(2026, 12, 31));
        let rows = reports::sessions(&conn, &year).unwrap();
        let seconds = t0.elapsed().as_secs_f64();
        println!(
            "{seconds:.2} s ({} rows)\t{:.0} MB",
            rows.len(),
            peak_rss_mb()
        );
        return;
    };
    let site = SiteInfo {
        name: "Bench site".into(),
        time_zone: chrono_tz::Europe::Paris,
    };
    let path = db.with_extension(run.ext);
    let mut out = BufWriter::new(File::create(&path).unwrap());
    export::export(&conn, &site, &run.report, run.format, &mut out).unwrap();
    drop(out);
    let seconds = t0.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    println!("{seconds:.2} s\t{:.0} MB\t{size:.1} MB", peak_rss_mb());
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Inserts the year's sessions in order of start, as the daemon would have, in one transaction.
fn fill(conn: &mut Connection) {
    let mut rng = SplitMix64::new(42);
    // Arrivals: 40 % in the morning (7-10 h), 40 % in the evening (17-21 h), the rest any time.
    let mut starts: Vec<i64> = (0..SESSIONS)
        .map(|_| {
            let day = rng.below(365) as i64;
            let hour = match rng.below(10) {
                0..4 => 7 + rng.below(3),
                4..8 => 17 + rng.below(4),
                _ => rng.below(24),
            } as i64;
            YEAR_START_MS + day * DAY_MS + hour * 3_600_000 + rng.below(3_600_000) as i64
        })
        .collect();
    starts.sort_unstable();
    let paris = chrono_tz::Europe::Paris;
    let local = |ms: i64| {
        Utc.timestamp_millis_opt(ms)
            .unwrap()
            .with_timezone(&paris)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO sessions (id, socket_id, identity, auth_method, \
                 started_ms, started_trusted, started_run, started_mono_ms, started_local, \
                 stopped_ms, stopped_trusted, stopped_run, stopped_mono_ms, stopped_local, \
                 meter_start_wh, meter_stop_wh, energy_wh, charging_ms, idle_ms, \
                 stop_reason, offline, failed_reason, tariff_id, currency, total_cost, \
                 cost_breakdown) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
                 ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
            )
            .unwrap();
        for (n, &start) in starts.iter().enumerate() {
            let charging_ms = (1_200_000 + rng.below(6 * 3_600_000)) as i64;
            let idle_ms = rng.below(3 * 3_600_000) as i64;
            let stop = start + charging_ms + idle_ms;
            // 3.7 to 11 kW while charging.
            let energy_wh = charging_ms as f64 / 3_600_000.0 * (3_700 + rng.below(7_300)) as f64;
            let identity = (rng.below(20) != 0).then(|| format!("user-{:03}", rng.below(USERS)));
            let trusted = rng.below(100) != 0;
            let priced = rng.below(100) >= 3;
            let energy_cents = (energy_wh * 0.25 / 10.0).round() as i64;
            let parking_cents = idle_ms / 3_600_000 * 50;
            let cost = format!(
                "{}.{:02}",
                (energy_cents + parking_cents) / 100,
                (energy_cents + parking_cents) % 100
            );
            let run = format!("run-{:04}", n / 5_000);
            insert
                .execute(params![
                    format!("0199{n:08x}-0000-7000-8000-000000000000"),
                    format!("socket-{:02}", rng.below(SOCKETS)),
                    identity,
                    if identity.is_some() { "local_list" } else { "free" },
                    start,
                    trusted,
                    run,
                    start - YEAR_START_MS,
                    local(start),
                    stop,
                    trusted,
                    run,
                    stop - YEAR_START_MS,
                    local(stop),
                    0.0,
                    energy_wh,
                    energy_wh,
                    charging_ms,
                    idle_ms,
                    "ev_disconnected",
                    false,
                    None::<String>,
                    priced.then_some("std-2026"),
                    priced.then_some("EUR"),
                    priced.then_some(cost.as_str()),
                    priced.then(|| {
                        format!(r#"{{"energy":"{energy_cents}","parking":"{parking_cents}","vat":"0.20"}}"#)
                    }),
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// This process's peak RSS in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}
