//! The JSON of up messages (docs/mqtt.md): record envelopes, site and socket states,
//! telemetry, results and authorization questions. Built from what the daemon publishes
//! (snapshots, store records); pure, the caller passes the time.

use serde_json::{Value, json};

use crate::core::site::SocketView;
use crate::store::outbox::Record;

use crate::store::payload_time as rfc3339;

/// An `events` or `updates` record with its envelope. The body is embedded as committed (an
/// unparsable body, which the store never writes, travels as a string rather than being lost).
pub fn record(r: &Record) -> Vec<u8> {
    let body: Value =
        serde_json::from_str(&r.payload).unwrap_or_else(|_| Value::String(r.payload.clone()));
    json!({
        "seq": r.seq,
        "id": r.id,
        "type": r.kind,
        "at": {"utc": rfc3339(r.at_ms), "clock_trusted": r.trusted},
        "offline": r.offline,
        "body": body,
    })
    .to_string()
    .into_bytes()
}

/// The site's retained state: the birth message.
pub fn site_online(site: &str, name: &str, now_ms: i64) -> Vec<u8> {
    json!({
        "status": "online",
        "site": site,
        "name": name,
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": 1,
        "at": rfc3339(now_ms),
    })
    .to_string()
    .into_bytes()
}

/// The last will, and what a clean stop publishes.
pub fn site_offline() -> Vec<u8> {
    br#"{"status":"offline"}"#.to_vec()
}

/// A socket's retained state: what a display or central shows of it.
pub fn socket_state(socket: &str, view: &SocketView, now_ms: i64) -> Vec<u8> {
    let (state, fault) = match &view.state {
        crate::core::socket_state::SocketState::Faulted { code } => {
            (view.state.name(), Some(code.as_str()))
        }
        other => (other.name(), None),
    };
    let session = view.session.as_ref().map(|s| {
        json!({
            "session_id": s.id.to_string(),
            "user": s.identity,
            "started": rfc3339(s.started.wall_ms),
            "energy_wh": (s.meter.energy_wh * 1000.0).round() / 1000.0,
            "cost": s.cost.as_ref().map(|c| json!({
                "currency": c.currency,
                "total_incl_tax": c.total_incl_tax.to_string(),
            })),
        })
    });
    json!({
        "socket": socket,
        "state": state,
        "fault": fault,
        "out_of_service": view.out_of_service,
        "session": session,
        "at": rfc3339(now_ms),
    })
    .to_string()
    .into_bytes()
}

/// A socket's latest readings (never queued: a newer one supersedes it).
pub fn telemetry(socket: &str, view: &SocketView, now_ms: i64) -> Vec<u8> {
    let r = &view.readings;
    json!({
        "socket": socket,
        "power_w": r.power_w,
        "meter_wh": r.energy_wh,
        "current_a": r.current_a,
        "voltage_v": r.voltage_v,
        "setpoint_a": r.setpoint_a,
        "at": rfc3339(now_ms),
    })
    .to_string()
    .into_bytes()
}

/// How a command or a down message was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Accepted,
    Rejected,
    Expired,
    Duplicate,
    Refused,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Duplicate => "duplicate",
            Status::Refused => "refused",
        }
    }
}

/// A `results` message: `reference` is the down topic name, `command_id` set for commands.
pub fn result(
    reference: &str,
    command_id: Option<&str>,
    status: Status,
    reason: Option<&str>,
    detail: Option<&str>,
    now_ms: i64,
) -> Value {
    let mut v = json!({
        "ref": reference,
        "status": status.name(),
        "at": rfc3339(now_ms),
    });
    if let Some(id) = command_id {
        v["command_id"] = json!(id);
    }
    if let Some(r) = reason {
        v["reason"] = json!(r);
    }
    if let Some(d) = detail {
        v["detail"] = json!(d);
    }
    v
}

/// A question to central about a token neither listed nor cached.
pub fn authorize(request_id: &str, token: &crate::core::access::IdToken, socket: &str) -> Vec<u8> {
    json!({
        "request_id": request_id,
        "token": token.expose(),
        "token_hash": token.redacted(),
        "socket": socket,
    })
    .to_string()
    .into_bytes()
}
