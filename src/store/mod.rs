//! `store`: the only module that opens SQLite. The database is the source of truth for
//! sessions, samples, the outbox and sockets out of service. One writer connection lives on the
//! store's own thread behind `StoreHandle`; queries use separate read-only connections (WAL lets
//! them read while the writer writes). Never decides anything: it persists what the core's
//! effects say, in one transaction per batch. Local accounts of the web page live here too
//! (`accounts`): changed through the writer like everything else.
//!
//! Durability: WAL with `synchronous = FULL`, so a transaction acknowledged to the core is on
//! the disk (fsync of the WAL at each commit) and survives a power cut; `NORMAL` would only keep
//! the file consistent and could lose the last commits. The cost is measured in BENCHMARKS.md.

pub mod access;
pub mod accounts;
pub(crate) mod backup;
pub(crate) mod migrations;
pub mod outbox;
mod recovery;
pub mod reports;
pub mod roles;
pub(crate) mod writer;

/// A time as central's bodies carry it (RFC 3339 UTC, milliseconds): the web page shows stored
/// times the same way.
pub use writer::{ConfigAudit, Startup, StoreHandle, StoreSetup, Write, writes_for};

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// File name of the database in the state directory.
pub const DB_FILE: &str = "sitegate.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration to version {to} failed: {source}")]
    Migration { to: u32, source: rusqlite::Error },
    #[error(
        "the database is version {found}, newer than this sitegate ({supported}): upgrade sitegate"
    )]
    TooNew { found: u32, supported: u32 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the store has stopped")]
    Stopped,
    #[error("commit failed: {0}")]
    Failed(String),
    /// An update refused for its content; the previous state is kept.
    #[error("refused: {0}")]
    Rejected(String),
    /// A differential access-list update not above the current version (OCPP VersionMismatch).
    #[error("version mismatch: the list is at version {current}, the update is version {offered}")]
    VersionMismatch { current: u64, offered: u64 },
}

/// Opens (creating if needed) the database at `path` for writing, and migrates it.
pub fn open_writer(path: &Path) -> Result<(Connection, Option<PathBuf>), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    let backup = migrations::migrate(&mut conn, Some(path))?;
    Ok((conn, backup))
}

/// Opens a read-only connection for queries.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_created_at_the_latest_version_without_backup() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, backup) = open_writer(&dir.path().join(DB_FILE)).unwrap();
        assert_eq!(migrations::version(&conn).unwrap(), migrations::latest());
        assert!(backup.is_none());
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_database_from_a_newer_sitegate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            let (conn, _) = open_writer(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        assert!(matches!(
            open_writer(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }
}
