//! One socket as data: the live snapshot's readings and session, the socket's last sessions
//! from SQLite, and the actions the account may take now. The page (`html`) and
//! `GET /api/v1/sockets/{id}` both render this one value. Reads only.

use serde::Serialize;

use super::{Control, find};
use crate::core::SocketSnapshot;
use crate::store::roles::Action;
use crate::web::i18n::state_words;
use crate::web::page::Ctx;
use crate::web::state::{AppState, DbError};

/// How many past sessions the page lists.
const HISTORY: u32 = 20;

/// The socket as its page shows it and `GET /api/v1/sockets/{id}` serialises it.
#[derive(Debug, Clone, Serialize)]
pub struct SocketDetail {
    pub id: String,
    pub name: String,
    pub state: &'static str,
    pub words: &'static str,
    pub class: &'static str,
    pub out_of_service: bool,
    pub readings: LiveReadings,
    pub session: Option<CurrentSession>,
    /// The socket's last sessions, newest first (the running one included).
    pub history: Vec<PastSession>,
    /// The actions the signed-in account may take now (`out_of_service`, `return`, `stop`,
    /// `start`).
    pub actions: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveReadings {
    pub power_kw: Option<String>,
    pub current_a: [Option<String>; 3],
    pub voltage_v: [Option<String>; 3],
    /// The device's energy register.
    pub meter_kwh: Option<String>,
    /// Seconds in the current state.
    pub state_for_s: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CurrentSession {
    pub id: String,
    pub user: Option<String>,
    pub auth: &'static str,
    /// Site time, `YYYY-MM-DD HH:MM`; `None` before the clock was set.
    pub started: Option<String>,
    pub duration_s: u64,
    pub energy_kwh: String,
    /// Running cost, tax included, in `currency`.
    pub cost: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PastSession {
    pub id: String,
    pub user: Option<String>,
    pub started: Option<String>,
    pub stopped: Option<String>,
    pub energy_kwh: String,
    pub cost: Option<String>,
    pub currency: Option<String>,
    pub stop_reason: Option<String>,
}

fn local_time(app: &AppState, ms: Option<i64>) -> Option<String> {
    // Times before 2020 come from the Pi's unset clock: shown as unknown, never as 1970.
    let ms = ms.filter(|&ms| ms >= crate::clock::EARLIEST_PLAUSIBLE_MS)?;
    let at = chrono::DateTime::from_timestamp_millis(ms)?;
    Some(
        at.with_timezone(&app.inner.time_zone)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
    )
}

fn one_decimal(x: Option<f64>) -> Option<String> {
    x.map(|v| format!("{v:.1}"))
}

/// What `ctx`'s account may do on the socket now.
pub(super) fn allowed(ctx: &Ctx, s: &SocketSnapshot) -> Vec<&'static str> {
    if !ctx.may(Action::ControlSockets) {
        return Vec::new();
    }
    let mut actions = Vec::new();
    if s.view.out_of_service {
        actions.push(Control::Return.name());
    } else {
        actions.push(Control::OutOfService.name());
    }
    if s.view.session.is_some() {
        actions.push(Control::Stop.name());
    } else if !s.view.out_of_service {
        actions.push(Control::Start.name());
    }
    actions
}

async fn history(app: &AppState, socket: String) -> Result<Vec<PastSession>, DbError> {
    let rows = app
        .read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, identity, started_ms, stopped_ms, energy_wh, total_cost, currency,
                        stop_reason
                 FROM sessions WHERE socket_id = ?1 ORDER BY started_ms DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(rusqlite::params![socket, HISTORY], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, user, started, stopped, energy_wh, cost, currency, reason)| PastSession {
                id,
                user,
                started: local_time(app, Some(started)),
                stopped: local_time(app, stopped),
                energy_kwh: format!("{:.3}", energy_wh / 1000.0),
                cost,
                currency,
                stop_reason: reason,
            },
        )
        .collect())
}

/// The socket's detail for `ctx`'s account; `Ok(None)` for an unknown socket.
pub async fn build(app: &AppState, ctx: &Ctx, id: &str) -> Result<Option<SocketDetail>, DbError> {
    let Some((_, s)) = find(app, id) else {
        return Ok(None);
    };
    let (words, class) = state_words(ctx.lang, &s.view.state);
    let r = &s.view.readings;
    let session = s.view.session.as_ref().map(|x| CurrentSession {
        id: x.id.to_string(),
        user: x.identity.clone(),
        auth: x.auth.name(),
        started: local_time(app, Some(x.started.wall_ms)),
        duration_s: x.started.mono.elapsed().as_secs(),
        energy_kwh: format!("{:.3}", x.meter.energy_wh / 1000.0),
        cost: x
            .cost
            .as_ref()
            .map(|c| c.total_incl_tax.round_dp(2).to_string()),
        currency: x.cost.as_ref().map(|c| c.currency.clone()),
    });
    Ok(Some(SocketDetail {
        id: s.id.clone(),
        name: s.name.clone(),
        state: s.view.state.name(),
        words,
        class,
        out_of_service: s.view.out_of_service,
        readings: LiveReadings {
            power_kw: r.power_w.map(|w| format!("{:.2}", w / 1000.0)),
            current_a: r.current_a.map(one_decimal),
            voltage_v: r.voltage_v.map(one_decimal),
            meter_kwh: r.energy_wh.map(|wh| format!("{:.3}", wh / 1000.0)),
            state_for_s: s.view.since.elapsed().as_secs(),
        },
        session,
        history: history(app, s.id.clone()).await?,
        actions: allowed(ctx, &s),
    }))
}
