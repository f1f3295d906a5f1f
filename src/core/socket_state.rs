//! The state of a socket as managers see it, derived from its readings. Pure and synchronous:
//! the same readings always give the same state.

use std::fmt;

use super::readings::Readings;

/// What a socket is doing. The names in brackets are Sparklin Manager's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketState {
    /// The socket's device does not answer ("Non connecté").
    NotConnected,
    /// Free and ready for the next session ("Disponible").
    Available,
    /// A vehicle is plugged in but not allowed to charge (yet, or any more).
    Occupied,
    /// Energy flows ("En charge").
    Charging,
    /// Allowed to charge, but the vehicle draws nothing (full, or waiting).
    SuspendedEV,
    /// The device reports a fault, with its code.
    Faulted { code: String },
    /// Taken out of service by a manager; survives restarts.
    Disabled,
}

impl SocketState {
    pub fn name(&self) -> &'static str {
        match self {
            SocketState::NotConnected => "NotConnected",
            SocketState::Available => "Available",
            SocketState::Occupied => "Occupied",
            SocketState::Charging => "Charging",
            SocketState::SuspendedEV => "SuspendedEV",
            SocketState::Faulted { .. } => "Faulted",
            SocketState::Disabled => "Disabled",
        }
    }
}

impl fmt::Display for SocketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketState::Faulted { code } => write!(f, "Faulted ({code})"),
            other => f.write_str(other.name()),
        }
    }
}

/// How readings become a state, per profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StateRules {
    /// Power above which a socket counts as charging (W). Meters read a few watts of noise,
    /// and the electronics of a plugged vehicle draw some standby power.
    pub charging_threshold_w: f64,
}

impl Default for StateRules {
    fn default() -> Self {
        StateRules {
            charging_threshold_w: 50.0,
        }
    }
}

/// Whether a vehicle is there, and whether energy flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    pub plugged: bool,
    pub flowing: bool,
}

pub fn presence(readings: &Readings, rules: StateRules) -> Presence {
    let flowing = match readings.power_w {
        Some(w) => w > rules.charging_threshold_w,
        // Without a meter, trust the pilot.
        None => readings.vehicle.is_some_and(|v| v.charging()),
    };
    let plugged = match (readings.vehicle, readings.plug) {
        (Some(v), _) => v.plugged(),
        (None, Some(p)) => p,
        // No plug sensor (a plain socket with a meter): only energy flowing proves a plug. A
        // closed relay with nothing drawn is an empty socket ready for use, not a vehicle.
        (None, None) => flowing,
    };
    Presence { plugged, flowing }
}

/// Whether the hardware can tell a vehicle is plugged before it draws (pilot or plug sensor).
pub fn senses_plug(readings: &Readings) -> bool {
    readings.vehicle.is_some() || readings.plug.is_some()
}

/// Derives the state of a reachable socket and says why, in words for the log.
///
/// Order matters: a fault outranks everything the device reports; a manager's "out of service"
/// outranks the vehicle; then plug, flow, permission.
pub fn derive(readings: &Readings, disabled: bool, rules: StateRules) -> (SocketState, String) {
    if let Some(code) = &readings.fault {
        return (
            SocketState::Faulted { code: code.clone() },
            format!("device reports fault {code}"),
        );
    }
    if let Some(v) = readings.vehicle.filter(|v| v.is_error()) {
        return (
            SocketState::Faulted {
                code: v.name().to_string(),
            },
            format!("pilot state {v}"),
        );
    }
    if disabled {
        return (SocketState::Disabled, "out of service".to_string());
    }
    let power = readings.power_w;
    let Presence { plugged, flowing } = presence(readings, rules);
    if !plugged {
        return (SocketState::Available, "no vehicle".to_string());
    }
    if flowing {
        let why = match power {
            Some(w) => format!("drawing {:.0} W", w),
            None => "pilot says charging".to_string(),
        };
        return (SocketState::Charging, why);
    }
    let allowed = match readings.vehicle {
        Some(v) => v.offering(),
        None => readings.enabled.unwrap_or(false),
    };
    if allowed {
        (
            SocketState::SuspendedEV,
            "vehicle plugged, allowed, drawing nothing".to_string(),
        )
    } else {
        (
            SocketState::Occupied,
            "vehicle plugged, not allowed to charge".to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::VehicleState::*;

    fn state(r: Readings, disabled: bool) -> SocketState {
        derive(&r, disabled, StateRules::default()).0
    }

    fn station(v: crate::core::VehicleState, power: f64) -> Readings {
        Readings {
            vehicle: Some(v),
            power_w: Some(power),
            ..Readings::default()
        }
    }

    fn smart_socket(plug: bool, relay: bool, power: f64) -> Readings {
        Readings {
            plug: Some(plug),
            enabled: Some(relay),
            power_w: Some(power),
            ..Readings::default()
        }
    }

    #[test]
    fn station_pilot_states_map_to_socket_states() {
        assert_eq!(state(station(A, 0.0), false), SocketState::Available);
        assert_eq!(state(station(B1, 0.0), false), SocketState::Occupied);
        assert_eq!(state(station(B2, 0.0), false), SocketState::SuspendedEV);
        assert_eq!(state(station(C1, 0.0), false), SocketState::Occupied);
        assert_eq!(state(station(C2, 7200.0), false), SocketState::Charging);
        assert_eq!(state(station(C2, 0.0), false), SocketState::SuspendedEV);
        assert_eq!(
            state(station(F, 0.0), false),
            SocketState::Faulted { code: "F".into() }
        );
        assert_eq!(
            state(station(E, 0.0), false),
            SocketState::Faulted { code: "E".into() }
        );
    }

    #[test]
    fn smart_socket_states_come_from_plug_relay_and_power() {
        assert_eq!(
            state(smart_socket(false, false, 0.0), false),
            SocketState::Available
        );
        assert_eq!(
            state(smart_socket(true, false, 0.0), false),
            SocketState::Occupied
        );
        assert_eq!(
            state(smart_socket(true, true, 3600.0), false),
            SocketState::Charging
        );
        assert_eq!(
            state(smart_socket(true, true, 12.0), false),
            SocketState::SuspendedEV,
            "standby draw is not charging"
        );
    }

    #[test]
    fn a_meter_with_a_relay_and_no_plug_sensor() {
        let r = |relay: bool, power: f64| Readings {
            enabled: Some(relay),
            power_w: Some(power),
            ..Readings::default()
        };
        assert_eq!(state(r(false, 0.0), false), SocketState::Available);
        assert_eq!(state(r(true, 2300.0), false), SocketState::Charging);
        assert_eq!(
            state(r(true, 0.0), false),
            SocketState::Available,
            "no sensor: no proof of a plug"
        );
    }

    #[test]
    fn a_fault_outranks_out_of_service_which_outranks_the_vehicle() {
        let mut r = smart_socket(true, true, 3600.0);
        assert_eq!(state(r.clone(), true), SocketState::Disabled);
        r.fault = Some("2".into());
        assert_eq!(state(r, true), SocketState::Faulted { code: "2".into() });
    }
}
