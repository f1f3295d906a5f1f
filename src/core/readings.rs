//! What one poll of a socket's devices says once decoded: physical quantities in W, Wh, V, A,
//! the vehicle's IEC 61851 state and the device's fault code. Pure data. A quantity the device
//! does not provide, or marks unavailable (0xFFFF, NaN), is `None`: never a number.

use std::fmt;

/// The control-pilot state of IEC 61851-1, as charging stations report it. The digit says
/// whether the station offers current (PWM on: `2`) or not (`1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VehicleState {
    /// No vehicle.
    A,
    /// Vehicle connected, not asking for energy; station does not offer current.
    B1,
    /// Vehicle connected, not asking for energy; station offers current.
    B2,
    /// Vehicle asks for energy; station does not offer current.
    C1,
    /// Vehicle asks for energy and the station offers it: charging.
    C2,
    /// As C1, with ventilation.
    D1,
    /// As C2, with ventilation.
    D2,
    /// No power to the pilot (station or supply fault).
    E,
    /// Station not available (error).
    F,
}

impl VehicleState {
    pub const ALL: [VehicleState; 9] = [
        VehicleState::A,
        VehicleState::B1,
        VehicleState::B2,
        VehicleState::C1,
        VehicleState::C2,
        VehicleState::D1,
        VehicleState::D2,
        VehicleState::E,
        VehicleState::F,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VehicleState::A => "A",
            VehicleState::B1 => "B1",
            VehicleState::B2 => "B2",
            VehicleState::C1 => "C1",
            VehicleState::C2 => "C2",
            VehicleState::D1 => "D1",
            VehicleState::D2 => "D2",
            VehicleState::E => "E",
            VehicleState::F => "F",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// A vehicle is connected.
    pub fn plugged(self) -> bool {
        !matches!(self, VehicleState::A | VehicleState::E | VehicleState::F)
    }

    /// The station offers current to the vehicle.
    pub fn offering(self) -> bool {
        matches!(self, VehicleState::B2 | VehicleState::C2 | VehicleState::D2)
    }

    /// The vehicle asks for energy and gets the offer: it should be drawing.
    pub fn charging(self) -> bool {
        matches!(self, VehicleState::C2 | VehicleState::D2)
    }

    /// The pilot reports an error of the station or its supply.
    pub fn is_error(self) -> bool {
        matches!(self, VehicleState::E | VehicleState::F)
    }
}

impl fmt::Display for VehicleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Per-phase values, L1 to L3.
pub type Phases = [Option<f64>; 3];

/// Decoded readings of one socket, possibly merged from several devices (a meter and a relay
/// module). Every field is optional: profiles provide different subsets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Readings {
    /// Pilot state, from stations that speak IEC 61851.
    pub vehicle: Option<VehicleState>,
    /// Plug sensor, from plain smart sockets.
    pub plug: Option<bool>,
    /// Relay closed or EVSE enabled, as read back from the device.
    pub enabled: Option<bool>,
    /// The device's fault code; `None` when it reports no fault or has no fault register.
    pub fault: Option<String>,
    /// Energy meter (Wh): lifetime on most devices, per session on some (see the profile).
    pub energy_wh: Option<f64>,
    /// Active power (W).
    pub power_w: Option<f64>,
    pub current_a: Phases,
    pub voltage_v: Phases,
    /// The current limit the device applies or was last given (A).
    pub setpoint_a: Option<f64>,
    pub serial: Option<String>,
}

impl Readings {
    /// Fills what `self` lacks from `other` (a socket made of a meter plus a relay module).
    pub fn merge(&mut self, other: Readings) {
        fn fill<T>(a: &mut Option<T>, b: Option<T>) {
            if a.is_none() {
                *a = b;
            }
        }
        fill(&mut self.vehicle, other.vehicle);
        fill(&mut self.plug, other.plug);
        fill(&mut self.enabled, other.enabled);
        fill(&mut self.fault, other.fault);
        fill(&mut self.energy_wh, other.energy_wh);
        fill(&mut self.power_w, other.power_w);
        for i in 0..3 {
            fill(&mut self.current_a[i], other.current_a[i]);
            fill(&mut self.voltage_v[i], other.voltage_v[i]);
        }
        fill(&mut self.setpoint_a, other.setpoint_a);
        fill(&mut self.serial, other.serial);
    }
}
