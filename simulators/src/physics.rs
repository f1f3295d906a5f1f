//! The physical model of one socket: the vehicle behind it, the current it draws, the power
//! and the energy meter.
//!
//! Owns the arithmetic of charging: applied current = min(offered limit, vehicle maximum,
//! socket rating) when the device enables it and the limit reaches the IEC 61851 minimum of 6 A;
//! power = current × voltage × phases in use; energy integrates power over simulated time until
//! the vehicle has what it wants. Never reads registers or clocks: the device model says what
//! it offers (`Offer`) and the unit says how much time passed.

use std::time::Duration;

use crate::truth::{Iec61851, Vehicle};

/// The smallest current a control pilot may offer (IEC 61851-1): below it the vehicle pauses.
pub const MIN_CURRENT_A: f64 = 6.0;

/// What the device offers the vehicle, derived from its registers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Offer {
    /// Relay closed / charging allowed.
    pub enabled: bool,
    /// Most current per phase (A).
    pub limit_a: f64,
    /// Phases the device lets the vehicle use (Alfen 1215).
    pub phases: u8,
    /// The device is in an error state (ABB communication timeout): pilot state F.
    pub error: bool,
}

impl Offer {
    /// Current actually offered: 0 when disabled or below the 6 A minimum.
    pub fn offered_a(&self) -> f64 {
        if self.enabled && !self.error && self.limit_a >= MIN_CURRENT_A {
            self.limit_a
        } else {
            0.0
        }
    }
}

/// One socket and what is plugged into it.
#[derive(Debug, Clone)]
pub(crate) struct Socket {
    /// Supply phases wired to the socket (1 or 3); the others read "unavailable".
    pub installed_phases: u8,
    pub voltage_v: f64,
    pub rated_a: f64,
    pub vehicle: Option<Vehicle>,
    /// Fault code; 0 = none. A fault stops the current.
    pub fault: u16,
    /// Meter per phase (Wh): the total is their sum.
    pub meter_wh: [f64; 3],
    /// Energy delivered since plug-in (Wh): the physical truth, whatever the registers say.
    pub session_wh: f64,
    /// What a per-session energy register (ABB) holds: `session_wh` until a meter reset.
    pub session_register_wh: f64,
    /// Whether the vehicle drew current in this session (a paused vehicle then shows C1, a
    /// vehicle that never started B1).
    pub charged_in_session: bool,
    /// `set_power` override of the reading (frozen units).
    pub forced_power_w: Option<f64>,
    // Derived by `update`:
    pub offer: Offer,
    pub current_a: f64,
    pub phases_in_use: u8,
    pub power_w: f64,
    pub state: Iec61851,
}

impl Socket {
    pub fn new(installed_phases: u8, voltage_v: f64, rated_a: f64) -> Self {
        Socket {
            installed_phases,
            voltage_v,
            rated_a,
            vehicle: None,
            fault: 0,
            meter_wh: [0.0; 3],
            session_wh: 0.0,
            session_register_wh: 0.0,
            charged_in_session: false,
            forced_power_w: None,
            offer: Offer {
                enabled: false,
                limit_a: 0.0,
                phases: 3,
                error: false,
            },
            current_a: 0.0,
            phases_in_use: installed_phases,
            power_w: 0.0,
            state: Iec61851::A,
        }
    }

    pub fn meter_total_wh(&self) -> f64 {
        self.meter_wh[0] + self.meter_wh[1] + self.meter_wh[2]
    }

    /// Recomputes current, power and pilot state from the vehicle and the device's offer.
    pub fn update(&mut self, offer: Offer) {
        self.offer = offer;
        let offered = offer.offered_a();
        let available = offered > 0.0 && self.fault == 0;
        self.phases_in_use = match self.vehicle {
            Some(v) if v.phases.min(self.installed_phases).min(offer.phases) < 3 => 1,
            Some(_) => 3,
            None => self.installed_phases,
        };
        self.current_a = match self.vehicle {
            Some(v) if available && !v.full => offered.min(v.max_a).min(self.rated_a),
            _ => 0.0,
        };
        self.power_w = self.current_a * self.voltage_v * f64::from(self.phases_in_use);
        if let Some(forced) = self.forced_power_w {
            self.power_w = forced;
            self.current_a = forced / (self.voltage_v * f64::from(self.phases_in_use));
        }
        self.state = match self.vehicle {
            None => Iec61851::A,
            Some(_) if self.fault != 0 || offer.error => Iec61851::F,
            Some(v) if v.full => {
                if available {
                    Iec61851::B2
                } else {
                    Iec61851::B1
                }
            }
            Some(_) if available => Iec61851::C2,
            Some(_) if self.charged_in_session => Iec61851::C1,
            Some(_) => Iec61851::B1,
        };
    }

    /// How long until the vehicle is full at the present power; `None` when not charging.
    pub fn time_to_full(&self) -> Option<Duration> {
        let v = self.vehicle?;
        if self.forced_power_w.is_some() || self.power_w <= 0.0 || v.full {
            return None;
        }
        Some(Duration::from_secs_f64(v.wants_wh / self.power_w * 3600.0))
    }

    /// Integrates the present power over `dt`. The caller calls `update` afterwards: a vehicle
    /// that became full then draws nothing.
    pub fn integrate(&mut self, dt: Duration) {
        if self.power_w <= 0.0 {
            return;
        }
        let mut wh = self.power_w * dt.as_secs_f64() / 3600.0;
        if self.forced_power_w.is_none()
            && let Some(v) = &mut self.vehicle
        {
            wh = wh.min(v.wants_wh);
            v.wants_wh -= wh;
            // Float residue of a step computed by `time_to_full` must not leave the vehicle
            // charging a femto-watt-hour for ever.
            if v.wants_wh < 1e-6 {
                v.wants_wh = 0.0;
                v.full = true;
            }
        }
        let per_phase = wh / f64::from(self.phases_in_use);
        for phase in self
            .meter_wh
            .iter_mut()
            .take(usize::from(self.phases_in_use))
        {
            *phase += per_phase;
        }
        self.session_wh += wh;
        self.session_register_wh += wh;
        self.charged_in_session = true;
    }

    /// Sets the meter total, spread evenly over the installed phases.
    pub fn set_meter_total(&mut self, wh: f64) {
        let n = usize::from(self.installed_phases);
        self.meter_wh = [0.0; 3];
        for phase in self.meter_wh.iter_mut().take(n) {
            *phase = wh / n as f64;
        }
    }

    /// Per-phase voltage; `None` where the phase is not installed.
    pub fn voltages(&self) -> [Option<f64>; 3] {
        std::array::from_fn(|i| (i < usize::from(self.installed_phases)).then_some(self.voltage_v))
    }

    /// Per-phase current: the applied current on the phases in use, 0 on idle installed
    /// phases, `None` where not installed.
    pub fn currents(&self) -> [Option<f64>; 3] {
        std::array::from_fn(|i| {
            if i >= usize::from(self.installed_phases) {
                None
            } else if i < usize::from(self.phases_in_use) {
                Some(self.current_a)
            } else {
                Some(0.0)
            }
        })
    }

    /// Per-phase power (W).
    pub fn powers(&self) -> [Option<f64>; 3] {
        let v = self.voltage_v;
        self.currents().map(|c| c.map(|c| c * v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(limit_a: f64) -> Offer {
        Offer {
            enabled: true,
            limit_a,
            phases: 3,
            error: false,
        }
    }

    fn plugged(max_a: f64, phases: u8, wants_wh: f64) -> Socket {
        let mut s = Socket::new(3, 230.0, 32.0);
        s.vehicle = Some(Vehicle {
            max_a,
            phases,
            wants_wh,
            full: false,
        });
        s
    }

    #[test]
    fn current_is_the_least_of_limit_vehicle_and_rating() {
        let mut s = plugged(16.0, 3, 1000.0);
        s.update(offer(32.0));
        assert_eq!(
            (s.current_a, s.power_w, s.state),
            (16.0, 11_040.0, Iec61851::C2)
        );
        s.update(offer(10.0));
        assert_eq!(s.power_w, 6_900.0);
        s.update(offer(5.0));
        assert_eq!((s.power_w, s.state), (0.0, Iec61851::B1));
        let mut s = plugged(32.0, 1, 1000.0);
        s.update(offer(32.0));
        assert_eq!((s.phases_in_use, s.power_w), (1, 7_360.0));
    }

    #[test]
    fn energy_integrates_until_full() {
        let mut s = plugged(16.0, 3, 1000.0);
        s.update(offer(16.0));
        s.integrate(Duration::from_secs(60));
        assert!((s.meter_total_wh() - 184.0).abs() < 1e-9);
        let ttf = s.time_to_full().unwrap();
        s.integrate(ttf);
        s.update(offer(16.0));
        assert!((s.meter_total_wh() - 1000.0).abs() < 1e-6);
        assert_eq!((s.power_w, s.state), (0.0, Iec61851::B2));
        s.update(offer(0.0));
        assert_eq!(s.state, Iec61851::B1);
    }
}
