//! What each report shows: its title, its columns and its lines, built from what
//! `store::reports` returned. Owns the clock honesty of exports (an estimated time is marked,
//! an impossible one is never shown) and how anonymous and unpriced sessions read. Queries
//! nothing and writes nothing.

use std::collections::{BTreeMap, BTreeSet};

use super::table::{Cell, Column, Line, LineKind, Table};
use super::{Period, SiteInfo};
use crate::store::reports::{Clock, Consumption, Costs, SessionRow, Totals};

/// How a session without identity is shown.
pub const ANONYMOUS: &str = "anonymous";

const DATE_WIDTH: f64 = 19.0;
const DURATION_WIDTH: f64 = 13.0;

/// Consumption per socket, with the site's total.
pub fn site_consumption<'a>(
    site: &SiteInfo,
    period: Period,
    data: &'a Consumption<String>,
) -> Table<'a> {
    consumption(
        site,
        period,
        data,
        ConsumptionBy {
            what: "socket",
            column: Column::new("socket", "Socket", 16.0),
            kind: LineKind::Socket,
        },
        |socket| socket.clone(),
    )
}

/// Consumption per identity, anonymous sessions together, with the site's total.
pub fn user_consumption<'a>(
    site: &SiteInfo,
    period: Period,
    data: &'a Consumption<Option<String>>,
) -> Table<'a> {
    consumption(
        site,
        period,
        data,
        ConsumptionBy {
            what: "user",
            column: Column::new("user", "User", 20.0),
            kind: LineKind::User,
        },
        |identity| user_label(identity.as_deref()).to_owned(),
    )
}

struct ConsumptionBy {
    what: &'static str,
    column: Column,
    kind: LineKind,
}

fn consumption<'a, K>(
    site: &SiteInfo,
    period: Period,
    data: &'a Consumption<K>,
    by: ConsumptionBy,
    label: impl Fn(&K) -> String + 'a,
) -> Table<'a> {
    let currencies: Vec<String> = data.total.costs.by_currency.keys().cloned().collect();
    let mut columns = vec![
        by.column,
        Column::new("sessions", "Sessions", 10.0),
        Column::new("energy_kwh", "Energy (kWh)", 14.0),
        Column::new("charging_hms", "Charging time (h:mm:ss)", DURATION_WIDTH),
        Column::new("idle_hms", "Idle time (h:mm:ss)", DURATION_WIDTH),
    ];
    columns.extend(cost_columns("cost", "Cost", &currencies));
    columns.push(Column::new(
        "unpriced_sessions",
        "Sessions not priced",
        12.0,
    ));
    let row = move |key: Cell, totals: &Totals| {
        let mut cells = vec![
            key,
            Cell::Count(totals.sessions),
            Cell::EnergyWh(totals.energy_wh),
            Cell::DurationMs(totals.charging_ms),
            Cell::DurationMs(totals.idle_ms),
        ];
        cells.extend(cost_cells(&totals.costs, &currencies));
        cells.push(Cell::Count(totals.costs.unpriced));
        cells
    };
    let groups = data.groups.iter().map({
        let row = row.clone();
        move |group| Line {
            kind: by.kind,
            cells: row(Cell::Text(label(&group.key)), &group.totals),
        }
    });
    let total = Line {
        kind: LineKind::Total,
        cells: row(Cell::Empty, &data.total),
    };
    Table {
        title: title(site, &format!("consumption by {}", by.what), period),
        notes: vec![format!(
            "Sessions started from {} to {} (site-local dates, {}); energy, charging and idle \
             time of completed sessions; costs of priced sessions only.",
            period.from(),
            period.to(),
            site.time_zone
        )],
        sheet: "Consumption",
        columns,
        label_column: 0,
        lines: Box::new(groups.chain(std::iter::once(total))),
    }
}

/// Monthly expense notes: each user's sessions with a total line per user, then the total of
/// all users.
pub fn expenses<'a>(site: &SiteInfo, period: Period, sessions: &'a [SessionRow]) -> Table<'a> {
    let currencies = session_currencies(sessions);
    let mut by_user: BTreeMap<(bool, &str), Vec<&SessionRow>> = BTreeMap::new();
    for session in sessions {
        // Anonymous last: `false` sorts first.
        let key = (
            session.identity.is_none(),
            user_label(session.identity.as_deref()),
        );
        by_user.entry(key).or_default().push(session);
    }
    let mut columns = vec![Column::new("user", "User", 20.0)];
    columns.extend(session_columns(&currencies));
    columns.push(note_column());
    let mut all = Totals::default();
    sessions.iter().for_each(|s| all.add(s));
    let grand_total = total_line(Cell::Empty, &all, &currencies);
    // Lines are made as the writer asks for them: a year of sessions is never held twice.
    let lines = by_user.into_iter().flat_map(move |((_, user), sessions)| {
        let mut totals = Totals::default();
        sessions.iter().for_each(|s| totals.add(s));
        let total = total_line(Cell::text(user), &totals, &currencies);
        let currencies = currencies.clone();
        sessions
            .into_iter()
            .map(move |session| {
                let mut cells = vec![Cell::text(user)];
                cells.extend(session_cells(session, &currencies));
                cells.push(session_note(session));
                Line {
                    kind: LineKind::Session,
                    cells,
                }
            })
            .chain(std::iter::once(total))
    });
    Table {
        title: title(site, "expense notes", period),
        notes: session_notes(site),
        sheet: "Expense notes",
        columns,
        label_column: 1,
        lines: Box::new(lines.chain(std::iter::once(grand_total))),
    }
}

/// One user's sessions with cumulative energy and cost, then the period's total.
pub fn statement<'a>(
    site: &SiteInfo,
    user: &str,
    period: Period,
    sessions: &'a [SessionRow],
) -> Table<'a> {
    let currencies = session_currencies(sessions);
    let mut columns = session_columns(&currencies);
    columns.push(Column::new(
        "cumulative_energy_kwh",
        "Cumulative energy (kWh)",
        14.0,
    ));
    columns.extend(cost_columns(
        "cumulative_cost",
        "Cumulative cost",
        &currencies,
    ));
    columns.push(note_column());
    let mut all = Totals::default();
    sessions.iter().for_each(|s| all.add(s));
    let mut total = total_line_cells(&all, &currencies);
    // Nothing under the cumulative columns: the total is their last value already.
    let note = total.pop().unwrap_or(Cell::Empty);
    total.extend(std::iter::repeat_n(
        Cell::Empty,
        1 + cost_column_count(&currencies),
    ));
    total.push(note);
    let total = Line {
        kind: LineKind::Total,
        cells: total,
    };
    let mut running = Totals::default();
    let details = sessions.iter().map(move |session| {
        running.add(session);
        let mut cells = session_cells(session, &currencies);
        cells.push(Cell::EnergyWh(running.energy_wh));
        cells.extend(cost_cells(&running.costs, &currencies));
        cells.push(session_note(session));
        Line {
            kind: LineKind::Session,
            cells,
        }
    });
    Table {
        title: title(site, &format!("statement of {user}"), period),
        notes: session_notes(site),
        sheet: "Statement",
        columns,
        label_column: 0,
        lines: Box::new(details.chain(std::iter::once(total))),
    }
}

pub fn user_label(identity: Option<&str>) -> &str {
    identity.unwrap_or(ANONYMOUS)
}

fn title(site: &SiteInfo, report: &str, period: Period) -> String {
    format!(
        "{}: {report}, {} to {}",
        site.name,
        period.from(),
        period.to()
    )
}

fn session_notes(site: &SiteInfo) -> Vec<String> {
    vec![
        format!("Times are site-local ({}).", site.time_zone),
        "Clock: estimated = taken before the site's clock was synchronised, may be off; \
         unknown = the clock was not set, the time is not known and left empty."
            .to_owned(),
    ]
}

/// The currencies of the priced sessions, in a stable order.
fn session_currencies(sessions: &[SessionRow]) -> Vec<String> {
    let names: BTreeSet<&String> = sessions
        .iter()
        .filter(|s| s.total_cost.is_some())
        .filter_map(|s| s.currency.as_ref())
        .collect();
    names.into_iter().cloned().collect()
}

/// One cost column per currency. Without any priced session there is still one cost column
/// (no unit to name), so that the columns change with the data no more than they must.
fn cost_columns(key: &str, label: &str, currencies: &[String]) -> Vec<Column> {
    if currencies.is_empty() {
        return vec![Column::new(key, label, 12.0)];
    }
    currencies
        .iter()
        .map(|c| {
            Column::new(
                format!("{key}_{}", c.to_lowercase()),
                format!("{label} ({c})"),
                12.0,
            )
        })
        .collect()
}

fn cost_column_count(currencies: &[String]) -> usize {
    currencies.len().max(1)
}

fn cost_cells(costs: &Costs, currencies: &[String]) -> Vec<Cell> {
    if currencies.is_empty() {
        return vec![Cell::Empty];
    }
    currencies
        .iter()
        .map(|c| Cell::optional(costs.by_currency.get(c).copied(), Cell::Money))
        .collect()
}

fn session_columns(currencies: &[String]) -> Vec<Column> {
    let mut columns = vec![
        Column::new("start_local", "Start", DATE_WIDTH),
        Column::new("stop_local", "Stop", DATE_WIDTH),
        Column::new("clock", "Clock", 10.0),
        Column::new("socket", "Socket", 16.0),
        Column::new("energy_kwh", "Energy (kWh)", 12.0),
        Column::new("duration_hms", "Duration (h:mm:ss)", DURATION_WIDTH),
        Column::new("charging_hms", "Charging time (h:mm:ss)", DURATION_WIDTH),
        Column::new("idle_hms", "Idle time (h:mm:ss)", DURATION_WIDTH),
    ];
    columns.extend(cost_columns("cost", "Cost", currencies));
    columns
}

fn note_column() -> Column {
    Column::new("note", "Note", 24.0)
}

/// The cells of `session_columns`. A time is shown only when it is plausible; `clock` says when
/// it is estimated, or unknown (then the cell is empty).
fn session_cells(session: &SessionRow, currencies: &[String]) -> Vec<Cell> {
    let clock = match session.clock() {
        Clock::Trusted => Cell::Empty,
        Clock::Estimated => Cell::text("estimated"),
        Clock::Unknown => Cell::text("unknown"),
    };
    let cost = session.total_cost.zip(session.currency.as_ref());
    let mut cells = vec![
        Cell::optional(session.started.local_time(), Cell::DateTime),
        Cell::optional(session.stopped.local_time(), Cell::DateTime),
        clock,
        Cell::text(&session.socket_id),
        Cell::EnergyWh(session.energy_wh),
        Cell::optional(session.duration_ms(), Cell::DurationMs),
        Cell::DurationMs(session.charging_ms),
        Cell::DurationMs(session.idle_ms),
    ];
    if currencies.is_empty() {
        cells.push(Cell::Empty);
    } else {
        cells.extend(currencies.iter().map(|c| match cost {
            Some((value, currency)) if currency == c => Cell::Money(value),
            _ => Cell::Empty,
        }));
    }
    cells
}

fn session_note(session: &SessionRow) -> Cell {
    let mut parts = Vec::new();
    if let Some(reason) = &session.failed_reason {
        parts.push(format!("failed: {reason}"));
    }
    if session.total_cost.is_none() {
        parts.push("not priced".to_owned());
    }
    if parts.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(parts.join("; "))
    }
}

/// A total under `session_columns` + note, after a leading `key` cell.
fn total_line(key: Cell, totals: &Totals, currencies: &[String]) -> Line {
    let mut cells = vec![key];
    cells.extend(total_line_cells(totals, currencies));
    Line {
        kind: LineKind::Total,
        cells,
    }
}

fn total_line_cells(totals: &Totals, currencies: &[String]) -> Vec<Cell> {
    let mut cells = vec![
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::EnergyWh(totals.energy_wh),
        Cell::Empty,
        Cell::DurationMs(totals.charging_ms),
        Cell::DurationMs(totals.idle_ms),
    ];
    cells.extend(cost_cells(&totals.costs, currencies));
    cells.push(match totals.costs.unpriced {
        0 => Cell::Empty,
        1 => Cell::text("1 session not priced"),
        n => Cell::Text(format!("{n} sessions not priced")),
    });
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reports::Stamp;
    use chrono::NaiveDate;

    fn stamp(ms: i64, trusted: bool, run: &str, mono_ms: i64, local: &str) -> Stamp {
        Stamp {
            ms,
            trusted,
            run: run.into(),
            mono_ms,
            local: local.into(),
        }
    }

    /// Never synchronised: both times read 1970, one daemon run.
    fn undated() -> SessionRow {
        SessionRow {
            id: "s".into(),
            socket_id: "sock-1".into(),
            identity: None,
            auth_method: "free".into(),
            started: stamp(60_000, false, "r", 60_000, "1970-01-01 01:01:00"),
            stopped: stamp(1_860_000, false, "r", 1_860_000, "1970-01-01 01:31:00"),
            energy_wh: 3_000.0,
            charging_ms: 1_800_000,
            idle_ms: 0,
            stop_reason: None,
            failed_reason: None,
            offline: false,
            tariff_id: None,
            currency: None,
            total_cost: None,
        }
    }

    fn site() -> SiteInfo {
        SiteInfo {
            name: "Site".into(),
            time_zone: chrono_tz::Europe::Paris,
        }
    }

    fn period() -> Period {
        let d = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        Period::new(d, d).unwrap()
    }

    #[test]
    fn a_time_the_clock_did_not_know_is_empty_and_said_unknown_but_a_duration_within_a_run_is_kept()
    {
        let cells = session_cells(&undated(), &[]);
        assert_eq!(cells[0], Cell::Empty);
        assert_eq!(cells[1], Cell::Empty);
        assert_eq!(cells[2], Cell::text("unknown"));
        assert_eq!(cells[5], Cell::DurationMs(1_800_000));
    }

    #[test]
    fn without_any_priced_session_there_is_one_cost_column_and_no_cost() {
        let sessions = [undated()];
        let table = statement(&site(), "x", period(), &sessions);
        let keys: Vec<&str> = table.columns.iter().map(|c| c.key.as_str()).collect();
        assert!(keys.contains(&"cost") && keys.contains(&"cumulative_cost"));
        let lines: Vec<Line> = table.lines.collect();
        assert!(lines.iter().all(|l| l.cells.len() == keys.len()));
        assert_eq!(lines[0].cells.last(), Some(&Cell::text("not priced")));
    }

    #[test]
    fn anonymous_sessions_are_named_and_come_after_the_users() {
        let mut alice = undated();
        alice.identity = Some("alice".into());
        let sessions = [undated(), alice];
        let table = expenses(&site(), period(), &sessions);
        let users: Vec<Cell> = table.lines.map(|l| l.cells[0].clone()).collect();
        assert_eq!(
            users,
            [
                Cell::text("alice"),
                Cell::text("alice"),
                Cell::text(ANONYMOUS),
                Cell::text(ANONYMOUS),
                Cell::Empty
            ]
        );
    }
}
