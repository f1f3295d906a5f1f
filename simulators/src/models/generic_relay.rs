//! `generic-relay`: a Modbus I/O module with relay outputs on coils and plug sensors on
//! discrete inputs (docs/generic-socket.md), N channels (default 8, at most 16).
//!
//! Owns coils 0..N (functions 1, 5, 15) and discrete inputs 0..N (function 2); other functions:
//! exception 1; addresses past N: exception 2. Never meters anything: a "plain socket + meter"
//! is this module plus an `eastron-sdm630` whose spec names the channel (`RelayLink`); the two
//! share a `RelayChannel`, so the meter sees the coil and the sensor sees the plug.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::SimError;
use crate::models::{Device, UnitSpec};
use crate::pdu::{Exception, Request, Response, Table};
use crate::unit::Core;

/// One channel, shared with the meter of the socket it switches. Atomics, so neither unit
/// needs the other's lock.
#[derive(Debug, Default)]
pub(crate) struct RelayChannel {
    pub coil: AtomicBool,
    pub plug: AtomicBool,
}

pub(crate) struct GenericRelay {
    pub channels: Vec<Arc<RelayChannel>>,
}

impl GenericRelay {
    pub fn new(spec: &UnitSpec) -> Result<Self, SimError> {
        let n = spec.channels.unwrap_or(8);
        if !(1..=16).contains(&n) {
            return Err(SimError::InvalidSpec(format!(
                "generic-relay channels {n} (1..=16)"
            )));
        }
        Ok(GenericRelay {
            channels: (0..n).map(|_| Arc::default()).collect(),
        })
    }

    fn range(&self, addr: u16, qty: usize) -> Result<std::ops::Range<usize>, Exception> {
        let start = usize::from(addr);
        if start + qty > self.channels.len() {
            return Err(Exception::ILLEGAL_ADDRESS);
        }
        Ok(start..start + qty)
    }
}

impl Device for GenericRelay {
    fn serve(&mut self, core: &mut Core, req: &Request) -> Result<Response, Exception> {
        match req {
            Request::Read {
                table: table @ (Table::Coils | Table::DiscreteInputs),
                addr,
                qty,
            } => {
                let range = self.range(*addr, usize::from(*qty))?;
                let coils = *table == Table::Coils;
                let bits = self.channels[range]
                    .iter()
                    .map(|c| if coils { &c.coil } else { &c.plug }.load(Ordering::SeqCst))
                    .collect();
                Ok(Response::Bits {
                    function: if coils { 1 } else { 2 },
                    bits,
                })
            }
            Request::WriteCoil { addr, value } => {
                let range = self.range(*addr, 1)?;
                self.channels[range.start]
                    .coil
                    .store(*value, Ordering::SeqCst);
                core.setpoint_writes += 1;
                Ok(Response::Echo {
                    function: 5,
                    addr: *addr,
                    value: if *value { 0xFF00 } else { 0 },
                })
            }
            Request::WriteCoils { addr, values } => {
                let range = self.range(*addr, values.len())?;
                for (c, v) in self.channels[range].iter().zip(values) {
                    c.coil.store(*v, Ordering::SeqCst);
                }
                core.setpoint_writes += 1;
                Ok(Response::Echo {
                    function: 15,
                    addr: *addr,
                    value: values.len() as u16,
                })
            }
            _ => Err(Exception::ILLEGAL_FUNCTION),
        }
    }

    fn relays(&self) -> Vec<bool> {
        self.channels
            .iter()
            .map(|c| c.coil.load(Ordering::SeqCst))
            .collect()
    }
}
