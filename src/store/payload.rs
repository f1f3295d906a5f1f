//! The JSON carried by outbox and update rows: the wire format central receives (version 1).
//! Built from domain types here, at write time, so that what leaves the site is exactly what
//! was committed. Domain types are not `Serialize`; this mapping is the contract.

use serde_json::{Value, json};

use crate::core::session::Session;
use crate::core::time::Stamp;

/// Timestamps travel as RFC 3339 UTC with a flag when the clock was not yet trusted.
pub fn time(stamp: &Stamp) -> Value {
    json!({ "utc": rfc3339(stamp.wall_ms), "clock_trusted": stamp.trusted })
}

pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

pub fn session(s: &Session, socket_id: &str) -> Value {
    json!({
        "session_id": s.id.to_string(),
        "socket": socket_id,
        "identity": s.identity,
        "auth_method": s.auth.name(),
        "started": time(&s.started),
        "stopped": s.stopped.as_ref().map(time),
        "meter_start_wh": s.meter_start_wh,
        "meter_stop_wh": s.meter_stop_wh(),
        "energy_wh": round3(s.meter.energy_wh),
        "charging_s": s.charging.as_secs(),
        "idle_s": s.idle.as_secs(),
        "stop_reason": s.stop_reason.map(|r| r.name()),
        "offline": s.offline,
        "failed": s.failed,
        "phase": s.phase.name(),
        "tariff_id": s.tariff_id,
        "cost": s.cost.as_ref().map(|c| json!({
            "currency": c.currency,
            "total_excl_tax": c.total_excl_tax.to_string(),
            "total_incl_tax": c.total_incl_tax.to_string(),
            "breakdown": serde_json::from_str::<Value>(&c.breakdown).unwrap_or(Value::Null),
        })),
    })
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
