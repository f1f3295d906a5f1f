//! What the daemon needs back at start: sessions left open (by a crash, a power cut or a normal
//! stop) with their last sample, and the sockets out of service.

use std::collections::BTreeSet;
use std::time::Duration;

use rusqlite::{Connection, params};
use uuid::Uuid;

use super::StoreError;
use super::writer::{Startup, StoreSetup};
use crate::core::session::{AuthMethod, MeterTrack, Phase, Session};
use crate::core::site::Recovered;
use crate::core::time::Stamp;

pub fn load(conn: &Connection, setup: &StoreSetup) -> Result<Startup, StoreError> {
    let out_of_service: BTreeSet<String> = conn
        .prepare("SELECT socket_id FROM out_of_service")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut recovered = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT id, socket_id, identity, auth_method, started_ms, started_trusted, meter_start_wh,
                energy_wh, charging_ms, idle_ms, offline, token, parent, tariff_id, promotion_id
         FROM sessions WHERE stopped_ms IS NULL ORDER BY started_ms",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, bool>(5)?,
            r.get::<_, Option<f64>>(6)?,
            r.get::<_, f64>(7)?,
            r.get::<_, i64>(8)?,
            r.get::<_, i64>(9)?,
            r.get::<_, bool>(10)?,
            r.get::<_, Option<String>>(11)?,
            r.get::<_, Option<String>>(12)?,
            r.get::<_, Option<String>>(13)?,
            r.get::<_, Option<String>>(14)?,
        ))
    })?;
    for row in rows {
        let (
            id,
            socket_id,
            identity,
            auth,
            started_ms,
            trusted,
            meter_start,
            energy,
            charging,
            idle,
            offline,
            token,
            parent,
            tariff_id,
            promotion_id,
        ) = row?;
        let Some(socket) = setup.socket_ids.iter().position(|s| *s == socket_id) else {
            log::warn!(
                "session {id} is open on socket {socket_id}, which is no longer configured: left open"
            );
            continue;
        };
        let Ok(id) = Uuid::parse_str(&id) else {
            continue;
        };
        // Times of an earlier run: the monotonic part is meaningless now, so it is set to this
        // run's start (durations then count from the recovery).
        let stamp = |wall_ms: i64, trusted: bool| Stamp {
            mono: setup.run_start,
            wall_ms,
            trusted,
        };
        let last: Option<(i64, bool, Option<f64>, f64, String, u32)> = conn
            .query_row(
                "SELECT at_ms, trusted, meter_wh, energy_wh, phase, seq FROM samples
                 WHERE at_ms >= ?2 AND session_id = ?1 ORDER BY seq DESC LIMIT 1",
                params![id.to_string(), started_ms],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .ok();
        let (last_sample, meter, phase, samples) = match last {
            Some((at, t, meter_wh, energy_wh, phase, seq)) => (
                Some(stamp(at, t)),
                MeterTrack {
                    last_wh: meter_wh.or(meter_start),
                    energy_wh,
                    anomalies: 0,
                },
                phase,
                seq + 1,
            ),
            None => (
                None,
                MeterTrack {
                    last_wh: meter_start,
                    energy_wh: energy,
                    anomalies: 0,
                },
                "idle".into(),
                0,
            ),
        };
        let session = Session {
            id,
            socket,
            identity,
            auth: AuthMethod::from_name(&auth).unwrap_or(AuthMethod::Free),
            started: stamp(started_ms, trusted),
            stopped: None,
            meter_start_wh: meter_start,
            meter,
            charging: Duration::from_millis(charging.max(0) as u64),
            idle: Duration::from_millis(idle.max(0) as u64),
            phase: phase_named(&phase),
            stop_reason: None,
            offline,
            failed: None,
            samples,
            token: token.and_then(|t| crate::core::access::IdToken::new(&t)),
            parent,
            tariff_id,
            promotion_id,
            cost: None,
        };
        let cost_samples = cost_samples(conn, &session.id.to_string(), started_ms)?;
        recovered.push(Recovered {
            session,
            last_sample,
            cost_samples,
        });
    }
    Ok(Startup {
        recovered,
        out_of_service,
        backup: None,
    })
}

/// An open session's samples as its cost needs them (time, energy, phase), in order.
fn cost_samples(
    conn: &Connection,
    session: &str,
    started_ms: i64,
) -> Result<Vec<crate::core::pricing::CostSample>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT at_ms, energy_wh, phase FROM samples
         WHERE at_ms >= ?2 AND session_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![session, started_ms], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, f64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut samples = Vec::new();
    for row in rows {
        let (at_ms, energy_wh, phase) = row?;
        let Some(at) = chrono::DateTime::from_timestamp_millis(at_ms) else {
            continue;
        };
        samples.push(crate::core::pricing::CostSample {
            at,
            energy_wh: rust_decimal::Decimal::from_f64_retain(energy_wh)
                .unwrap_or_default()
                .round_dp(3),
            phase: phase_named(&phase),
        });
    }
    Ok(samples)
}

fn phase_named(name: &str) -> Phase {
    match name {
        "charging" => Phase::Charging,
        "suspended" => Phase::Suspended,
        "lost" => Phase::Lost,
        _ => Phase::Idle,
    }
}
