//! Forward-only schema migrations, numbered by SQLite's `user_version`. Before any migration of
//! an existing database, a consistent copy is taken next to it (`sitegate.db.v{N}.bak`) with
//! SQLite's online backup, so a failed or regretted upgrade can be undone by hand.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::StoreError;

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("schema_v1.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
];

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
    migrate_with(conn, path, MIGRATIONS)
}

/// `migrate` over an explicit list (tests add a future migration to exercise the upgrade path).
fn migrate_with(
    conn: &mut Connection,
    path: Option<&Path>,
    migrations: &[&str],
) -> Result<Option<PathBuf>, StoreError> {
    let latest = migrations.len() as u32;
    let from = version(conn)?;
    if from > latest {
        return Err(StoreError::TooNew {
            found: from,
            supported: latest,
        });
    }
    if from == latest {
        return Ok(None);
    }
    let backup = match path {
        Some(p) if from > 0 => Some(backup(conn, p, from)?),
        _ => None,
    };
    for (i, sql) in migrations.iter().enumerate().skip(from as usize) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A future version 2, to prove the upgrade path: data kept, backup taken, failure rolled back.
    const V2: &str = "ALTER TABLE sessions ADD COLUMN vehicle TEXT;";

    fn v1_with_a_session(path: &Path) -> Connection {
        let mut conn = Connection::open(path).unwrap();
        migrate_with(&mut conn, Some(path), &MIGRATIONS[..1]).unwrap();
        conn.execute(
            "INSERT INTO sessions (id, socket_id, auth_method, started_ms, started_trusted, started_run,
                 started_mono_ms, started_local, meter_start_wh, offline)
             VALUES ('s1', 'p1', 'free', 1, 1, 'r', 0, '2026-11-22 10:00:00', 5.0, 0)",
            [],
        )
        .unwrap();
        conn
    }

    #[test]
    fn each_migration_keeps_the_data_and_is_preceded_by_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sitegate.db");
        let mut conn = v1_with_a_session(&path);
        let backup = migrate_with(&mut conn, Some(&path), &[MIGRATIONS[0], MIGRATIONS[1], V2])
            .unwrap()
            .expect("a backup");
        assert_eq!(
            version(&conn).unwrap(),
            3,
            "through every real migration and a future one"
        );
        let tables: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('access_tokens', 'auth_cache')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 2, "version 2's access tables");
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sessions WHERE id = 's1' AND vehicle IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "the session is still there, with the new column");
        let old = Connection::open(&backup).unwrap();
        assert_eq!(
            version(&old).unwrap(),
            1,
            "the backup is the database before the migration"
        );
        let n: i64 = old
            .query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sitegate.db");
        let mut conn = v1_with_a_session(&path);
        let broken = "ALTER TABLE sessions ADD COLUMN vehicle TEXT; SELECT * FROM no_such_table;";
        let err = migrate_with(&mut conn, Some(&path), &[MIGRATIONS[0], broken]).unwrap_err();
        assert!(matches!(err, StoreError::Migration { to: 2, .. }), "{err}");
        assert_eq!(version(&conn).unwrap(), 1);
        let added: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('sessions') WHERE name = 'vehicle'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(added, 0, "the half-done migration was rolled back");
    }
}
