//! `generic-socket`: sitegate's own smart socket (docs/generic-socket.md).
//!
//! Owns its map: coil 0 = relay (function 1 to read, 5 to write), input registers 0..=21
//! (function 4): plug, fault, power i32 W, energy u64 Wh, voltages 0.1 V, currents 0.01 A,
//! serial; 0xFFFF where a phase is absent. Other functions: exception 1; addresses outside the
//! map: exception 2. Never decides physics: the relay is all it offers (no control pilot, so
//! the vehicle draws its own maximum up to the socket rating).
//!
//! Rounding (a choice the document leaves open): power, voltages and currents are rounded to
//! the nearest unit of the register; energy is truncated to whole Wh, so it never runs ahead
//! of the ground truth and stays monotonic.

use crate::error::SimError;
use crate::models::regs::{Image, UNAVAILABLE};
use crate::models::{Device, UnitSpec};
use crate::pdu::{Exception, Request, Response, Table};
use crate::physics::Offer;
use crate::unit::Core;

const SERIAL_CHARS: usize = 16;

/// Relay open at power-on: a socket must not deliver before sitegate authorises it.
#[derive(Debug, Default)]
pub(crate) struct GenericSocket {
    relay: bool,
}

pub(crate) fn serial(spec: &UnitSpec) -> Result<String, SimError> {
    let s = spec
        .serial
        .clone()
        .unwrap_or_else(|| format!("GS-{:013}", u32::from(spec.unit)));
    if s.len() > SERIAL_CHARS || !s.is_ascii() {
        return Err(SimError::InvalidSpec(format!(
            "generic-socket serial {s:?}: at most {SERIAL_CHARS} ASCII characters"
        )));
    }
    Ok(s)
}

impl GenericSocket {
    fn image(&self, core: &Core) -> Image {
        let mut i = Image::new();
        let s = core.socket.as_ref().expect("generic-socket has a socket");
        i.u16(0, u16::from(s.vehicle.is_some()));
        i.u16(1, s.fault);
        i.i32(2, s.power_w.round() as i32);
        i.u64(4, s.meter_total_wh().max(0.0) as u64);
        for (k, v) in s.voltages().iter().enumerate() {
            i.u16(
                8 + k as u16,
                v.map_or(UNAVAILABLE, |v| (v * 10.0).round() as u16),
            );
        }
        for (k, c) in s.currents().iter().enumerate() {
            i.u16(
                11 + k as u16,
                c.map_or(UNAVAILABLE, |c| (c * 100.0).round() as u16),
            );
        }
        i.str(14, 8, &core.serial);
        i
    }
}

impl Device for GenericSocket {
    fn serve(&mut self, core: &mut Core, req: &Request) -> Result<Response, Exception> {
        match *req {
            Request::Read {
                table: Table::Coils,
                addr,
                qty,
            } => {
                if u32::from(addr) + u32::from(qty) > 1 {
                    return Err(Exception::ILLEGAL_ADDRESS);
                }
                Ok(Response::Bits {
                    function: 1,
                    bits: vec![self.relay],
                })
            }
            Request::WriteCoil { addr, value } => {
                if addr != 0 {
                    return Err(Exception::ILLEGAL_ADDRESS);
                }
                self.relay = value;
                core.setpoint_writes += 1;
                Ok(Response::Echo {
                    function: 5,
                    addr,
                    value: if value { 0xFF00 } else { 0 },
                })
            }
            Request::Read {
                table: Table::Input,
                addr,
                qty,
            } => {
                let words = self.image(core).read_strict(addr, qty)?;
                Ok(Response::Registers { function: 4, words })
            }
            _ => Err(Exception::ILLEGAL_FUNCTION),
        }
    }

    fn offer(&self, core: &Core) -> Offer {
        let rated = core.socket.as_ref().map_or(0.0, |s| s.rated_a);
        Offer {
            enabled: self.relay,
            limit_a: rated,
            phases: 3,
            error: false,
        }
    }

    fn relays(&self) -> Vec<bool> {
        vec![self.relay]
    }
}
