//! The up messages (docs/mqtt.md): the envelope of `events` and `updates` records around their
//! body as committed, the site's retained state (birth and last will), a socket's retained
//! state, telemetry, `results` and `authorize` questions. Pure: the caller passes the time.

use serde::Serialize;
use serde_json::value::RawValue;

use super::records::{At, rfc3339, round3};
use crate::core::access::IdToken;
use crate::core::site::SocketView;
use crate::core::socket_state::SocketState;

/// An `events` or `updates` record with its envelope. The body travels as the store committed
/// it, without being parsed into a value and written again (`RawValue` only checks that it is
/// JSON); a body that is not JSON, which the store never writes, travels as a string rather
/// than being lost.
#[derive(Debug, Serialize)]
struct Envelope<'a> {
    at: At,
    body: BodyText<'a>,
    id: &'a str,
    offline: bool,
    seq: u64,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum BodyText<'a> {
    Json(&'a RawValue),
    NotJson(&'a str),
}

/// One record as it leaves the site: its place in its stream, its id, its type, when it
/// happened and whether central was unreachable then, and its body as committed.
#[derive(Debug, Clone, Copy)]
pub struct RecordParts<'a> {
    pub seq: u64,
    pub id: &'a str,
    pub kind: &'a str,
    pub at_ms: i64,
    pub trusted: bool,
    pub offline: bool,
    pub body: &'a str,
}

/// The record's envelope, its body inside (docs/mqtt.md, "Envelope of up messages").
pub fn envelope(r: RecordParts<'_>) -> Vec<u8> {
    let body = match serde_json::from_str::<&RawValue>(r.body) {
        Ok(raw) => BodyText::Json(raw),
        Err(_) => BodyText::NotJson(r.body),
    };
    serde_json::to_vec(&Envelope {
        at: At::new(r.at_ms, r.trusted),
        body,
        id: r.id,
        offline: r.offline,
        seq: r.seq,
        kind: r.kind,
    })
    .expect("an envelope always serializes")
}

/// The site's retained state: the birth message.
#[derive(Debug, Serialize)]
struct SiteOnline<'a> {
    at: String,
    name: &'a str,
    protocol: u32,
    site: &'a str,
    status: &'static str,
    version: &'static str,
}

/// The birth message of site `site` named `name`.
pub fn site_online(site: &str, name: &str, now_ms: i64) -> Vec<u8> {
    serde_json::to_vec(&SiteOnline {
        at: rfc3339(now_ms),
        name,
        protocol: 1,
        site,
        status: "online",
        version: env!("CARGO_PKG_VERSION"),
    })
    .expect("a site state always serializes")
}

/// The last will, and what a clean stop publishes.
pub fn site_offline() -> Vec<u8> {
    br#"{"status":"offline"}"#.to_vec()
}

/// A socket's retained state: what a display or central shows of it. `at` is an RFC 3339
/// text here, as telemetry's, not a `Stamp` as records'.
#[derive(Debug, Serialize)]
struct SocketStateMessage<'a> {
    at: String,
    fault: Option<&'a str>,
    out_of_service: bool,
    session: Option<LiveSession<'a>>,
    socket: &'a str,
    state: &'static str,
}

#[derive(Debug, Serialize)]
struct LiveSession<'a> {
    cost: Option<LiveCost<'a>>,
    energy_wh: f64,
    session_id: String,
    started: String,
    user: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct LiveCost<'a> {
    currency: &'a str,
    total_incl_tax: String,
}

/// Socket `socket`'s retained state at `now_ms`.
pub fn socket_state(socket: &str, view: &SocketView, now_ms: i64) -> Vec<u8> {
    let fault = match &view.state {
        SocketState::Faulted { code } => Some(code.as_str()),
        _ => None,
    };
    let session = view.session.as_ref().map(|s| LiveSession {
        cost: s.cost.as_ref().map(|c| LiveCost {
            currency: &c.currency,
            total_incl_tax: c.total_incl_tax.to_string(),
        }),
        energy_wh: round3(s.meter.energy_wh),
        session_id: s.id.to_string(),
        started: rfc3339(s.started.wall_ms),
        user: s.identity.as_deref(),
    });
    serde_json::to_vec(&SocketStateMessage {
        at: rfc3339(now_ms),
        fault,
        out_of_service: view.out_of_service,
        session,
        socket,
        state: view.state.name(),
    })
    .expect("a socket state always serializes")
}

/// A socket's latest readings (never queued: a newer one supersedes it).
#[derive(Debug, Serialize)]
struct Telemetry<'a> {
    at: String,
    current_a: [Option<f64>; 3],
    meter_wh: Option<f64>,
    power_w: Option<f64>,
    setpoint_a: Option<f64>,
    socket: &'a str,
    voltage_v: [Option<f64>; 3],
}

/// Socket `socket`'s telemetry at `now_ms`.
pub fn telemetry(socket: &str, view: &SocketView, now_ms: i64) -> Vec<u8> {
    let r = &view.readings;
    serde_json::to_vec(&Telemetry {
        at: rfc3339(now_ms),
        current_a: r.current_a,
        meter_wh: r.energy_wh,
        power_w: r.power_w,
        setpoint_a: r.setpoint_a,
        socket,
        voltage_v: r.voltage_v,
    })
    .expect("telemetry always serializes")
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

/// A `results` message: `ref` is the down topic answered, `command_id` set for commands;
/// `version` (what an accepted message made current), `current` and `want` (a refused stale
/// one) only where they apply. Absent fields are left out, not null.
#[derive(Debug, Clone, Serialize)]
pub struct Answer<'a> {
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    command_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(rename = "ref")]
    reference: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    want: Option<&'static str>,
}

impl<'a> Answer<'a> {
    /// The answer to the message on `reference` (a command's: `command_id`).
    pub fn new(
        reference: &'a str,
        command_id: Option<&'a str>,
        status: Status,
        reason: Option<&'a str>,
        detail: Option<&'a str>,
        now_ms: i64,
    ) -> Answer<'a> {
        Answer {
            at: rfc3339(now_ms),
            command_id,
            current: None,
            detail,
            reason,
            reference,
            status: status.name(),
            version: None,
            want: None,
        }
    }

    /// With the version the accepted message made current.
    pub fn version(self, version: u64) -> Self {
        Answer {
            version: Some(version),
            ..self
        }
    }

    /// With the site's current version (a refused stale message).
    pub fn current(self, current: u64) -> Self {
        Answer {
            current: Some(current),
            ..self
        }
    }

    /// Asking central for a full access list (OCPP: after a stale differential).
    pub fn want_full_list(self) -> Self {
        Answer {
            want: Some("access/full"),
            ..self
        }
    }

    /// The answer as the uplink's `answer` takes it.
    pub fn into_value(self) -> serde_json::Value {
        serde_json::to_value(self).expect("an answer always serializes")
    }
}

/// A `results` message (see `Answer`), as a value.
pub fn result(
    reference: &str,
    command_id: Option<&str>,
    status: Status,
    reason: Option<&str>,
    detail: Option<&str>,
    now_ms: i64,
) -> serde_json::Value {
    Answer::new(reference, command_id, status, reason, detail, now_ms).into_value()
}

/// A question to central about a token neither listed nor cached.
#[derive(Debug, Serialize)]
struct Authorize<'a> {
    request_id: &'a str,
    socket: &'a str,
    token: &'a str,
    token_hash: String,
}

/// The question `request_id` about `token` badged at `socket`.
pub fn authorize(request_id: &str, token: &IdToken, socket: &str) -> Vec<u8> {
    serde_json::to_vec(&Authorize {
        request_id,
        socket,
        token: token.expose(),
        token_hash: token.redacted(),
    })
    .expect("a question always serializes")
}
