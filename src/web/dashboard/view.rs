//! The manager's dashboard as data: Sparklin's indicators for the site (sockets, active
//! sockets, users, month-to-date cost, hours of charge, energy), a tile per socket, and the
//! uplink's state. The HTML page and `GET /api/v1/dashboard` both render this one value.

use serde::Serialize;

use crate::core::SocketSnapshot;
use crate::store::outbox::Stream;
use crate::web::i18n::{Lang, state_words};
use crate::web::state::{AppState, DbError};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dashboard {
    pub site_id: String,
    pub site_name: String,
    pub indicators: Indicators,
    pub sockets: Vec<SocketTile>,
    /// `None` when the site has no `[uplink]`.
    pub uplink: Option<UplinkView>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Indicators {
    pub sockets: usize,
    /// With a session running.
    pub active_sockets: usize,
    /// Users on the access list.
    pub users: u64,
    /// Sessions started this month (site time).
    pub month_sessions: u64,
    pub month_energy_kwh: String,
    pub month_hours_of_charge: String,
    /// Sum of the priced sessions of the month, tax included; `None` before any is priced.
    pub month_total_cost: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SocketTile {
    pub id: String,
    pub name: String,
    /// The state's name (`Charging`...), and in words in the page's language.
    pub state: &'static str,
    pub words: &'static str,
    /// CSS class that colours it.
    pub class: &'static str,
    pub power_kw: Option<String>,
    pub session: Option<SessionTile>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionTile {
    pub id: String,
    pub user: Option<String>,
    pub energy_kwh: String,
    pub cost: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UplinkView {
    pub connected: bool,
    /// RFC 3339.
    pub last_sync: Option<String>,
    pub events_waiting: u64,
    pub access_list_version: u64,
    pub tariffs_version: u64,
    pub refused: u64,
    pub last_error: Option<String>,
}

/// The tiles of the live grid (no database read: cheap enough for every SSE update).
pub fn tiles(sockets: &[SocketSnapshot], lang: Lang) -> Vec<SocketTile> {
    sockets
        .iter()
        .map(|s| {
            let (words, class) = state_words(lang, &s.view.state);
            SocketTile {
                id: s.id.clone(),
                name: s.name.clone(),
                state: s.view.state.name(),
                words,
                class,
                power_kw: s
                    .view
                    .readings
                    .power_w
                    .map(|w| format!("{:.2}", w / 1000.0)),
                session: s.view.session.as_ref().map(|x| SessionTile {
                    id: x.id.to_string(),
                    user: x.identity.clone(),
                    energy_kwh: format!("{:.3}", x.meter.energy_wh / 1000.0),
                    cost: x
                        .cost
                        .as_ref()
                        .map(|c| format!("{} {}", c.total_incl_tax, c.currency)),
                }),
            }
        })
        .collect()
}

/// The whole dashboard, with the month's figures and the uplink's state from the database.
pub async fn build(app: &AppState, lang: Lang) -> Result<Dashboard, DbError> {
    let inner = &app.inner;
    let sockets = inner.sockets.borrow().clone();
    let today = crate::clock::wall_utc()
        .with_timezone(&inner.time_zone)
        .date_naive();
    let (users, month, waiting, list_version, tariffs_version) = app
        .read(move |conn| {
            let users: i64 =
                conn.query_row("SELECT count(*) FROM access_users", [], |r| r.get(0))?;
            let month = crate::store::reports::month_to_date(conn, today)
                .map_err(|e| crate::store::StoreError::Failed(e.to_string()))?;
            let waiting = crate::store::outbox::depth(conn, Stream::Events)?.0;
            let list = crate::store::access::list_version(conn)?;
            let tariffs = crate::store::access::published_version(conn, "tariffs")?;
            Ok((users as u64, month, waiting, list, tariffs))
        })
        .await?;
    let uplink = inner.uplink.as_ref().map(|u| {
        let s = u.borrow().clone();
        UplinkView {
            connected: s.connected,
            last_sync: s.last_sync_ms.map(crate::wire::rfc3339),
            events_waiting: waiting,
            access_list_version: list_version,
            tariffs_version,
            refused: s.refused,
            last_error: s.last_error,
        }
    });
    Ok(Dashboard {
        site_id: inner.site_id.clone(),
        site_name: inner.site_name.clone(),
        indicators: Indicators {
            sockets: sockets.len(),
            active_sockets: sockets.iter().filter(|s| s.view.session.is_some()).count(),
            users,
            month_sessions: month.sessions,
            month_energy_kwh: format!("{:.1}", month.energy_wh / 1000.0),
            month_hours_of_charge: format!("{:.1}", month.charging_ms as f64 / 3_600_000.0),
            month_total_cost: month.total_cost.map(|c| c.to_string()),
            currency: month.currency,
        },
        sockets: tiles(&sockets, lang),
        uplink,
    })
}
