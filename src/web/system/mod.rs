//! The system page (`/system`) and its JSON twin (`/api/v1/system`): version, uptime, disk and
//! database sizes, whether the clock is synchronised, the uplink in one line, the last log
//! lines, and the database backup download (`/system/backup`). Owns the `System` value both
//! render; never writes the database (the backup is SQLite's online copy into a temporary
//! file, made by `store::backup`).

use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};

use super::error::{Said, WebError};
use super::i18n::{Lang, Text, t};
use super::page::{Ctx, html_page};
use super::pages::layout;
use super::state::AppState;
use crate::logging::ring::Line;
use crate::store::roles::Action;

/// How many log lines the page shows (the ring keeps as many).
pub const LOG_LINES: usize = crate::logging::ring::CAPACITY;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/system", get(system))
        .route("/api/v1/system", get(system))
        .route("/system/backup", get(download_backup))
        .merge(super::metrics::routes())
}

/// The OpenAPI description of `GET /api/v1/system` (`openapi::document` includes it).
pub fn openapi_get() -> serde_json::Value {
    serde_json::json!({
        "summary": "Version, uptime, disk and database sizes, clock synchronisation, the uplink in one line, the last log lines (newest first). The backup itself is `GET /system/backup` (installers), metrics are `GET /metrics` (Prometheus text)",
        "responses": {"200": {"description": "System figures", "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["site", "version", "uptime_s", "database_bytes", "wal_bytes", "time_sync", "log"],
            "properties": {
                "site": {"type": "string"}, "version": {"type": "string"}, "uptime_s": {"type": "integer"},
                "database_bytes": {"type": "integer"}, "wal_bytes": {"type": "integer"},
                "disk": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {"free_bytes": {"type": "integer"}, "total_bytes": {"type": "integer"}}}]},
                "time_sync": {"type": "object", "properties": {
                    "synchronized": {"type": "boolean"},
                    "source": {"type": "string", "enum": ["timesyncd", "system-clock"]},
                    "words": {"type": "string"}
                }},
                "uplink": {"type": ["string", "null"], "description": "The link to central in one line, in the request's language; null without an uplink."},
                "log": {"type": "array", "maxItems": 100, "items": {"type": "object", "properties": {
                    "time": {"type": "string", "format": "date-time"},
                    "level": {"type": "string", "enum": ["ERROR", "WARN", "INFO"]},
                    "message": {"type": "string"},
                    "fields": {"type": "array", "items": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}]}}
                }}}
            }
        }}}}}
    })
}

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
pub(super) fn disk_usage(dir: &Path) -> Option<Disk> {
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
pub(super) fn wal_bytes(db: &Path) -> u64 {
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
pub(super) async fn database_bytes(app: &AppState) -> Result<i64, super::state::DbError> {
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
        .map(crate::store::payload_time)
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

pub async fn build(app: &AppState, lang: Lang) -> Result<System, super::state::DbError> {
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

/// 503 for what keeps the page or the backup from being made (logged).
fn unavailable(e: impl std::fmt::Display) -> WebError {
    WebError::unreadable(format!("system page: {e}"))
}

async fn system(State(app): State<AppState>, ctx: Ctx) -> Result<Response, WebError> {
    ctx.require(Action::View)?;
    let s = build(&app, ctx.lang).await.map_err(unavailable)?;
    Ok(ctx.reply(
        || html_page(StatusCode::OK, page(&ctx, &app.inner.site_name, &s)),
        || axum::Json(&s),
    ))
}

/// `12.3 MB`: sizes for people (decimal units, as disks are sold).
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human_duration(lang: Lang, s: u64) -> String {
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match (d, lang) {
        (0, _) => format!("{h} h {m:02} min"),
        (_, Lang::En) => format!("{d} d {h} h {m:02} min"),
        (_, Lang::Fr) => format!("{d} j {h} h {m:02} min"),
    }
}

pub fn page(ctx: &Ctx, site_name: &str, s: &System) -> Markup {
    let lang = ctx.lang;
    let title = t(lang, Text::System);
    let body = html! {
        h1 { (title) }
        dl class="facts" {
            dt { (lang.pick("Version", "Version")) }
            dd id="version" { (s.version) }
            dt { (lang.pick("Running for", "En marche depuis")) }
            dd { (human_duration(lang, s.uptime_s)) }
            dt { (lang.pick("Disk (state directory)", "Disque (répertoire d’état)")) }
            dd id="disk" {
                @match s.disk {
                    Some(d) => {
                        (human_bytes(d.free_bytes)) " " (lang.pick("free of", "libres sur")) " " (human_bytes(d.total_bytes))
                    }
                    None => "–",
                }
            }
            dt { (lang.pick("Database", "Base de données")) }
            dd id="database" {
                (human_bytes(s.database_bytes.max(0) as u64))
                " (" (lang.pick("write-ahead log", "journal d’écriture")) " " (human_bytes(s.wal_bytes)) ")"
            }
            dt { (lang.pick("Clock", "Horloge")) }
            dd id="time-sync" class=(if s.time_sync.synchronized { "ok" } else { "bad" }) { (s.time_sync.words) }
            dt { (t(lang, Text::Uplink)) }
            dd id="uplink" { (s.uplink.as_deref().unwrap_or(t(lang, Text::NoUplink))) }
        }
        @if ctx.may(Action::Backup) {
            h2 { (lang.pick("Backup", "Sauvegarde")) }
            p {
                (lang.pick(
                    "A consistent copy of the database (sessions, events not yet acknowledged by central, accounts, access lists), taken while the site runs.",
                    "Une copie cohérente de la base (sessions, événements pas encore acquittés par le central, comptes, listes d’accès), prise pendant que le site fonctionne.",
                ))
            }
            p { a class="button" href="/system/backup" download { (lang.pick("Download a database backup", "Télécharger une sauvegarde de la base")) } }
        }
        h2 id="log-title" { (lang.pick("Recent log lines", "Dernières lignes du journal")) }
        @if s.log.is_empty() {
            p { (lang.pick("No line yet.", "Aucune ligne pour l’instant.")) }
        } @else {
            div class="table-scroll" {
                table class="log" aria-labelledby="log-title" {
                    thead { tr {
                        th scope="col" { (lang.pick("Time (UTC)", "Heure (UTC)")) }
                        th scope="col" { (lang.pick("Level", "Niveau")) }
                        th scope="col" { (lang.pick("Message", "Message")) }
                    } }
                    tbody {
                        @for line in &s.log {
                            tr class={"level-" (line.level.to_ascii_lowercase())} {
                                td { time datetime=(line.time) { (line.time.get(11..19).unwrap_or(&line.time)) } }
                                td { (line.level) }
                                td {
                                    (line.message)
                                    @for (k, v) in &line.fields {
                                        " " span class="field" { (k.to_ascii_uppercase()) "=" (v) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(lang, title, site_name, Some(ctx), body)
}

/// Removes the temporary copy, whatever way the handler leaves.
struct TempBackup(PathBuf);

impl Drop for TempBackup {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            log::warn!(
                "web: cannot remove the temporary backup {}: {e}",
                self.0.display()
            );
        }
    }
}

/// `GET /system/backup`: SQLite's online copy into a temporary file in the state directory,
/// streamed as `sitegate-<site>-<UTC time>.sqlite3` and removed after. Installers only: the
/// copy holds every account's password hash and the whole access list, which a manager's
/// exports never show.
async fn download_backup(State(app): State<AppState>, ctx: Ctx) -> Result<Response, WebError> {
    ctx.require(Action::Backup)?;
    let db = app.db_path().to_path_buf();
    let name = crate::store::backup::file_name(&app.inner.site_id, crate::clock::wall_utc());
    let dir = db
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| unavailable("the database has no directory"))?;
    // The copy is as large as the database: refuse it rather than fill the disk the sessions
    // are written to (the store keeps a reserve of its own; this keeps twice the copy free).
    let needed = std::fs::metadata(&db).map_or(0, |m| m.len()) + wal_bytes(&db);
    if disk_usage(&dir).is_some_and(|d| d.free_bytes < needed.saturating_mul(3)) {
        log::warn!("web: backup download refused: not enough free disk for a copy");
        return Err(WebError::InsufficientStorage(Said::Text(
            ctx.lang
                .pick(
                    "not enough free disk for a copy of the database: use `sitegate backup` to another disk",
                    "pas assez d’espace disque pour une copie de la base : utilisez `sitegate backup` vers un autre disque",
                )
                .into(),
        )));
    }
    let temp = dir.join(format!(".download-{}", unique_temp_name()));
    let made = {
        let (db, temp) = (db.clone(), temp.clone());
        tokio::task::spawn_blocking(move || crate::store::backup::backup(&db, &temp)).await
    };
    let guard = TempBackup(temp.clone());
    made.map_err(unavailable)?.map_err(unavailable)?;
    let file = std::fs::File::open(&temp).map_err(unavailable)?;
    let length = file.metadata().map(|m| m.len()).ok();
    // The open file stays readable after its name is gone: removed now, nothing is left
    // behind even if the client never reads to the end.
    drop(guard);
    let body = Body::from_stream(read_in_chunks(file));
    log::info!("web: {} downloaded a database backup", ctx.session.username);
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/vnd.sqlite3"),
    );
    // Password hashes inside: no cache keeps a copy.
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if let Ok(v) = format!("attachment; filename=\"{name}\"").parse() {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(n) = length
        && let Ok(v) = n.to_string().parse()
    {
        headers.insert(header::CONTENT_LENGTH, v);
    }
    Ok(response)
}

/// The file's bytes as a stream, read by a blocking thread a chunk ahead of the client (a
/// channel of 4 chunks: full-policy, the reader waits; a client that leaves stops it).
fn read_in_chunks(
    mut file: std::fs::File,
) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<Vec<u8>>> {
    use std::io::Read;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut chunk = vec![0u8; 64 * 1024];
            let chunk = match file.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => {
                    chunk.truncate(n);
                    Ok(chunk)
                }
                Err(e) => Err(e),
            };
            let failed = chunk.is_err();
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A name no concurrent download shares.
fn unique_temp_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}.sqlite3",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_as_people_write_them() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(12_345_678), "12.3 MB");
        assert_eq!(human_duration(Lang::En, 90_061), "1 d 1 h 01 min");
        assert_eq!(human_duration(Lang::Fr, 3_660), "1 h 01 min");
    }

    #[test]
    fn the_disk_of_a_directory_is_read() {
        let d = disk_usage(Path::new("/")).expect("statvfs of /");
        assert!(d.total_bytes >= d.free_bytes && d.total_bytes > 0);
    }
}
