//! The Sessions page's value: the filter a form or query asks for (validated, every refused
//! field named), one page of a period's sessions as `store::reports::listing` finds them
//! (running ones with the core's live figures), the list both the page and the API render.
//! Never writes.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::export::table::{hms, kwh, money};
use crate::store::reports::listing::{self, ListedSession, SessionPage};
use crate::store::reports::{Clock, Filter};
use crate::web::error::WebError;
use crate::web::form::Refusals;
use crate::web::i18n::Lang;
use crate::web::state::AppState;

/// Sessions per page.
pub const PER_PAGE: u32 = 50;

/// What the filter form sends; every field optional (empty means "not given").
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct FilterQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub user: Option<String>,
    pub socket: Option<String>,
    pub page: Option<String>,
}

pub(super) fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The site's today, for default periods.
pub(super) fn today(app: &AppState) -> NaiveDate {
    crate::clock::wall_utc()
        .with_timezone(&app.inner.time_zone)
        .date_naive()
}

pub(super) fn month_of(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).unwrap_or(day);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    (first, next.pred_opt().unwrap_or(first))
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| d.year() >= 2000 && d.year() <= 9999)
}

/// The filter the form asks for (this month when no period is given), and the page.
pub(super) fn parse_filter(
    q: &FilterQuery,
    today: NaiveDate,
    lang: Lang,
) -> Result<(Filter, u64), Refusals> {
    let mut errors = Refusals::default();
    let (month_from, month_to) = month_of(today);
    let bad_date = lang.pick("a date written YYYY-MM-DD", "une date écrite AAAA-MM-JJ");
    let from = match given(&q.from) {
        None => Some(month_from),
        Some(t) => parse_date(t).or_else(|| {
            errors.add("from", bad_date);
            None
        }),
    };
    let to = match given(&q.to) {
        None => Some(month_to),
        Some(t) => parse_date(t).or_else(|| {
            errors.add("to", bad_date);
            None
        }),
    };
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        errors.add(
            "to",
            lang.pick(
                "the period ends before it starts",
                "la période finit avant de commencer",
            ),
        );
    }
    let page = match given(&q.page) {
        None => Some(1),
        Some(t) => t.parse::<u64>().ok().filter(|p| *p >= 1).or_else(|| {
            errors.add(
                "page",
                lang.pick("a page number from 1", "un numéro de page à partir de 1"),
            );
            None
        }),
    };
    match (from, to, page) {
        (Some(from), Some(to), Some(page)) if errors.is_empty() => Ok((
            Filter {
                from,
                to,
                identity: given(&q.user).map(str::to_owned),
                socket: given(&q.socket).map(str::to_owned),
            },
            page,
        )),
        _ => Err(errors),
    }
}

/// One session as the page and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionLine {
    pub id: String,
    /// Site-local `YYYY-MM-DD HH:MM:SS`; `None` when the clock was not set.
    pub start: Option<String>,
    /// `None` while running, or when the clock was not set.
    pub end: Option<String>,
    /// trusted, estimated or unknown: how far the times can be believed.
    pub clock: &'static str,
    pub socket: String,
    /// `None`: anonymous.
    pub user: Option<String>,
    pub energy_kwh: String,
    /// `h:mm:ss`; `None` while running or when it cannot be known.
    pub duration: Option<String>,
    pub cost: Option<String>,
    pub currency: Option<String>,
    pub stop_reason: Option<String>,
    pub running: bool,
}

impl SessionLine {
    fn of(listed: &ListedSession) -> SessionLine {
        let s = &listed.session;
        let time = |t: Option<chrono::NaiveDateTime>| {
            t.map(|t| t.format(crate::store::reports::LOCAL_FORMAT).to_string())
        };
        let clock = if listed.running {
            s.started.clock()
        } else {
            s.clock()
        };
        SessionLine {
            id: s.id.clone(),
            start: time(s.started.local_time()),
            end: if listed.running {
                None
            } else {
                time(s.stopped.local_time())
            },
            clock: match clock {
                Clock::Trusted => "trusted",
                Clock::Estimated => "estimated",
                Clock::Unknown => "unknown",
            },
            socket: s.socket_id.clone(),
            user: s.identity.clone(),
            energy_kwh: format!("{:.3}", kwh(s.energy_wh)),
            duration: if listed.running {
                None
            } else {
                s.duration_ms().map(hms)
            },
            cost: s.total_cost.map(|c| money(c).to_string()),
            currency: s.currency.clone(),
            stop_reason: s.stop_reason.clone(),
            running: listed.running,
        }
    }
}

/// The list: its filter, its page and the sessions on it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionList {
    pub from: String,
    pub to: String,
    pub user: Option<String>,
    pub socket: Option<String>,
    pub page: u64,
    pub pages: u64,
    pub per_page: u32,
    pub total: u64,
    pub sessions: Vec<SessionLine>,
}

/// Reads one page of sessions (the same function serves the page and the API).
pub(super) async fn build(
    app: &AppState,
    filter: Filter,
    page: u64,
) -> Result<SessionList, WebError> {
    let offset = (page - 1).saturating_mul(u64::from(PER_PAGE));
    let query = filter.clone();
    let found: SessionPage = app
        .read(move |conn| {
            listing::session_page(conn, &query, PER_PAGE, offset).map_err(report_error)
        })
        .await?;
    let mut sessions: Vec<SessionLine> = found.sessions.iter().map(SessionLine::of).collect();
    live_figures(app, &mut sessions);
    Ok(SessionList {
        from: filter.from.to_string(),
        to: filter.to.to_string(),
        user: filter.identity,
        socket: filter.socket,
        page,
        pages: found.total.div_ceil(u64::from(PER_PAGE)).max(1),
        per_page: PER_PAGE,
        total: found.total,
        sessions,
    })
}

/// A running session's stored energy and cost are those of its last write; the core's live
/// view is fresher, so running lines show it.
fn live_figures(app: &AppState, lines: &mut [SessionLine]) {
    let sockets = app.inner.sockets.borrow();
    for line in lines.iter_mut().filter(|l| l.running) {
        let live = sockets
            .iter()
            .filter_map(|s| s.view.session.as_ref())
            .find(|x| x.id.to_string() == line.id);
        if let Some(session) = live {
            line.energy_kwh = format!("{:.3}", kwh(session.meter.energy_wh));
            if let Some(cost) = &session.cost {
                line.cost = Some(money(cost.total_incl_tax).to_string());
                line.currency = Some(cost.currency.clone());
            }
        }
    }
}

pub(super) fn report_error(e: crate::store::reports::ReportError) -> crate::store::StoreError {
    crate::store::StoreError::Failed(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn without_a_period_the_filter_is_this_month() {
        let (filter, page) =
            parse_filter(&FilterQuery::default(), date("2026-02-14"), Lang::En).unwrap();
        assert_eq!(
            (filter.from, filter.to),
            (date("2026-02-01"), date("2026-02-28"))
        );
        assert_eq!(page, 1);
    }

    #[test]
    fn bad_fields_are_named() {
        let q = FilterQuery {
            from: Some("2026-13-01".into()),
            to: Some("yesterday".into()),
            page: Some("0".into()),
            ..Default::default()
        };
        let errors = parse_filter(&q, date("2026-02-14"), Lang::En).unwrap_err();
        assert!(errors.get("from").is_some());
        assert!(errors.get("to").is_some());
        assert!(errors.get("page").is_some());
        let q = FilterQuery {
            from: Some("2026-03-01".into()),
            to: Some("2026-02-01".into()),
            ..Default::default()
        };
        let errors = parse_filter(&q, date("2026-02-14"), Lang::Fr).unwrap_err();
        assert_eq!(
            errors.get("to"),
            Some("la période finit avant de commencer")
        );
    }
}
