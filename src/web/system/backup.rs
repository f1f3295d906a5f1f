//! `GET /system/backup`: SQLite's online copy of the database into a temporary file in the
//! state directory, streamed and removed (installers only, `Action::Backup`: the copy holds
//! every account's password hash and the whole access list). Refused when the disk could not
//! hold twice the copy. Never writes the database.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::Response;

use super::unavailable;
use super::view::{disk_usage, wal_bytes};
use crate::store::roles::Action;
use crate::web::error::{Said, WebError};
use crate::web::page::Ctx;
use crate::web::state::AppState;

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
pub(super) async fn download_backup(
    State(app): State<AppState>,
    ctx: Ctx,
) -> Result<Response, WebError> {
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
