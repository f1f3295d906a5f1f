//! The Access page's values: what central synced (users paged and searched with
//! `store::access::browse`, communities, tariffs, promotions) as the page and the API show
//! them. Never writes.

use serde::{Deserialize, Serialize};

use crate::core::access::{CommunityKind, Credit, SiteRules, User};
use crate::web::error::WebError;
use crate::web::form::Refusals;
use crate::web::i18n::Lang;
use crate::web::state::AppState;

/// Users per page.
pub const PER_PAGE: u32 = 50;

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct UsersQuery {
    pub(super) q: Option<String>,
    pub(super) page: Option<String>,
}

/// A synced user as shown.
#[derive(Debug, Clone, Serialize)]
pub struct UserLine {
    pub id: String,
    pub name: String,
    pub communities: Vec<String>,
    pub socket_access: bool,
    pub blocked: bool,
    /// Site-local `YYYY-MM-DD HH:MM`.
    pub active_until: Option<String>,
    /// limit or prepaid, with the amount left as a decision sees it.
    pub credit_kind: Option<&'static str>,
    pub credit: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserList {
    pub q: Option<String>,
    pub page: u64,
    pub pages: u64,
    pub per_page: u32,
    pub total: u64,
    pub version: u64,
    pub users: Vec<UserLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommunityLine {
    pub id: String,
    /// private or public.
    pub kind: &'static str,
    pub tariff: Option<String>,
    /// e.g. "Mon–Fri 07:00–19:00"; `None`: always.
    pub hours: Option<String>,
    pub at_this_site: bool,
    pub default: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishedLine {
    pub id: String,
    /// The document as central sent it.
    pub document: serde_json::Value,
}

/// Everything the page shows (each API twin serves one part).
#[derive(Debug, Clone, Serialize)]
pub struct AccessView {
    pub users: UserList,
    pub communities: Vec<CommunityLine>,
    pub tariffs: Vec<PublishedLine>,
    pub promotions: Vec<PublishedLine>,
}

fn local_time(app: &AppState, ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| {
        t.with_timezone(&app.inner.time_zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    })
}

fn user_line(app: &AppState, u: &User) -> UserLine {
    let (kind, amount) = match u.credit {
        Some(Credit::Limit(a)) => (Some("limit"), Some(a.to_string())),
        Some(Credit::Prepaid(a)) => (Some("prepaid"), Some(a.to_string())),
        None => (None, None),
    };
    UserLine {
        id: u.id.clone(),
        name: u.name.clone(),
        communities: u.communities.clone(),
        socket_access: u.socket_access,
        blocked: u.blocked,
        active_until: u.active_until_ms.and_then(|ms| local_time(app, ms)),
        credit_kind: kind,
        credit: amount,
    }
}

pub(super) fn parse_users_query(
    q: &UsersQuery,
    lang: Lang,
) -> Result<(Option<String>, u64), Refusals> {
    let search =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
    let mut errors = Refusals::default();
    if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
        errors.add(
            "q",
            lang.pick("at most 100 characters", "au plus 100 caractères"),
        );
    }
    let page = match q.page.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 1,
        Some(t) => match t.parse::<u64>() {
            Ok(p) if p >= 1 => p,
            _ => {
                errors.add(
                    "page",
                    lang.pick("a page number from 1", "un numéro de page à partir de 1"),
                );
                1
            }
        },
    };
    if errors.is_empty() {
        Ok((search, page))
    } else {
        Err(errors)
    }
}

pub(super) async fn users(
    app: &AppState,
    search: Option<String>,
    page: u64,
) -> Result<UserList, WebError> {
    let offset = (page - 1).saturating_mul(u64::from(PER_PAGE));
    let query = search.clone();
    let (found, version) = app
        .read(move |conn| {
            let found =
                crate::store::access::browse::users(conn, query.as_deref(), PER_PAGE, offset)?;
            Ok((found, crate::store::access::list_version(conn)?))
        })
        .await?;
    Ok(UserList {
        q: search,
        page,
        pages: found.total.div_ceil(u64::from(PER_PAGE)).max(1),
        per_page: PER_PAGE,
        total: found.total,
        version,
        users: found.users.iter().map(|u| user_line(app, u)).collect(),
    })
}

fn hours_text(h: &crate::core::access::Hours) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let days: Vec<&str> = DAYS
        .iter()
        .zip(h.days)
        .filter(|(_, on)| *on)
        .map(|(d, _)| *d)
        .collect();
    let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    format!("{} {}–{}", days.join(" "), hm(h.start_min), hm(h.end_min))
}

fn community_lines(rules: &SiteRules) -> Vec<CommunityLine> {
    let mut lines: Vec<CommunityLine> = rules
        .communities
        .values()
        .map(|c| CommunityLine {
            id: c.id.clone(),
            kind: match c.kind {
                CommunityKind::Private => "private",
                CommunityKind::Public => "public",
            },
            tariff: c.tariff.clone(),
            hours: c.hours.as_ref().map(hours_text),
            at_this_site: rules.site.communities.contains(&c.id),
            default: rules.site.default_community.as_ref() == Some(&c.id),
        })
        .collect();
    lines.sort_by(|a, b| a.id.cmp(&b.id));
    lines
}

pub(super) async fn communities(app: &AppState) -> Result<Vec<CommunityLine>, WebError> {
    let rules = app.read(crate::store::access::load_rules).await?;
    Ok(community_lines(&rules))
}

fn published(rows: Vec<(String, String)>) -> Vec<PublishedLine> {
    rows.into_iter()
        .map(|(id, json)| PublishedLine {
            id,
            document: serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json)),
        })
        .collect()
}

pub(super) async fn tariffs(app: &AppState) -> Result<Vec<PublishedLine>, WebError> {
    Ok(published(app.read(crate::store::access::tariffs).await?))
}

pub(super) async fn promotions(app: &AppState) -> Result<Vec<PublishedLine>, WebError> {
    Ok(published(app.read(crate::store::access::promotions).await?))
}
