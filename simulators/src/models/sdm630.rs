//! `eastron-sdm630`: the three-phase meter of a "plain socket + meter" install.
//!
//! Owns its map: input registers (function 4) of IEEE-754 f32 BE values, in V, A, W, Hz, kWh;
//! the serial number as a u32 in holding register 0xFC00 (function 3). At most 80 registers per
//! read (exception 3); values are read in register pairs, so an odd start or quantity is an
//! illegal address (exception 2), as is any address the meter does not have. Functions other
//! than 3 and 4: exception 1.
//!
//! The parameter table covers the block 0x0000-0x0057 integrations read in one request, the
//! line-to-line voltages, neutral current and the totals at 0x0156: listed quantities come from
//! the socket's physics; the rest of the real table inside those blocks (apparent and reactive
//! power, power factor, phase angle, demand) is derived as a resistive load would show it
//! (VA = W, VAr = 0, PF = 1), and the meter's reserved words inside the block read 0.0.
//! An SDM630 on a single-phase install measures 0 V on the unwired phases.
//! Never switches anything: the socket is on unless the spec links a relay channel.

use std::sync::atomic::Ordering;

use crate::error::SimError;
use crate::models::regs::Image;
use crate::models::{Device, UnitSpec};
use crate::pdu::{Exception, Request, Response, Table};
use crate::physics::Offer;
use crate::unit::Core;

const MAX_READ: u16 = 80;

pub(crate) struct Sdm630 {
    serial: u32,
}

impl Sdm630 {
    pub fn new(spec: &UnitSpec) -> Result<(String, Self), SimError> {
        let serial = match &spec.serial {
            Some(s) => s.parse::<u32>().map_err(|_| {
                SimError::InvalidSpec(format!("eastron-sdm630 serial {s:?}: a decimal u32"))
            })?,
            None => 23_000_000 + u32::from(spec.unit),
        };
        Ok((serial.to_string(), Sdm630 { serial }))
    }

    fn inputs(&self, core: &Core) -> Image {
        let mut i = Image::new();
        // Reserved words of the block read as 0.0 (the real meter answers the whole block).
        i.fill(0x0000, 0x58, 0);
        let Some(s) = core.socket.as_ref() else {
            return i;
        };
        let v = s.voltages().map(|v| v.unwrap_or(0.0));
        let a = s.currents().map(|c| c.unwrap_or(0.0));
        let w = s.powers().map(|p| p.unwrap_or(0.0));
        let wired = f64::from(s.installed_phases);
        let import_kwh = s.meter_total_wh() / 1000.0;
        for k in 0..3u16 {
            let j = usize::from(k);
            i.f32(2 * k, v[j] as f32);
            i.f32(0x06 + 2 * k, a[j] as f32);
            i.f32(0x0C + 2 * k, w[j] as f32);
            i.f32(0x12 + 2 * k, w[j] as f32); // VA
            i.f32(0x18 + 2 * k, 0.0); // VAr
            i.f32(0x1E + 2 * k, 1.0); // power factor
            i.f32(0x24 + 2 * k, 0.0); // phase angle
        }
        i.f32(0x2A, (v.iter().sum::<f64>() / wired) as f32);
        i.f32(0x2E, (a.iter().sum::<f64>() / 3.0) as f32);
        i.f32(0x30, a.iter().sum::<f64>() as f32);
        i.f32(0x34, s.power_w as f32);
        i.f32(0x38, s.power_w as f32);
        i.f32(0x3C, 0.0);
        i.f32(0x3E, 1.0);
        i.f32(0x42, 0.0);
        i.f32(0x46, 50.0);
        i.f32(0x48, import_kwh as f32);
        i.f32(0x4A, 0.0);
        i.f32(0x4C, 0.0);
        i.f32(0x4E, 0.0);
        i.f32(0x50, import_kwh as f32); // kVAh
        i.f32(0x52, 0.0);
        i.f32(0x54, s.power_w as f32); // demand
        i.f32(0x56, s.power_w as f32); // maximum demand
        let ll = |x: f64, y: f64| {
            if x > 0.0 && y > 0.0 {
                (x * 3f64.sqrt()) as f32
            } else {
                0.0
            }
        };
        i.f32(0xC8, ll(v[0], v[1]));
        i.f32(0xCA, ll(v[1], v[2]));
        i.f32(0xCC, ll(v[2], v[0]));
        i.f32(
            0xCE,
            (f64::from(ll(v[0], v[1]) + ll(v[1], v[2]) + ll(v[2], v[0])) / 3.0) as f32,
        );
        i.f32(0xE0, 0.0); // neutral current of a balanced load
        i.f32(0x0156, import_kwh as f32); // total = import + export
        i.f32(0x0158, 0.0);
        i
    }

    fn holdings(&self, core: &Core) -> Image {
        let mut i = Image::new();
        i.f32(0x000A, 3.0); // system type: 3 phase 4 wire
        i.f32(0x0014, f32::from(core.id)); // node address
        i.u32(0xFC00, self.serial);
        i
    }
}

impl Device for Sdm630 {
    fn serve(&mut self, core: &mut Core, req: &Request) -> Result<Response, Exception> {
        match *req {
            Request::Read {
                table: table @ (Table::Input | Table::Holding),
                addr,
                qty,
            } => {
                if qty > MAX_READ {
                    return Err(Exception::ILLEGAL_VALUE);
                }
                if addr % 2 != 0 || qty % 2 != 0 {
                    return Err(Exception::ILLEGAL_ADDRESS);
                }
                let (image, function) = if table == Table::Input {
                    (self.inputs(core), 4)
                } else {
                    (self.holdings(core), 3)
                };
                Ok(Response::Registers {
                    function,
                    words: image.read_strict(addr, qty)?,
                })
            }
            _ => Err(Exception::ILLEGAL_FUNCTION),
        }
    }

    fn offer(&self, core: &Core) -> Offer {
        let enabled = core
            .link
            .as_ref()
            .is_none_or(|c| c.coil.load(Ordering::SeqCst));
        let rated = core.socket.as_ref().map_or(0.0, |s| s.rated_a);
        Offer {
            enabled,
            limit_a: rated,
            phases: 3,
            error: false,
        }
    }
}
