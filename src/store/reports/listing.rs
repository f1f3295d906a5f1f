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

/// The socket ids and identities that have sessions, for the filters' choices: distinct values
/// over the `(socket_id, …)` and `(identity, …)` indexes.
pub fn known_sockets(conn: &Connection) -> Result<Vec<String>, ReportError> {
    Ok(conn
        .prepare("SELECT DISTINCT socket_id FROM sessions ORDER BY socket_id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}
