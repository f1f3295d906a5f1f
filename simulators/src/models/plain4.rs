//! `plain-4`: the smallest charger a site can poll, four holding registers read in one request
//! (function 3), for the "lean at every scale" benchmark (issue 13, `benches/lean.rs`).
//!
//! Owns its map: holding registers 0..=3: 0-1 energy u32 Wh (the meter total, high word
//! first, truncated to whole Wh so it never runs ahead of the ground truth), 2 power u16 W
//! (rounded, saturating), 3 the IEC 61851 state as a code (`state_code`: 0 A, 1 B1, 2 B2,
//! 3 C1, 4 C2, 5 E, 6 F). Other functions: exception 1; addresses outside the map: exception
//! 2. No control at all: the charger always offers its rating, so a plugged vehicle charges
//! at once (min of its maximum and the rating) and the energy grows while the state says C2.
//! Never decides physics: that is `physics::Socket`'s.

use crate::models::regs::Image;
use crate::models::{Device, UnitSpec};
use crate::pdu::{Exception, Request, Response, Table};
use crate::physics::Offer;
use crate::truth::Iec61851;
use crate::unit::Core;

#[derive(Debug, Default)]
pub(crate) struct Plain4;

pub(crate) fn serial(spec: &UnitSpec) -> String {
    spec.serial
        .clone()
        .unwrap_or_else(|| format!("P4-{:05}", spec.unit))
}

/// The state register's value: the enum's order, A = 0 up to F = 6.
pub(crate) fn state_code(state: Iec61851) -> u16 {
    match state {
        Iec61851::A => 0,
        Iec61851::B1 => 1,
        Iec61851::B2 => 2,
        Iec61851::C1 => 3,
        Iec61851::C2 => 4,
        Iec61851::E => 5,
        Iec61851::F => 6,
    }
}

impl Plain4 {
    fn image(core: &Core) -> Image {
        let mut i = Image::new();
        let s = core.socket.as_ref().expect("plain-4 has a socket");
        i.u32(0, s.meter_total_wh().clamp(0.0, f64::from(u32::MAX)) as u32);
        i.u16(2, s.power_w.round().clamp(0.0, f64::from(u16::MAX)) as u16);
        i.u16(3, state_code(s.state));
        i
    }
}

impl Device for Plain4 {
    fn serve(&mut self, core: &mut Core, req: &Request) -> Result<Response, Exception> {
        match *req {
            Request::Read {
                table: Table::Holding,
                addr,
                qty,
            } => {
                let words = Self::image(core).read_strict(addr, qty)?;
                Ok(Response::Registers { function: 3, words })
            }
            _ => Err(Exception::ILLEGAL_FUNCTION),
        }
    }

    fn offer(&self, core: &Core) -> Offer {
        Offer {
            enabled: true,
            limit_a: core.socket.as_ref().map_or(0.0, |s| s.rated_a),
            phases: 3,
            error: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_codes_follow_the_iec_order() {
        let all = [
            Iec61851::A,
            Iec61851::B1,
            Iec61851::B2,
            Iec61851::C1,
            Iec61851::C2,
            Iec61851::E,
            Iec61851::F,
        ];
        let codes: Vec<u16> = all.into_iter().map(state_code).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn default_serials_name_the_unit() {
        assert_eq!(serial(&UnitSpec::new(7, crate::Model::Plain4)), "P4-00007");
        assert_eq!(
            serial(&UnitSpec::new(7, crate::Model::Plain4).with_serial("X")),
            "X"
        );
    }
}
