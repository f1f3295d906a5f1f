//! Ground truth: the exact physical state of a unit, the events that record every change of
//! it, and the sink that fans events out to subscribers and the JSON-lines log.
//!
//! Owns the types tests and benchmarks compare against (`Truth`, `TruthEvent`) and the
//! delivery of events. Never computes physics or register values: it only carries them.

use std::sync::Arc;
use tokio::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use crate::command::Command;
use crate::models::Model;

/// IEC 61851-1 control-pilot state: the letter is the vehicle's state, the digit says whether
/// the station offers current (2) or not (1). Units without a vehicle protocol (generic-socket,
/// SDM630 sockets) report the same states for the physical vehicle behind them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Iec61851 {
    A,
    B1,
    B2,
    C1,
    C2,
    E,
    F,
}

impl Iec61851 {
    /// The state as the Alfen mode-3 register spells it ("C2").
    pub fn as_str(self) -> &'static str {
        match self {
            Iec61851::A => "A",
            Iec61851::B1 => "B1",
            Iec61851::B2 => "B2",
            Iec61851::C1 => "C1",
            Iec61851::C2 => "C2",
            Iec61851::E => "E",
            Iec61851::F => "F",
        }
    }

    pub fn letter(self) -> char {
        self.as_str().as_bytes()[0] as char
    }

    /// 1 (no current offered) or 2 (offered); `None` for A, E, F.
    pub fn number(self) -> Option<u8> {
        self.as_str().as_bytes().get(1).map(|b| b - b'0')
    }
}

/// Where the current limit in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetpointSource {
    /// Written over Modbus and still valid.
    Modbus,
    /// The device's fallback: Alfen's safe current after the validity lapsed (or before any
    /// write), ABB's fallback limit after a communication timeout.
    Fallback,
    /// The device's power-on limit (ABB before the first write).
    Default,
}

/// The vehicle behind a socket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    /// Most current it draws per phase (A).
    pub max_a: f64,
    /// Phases it charges on (1 or 3).
    pub phases: u8,
    /// Energy it still wants (Wh); 0 once full.
    pub wants_wh: f64,
    /// Full: draws nothing, stays plugged.
    pub full: bool,
}

/// Exact state of one unit and what its registers hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub bus: String,
    pub unit: u8,
    pub model: Model,
    pub serial: String,
    /// The unit's simulated clock (ms): advances with the tick unless frozen, and by `advance`.
    pub clock_ms: u64,
    pub frozen: bool,
    pub plugged: bool,
    pub vehicle: Option<Vehicle>,
    /// `None` for units without a socket (relay module, Alfen station unit).
    pub state: Option<Iec61851>,
    /// Relay closed / station offering current (at least 6 A) / session not stopped.
    pub enabled: bool,
    /// generic-relay: each channel's relay (closed = true).
    pub relays: Vec<bool>,
    /// The charging-current limit in force (A) and where it comes from; `None` for devices
    /// without one (relay-switched sockets).
    pub setpoint_a: Option<f64>,
    pub setpoint_source: Option<SetpointSource>,
    /// The current the device offers the vehicle (A): Alfen 1206, ABB 0x400E; 0 when paused.
    pub offered_a: f64,
    /// The current the vehicle draws on each phase in use (A).
    pub current_a: f64,
    /// Phases in use (1 or 3).
    pub phases: u8,
    pub power_w: f64,
    /// What the device's energy register holds (Wh, exact): ABB the session energy, the others
    /// the meter total.
    pub energy_wh: f64,
    /// Energy since plug-in (Wh).
    pub session_wh: f64,
    /// Meter total (Wh): reset only by `meter_reset`.
    pub meter_wh: f64,
    /// Per phase L1..L3; `None` where the phase is not installed.
    pub voltages_v: [Option<f64>; 3],
    pub currents_a: [Option<f64>; 3],
    /// The fault or error code the device reports; 0 = none.
    pub fault: u16,
    /// Every request addressed to the unit.
    pub requests_received: u64,
    /// Requests answered with a normal (not exception, not mangled) response.
    pub requests_served: u64,
    /// Writes of the charging control (relay coil, Alfen 1210, ABB 0x4100) received.
    pub setpoint_writes: u64,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Change {
    Plugged {
        plugged: bool,
        vehicle: Option<Vehicle>,
    },
    State {
        state: Option<Iec61851>,
    },
    Enabled {
        enabled: bool,
    },
    Relay {
        channel: u16,
        closed: bool,
    },
    Setpoint {
        amps: Option<f64>,
        source: Option<SetpointSource>,
    },
    Offered {
        amps: f64,
    },
    Current {
        amps: f64,
        phases: u8,
    },
    Power {
        w: f64,
    },
    /// Emitted when the whole-Wh value changes or the register goes back.
    Energy {
        wh: f64,
    },
    Fault {
        code: u16,
    },
    Frozen {
        frozen: bool,
    },
    /// A control command the unit received (before its effects).
    Command {
        command: Command,
    },
}

/// One line of the ground-truth log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthEvent {
    /// Wall time since the simulator started (ms).
    pub t_ms: u64,
    /// The unit's simulated clock (ms): the deterministic time of the change.
    pub clock_ms: u64,
    pub bus: String,
    pub unit: u8,
    #[serde(flatten)]
    pub change: Change,
}

/// Fans events out to `subscribe()`rs and to the log writer task.
#[derive(Debug)]
pub(crate) struct EventSink {
    start: Instant,
    tx: broadcast::Sender<TruthEvent>,
    log: Option<mpsc::UnboundedSender<TruthEvent>>,
}

impl EventSink {
    pub(crate) fn new(log: Option<mpsc::UnboundedSender<TruthEvent>>) -> Arc<Self> {
        let (tx, _) = broadcast::channel(4096);
        Arc::new(EventSink {
            start: Instant::now(),
            tx,
            log,
        })
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<TruthEvent> {
        self.tx.subscribe()
    }

    pub(crate) fn emit(&self, bus: &str, unit: u8, clock_ms: u64, change: Change) {
        let event = TruthEvent {
            t_ms: self.start.elapsed().as_millis() as u64,
            clock_ms,
            bus: bus.to_string(),
            unit,
            change,
        };
        if let Some(log) = &self.log {
            // The writer is gone only while shutting down: nothing left to record then.
            let _ = log.send(event.clone());
        }
        // No subscriber is not an error.
        let _ = self.tx.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_spell_like_alfen() {
        assert_eq!(Iec61851::C2.as_str(), "C2");
        assert_eq!(Iec61851::C2.letter(), 'C');
        assert_eq!(Iec61851::B1.number(), Some(1));
        assert_eq!(Iec61851::F.number(), None);
        let e = TruthEvent {
            t_ms: 1,
            clock_ms: 2,
            bus: "a".into(),
            unit: 3,
            change: Change::Power { w: 11040.0 },
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"t_ms":1,"clock_ms":2,"bus":"a","unit":3,"what":"power","w":11040.0}"#
        );
    }
}
