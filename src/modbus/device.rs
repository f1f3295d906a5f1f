//! A socket's devices as one bus owner sees them: the parts (a charger, or a meter plus a relay
//! channel), their planned reads, the last decoded registers, and the writes that carry out a
//! control. Pure: the owner performs the I/O.

use std::sync::Arc;

use crate::core::{Control, Readings, SocketIndex};
use crate::modbus::frame::{ReadRequest, Table, WriteRequest};
use crate::profile::{
    Decoded, EnableControl, PlannedRead, Profile, ReadWhen, Register, apply, decode::encode_words,
    plan_reads, readings,
};

/// One Modbus device (or relay channel) of a socket.
#[derive(Debug)]
pub struct Part {
    pub unit: u8,
    pub channel: u16,
    pub profile: Arc<Profile>,
    /// False for a relay module whose plug-sensor input is not wired.
    pub use_plug: bool,
    every: Vec<PlannedRead>,
    once: Vec<PlannedRead>,
    once_done: bool,
    decoded: Decoded,
}

impl Part {
    pub fn new(unit: u8, channel: u16, profile: Arc<Profile>, use_plug: bool) -> Part {
        let every = plan_reads(&profile, unit, channel, &[ReadWhen::Every]);
        let once = plan_reads(&profile, unit, channel, &[ReadWhen::Once]);
        Part {
            unit,
            channel,
            profile,
            use_plug,
            every,
            once,
            once_done: false,
            decoded: Decoded::new(),
        }
    }

    /// The reads of the next poll: identity registers too until they were read once.
    pub fn reads(&self) -> Vec<PlannedRead> {
        let mut reads = if self.once_done {
            vec![]
        } else {
            self.once.clone()
        };
        reads.extend(self.every.iter().cloned());
        reads
    }

    pub fn store(&mut self, plan: &PlannedRead, data: &crate::modbus::frame::ReadData) {
        apply(&self.profile, plan, data, &mut self.decoded);
    }

    /// Marks the identity registers read; after a reconnect they are read again (the device
    /// may have been replaced).
    pub fn set_identity_read(&mut self, done: bool) {
        self.once_done = done;
    }

    pub fn readings(&self) -> Readings {
        let mut r = readings(&self.profile, &self.decoded);
        if !self.use_plug {
            r.plug = None;
        }
        r
    }

    pub fn decoded(&self) -> &Decoded {
        &self.decoded
    }

    fn write_of(&self, reg: &Register, value: f64) -> WriteRequest {
        let address = reg.address_at(self.channel);
        let unit = reg.unit_for(self.unit);
        if reg.table == Table::Coil {
            return WriteRequest::Coil {
                unit,
                address,
                value: value != 0.0,
            };
        }
        let words = encode_words(reg, value);
        if words.len() == 1 && !reg.write_multiple {
            WriteRequest::Register {
                unit,
                address,
                value: words[0],
            }
        } else {
            WriteRequest::Registers {
                unit,
                address,
                values: words,
            }
        }
    }

    fn read_of(&self, reg: &Register) -> ReadRequest {
        ReadRequest {
            unit: reg.unit_for(self.unit),
            table: reg.table,
            address: reg.address_at(self.channel),
            count: reg.width(),
        }
    }
}

/// A write and how to check that the device took it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedWrite {
    pub part: usize,
    pub write: WriteRequest,
    /// Read this back and expect `expect` (decoded, in the register's unit).
    pub verify: Option<(ReadRequest, usize, f64)>,
    /// A setpoint write: it restarts the device's validity period.
    pub is_setpoint: bool,
}

/// A socket on a bus.
#[derive(Debug)]
pub struct Device {
    pub socket: SocketIndex,
    pub parts: Vec<Part>,
    pub max_current_a: f64,
    /// What the core last asked for; re-applied after the device comes back.
    pub enable: Option<bool>,
    pub setpoint_a: Option<f64>,
}

impl Device {
    pub fn readings(&self) -> Readings {
        let mut parts = self.parts.iter();
        let mut r = parts.next().map(Part::readings).unwrap_or_default();
        for p in parts {
            r.merge(p.readings());
        }
        r
    }

    /// Records the control and returns the writes that carry it out (none when no part can).
    pub fn apply_control(&mut self, control: Control) -> Vec<CheckedWrite> {
        match control {
            Control::Enable(on) => self.enable = Some(on),
            Control::Setpoint(a) => self.setpoint_a = Some(a),
        }
        self.writes_for(control)
    }

    /// The writes that put the device in the state the core asked for (after a reconnect).
    pub fn restore(&self) -> Vec<CheckedWrite> {
        let mut writes = Vec::new();
        if let Some(a) = self.setpoint_a {
            writes.extend(self.writes_for(Control::Setpoint(a)));
        }
        if let Some(on) = self.enable {
            writes.extend(self.writes_for(Control::Enable(on)));
        }
        writes
    }

    /// The setpoint write to repeat for devices that forget it, when due.
    pub fn setpoint_refresh(&self) -> Option<(std::time::Duration, Vec<CheckedWrite>)> {
        let refresh = self.setpoint_part()?.1.refresh?;
        Some((
            refresh,
            self.writes_for(Control::Setpoint(self.effective_setpoint()?)),
        ))
    }

    /// A disabled socket whose enable goes through the setpoint holds 0 A.
    fn effective_setpoint(&self) -> Option<f64> {
        let via_setpoint = self
            .enable_part()
            .is_some_and(|(_, e)| *e == EnableControl::ViaSetpoint);
        if via_setpoint && self.enable == Some(false) {
            return Some(0.0);
        }
        self.setpoint_a
    }

    fn enable_part(&self) -> Option<(usize, &EnableControl)> {
        // A relay module, when present, switches the socket.
        self.parts
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, p)| p.profile.controls.enable.as_ref().map(|e| (i, e)))
    }

    fn setpoint_part(&self) -> Option<(usize, &crate::profile::SetpointControl)> {
        self.parts
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.profile.controls.setpoint.as_ref().map(|s| (i, s)))
    }

    fn writes_for(&self, control: Control) -> Vec<CheckedWrite> {
        match control {
            Control::Enable(on) => match self.enable_part() {
                None => vec![],
                Some((_, EnableControl::ViaSetpoint)) => {
                    let amps = if on {
                        self.setpoint_a.unwrap_or(self.max_current_a)
                    } else {
                        0.0
                    };
                    self.setpoint_writes(amps)
                }
                Some((
                    i,
                    EnableControl::Register {
                        register,
                        on: v_on,
                        off: v_off,
                        verify,
                    },
                )) => {
                    let value = f64::from(if on { *v_on } else { *v_off });
                    vec![self.checked_write(i, *register, value, *verify, false)]
                }
            },
            Control::Setpoint(a) => {
                let off_via_setpoint = self.enable == Some(false)
                    && self
                        .enable_part()
                        .is_some_and(|(_, e)| *e == EnableControl::ViaSetpoint);
                self.setpoint_writes(if off_via_setpoint { 0.0 } else { a })
            }
        }
    }

    fn setpoint_writes(&self, amps: f64) -> Vec<CheckedWrite> {
        let Some((i, sp)) = self.setpoint_part() else {
            return vec![];
        };
        vec![self.checked_write(i, sp.register, amps, sp.verify, true)]
    }

    /// Writes `value` to `register` of part `part`, to be confirmed by reading `verify` back.
    fn checked_write(
        &self,
        part: usize,
        register: usize,
        value: f64,
        verify: Option<usize>,
        is_setpoint: bool,
    ) -> CheckedWrite {
        let p = &self.parts[part];
        CheckedWrite {
            part,
            is_setpoint,
            write: p.write_of(&p.profile.registers[register], value),
            verify: verify.map(|v| (p.read_of(&p.profile.registers[v]), v, value)),
        }
    }
}
