//! The bodies of the records central receives on `events` and `updates` (docs/mqtt.md,
//! "Envelope of up messages"; docs/asyncapi.yaml, `*Body`): sessions, socket states and
//! faults, availability, authorizations and the audit trail. The store makes them when it
//! commits the record, so what leaves the site is exactly what was committed.

use serde::Serialize;

use super::breakdown::Breakdown;
use crate::core::session::Session;
use crate::core::site::{Audit, ControlAudit};
use crate::core::time::Stamp;

/// A body of the outbox or of `updates`: its JSON is the record's `body`.
pub trait Body: Serialize {
    /// The body as committed (compact JSON).
    fn text(&self) -> String {
        serde_json::to_string(self).expect("a record body always serializes")
    }
}

/// RFC 3339 UTC with milliseconds (`2026-11-22T10:15:02.120Z`); empty for a time out of range.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Energy to the milliwatt-hour, as bodies carry it (and the database keeps it).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// When something happened, and whether the site's clock was trusted then (`Stamp` of
/// docs/asyncapi.yaml).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct At {
    clock_trusted: bool,
    utc: String,
}

impl At {
    pub fn new(wall_ms: i64, trusted: bool) -> At {
        At {
            clock_trusted: trusted,
            utc: rfc3339(wall_ms),
        }
    }

    pub fn of(stamp: &Stamp) -> At {
        At::new(stamp.wall_ms, stamp.trusted)
    }
}

/// A session as the site knows it: `session_started`, `session_updated`, `session_ended`.
/// `failed` is why central should refund (a fault code, "nothing delivered") or null.
#[derive(Debug, Serialize)]
pub struct SessionBody<'a> {
    auth_method: &'static str,
    charging_s: u64,
    cost: Option<CostJson<'a>>,
    energy_wh: f64,
    failed: Option<&'a str>,
    identity: Option<&'a str>,
    idle_s: u64,
    meter_start_wh: Option<f64>,
    meter_stop_wh: Option<f64>,
    offline: bool,
    phase: &'static str,
    session_id: String,
    socket: &'a str,
    started: At,
    stop_reason: Option<&'static str>,
    stopped: Option<At>,
    tariff_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct CostJson<'a> {
    breakdown: Breakdown<'a>,
    currency: &'a str,
    total_excl_tax: String,
    total_incl_tax: String,
}

impl<'a> SessionBody<'a> {
    /// `s` at socket `socket` (its id).
    pub fn new(s: &'a Session, socket: &'a str) -> SessionBody<'a> {
        SessionBody {
            auth_method: s.auth.name(),
            charging_s: s.charging.as_secs(),
            cost: s.cost.as_ref().map(|c| CostJson {
                breakdown: Breakdown::new(&c.breakdown, c.time_zone),
                currency: &c.currency,
                total_excl_tax: c.total_excl_tax.to_string(),
                total_incl_tax: c.total_incl_tax.to_string(),
            }),
            energy_wh: round3(s.meter.energy_wh),
            failed: s.failed.as_deref(),
            identity: s.identity.as_deref(),
            idle_s: s.idle.as_secs(),
            meter_start_wh: s.meter_start_wh,
            meter_stop_wh: s.meter_stop_wh(),
            offline: s.offline,
            phase: s.phase.name(),
            session_id: s.id.to_string(),
            socket,
            started: At::of(&s.started),
            stop_reason: s.stop_reason.map(|r| r.name()),
            stopped: s.stopped.as_ref().map(At::of),
            tariff_id: s.tariff_id.as_deref(),
        }
    }
}

impl Body for SessionBody<'_> {}

/// A socket's state change: `socket_state` (updates), or `fault` when it entered a fault.
#[derive(Debug, Serialize)]
pub struct SocketStateBody<'a> {
    at: At,
    reason: &'a str,
    socket: &'a str,
    state: &'a str,
}

impl<'a> SocketStateBody<'a> {
    pub fn new(socket: &'a str, state: &'a str, reason: &'a str, at: &Stamp) -> Self {
        SocketStateBody {
            at: At::of(at),
            reason,
            socket,
            state,
        }
    }
}

impl Body for SocketStateBody<'_> {}

/// A site fault: `fault` with the fault's name and the time, e.g. `disk_nearly_full`.
#[derive(Debug, Serialize)]
pub struct SiteFaultBody {
    fault: &'static str,
    utc: String,
}

impl SiteFaultBody {
    pub fn new(fault: &'static str, at_ms: i64) -> SiteFaultBody {
        SiteFaultBody {
            fault,
            utc: rfc3339(at_ms),
        }
    }
}

impl Body for SiteFaultBody {}

/// A socket taken out of service or returned: `socket_availability`.
#[derive(Debug, Serialize)]
pub struct AvailabilityBody<'a> {
    at: At,
    out_of_service: bool,
    socket: &'a str,
}

impl<'a> AvailabilityBody<'a> {
    pub fn new(socket: &'a str, out_of_service: bool, at: &Stamp) -> Self {
        AvailabilityBody {
            at: At::of(at),
            out_of_service,
            socket,
        }
    }
}

impl Body for AvailabilityBody<'_> {}

/// One authorization decision: `authorization`. The token only redacted.
#[derive(Debug, Serialize)]
pub struct AuthorizationBody<'a> {
    at: At,
    outcome: &'static str,
    reason: Option<&'static str>,
    sockets: Vec<&'a str>,
    source: Option<&'static str>,
    token: String,
    user: Option<&'a str>,
}

impl<'a> AuthorizationBody<'a> {
    /// `a` with its sockets' ids (`sockets`, in the audit's order).
    pub fn new(a: &'a Audit, sockets: Vec<&'a str>) -> Self {
        AuthorizationBody {
            at: At::of(&a.at),
            outcome: a.outcome,
            reason: a.reason,
            sockets,
            source: a.source,
            token: a.token.redacted(),
            user: a.user.as_deref(),
        }
    }
}

impl Body for AuthorizationBody<'_> {}

/// A control action of the web page or of the core's relay test: `control_audit`.
#[derive(Debug, Serialize)]
pub struct ControlAuditBody<'a> {
    action: &'static str,
    actor: Option<&'a str>,
    at: At,
    reason: Option<&'static str>,
    socket: &'a str,
    user: Option<&'a str>,
}

impl<'a> ControlAuditBody<'a> {
    /// `a` at socket `socket` (its id).
    pub fn new(a: &'a ControlAudit, socket: &'a str) -> Self {
        ControlAuditBody {
            action: a.action,
            actor: a.actor.as_deref(),
            at: At::of(&a.at),
            reason: a.reason,
            socket,
            user: a.user.as_deref(),
        }
    }
}

impl Body for ControlAuditBody<'_> {}

/// An installer's edit of the configuration file: `config_audit`.
#[derive(Debug, Serialize)]
pub struct ConfigAuditBody<'a> {
    action: &'a str,
    actor: &'a str,
    at: At,
    target: &'a str,
}

impl<'a> ConfigAuditBody<'a> {
    pub fn new(actor: &'a str, action: &'a str, target: &'a str, at: &Stamp) -> Self {
        ConfigAuditBody {
            action,
            actor,
            at: At::of(at),
            target,
        }
    }
}

impl Body for ConfigAuditBody<'_> {}

/// A local account created or changed: `account_audit`. `active_until` is there only for a
/// creation and a change of the last day (null: no end).
#[derive(Debug, Serialize)]
pub struct AccountAuditBody<'a> {
    action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    active_until: Option<Option<String>>,
    actor: &'a str,
    at: At,
    role: &'a str,
    username: &'a str,
}

impl<'a> AccountAuditBody<'a> {
    pub fn new(
        actor: &'a str,
        action: &'a str,
        username: &'a str,
        role: &'a str,
        at: &Stamp,
    ) -> Self {
        AccountAuditBody {
            action,
            active_until: None,
            actor,
            at: At::of(at),
            role,
            username,
        }
    }

    /// With the account's last day (Unix ms; `None`: no end).
    pub fn active_until(self, until_ms: Option<i64>) -> Self {
        AccountAuditBody {
            active_until: Some(until_ms.map(rfc3339)),
            ..self
        }
    }
}

impl Body for AccountAuditBody<'_> {}
