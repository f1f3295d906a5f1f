//! `abb-terra-ac`: the ABB Terra AC wallbox.
//!
//! Owns its map (devices.md): the read block 0x4000..=0x4024 by function 3 or 4 (both are
//! accepted: integrations disagree), u32 BE values; writes by function 16 only, each register
//! group written whole: 0x4100 (limit, mA, two registers), 0x4103 (lock), 0x4105 (start 0 /
//! stop 1), 0x4106 (communication timeout 10..=65535 s), 0x4109 (fallback limit, A, 0xFF =
//! none). Write-only registers are not readable (exception 2). Function 6 and any other:
//! exception 1; values out of range: exception 3.
//!
//! The charging state is NOT the u32 at 0x400C: it is the high byte of 0x400D, bits 6-0 the
//! state (0 A, 1 B1, 2 B2, 3 C1, 4 C2, 5 other/session stopped) and bit 7 "drawing less than
//! the applied limit" (idle reads 0x0000 0x8000, charging at the limit 0x0000 0x0400).
//! Energy at 0x401E counts the session: it restarts at 0 on plug-in.
//!
//! Communication timeout: every request the device answers counts as a poll. When none came
//! for 0x4106 seconds of simulated time the fallback limit (0x4109) applies if set; otherwise
//! the wallbox stops charging and reports `COMM_TIMEOUT_ERROR`. Choices the document leaves
//! open: the error code's value; the next request ends the timeout (the last Modbus limit is in
//! force again); before any write the Modbus limit is the rated current (source `Default`).
//! Never measures wall time: "not polled for that long" is the unit's simulated clock.

use std::time::Duration;

use crate::error::SimError;
use crate::models::regs::{Image, u32_of};
use crate::models::{Device, UnitSpec};
use crate::pdu::{Exception, Request, Response, Table};
use crate::physics::{MIN_CURRENT_A, Offer};
use crate::truth::{Iec61851, SetpointSource};
use crate::unit::Core;

/// Error code reported after a communication timeout without a fallback limit (simulator's
/// choice: the vendor document gives none).
pub const COMM_TIMEOUT_ERROR: u16 = 0x0040;
const NO_FALLBACK: u16 = 0xFF;
const FIRMWARE: [u8; 4] = [1, 6, 5, 0];

pub(crate) struct AbbTerra {
    serial: [u8; 8],
    user_max_ma: u32,
    modbus_limit_ma: u32,
    limit_written: bool,
    comm_timeout_s: u16,
    fallback_a: u16,
    last_poll: Duration,
    timed_out: bool,
    stopped: bool,
    locked: bool,
}

impl AbbTerra {
    pub fn new(spec: &UnitSpec) -> Result<(String, Self), SimError> {
        let serial = match &spec.serial {
            Some(s) => parse_serial(s)?,
            // Type 2 socket, 22 kW, plant 1, week 20, year 26, unique id = unit.
            None => [0x02, 0x16, 0x01, 0x00, 0x14, 0x1A, 0x00, spec.unit],
        };
        let rated_ma = (spec.rated_a.unwrap_or(32.0) * 1000.0).round() as u32;
        let timeout = spec.comm_timeout_s.unwrap_or(60);
        if timeout < 10 {
            return Err(SimError::InvalidSpec(format!(
                "abb comm_timeout_s {timeout} (10..=65535)"
            )));
        }
        let text = serial.iter().map(|b| format!("{b:02X}")).collect();
        Ok((
            text,
            AbbTerra {
                serial,
                user_max_ma: rated_ma,
                modbus_limit_ma: rated_ma,
                limit_written: false,
                comm_timeout_s: timeout,
                fallback_a: NO_FALLBACK,
                last_poll: Duration::ZERO,
                timed_out: false,
                stopped: false,
                locked: true,
            },
        ))
    }

    /// The limit in force (mA) and its source; `None` when timed out without a fallback.
    fn limit(&self) -> Option<(u32, SetpointSource)> {
        if self.timed_out {
            (self.fallback_a != NO_FALLBACK)
                .then(|| (u32::from(self.fallback_a) * 1000, SetpointSource::Fallback))
        } else if self.limit_written {
            Some((self.modbus_limit_ma, SetpointSource::Modbus))
        } else {
            Some((self.modbus_limit_ma, SetpointSource::Default))
        }
    }

    fn applied_ma(&self, core: &Core) -> u32 {
        (self.offer(core).offered_a() * 1000.0).round() as u32
    }

    fn state_byte(&self, core: &Core) -> u8 {
        let s = core.socket.as_ref().expect("abb has a socket");
        let code = match s.state {
            Iec61851::A => 0,
            _ if self.stopped || self.error_code(core) != 0 || s.fault != 0 => 5,
            Iec61851::B1 => 1,
            Iec61851::B2 => 2,
            Iec61851::C1 => 3,
            Iec61851::C2 => 4,
            Iec61851::E | Iec61851::F => 5,
        };
        let drawn_ma = (s.current_a * 1000.0).round() as u32;
        let below = drawn_ma < self.applied_ma(core);
        code | (u8::from(below) << 7)
    }

    fn image(&self, core: &Core) -> Image {
        let s = core.socket.as_ref().expect("abb has a socket");
        let mut i = Image::new();
        i.words(
            0x4000,
            &[
                u16::from_be_bytes([self.serial[0], self.serial[1]]),
                u16::from_be_bytes([self.serial[2], self.serial[3]]),
                u16::from_be_bytes([self.serial[4], self.serial[5]]),
                u16::from_be_bytes([self.serial[6], self.serial[7]]),
            ],
        );
        i.u32(0x4004, u32::from_be_bytes(FIRMWARE));
        i.u32(0x4006, self.user_max_ma);
        i.u32(0x4008, u32::from(self.error_code(core).max(s.fault)));
        let lock = match (s.vehicle.is_some(), self.locked) {
            (false, _) => 0x0000,
            (true, false) => 0x0101,
            (true, true) => 0x0111,
        };
        i.u32(0x400A, lock);
        i.words(0x400C, &[0, u16::from(self.state_byte(core)) << 8]);
        i.u32(0x400E, self.applied_ma(core));
        for (k, c) in s.currents().iter().enumerate() {
            i.u32(
                0x4010 + 2 * k as u16,
                (c.unwrap_or(0.0) * 1000.0).round() as u32,
            );
        }
        for (k, v) in s.voltages().iter().enumerate() {
            i.u32(
                0x4016 + 2 * k as u16,
                (v.unwrap_or(0.0) * 10.0).round() as u32,
            );
        }
        i.u32(0x401C, s.power_w.round().max(0.0) as u32);
        i.u32(0x401E, s.session_register_wh.max(0.0) as u32);
        i.words(0x4020, &[self.comm_timeout_s, 0]);
        i.u32(0x4022, self.modbus_limit_ma);
        i.u16(0x4024, self.fallback_a);
        i
    }

    fn write(&mut self, core: &mut Core, addr: u16, values: &[u16]) -> Result<(), Exception> {
        match (addr, values.len()) {
            (0x4100, 2) => {
                self.modbus_limit_ma = u32_of(values);
                self.limit_written = true;
                core.setpoint_writes += 1;
            }
            (0x4103, 1) => match values[0] {
                0 | 1 => self.locked = values[0] == 1,
                _ => return Err(Exception::ILLEGAL_VALUE),
            },
            (0x4105, 1) => match values[0] {
                0 | 1 => self.stopped = values[0] == 1,
                _ => return Err(Exception::ILLEGAL_VALUE),
            },
            (0x4106, 1) => {
                if values[0] < 10 {
                    return Err(Exception::ILLEGAL_VALUE);
                }
                self.comm_timeout_s = values[0];
            }
            (0x4109, 1) => {
                let max_a = self.user_max_ma / 1000;
                if values[0] != NO_FALLBACK && u32::from(values[0]) > max_a {
                    return Err(Exception::ILLEGAL_VALUE);
                }
                self.fallback_a = values[0];
            }
            _ => return Err(Exception::ILLEGAL_ADDRESS),
        }
        Ok(())
    }
}

fn parse_serial(s: &str) -> Result<[u8; 8], SimError> {
    let bad = || SimError::InvalidSpec(format!("abb-terra-ac serial {s:?}: 16 hex digits"));
    if s.len() != 16 || !s.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 8];
    for (k, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * k..2 * k + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl Device for AbbTerra {
    fn serve(&mut self, core: &mut Core, req: &Request) -> Result<Response, Exception> {
        // Any request the wallbox understands keeps its communication watchdog alive.
        self.last_poll = core.clock;
        self.timed_out = false;
        match req {
            Request::Read {
                table: table @ (Table::Holding | Table::Input),
                addr,
                qty,
            } => {
                let words = self.image(core).read_strict(*addr, *qty)?;
                let function = if *table == Table::Holding { 3 } else { 4 };
                Ok(Response::Registers { function, words })
            }
            Request::WriteRegisters { addr, values } => {
                self.write(core, *addr, values)?;
                Ok(Response::Echo {
                    function: 16,
                    addr: *addr,
                    value: values.len() as u16,
                })
            }
            _ => Err(Exception::ILLEGAL_FUNCTION),
        }
    }

    fn offer(&self, core: &Core) -> Offer {
        let rated = core.socket.as_ref().map_or(0.0, |s| s.rated_a);
        let (limit_a, error) = match self.limit() {
            Some((ma, _)) => (f64::from(ma.min(self.user_max_ma)) / 1000.0, false),
            None => (0.0, true),
        };
        Offer {
            enabled: !self.stopped && limit_a >= MIN_CURRENT_A,
            limit_a: limit_a.min(rated),
            phases: 3,
            error,
        }
    }

    fn setpoint(&self, _core: &Core) -> Option<(f64, SetpointSource)> {
        self.limit().map(|(ma, src)| (f64::from(ma) / 1000.0, src))
    }

    fn next_timer(&self, _core: &Core) -> Option<Duration> {
        (!self.timed_out).then(|| self.last_poll + Duration::from_secs(self.comm_timeout_s.into()))
    }

    fn on_time(&mut self, core: &mut Core) {
        if !self.timed_out
            && core.clock >= self.last_poll + Duration::from_secs(self.comm_timeout_s.into())
        {
            self.timed_out = true;
        }
    }

    fn on_plug(&mut self, _core: &mut Core) {
        self.stopped = false;
    }

    fn error_code(&self, _core: &Core) -> u16 {
        if self.timed_out && self.fallback_a == NO_FALLBACK {
            COMM_TIMEOUT_ERROR
        } else {
            0
        }
    }

    fn energy_is_session(&self) -> bool {
        true
    }
}
