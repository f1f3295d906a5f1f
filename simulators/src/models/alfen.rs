//! `alfen-ng9xx`: an Alfen Eve / NG9xx station, "Modbus Slave TCP/IP" v2.3: the station at
//! unit 200 (name, serial, clock, max current, number of sockets) and sockets at units 1..=n
//! (meter, mode-3 state, max-current setpoint).
//!
//! Owns both maps. Function 3 reads, 6 and 16 writes, anything else exception 1. Reserved or
//! unavailable registers inside a read read 0xFFFF (a float NaN); a read touching no register
//! at all is exception 2. Multi-register values must be written whole with function 16: 1210
//! (max current, f32) by function 16 only (function 6 on it: exception 2); 1215 (phases, 1 or
//! 3) by function 6 or 16, exception 3 when phase switching is off or the value is not 1 or 3.
//! Every other address is read-only: exception 2.
//!
//! Setpoint validity: the Modbus max current holds for the validity time of simulated time
//! (default 60 s) from its last write; then, and before any write, the safe current (1212)
//! applies. 1208 counts the remaining validity in whole seconds, rounded up.
//! Never tracks TCP connections: the two-master limit is a `TcpOptions` setting of the bus.

use std::time::Duration;

use crate::error::SimError;
use crate::models::regs::{Image, UNAVAILABLE};
use crate::models::{Built, Device, Model, UnitSpec};
use crate::pdu::{Exception, Request, Response, Table};
use crate::physics::{MIN_CURRENT_A, Offer, Socket};
use crate::truth::SetpointSource;
use crate::unit::Core;

const FIRMWARE: &str = "6.4.0-4210";
const PLATFORM: &str = "NG910";
/// Wall-clock date the station's clock (168-173) starts at: 2026-01-01 00:00:00.
const EPOCH_DAYS: i64 = 20_454;

/// Expands a station spec: the station unit, then sockets 1..=n.
pub(crate) fn build(spec: &UnitSpec, phases: u8) -> Result<Vec<Built>, SimError> {
    let n = spec.sockets.unwrap_or(2);
    if n == 0 || n >= spec.unit {
        return Err(SimError::InvalidSpec(format!(
            "alfen-ng9xx: {n} sockets (1..station unit {})",
            spec.unit
        )));
    }
    let serial = spec
        .serial
        .clone()
        .unwrap_or_else(|| format!("ACE{:07}", 1000 + u32::from(spec.unit)));
    if serial.len() > 22 || !serial.is_ascii() {
        return Err(SimError::InvalidSpec(format!(
            "alfen serial {serial:?}: at most 22 ASCII chars"
        )));
    }
    let station_max_a = spec.station_max_a.unwrap_or(32.0);
    let mut out = vec![Built {
        unit: spec.unit,
        model: Model::AlfenNg9xx,
        serial: serial.clone(),
        socket: None,
        link: None,
        device: Box::new(Station {
            name: format!("ALF_{serial}"),
            serial: serial.clone(),
            sockets: n,
            station_max_a,
        }),
        channels: Vec::new(),
    }];
    for unit in 1..=n {
        out.push(Built {
            unit,
            model: Model::AlfenNg9xx,
            serial: format!("{serial}-{unit}"),
            socket: Some(Socket::new(phases, 230.0, spec.rated_a.unwrap_or(32.0))),
            link: None,
            device: Box::new(AlfenSocket {
                validity: spec.setpoint_validity.unwrap_or(Duration::from_secs(60)),
                safe_a: spec.safe_current_a.unwrap_or(6.0),
                station_max_a,
                phase_switching: spec.phase_switching.unwrap_or(true),
                setpoint: None,
                written_a: 0.0,
                phases: 3,
            }),
            channels: Vec::new(),
        });
    }
    Ok(out)
}

fn read(image: Image, req: &Request) -> Result<Response, Exception> {
    match *req {
        Request::Read {
            table: Table::Holding,
            addr,
            qty,
        } => Ok(Response::Registers {
            function: 3,
            words: image.read_padded(addr, qty, UNAVAILABLE)?,
        }),
        _ => unreachable!("only reads here"),
    }
}

/// Unit 200.
struct Station {
    name: String,
    serial: String,
    sockets: u8,
    station_max_a: f64,
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl Station {
    fn image(&self, core: &Core) -> Image {
        let mut i = Image::new();
        i.str(100, 17, &self.name);
        i.str(117, 5, "Alfen NV");
        i.i16(122, 1);
        i.str(123, 17, FIRMWARE);
        i.str(140, 17, PLATFORM);
        i.str(157, 11, &self.serial);
        let secs = core.clock.as_secs() as i64;
        let (y, mo, d) = civil(EPOCH_DAYS + secs / 86_400);
        let tod = secs % 86_400;
        for (k, v) in [y, mo, d, tod / 3600, tod / 60 % 60, tod % 60]
            .into_iter()
            .enumerate()
        {
            i.i16(168 + k as u16, v as i16);
        }
        i.u64(174, core.clock.as_millis() as u64);
        i.i16(178, 0);
        i.f32(1100, self.station_max_a as f32);
        i.f32(1102, 25.0);
        i.u16(1104, 0);
        i.u16(1105, u16::from(self.sockets));
        i
    }
}

impl Device for Station {
    fn serve(&mut self, core: &mut Core, req: &Request) -> Result<Response, Exception> {
        match req {
            Request::Read {
                table: Table::Holding,
                ..
            } => read(self.image(core), req),
            Request::WriteRegister { .. } | Request::WriteRegisters { .. } => {
                Err(Exception::ILLEGAL_ADDRESS)
            }
            _ => Err(Exception::ILLEGAL_FUNCTION),
        }
    }
}

/// Units 1..=n.
struct AlfenSocket {
    validity: Duration,
    safe_a: f64,
    station_max_a: f64,
    phase_switching: bool,
    /// Last Modbus max current and the clock time it was written; cleared when it lapses.
    setpoint: Option<(f32, Duration)>,
    /// What 1210 reads back: the last value written, valid or not.
    written_a: f32,
    phases: u8,
}

impl AlfenSocket {
    fn valid_until(&self) -> Option<Duration> {
        self.setpoint.map(|(_, at)| at + self.validity)
    }

    fn limit(&self) -> (f64, SetpointSource) {
        match self.setpoint {
            Some((a, _)) => (f64::from(a), SetpointSource::Modbus),
            None => (self.safe_a, SetpointSource::Fallback),
        }
    }

    fn set_phases(&mut self, value: u16) -> Result<(), Exception> {
        if !self.phase_switching || !(value == 1 || value == 3) {
            return Err(Exception::ILLEGAL_VALUE);
        }
        self.phases = value as u8;
        Ok(())
    }

    fn image(&self, core: &Core) -> Image {
        let s = core.socket.as_ref().expect("alfen socket has a socket");
        let mut i = Image::new();
        let f32_or_nan = |i: &mut Image, addr: u16, v: Option<f64>| match v {
            Some(v) => i.f32(addr, v as f32),
            None => i.fill(addr, 2, UNAVAILABLE),
        };
        i.u16(300, 0x03); // initialised | updated
        i.u64(301, 0);
        i.u16(305, 0);
        let (volts, amps, watts) = (s.voltages(), s.currents(), s.powers());
        for k in 0..3u16 {
            let j = usize::from(k);
            f32_or_nan(&mut i, 306 + 2 * k, volts[j]);
            f32_or_nan(&mut i, 320 + 2 * k, amps[j]);
            f32_or_nan(&mut i, 338 + 2 * k, watts[j]);
            if j < usize::from(s.installed_phases) {
                i.f64(362 + 4 * k, s.meter_wh[j]);
            } else {
                i.fill(362 + 4 * k, 4, UNAVAILABLE);
            }
        }
        i.f32(326, amps.iter().flatten().sum::<f64>() as f32);
        i.f32(336, 50.0);
        i.f32(344, s.power_w as f32);
        i.f64(374, s.meter_total_wh());
        i.u16(1200, 1);
        i.str(1201, 5, s.state.as_str());
        i.f32(1206, self.offer(core).offered_a() as f32);
        let remaining = self.valid_until().map_or(0, |t| {
            t.saturating_sub(core.clock).as_secs_f64().ceil() as u32
        });
        i.u32(1208, remaining);
        i.f32(1210, self.written_a);
        i.f32(1212, self.safe_a as f32);
        i.u16(1214, u16::from(self.setpoint.is_some()));
        i.u16(1215, u16::from(self.phases));
        i
    }
}

impl Device for AlfenSocket {
    fn serve(&mut self, core: &mut Core, req: &Request) -> Result<Response, Exception> {
        match req {
            Request::Read {
                table: Table::Holding,
                ..
            } => read(self.image(core), req),
            Request::WriteRegister { addr: 1215, value } => {
                self.set_phases(*value)?;
                Ok(Response::Echo {
                    function: 6,
                    addr: 1215,
                    value: *value,
                })
            }
            Request::WriteRegister { .. } => Err(Exception::ILLEGAL_ADDRESS),
            Request::WriteRegisters { addr: 1210, values } if values.len() == 2 => {
                let a = f32::from_bits((u32::from(values[0]) << 16) | u32::from(values[1]));
                if !a.is_finite() || a < 0.0 {
                    return Err(Exception::ILLEGAL_VALUE);
                }
                self.setpoint = Some((a, core.clock));
                self.written_a = a;
                core.setpoint_writes += 1;
                Ok(Response::Echo {
                    function: 16,
                    addr: 1210,
                    value: 2,
                })
            }
            Request::WriteRegisters { addr: 1215, values } if values.len() == 1 => {
                self.set_phases(values[0])?;
                Ok(Response::Echo {
                    function: 16,
                    addr: 1215,
                    value: 1,
                })
            }
            Request::WriteRegisters { .. } => Err(Exception::ILLEGAL_ADDRESS),
            _ => Err(Exception::ILLEGAL_FUNCTION),
        }
    }

    fn offer(&self, core: &Core) -> Offer {
        let rated = core.socket.as_ref().map_or(0.0, |s| s.rated_a);
        let limit_a = self.limit().0.min(self.station_max_a).min(rated);
        Offer {
            enabled: limit_a >= MIN_CURRENT_A,
            limit_a,
            phases: self.phases,
            error: false,
        }
    }

    fn setpoint(&self, _core: &Core) -> Option<(f64, SetpointSource)> {
        Some(self.limit())
    }

    fn next_timer(&self, _core: &Core) -> Option<Duration> {
        self.valid_until()
    }

    fn on_time(&mut self, core: &mut Core) {
        if self.valid_until().is_some_and(|t| core.clock >= t) {
            self.setpoint = None;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil(super::EPOCH_DAYS), (2026, 1, 1));
        assert_eq!(super::civil(0), (1970, 1, 1));
        assert_eq!(super::civil(super::EPOCH_DAYS + 59), (2026, 3, 1));
    }
}
