//! What the uplink reads of the two up streams (`outbox`: events, gapless, never dropped;
//! `updates`: superseding progress, capped) and what acknowledgements delete. Reads go through
//! the caller's read-only connection; deletions are writes (`Write::Acknowledged`).

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;

/// The two up streams, each with its own sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Events,
    Updates,
}

impl Stream {
    pub fn table(self) -> &'static str {
        match self {
            Stream::Events => "outbox",
            Stream::Updates => "updates",
        }
    }
}

/// One record as it leaves the site (the envelope of docs/mqtt.md is built from it).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub id: String,
    pub kind: String,
    pub at_ms: i64,
    pub trusted: bool,
    pub offline: bool,
    /// The body, as committed.
    pub payload: String,
}

/// Up to `limit` records after `after`, in sequence order.
pub fn after(
    conn: &Connection,
    stream: Stream,
    after: u64,
    limit: usize,
) -> Result<Vec<Record>, StoreError> {
    let sql = match stream {
        Stream::Events => {
            "SELECT seq, id, kind, at_ms, trusted, offline, payload FROM outbox
             WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        }
        Stream::Updates => {
            "SELECT seq, id, kind, at_ms, trusted, 0, payload FROM updates
             WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        }
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![after as i64, limit as i64], |r| {
        Ok(Record {
            seq: r.get::<_, i64>(0)? as u64,
            id: r.get(1)?,
            kind: r.get(2)?,
            at_ms: r.get(3)?,
            trusted: r.get(4)?,
            offline: r.get(5)?,
            payload: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Everything up to this sequence number was acknowledged (deleted): the record before the
/// oldest left, or the last one ever made when none is left.
pub fn acknowledged(conn: &Connection, stream: Stream) -> Result<u64, StoreError> {
    let oldest: Option<i64> = conn.query_row(
        &format!("SELECT min(seq) FROM {}", stream.table()),
        [],
        |r| r.get(0),
    )?;
    match oldest {
        Some(seq) => Ok(seq.saturating_sub(1) as u64),
        None => last_made(conn, stream),
    }
}

/// The highest sequence number ever given in the stream (0 when none).
pub fn last_made(conn: &Connection, stream: Stream) -> Result<u64, StoreError> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = ?1",
            [stream.table()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(seq.unwrap_or(0).max(0) as u64)
}

/// How many records wait, and the time of the oldest (for the status page and metrics).
pub fn depth(conn: &Connection, stream: Stream) -> Result<(u64, Option<i64>), StoreError> {
    Ok(conn.query_row(
        &format!("SELECT count(*), min(at_ms) FROM {}", stream.table()),
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
    )?)
}

/// Central has every record up to `upto`: they leave the site.
pub(super) fn acknowledge(
    tx: &Transaction<'_>,
    stream: Stream,
    upto: u64,
) -> Result<(), StoreError> {
    tx.execute(
        &format!("DELETE FROM {} WHERE seq <= ?1", stream.table()),
        [upto as i64],
    )?;
    Ok(())
}

/// Remembers a command id until its expiry; `Rejected` when it was seen already.
pub(super) fn command_seen(
    tx: &Transaction<'_>,
    id: &str,
    expires_ms: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    // Ids past their expiry can go: a late copy is refused as expired anyway.
    tx.execute(
        "DELETE FROM commands_seen WHERE expires_ms < ?1",
        [now_ms - 24 * 3_600_000],
    )?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO commands_seen (id, expires_ms) VALUES (?1, ?2)",
        params![id, expires_ms],
    )?;
    if inserted == 0 {
        return Err(StoreError::Rejected(format!(
            "command {id} was already received"
        )));
    }
    Ok(())
}
