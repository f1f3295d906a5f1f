//! Backups of the database while the daemon runs, and their restore while it is stopped.
//! Owns the copy (SQLite's online backup API, so the copy is one consistent snapshot even
//! while the writer commits, WAL included) and the checks a restored file must pass (integrity,
//! a sitegate schema of a known version). Never touches a database that another process has
//! open when restoring, and never deletes the database it replaces (kept as
//! `<db>.before-restore`).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::migrations;

/// Where the replaced database is kept by a restore.
pub const BEFORE_RESTORE_SUFFIX: &str = ".before-restore";

/// Tables every sitegate database has (schema v1): a file without them is not ours.
const REQUIRED_TABLES: [&str; 3] = ["sessions", "outbox", "samples"];

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{path} is not a sitegate database: {why}")]
    NotOurs { path: PathBuf, why: String },
    #[error("{path} is damaged: {report}")]
    Damaged { path: PathBuf, report: String },
    #[error(
        "{path} is schema version {found}; this sitegate knows versions 1 to {supported}: upgrade sitegate"
    )]
    UnknownVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("the database {0} is in use (is the daemon running? `systemctl stop sitegate` first)")]
    InUse(PathBuf),
}

/// `sitegate-<site>-<UTC time>.sqlite3`: the name a backup is given (characters a file name
/// should not carry become `_`).
pub fn file_name(site_id: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let site: String = site_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("sitegate-{site}-{}.sqlite3", now.format("%Y%m%dT%H%M%SZ"))
}

/// Copies the database at `db` into `dest` (a new file, replaced if it exists) with the online
/// backup API, while the daemon may be writing. The copy is made beside `dest` and renamed
/// into place once complete, so `dest` is never half a database.
pub fn backup(db: &Path, dest: &Path) -> Result<(), BackupError> {
    let src = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(std::time::Duration::from_secs(5))?;
    let partial = sibling(dest, ".partial");
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let mut out = Connection::open(&partial)?;
        {
            let copy = rusqlite::backup::Backup::new(&src, &mut out)?;
            // All pages in one step: one read transaction, so the writer's commits meanwhile
            // neither restart the copy nor appear half in it.
            // Busy or locked (a checkpoint in progress) is retried, a bounded number of times.
            let mut tries = 0;
            loop {
                match copy.step(-1)? {
                    rusqlite::backup::StepResult::Done => break,
                    _ if tries < 50 => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    _ => return Err(BackupError::InUse(db.into())),
                }
            }
        }
        // One self-contained file: no WAL beside it.
        out.pragma_update(None, "journal_mode", "DELETE")?;
        drop(out);
        std::fs::File::open(&partial)?.sync_all()?;
        std::fs::rename(&partial, dest)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Whether `path` is a sound sitegate database this build can open: `PRAGMA integrity_check`
/// says ok, the schema version is known, the core tables exist. Returns the version.
pub fn check(path: &Path) -> Result<u32, BackupError> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
            BackupError::NotOurs {
                path: path.into(),
                why: e.to_string(),
            }
        })?;
    let not_ours = |why: String| BackupError::NotOurs {
        path: path.into(),
        why,
    };
    // A file that is not SQLite fails its first read.
    let report: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(|e| not_ours(e.to_string()))?;
    if report != ["ok"] {
        return Err(BackupError::Damaged {
            path: path.into(),
            report: report.join("; "),
        });
    }
    let found: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found == 0 || found > migrations::latest() {
        return Err(BackupError::UnknownVersion {
            path: path.into(),
            found,
            supported: migrations::latest(),
        });
    }
    for table in REQUIRED_TABLES {
        let present: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [table],
            |r| r.get(0),
        )?;
        if !present {
            return Err(not_ours(format!("it has no `{table}` table")));
        }
    }
    Ok(found)
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub version: u32,
    /// The database that was replaced, if there was one.
    pub kept: Option<PathBuf>,
}

/// Replaces the database at `db` with the backup `src` (the daemon stopped). Refuses a `src`
/// that fails `check`, and a `db` that another process has open. The replaced database, its
/// WAL folded in, is kept as `<db>.before-restore`; the daemon migrates an older backup at its
/// next start.
pub fn restore(db: &Path, src: &Path) -> Result<Restored, BackupError> {
    let version = check(src)?;
    // A fresh SD card may not have the state directory yet.
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let kept = if db.exists() {
        ensure_unused_and_fold_wal(db)?;
        let kept = sibling(db, BEFORE_RESTORE_SUFFIX);
        std::fs::rename(db, &kept)?;
        Some(kept)
    } else {
        None
    };
    for leftover in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(sibling(db, leftover));
    }
    let partial = sibling(db, ".restoring");
    std::fs::copy(src, &partial)?;
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, db)?;
    if let Some(dir) = db.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(Restored { version, kept })
}

/// Leaving WAL mode needs the only connection to the database: if any other process (the
/// daemon, a report) has it open, SQLite keeps WAL mode and we refuse. Leaving it also folds
/// the WAL into the file, so the kept copy is complete on its own.
fn ensure_unused_and_fold_wal(db: &Path) -> Result<(), BackupError> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(std::time::Duration::ZERO)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                BackupError::InUse(db.into())
            }
            _ => BackupError::Sqlite(e),
        })?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(BackupError::InUse(db.into()));
    }
    // A rollback-journal database is locked while another connection reads or writes it.
    conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")
        .map_err(|_| BackupError::InUse(db.into()))?;
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(dir: &Path) -> PathBuf {
        let path = dir.join(super::super::DB_FILE);
        let (conn, _) = super::super::open_writer(&path).unwrap();
        conn.execute("INSERT INTO counters (name, value) VALUES ('probe', 7)", [])
            .unwrap();
        path
    }

    fn probe(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT value FROM counters WHERE name = 'probe'", [], |r| {
                r.get(0)
            })
            .unwrap()
    }

    #[test]
    fn a_backup_taken_with_the_database_open_restores_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path());
        let live = Connection::open(&db).unwrap();
        let copy = dir.path().join("copy.sqlite3");
        backup(&db, &copy).unwrap();
        assert_eq!(check(&copy).unwrap(), migrations::latest());
        assert!(
            !sibling(&copy, "-wal").exists(),
            "the copy is a single file"
        );
        live.execute("UPDATE counters SET value = 8 WHERE name = 'probe'", [])
            .unwrap();

        // While the live database is open, a restore over it is refused.
        assert!(matches!(restore(&db, &copy), Err(BackupError::InUse(_))));
        drop(live);
        let restored = restore(&db, &copy).unwrap();
        assert_eq!(probe(&db), 7);
        let kept = restored.kept.unwrap();
        assert_eq!(
            probe(&kept),
            8,
            "the replaced database is kept, WAL included"
        );
    }

    #[test]
    fn a_file_that_is_not_a_sitegate_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database at all, just some words here").unwrap();
        assert!(matches!(check(&text), Err(BackupError::NotOurs { .. })));
        let other = dir.path().join("other.sqlite3");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); PRAGMA user_version = 1;")
            .unwrap();
        assert!(matches!(check(&other), Err(BackupError::NotOurs { .. })));
        let future = dir.path().join("future.sqlite3");
        Connection::open(&future)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); PRAGMA user_version = 99;")
            .unwrap();
        assert!(matches!(
            check(&future),
            Err(BackupError::UnknownVersion { found: 99, .. })
        ));
        let db = database(dir.path());
        assert!(restore(&db, &other).is_err());
        assert_eq!(probe(&db), 7, "a refused restore leaves the database alone");
    }

    #[test]
    fn backup_names_carry_the_site_and_utc_time() {
        let t = chrono::DateTime::from_timestamp(1_795_348_800, 0).unwrap();
        assert_eq!(
            file_name("site/1 a", t),
            "sitegate-site_1_a-20261122T120000Z.sqlite3"
        );
    }
}
