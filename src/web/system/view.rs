//! The system page's value (`System`): version, uptime, disk and database sizes, the clock's
//! trust as `clock` judges it, the uplink in one line, the ring's last log lines. The page and
//! `GET /api/v1/system` render it; `/metrics` reads the same sizes.

use std::path::{Path, PathBuf};

use crate::logging::ring::Line;
use crate::web::i18n::{Lang, Text, t};
use crate::web::state::AppState;

/// How many log lines the page shows (the ring keeps as many).
pub const LOG_LINES: usize = crate::logging::ring::CAPACITY;

/// Everything the system page shows; the API serialises it as is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct System {
    pub site: String,
    pub version: &'static str,
    pub uptime_s: u64,
    /// The database's pages (what SQLite uses of the main file).
    pub database_bytes: i64,
    /// The write-ahead log beside it (folded into the file at checkpoints).
    pub wal_bytes: u64,
    /// The state directory's filesystem; `None` when it cannot be read.
    pub disk: Option<Disk>,
    pub time_sync: TimeSync,
    /// The link to central in one line, in the request's language (`None` without `[uplink]`).
    pub uplink: Option<String>,
    /// The last log lines (info and above), newest first.
    pub log: Vec<Line>,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Disk {
    pub free_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TimeSync {
    pub synchronized: bool,
    /// `timesyncd` (its flag file) or `system-clock` (a plausible date).
    pub source: &'static str,
    pub words: &'static str,
}

/// Free and total bytes of the filesystem holding `dir` (what unprivileged writers may use).
pub(crate) fn disk_usage(dir: &Path) -> Option<Disk> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain old data; all-zero is a valid value for it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `st` a writable statvfs.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    (rc == 0).then(|| Disk {
        free_bytes: st.f_bavail as u64 * st.f_frsize as u64,
        total_bytes: st.f_blocks as u64 * st.f_frsize as u64,
    })
}

/// The WAL file's size (0 when there is none).
pub(crate) fn wal_bytes(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len())
}

/// Whether the wall clock is trusted: the daemon's own judgement (`clock`), which its records
/// carry.
pub(super) fn time_sync(clock: &crate::clock::Clock, lang: Lang) -> TimeSync {
    let synchronized = clock.now().trusted;
    let source = match clock.source() {
        crate::clock::TrustSource::Timesync(_) => "timesyncd",
        crate::clock::TrustSource::System => "system-clock",
    };
    let words = if synchronized {
        lang.pick("synchronized", "synchronisée")
    } else {
        lang.pick(
            "not synchronized: times are provisional",
            "non synchronisée : les heures sont provisoires",
        )
    };
    TimeSync {
        synchronized,
        source,
        words,
    }
}

/// The database's size in pages (what the existing API reported).
pub(super) async fn database_bytes(app: &AppState) -> Result<i64, crate::web::state::DbError> {
    app.read(|conn| {
        let page_count: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(page_count * page_size)
    })
    .await
}

fn uplink_line(app: &AppState, lang: Lang) -> Option<String> {
    let status = app.inner.uplink.as_ref()?.borrow().clone();
    let last = status
        .last_sync_ms
        .map(crate::wire::rfc3339)
        .unwrap_or_else(|| t(lang, Text::Never).to_string());
    Some(if status.connected {
        format!(
            "{}; {}: {last}; {} {}",
            t(lang, Text::Connected),
            t(lang, Text::LastSync),
            status.in_flight,
            lang.pick("events in flight", "événements en vol"),
        )
    } else {
        let why = status
            .last_error
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        format!(
            "{}{why}; {}: {last}",
            t(lang, Text::Disconnected),
            t(lang, Text::LastSync)
        )
    })
}

pub async fn build(app: &AppState, lang: Lang) -> Result<System, crate::web::state::DbError> {
    let database_bytes = database_bytes(app).await?;
    let db = app.db_path();
    Ok(System {
        site: app.inner.site_id.clone(),
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: app.inner.started.elapsed().as_secs(),
        database_bytes,
        wal_bytes: wal_bytes(db),
        disk: db.parent().and_then(disk_usage),
        time_sync: time_sync(&app.inner.clock, lang),
        uplink: uplink_line(app, lang),
        log: crate::logging::ring().recent(LOG_LINES),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_of_a_directory_is_read() {
        let d = disk_usage(Path::new("/")).expect("statvfs of /");
        assert!(d.total_bytes >= d.free_bytes && d.total_bytes > 0);
    }
}
