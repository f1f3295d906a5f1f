//! Read-only report queries over the `sessions` table: the sessions of a period, consumption
//! per socket and per user, month-to-date aggregates for the dashboard. Owns what the stored
//! times mean to a reader (trusted, estimated, or impossible because the Pi's clock had not been
//! set) and exact money sums (`Decimal`; costs are stored as decimal text).
//!
//! Never writes, never formats: it takes any `Connection` (a reader from `open_reader` while the
//! daemon runs) and returns plain structs that `export` turns into files.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use rusqlite::types::Value;
use rusqlite::{Connection, Row};
use rust_decimal::Decimal;

/// 2020-01-01T00:00:00Z. The Pi has no real-time clock: before the first time sync its clock
/// starts in 1970, so an earlier time is a clock that was not set, never a real date.
use crate::clock::EARLIEST_PLAUSIBLE_MS;
const EARLIEST_PLAUSIBLE_LOCAL: &str = "2020-01-01";
/// Format of `started_local` / `stopped_local`.
pub const LOCAL_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("session {session}: total_cost `{text}` is not a decimal number")]
    BadCost { session: String, text: String },
    #[error("session {session} has a cost but no currency")]
    CostWithoutCurrency { session: String },
    #[error("the period ends on the last date there is")]
    DateOutOfRange,
    #[error("costs this month are in several currencies ({0}): they cannot be summed")]
    MixedCurrencies(String),
}

/// Which completed sessions a report covers: those whose site-local start date is in
/// `from..=to`, optionally of one identity and one socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub identity: Option<String>,
    pub socket: Option<String>,
}

impl Filter {
    pub fn period(from: NaiveDate, to: NaiveDate) -> Self {
        Self {
            from,
            to,
            identity: None,
            socket: None,
        }
    }
}

/// A start or stop time as the daemon recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamp {
    /// Unix milliseconds from the Pi's clock.
    pub ms: i64,
    /// Taken after the clock was synchronised.
    pub trusted: bool,
    /// Daemon run and monotonic time it was taken at: two stamps of one run are exactly
    /// `mono_ms` apart whatever the wall clock said.
    pub run: String,
    pub mono_ms: i64,
    /// `YYYY-MM-DD HH:MM:SS` in the site's time zone.
    pub local: String,
}

/// How far a stamp's wall-clock time can be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Clock {
    Trusted,
    /// Taken before the clock was synchronised (e.g. restored from the last shutdown): a
    /// plausible time that may be off.
    Estimated,
    /// Before 2020 or unreadable: the clock was not set; there is no date to show.
    Unknown,
}

impl Stamp {
    pub fn clock(&self) -> Clock {
        match self.local_time() {
            None => Clock::Unknown,
            Some(_) if self.trusted => Clock::Trusted,
            Some(_) => Clock::Estimated,
        }
    }

    /// The site-local time, unless it is impossible (clock not set) or unreadable.
    pub fn local_time(&self) -> Option<NaiveDateTime> {
        if self.ms < EARLIEST_PLAUSIBLE_MS || self.local.as_str() < EARLIEST_PLAUSIBLE_LOCAL {
            return None;
        }
        parse_local(&self.local)
    }
}

/// Parses a `LOCAL_FORMAT` text (fixed width). Exports read each stored time several times a
/// session, and chrono's format-string parser cost more than all the rest of a CSV line.
fn parse_local(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(number(&b[0..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..10])?)?.and_hms_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
    )
}

/// A completed session, with every column an export shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: String,
    pub socket_id: String,
    /// `None`: anonymous.
    pub identity: Option<String>,
    pub auth_method: String,
    pub started: Stamp,
    pub stopped: Stamp,
    pub energy_wh: f64,
    pub charging_ms: i64,
    pub idle_ms: i64,
    pub stop_reason: Option<String>,
    pub failed_reason: Option<String>,
    pub offline: bool,
    pub tariff_id: Option<String>,
    pub currency: Option<String>,
    /// `None` until priced.
    pub total_cost: Option<Decimal>,
}

impl SessionRow {
    /// The worse of the two stamps' clocks.
    pub fn clock(&self) -> Clock {
        self.started.clock().max(self.stopped.clock())
    }

    /// Plugged-in time. Exact within one daemon run (monotonic clock); across a restart only
    /// when both wall-clock times are plausible. `None` when it cannot be known.
    pub fn duration_ms(&self) -> Option<i64> {
        let ms = if self.started.run == self.stopped.run {
            self.stopped.mono_ms - self.started.mono_ms
        } else if self.started.clock() != Clock::Unknown && self.stopped.clock() != Clock::Unknown {
            self.stopped.ms - self.started.ms
        } else {
            return None;
        };
        (ms >= 0).then_some(ms)
    }
}

/// Cost totals per currency. Only priced sessions are summed; the others are counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Costs {
    pub by_currency: BTreeMap<String, Decimal>,
    pub unpriced: u64,
}

impl Costs {
    pub fn add(&mut self, session: &SessionRow) {
        match (&session.currency, session.total_cost) {
            (Some(currency), Some(cost)) => {
                *self.by_currency.entry(currency.clone()).or_default() += cost;
            }
            _ => self.unpriced += 1,
        }
    }

    pub fn merge(&mut self, other: &Costs) {
        for (currency, cost) in &other.by_currency {
            *self.by_currency.entry(currency.clone()).or_default() += *cost;
        }
        self.unpriced += other.unpriced;
    }
}

/// What a group of sessions adds up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub sessions: u64,
    pub energy_wh: f64,
    pub charging_ms: i64,
    pub idle_ms: i64,
    pub costs: Costs,
}

impl Totals {
    pub fn add(&mut self, session: &SessionRow) {
        self.sessions += 1;
        self.energy_wh += session.energy_wh;
        self.charging_ms += session.charging_ms;
        self.idle_ms += session.idle_ms;
        self.costs.add(session);
    }

    pub fn merge(&mut self, other: &Totals) {
        self.sessions += other.sessions;
        self.energy_wh += other.energy_wh;
        self.charging_ms += other.charging_ms;
        self.idle_ms += other.idle_ms;
        self.costs.merge(&other.costs);
    }
}

/// One group of a consumption report: a socket, or an identity (`None`: anonymous).
#[derive(Debug, Clone, PartialEq)]
pub struct Group<K> {
    pub key: K,
    pub totals: Totals,
}

/// Consumption over a period: the total and one group per socket or per identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumption<K> {
    pub total: Totals,
    pub groups: Vec<Group<K>>,
}

/// Month-to-date figures for the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregates {
    /// Sessions started this month, including those still charging.
    pub sessions: u64,
    pub energy_wh: f64,
    pub charging_ms: i64,
    /// Sum of the priced sessions; `None` when none is priced yet.
    pub total_cost: Option<Decimal>,
    pub currency: Option<String>,
    pub unpriced: u64,
}

const SESSION_COLUMNS: &str = "id, socket_id, identity, auth_method, \
     started_ms, started_trusted, started_run, started_mono_ms, started_local, \
     stopped_ms, coalesce(stopped_trusted, 0), coalesce(stopped_run, ''), \
     coalesce(stopped_mono_ms, 0), coalesce(stopped_local, ''), \
     energy_wh, charging_ms, idle_ms, stop_reason, failed_reason, offline, \
     tariff_id, currency, total_cost";

/// Completed sessions matching `filter`, in order of start.
pub fn sessions(conn: &Connection, filter: &Filter) -> Result<Vec<SessionRow>, ReportError> {
    let mut out = Vec::new();
    for_each_session(conn, filter, |row| out.push(row))?;
    Ok(out)
}

/// `sessions` one at a time, for callers that only add them up: a year of sessions is never
/// held in memory.
pub fn for_each_session(
    conn: &Connection,
    filter: &Filter,
    mut visit: impl FnMut(SessionRow),
) -> Result<(), ReportError> {
    let (from, until) = local_bounds(filter.from, filter.to)?;
    let mut sql = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions \
         WHERE stopped_ms IS NOT NULL AND started_local >= ?1 AND started_local < ?2"
    );
    let mut params = vec![Value::Text(from), Value::Text(until)];
    // Conditions are only added when asked for, so that SQLite can pick the index on
    // (identity, started_local) or (socket_id, started_local).
    if let Some(identity) = &filter.identity {
        params.push(Value::Text(identity.clone()));
        sql += &format!(" AND identity = ?{}", params.len());
    }
    if let Some(socket) = &filter.socket {
        params.push(Value::Text(socket.clone()));
        sql += &format!(" AND socket_id = ?{}", params.len());
    }
    sql += " ORDER BY started_local, id";
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        visit(session_row(row)?);
    }
    Ok(())
}

/// Consumption of the site: the total and one group per socket (by socket id).
pub fn site_consumption(
    conn: &Connection,
    filter: &Filter,
) -> Result<Consumption<String>, ReportError> {
    group_by(conn, filter, |s| s.socket_id.clone())
}

/// Consumption per user: one group per identity (by identity), anonymous sessions last.
pub fn user_consumption(
    conn: &Connection,
    filter: &Filter,
) -> Result<Consumption<Option<String>>, ReportError> {
    let mut consumption = group_by(conn, filter, |s| s.identity.clone())?;
    // `None` sorts first in the map; a manager looks for names first.
    consumption.groups.sort_by_key(|g| g.key.is_none());
    Ok(consumption)
}

fn group_by<K: Ord>(
    conn: &Connection,
    filter: &Filter,
    key: impl Fn(&SessionRow) -> K,
) -> Result<Consumption<K>, ReportError> {
    let mut groups: BTreeMap<K, Totals> = BTreeMap::new();
    let mut total = Totals::default();
    for_each_session(conn, filter, |session| {
        groups.entry(key(&session)).or_default().add(&session);
        total.add(&session);
    })?;
    Ok(Consumption {
        total,
        groups: groups
            .into_iter()
            .map(|(key, totals)| Group { key, totals })
            .collect(),
    })
}

/// Sessions started from the first of `today_local`'s month to the end of that day, those still
/// open included. Counts and sums are SQL over the `started_local` index; costs are decimal
/// text, summed here exactly.
pub fn month_to_date(conn: &Connection, today_local: NaiveDate) -> Result<Aggregates, ReportError> {
    let first_of_month = today_local.with_day(1).unwrap_or(today_local);
    let (from, until) = local_bounds(first_of_month, today_local)?;
    let (sessions, energy_wh, charging_ms): (i64, f64, i64) =
        conn.query_row(MONTH_TO_DATE_SQL, [&from, &until], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let mut stmt = conn.prepare(MONTH_TO_DATE_COSTS_SQL)?;
    let mut rows = stmt.query([&from, &until])?;
    let mut costs: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut priced = 0u64;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let currency: Option<String> = row.get(1)?;
        let text: String = row.get(2)?;
        let currency = currency.ok_or_else(|| ReportError::CostWithoutCurrency {
            session: id.clone(),
        })?;
        *costs.entry(currency).or_default() += parse_cost(&id, &text)?;
        priced += 1;
    }
    if costs.len() > 1 {
        let names: Vec<&str> = costs.keys().map(String::as_str).collect();
        return Err(ReportError::MixedCurrencies(names.join(", ")));
    }
    let sessions = u64::try_from(sessions).unwrap_or(0);
    let (currency, total_cost) = costs.into_iter().next().unzip();
    Ok(Aggregates {
        sessions,
        energy_wh,
        charging_ms,
        total_cost,
        currency,
        unpriced: sessions.saturating_sub(priced),
    })
}

/// Counts and sums of the month, over the `sessions_by_start` index.
pub(crate) const MONTH_TO_DATE_SQL: &str = "SELECT count(*), total(energy_wh), \
     coalesce(sum(charging_ms), 0) FROM sessions \
     WHERE started_local >= ?1 AND started_local < ?2";
/// The month's priced sessions, to sum their decimal costs exactly.
pub(crate) const MONTH_TO_DATE_COSTS_SQL: &str = "SELECT id, currency, total_cost FROM sessions \
     WHERE started_local >= ?1 AND started_local < ?2 AND total_cost IS NOT NULL";

/// Completed sessions that started while the clock was not set (before 2020) and not corrected
/// since: they have no date, so no period includes them.
pub fn undated_sessions(conn: &Connection) -> Result<u64, ReportError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM sessions \
         WHERE stopped_ms IS NOT NULL AND started_local < ?1",
        [EARLIEST_PLAUSIBLE_LOCAL],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// `started_local` bounds of the dates `from..=to`: `[from 00:00:00, day after to)`. Local
/// times are fixed-width text, so text order is time order and the index applies.
fn local_bounds(from: NaiveDate, to: NaiveDate) -> Result<(String, String), ReportError> {
    let until = to.succ_opt().ok_or(ReportError::DateOutOfRange)?;
    Ok((
        from.format("%Y-%m-%d").to_string(),
        until.format("%Y-%m-%d").to_string(),
    ))
}

fn session_row(row: &Row<'_>) -> Result<SessionRow, ReportError> {
    let id: String = row.get(0)?;
    let currency: Option<String> = row.get(21)?;
    let cost_text: Option<String> = row.get(22)?;
    let total_cost = match cost_text {
        None => None,
        Some(_) if currency.is_none() => {
            return Err(ReportError::CostWithoutCurrency { session: id });
        }
        Some(text) => Some(parse_cost(&id, &text)?),
    };
    Ok(SessionRow {
        socket_id: row.get(1)?,
        identity: row.get(2)?,
        auth_method: row.get(3)?,
        started: stamp(row, 4)?,
        stopped: stamp(row, 9)?,
        energy_wh: row.get(14)?,
        charging_ms: row.get(15)?,
        idle_ms: row.get(16)?,
        stop_reason: row.get(17)?,
        failed_reason: row.get(18)?,
        offline: row.get(19)?,
        tariff_id: row.get(20)?,
        currency,
        total_cost,
        id,
    })
}

/// The five stamp columns (ms, trusted, run, mono_ms, local) from column `first` on.
fn stamp(row: &Row<'_>, first: usize) -> rusqlite::Result<Stamp> {
    Ok(Stamp {
        ms: row.get(first)?,
        trusted: row.get(first + 1)?,
        run: row.get(first + 2)?,
        mono_ms: row.get(first + 3)?,
        local: row.get(first + 4)?,
    })
}

fn parse_cost(session: &str, text: &str) -> Result<Decimal, ReportError> {
    Decimal::from_str(text.trim()).map_err(|_| ReportError::BadCost {
        session: session.to_owned(),
        text: text.to_owned(),
    })
}

pub(crate) mod listing;

#[cfg(test)]
mod tests;

/// The store's counters (what was dropped, refused or raised), by name.
pub fn counters(conn: &Connection) -> Result<Vec<(String, i64)>, super::StoreError> {
    Ok(conn
        .prepare("SELECT name, value FROM counters ORDER BY name")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?)
}
