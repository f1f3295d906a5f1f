//! The accounts as the installer's pages and the API show them (`AccountRow`: never a
//! password hash), read through `store::accounts`, with the site's days (an account works
//! through the whole of its last day, in the site's time zone).

use chrono::{NaiveDate, TimeZone};
use serde::Serialize;

use crate::store::accounts::{self, Account, Language};
use crate::web::error::WebError;
use crate::web::page::Ctx;
use crate::web::state::AppState;

/// One account as the list shows it (never its password hash).
#[derive(Debug, Clone, Serialize)]
pub struct AccountRow {
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub active: bool,
    /// The last day it works (site time), `YYYY-MM-DD`; `None`: no end.
    pub active_until: Option<String>,
    /// `en`, `fr`; `None`: the browser's.
    pub language: Option<&'static str>,
    /// Site time of the last change, `YYYY-MM-DD HH:MM`.
    pub last_change: String,
    /// Active and not past its end date now.
    pub may_sign_in: bool,
}

pub(super) fn row(app: &AppState, a: &Account, now_ms: i64) -> AccountRow {
    let tz = app.inner.time_zone;
    AccountRow {
        username: a.username.clone(),
        display_name: a.display_name.clone(),
        role: a.role.as_str(),
        active: a.active,
        active_until: a.active_until_ms.map(|ms| last_day(tz, ms)),
        language: a.language.map(Language::as_str),
        last_change: chrono::DateTime::from_timestamp_millis(a.updated_ms)
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        may_sign_in: a.may_log_in(now_ms),
    }
}

/// An account works through the whole of its last day: it ends at the next midnight.
pub(super) fn end_of_day_ms(tz: chrono_tz::Tz, day: NaiveDate) -> Option<i64> {
    let next = day.succ_opt()?.and_hms_opt(0, 0, 0)?;
    tz.from_local_datetime(&next)
        .earliest()
        .map(|t| t.timestamp_millis())
}

pub(super) fn last_day(tz: chrono_tz::Tz, end_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(end_ms - 1)
        .map(|t| t.with_timezone(&tz).date_naive().to_string())
        .unwrap_or_default()
}

pub(super) fn now_ms() -> i64 {
    crate::clock::wall_ms()
}

pub(super) async fn all(app: &AppState) -> Result<Vec<AccountRow>, WebError> {
    let list = app.read(accounts::list).await?;
    let now = now_ms();
    Ok(list.iter().map(|a| row(app, a, now)).collect())
}

/// The account named `username`; 404 when there is none.
pub(super) async fn account_named(
    app: &AppState,
    ctx: &Ctx,
    username: &str,
) -> Result<Account, WebError> {
    let name = username.to_string();
    app.read(move |conn| accounts::by_username(conn, &name))
        .await?
        .ok_or_else(|| {
            ctx.not_found(
                ctx.lang
                    .pick("There is no such account.", "Ce compte n'existe pas."),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_works_through_its_last_day_in_the_sites_time_zone() {
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 3, 28).unwrap();
        let end = end_of_day_ms(tz, day).unwrap();
        // Midnight in Paris (UTC+1 that night) is 23:00 UTC.
        assert_eq!(
            chrono::DateTime::from_timestamp_millis(end)
                .unwrap()
                .to_rfc3339(),
            "2026-03-28T23:00:00+00:00"
        );
        assert_eq!(last_day(tz, end), "2026-03-28");
    }
}
