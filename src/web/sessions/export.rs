//! The Sessions page's exports: the filter's completed sessions as `export`'s expense notes
//! (one section per user), CSV or XLSX, as an attachment. Needs the Export right; the layouts
//! and writers are `export`'s own. Never writes to the database.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::view::{FilterQuery, parse_filter, report_error, today};
use crate::store::roles::Action;
use crate::web::error::WebError;
use crate::web::page::Ctx;
use crate::web::state::AppState;

#[derive(Clone, Copy)]
enum ExportKind {
    Csv,
    Xlsx,
}

pub(super) async fn csv(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<FilterQuery>,
) -> Result<Response, WebError> {
    export(app, ctx, q, ExportKind::Csv).await
}

pub(super) async fn xlsx(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<FilterQuery>,
) -> Result<Response, WebError> {
    export(app, ctx, q, ExportKind::Xlsx).await
}

/// The filter's completed sessions as `export`'s expense notes (one section per user), as an
/// attachment.
async fn export(
    app: AppState,
    ctx: Ctx,
    q: FilterQuery,
    kind: ExportKind,
) -> Result<Response, WebError> {
    ctx.require(Action::Export)?;
    let (filter, _) = parse_filter(&q, today(&app), ctx.lang)?;
    let site = crate::export::SiteInfo {
        name: app.inner.site_name.clone(),
        time_zone: app.inner.time_zone,
    };
    let query = filter.clone();
    let written = app
        .read(move |conn| {
            let period = crate::export::Period::new(query.from, query.to)
                .map_err(|e| crate::store::StoreError::Failed(e.to_string()))?;
            let sessions = crate::store::reports::sessions(conn, &query).map_err(report_error)?;
            let table = crate::export::layout::expenses(&site, period, &sessions);
            let format = match kind {
                ExportKind::Csv => crate::export::Format::Csv { bom: true },
                ExportKind::Xlsx => crate::export::Format::Xlsx,
            };
            let mut out = Vec::new();
            crate::export::write(table, format, &mut out)
                .map_err(|e| crate::store::StoreError::Failed(e.to_string()))?;
            Ok(out)
        })
        .await;
    let bytes = written?;
    let (extension, content_type) = match kind {
        ExportKind::Csv => ("csv", "text/csv; charset=utf-8"),
        ExportKind::Xlsx => (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    };
    // Dates and the site id only: nothing in the name needs quoting.
    let name = format!(
        "sessions-{}-{}-{}.{extension}",
        safe_name(&app.inner.site_id),
        filter.from,
        filter.to
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A file-name piece of ASCII letters, digits, `-` and `_`.
fn safe_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
