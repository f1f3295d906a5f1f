//! The sessions list of the web page: one page of a period's sessions (running ones included,
//! marked) with the total count, newest first. Shares the export's columns and row reading
//! (`SESSION_COLUMNS`, `session_row`) so a page and an export never disagree on a session.
//!
//! Never writes; pages with `LIMIT`/`OFFSET` over the `started_local` indexes, so a year of
//! sessions is never read to show fifty.

use rusqlite::Connection;
use rusqlite::types::Value;

use super::{Filter, ReportError, SESSION_COLUMNS, local_bounds, session_row};

/// One line of the list: the session as exports read it, and whether it is still running (its
/// stop stamp is then empty and its energy and cost are those of the last sample).
#[derive(Debug, Clone, PartialEq)]
pub struct ListedSession {
    pub session: super::SessionRow,
    pub running: bool,
}

/// A page of sessions and how many match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPage {
    pub total: u64,
    pub sessions: Vec<ListedSession>,
}

/// Sessions whose site-local start date is in the filter's period (and of its identity and
/// socket when given), running ones included, newest first: `limit` of them after `offset`.
pub fn session_page(
    conn: &Connection,
    filter: &Filter,
    limit: u32,
    offset: u64,
) -> Result<SessionPage, ReportError> {
    let (from, until) = local_bounds(filter.from, filter.to)?;
    let mut conditions = String::from("started_local >= ?1 AND started_local < ?2");
    let mut params = vec![Value::Text(from), Value::Text(until)];
    if let Some(identity) = &filter.identity {
        params.push(Value::Text(identity.clone()));
        conditions += &format!(" AND identity = ?{}", params.len());
    }
    if let Some(socket) = &filter.socket {
        params.push(Value::Text(socket.clone()));
        conditions += &format!(" AND socket_id = ?{}", params.len());
    }
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM sessions WHERE {conditions}"),
        rusqlite::params_from_iter(params.iter()),
        |r| r.get(0),
    )?;
    // A running session has no stop: the shared columns read it as stopped at 0 (an impossible
    // time, never shown) and the last column says it runs.
    let columns = SESSION_COLUMNS.replacen("stopped_ms,", "coalesce(stopped_ms, 0),", 1);
    let sql = format!(
        "SELECT {columns}, stopped_ms IS NULL FROM sessions WHERE {conditions} \
         ORDER BY started_local DESC, id DESC LIMIT {limit} OFFSET {offset}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut sessions = Vec::new();
    while let Some(row) = rows.next()? {
        let running: bool = row.get(23)?;
        sessions.push(ListedSession {
            session: session_row(row)?,
            running,
        });
    }
    Ok(SessionPage {
        total: u64::try_from(total).unwrap_or(0),
        sessions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DB_FILE, open_writer};
    use chrono::NaiveDate;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Sessions `n` of November 2026, one a day; the last one still running.
    fn database(n: u32) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let (conn, _) = open_writer(&dir.path().join(DB_FILE)).unwrap();
        for day in 1..=n {
            let running = day == n;
            conn.execute(
                "INSERT INTO sessions (id, socket_id, identity, auth_method, started_ms,
                     started_trusted, started_run, started_mono_ms, started_local, stopped_ms,
                     stopped_trusted, stopped_run, stopped_mono_ms, stopped_local,
                     meter_start_wh, energy_wh, offline)
                 VALUES (?1, 's', ?2, 'free', ?3, 1, 'r', 0, ?4, ?5, 1, 'r', 3600000, ?6, 0, 1000, 0)",
                rusqlite::params![
                    format!("n-{day:02}"),
                    if day % 2 == 0 { Some("alice") } else { None },
                    1_793_500_000_000i64 + i64::from(day) * 86_400_000,
                    format!("2026-11-{day:02} 10:00:00"),
                    (!running).then_some(1_793_503_600_000i64 + i64::from(day) * 86_400_000),
                    (!running).then(|| format!("2026-11-{day:02} 11:00:00")),
                ],
            )
            .unwrap();
        }
        (dir, conn)
    }

    #[test]
    fn a_page_is_newest_first_with_the_running_session_marked_and_the_total() {
        let (_dir, conn) = database(30);
        let filter = Filter::period(date("2026-11-01"), date("2026-11-30"));
        let page = session_page(&conn, &filter, 10, 0).unwrap();
        assert_eq!(page.total, 30);
        let ids: Vec<&str> = page
            .sessions
            .iter()
            .map(|s| s.session.id.as_str())
            .collect();
        assert_eq!(ids[..3], ["n-30", "n-29", "n-28"]);
        assert!(page.sessions[0].running && !page.sessions[1].running);
        assert_eq!(page.sessions[0].session.stopped.local_time(), None);
        let last = session_page(&conn, &filter, 10, 25).unwrap();
        assert_eq!(last.sessions.len(), 5);
        let alice = Filter {
            identity: Some("alice".into()),
            ..filter
        };
        assert_eq!(session_page(&conn, &alice, 10, 0).unwrap().total, 15);
    }

    #[test]
    fn pages_are_read_through_the_start_index() {
        let (_dir, conn) = database(3);
        let (from, until) = local_bounds(date("2026-11-01"), date("2026-11-30")).unwrap();
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT id FROM sessions WHERE started_local >= ?1 \
                 AND started_local < ?2 ORDER BY started_local DESC, id DESC LIMIT 50",
            )
            .unwrap()
            .query_map([from, until], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("sessions_by_start")),
            "{plan:?}"
        );
    }
}
