//! Control commands: what a test, the demo scenario or the stdin control channel can do to a
//! simulated unit.
//!
//! Owns the command vocabulary and its JSON form (`{"cmd":"plug","vehicle_max_a":16,...}`).
//! Never executes anything: `unit.rs` applies physical and fault-injection commands, `sim.rs`
//! the bus-wide ones.

use serde::{Deserialize, Serialize};

fn default_vehicle_max_a() -> f64 {
    32.0
}
fn default_phases() -> u8 {
    3
}
fn default_wants_wh() -> f64 {
    20_000.0
}

/// One control command. `count` of the fault injections: how many of the next requests to the
/// unit it affects; absent or 0 means until `clear_faults_injected`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    /// A vehicle is plugged in: it draws at most `vehicle_max_a` per phase on `phases` (1 or 3)
    /// phases until it has taken `wants_wh`.
    Plug {
        #[serde(default = "default_vehicle_max_a")]
        vehicle_max_a: f64,
        #[serde(default = "default_phases")]
        phases: u8,
        #[serde(default = "default_wants_wh")]
        wants_wh: f64,
    },
    Unplug,
    /// The vehicle stops drawing and stays plugged (the "SuspendedEV" case).
    EvFull,
    /// A socket fault with a device-specific code (generic-socket: 1..5); stops the current.
    Fault {
        code: u16,
    },
    ClearFault,
    /// The energy register goes back to 0 (meter replaced).
    MeterReset,
    /// Sets what the energy register holds, in Wh (ABB: the session energy).
    SetEnergy {
        wh: f64,
    },
    /// Forces the power reading (frozen units only) until unfrozen or a physical command.
    SetPower {
        w: f64,
    },
    Slow {
        ms: u64,
        #[serde(default)]
        count: Option<u32>,
    },
    Silence {
        #[serde(default)]
        count: Option<u32>,
    },
    /// Random bytes instead of the response, or before it when `prefix` is true.
    Garbage {
        #[serde(default)]
        count: Option<u32>,
        #[serde(default)]
        prefix: bool,
    },
    /// RTU only: the response goes out with a wrong CRC.
    BadCrc {
        #[serde(default)]
        count: Option<u32>,
    },
    /// An exception response with `code` instead of the device's answer.
    Exception {
        code: u8,
        #[serde(default)]
        count: Option<u32>,
    },
    ClearFaultsInjected,
    /// TCP only: closes every open connection of the unit's bus.
    DropConnections,
    Freeze,
    Unfreeze,
    /// Steps the unit's physics by hand (works frozen or not).
    Advance {
        ms: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form() {
        let c: Command =
            serde_json::from_str(r#"{"cmd":"plug","vehicle_max_a":16,"phases":1}"#).unwrap();
        assert_eq!(
            c,
            Command::Plug {
                vehicle_max_a: 16.0,
                phases: 1,
                wants_wh: 20_000.0
            }
        );
        let c: Command = serde_json::from_str(r#"{"cmd":"exception","code":4,"count":2}"#).unwrap();
        assert_eq!(
            c,
            Command::Exception {
                code: 4,
                count: Some(2)
            }
        );
        assert_eq!(
            serde_json::to_string(&Command::ClearFaultsInjected).unwrap(),
            r#"{"cmd":"clear_faults_injected"}"#
        );
    }
}
