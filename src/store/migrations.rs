//! Forward-only schema migrations, numbered by SQLite's `user_version`. Before any migration of
//! an existing database, a consistent copy is taken next to it (`sitegate.db.v{N}.bak`) with
//! SQLite's online backup, so a failed or regretted upgrade can be undone by hand.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::StoreError;

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[include_str!("schema_v1.sql")];

/// The version this build writes.
pub fn latest() -> u32 {
    MIGRATIONS.len() as u32
}

pub fn version(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings `conn` (the database at `path`) to the latest version. Returns the backup taken, if
/// any. Refuses a database written by a newer sitegate.
pub fn migrate(conn: &mut Connection, path: Option<&Path>) -> Result<Option<PathBuf>, StoreError> {
    let from = version(conn)?;
    if from > latest() {
        return Err(StoreError::TooNew {
            found: from,
            supported: latest(),
        });
    }
    if from == latest() {
        return Ok(None);
    }
    let backup = match path {
        Some(p) if from > 0 => Some(backup(conn, p, from)?),
        _ => None,
    };
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql).map_err(|e| StoreError::Migration {
            to: i as u32 + 1,
            source: e,
        })?;
        tx.pragma_update(None, "user_version", i as u32 + 1)?;
        tx.commit()?;
    }
    Ok(backup)
}

fn backup(conn: &Connection, path: &Path, version: u32) -> Result<PathBuf, StoreError> {
    let target = path.with_extension(format!("db.v{version}.bak"));
    conn.backup(
        rusqlite::MAIN_DB,
        &target,
        None::<fn(rusqlite::backup::Progress)>,
    )?;
    Ok(target)
}
