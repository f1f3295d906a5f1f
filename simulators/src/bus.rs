//! A bus: the units behind one TCP listener or one RS-485 line, by unit id.
//!
//! Owns unit lookup, the expansion of unit specs (an Alfen station into its units, relay
//! channels linked to their meters), the broadcast to every unit, and the token that closes
//! the bus's TCP connections. Never frames bytes: transports hand it PDUs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::error::SimError;
use crate::models::{self, UnitSpec};
use crate::truth::EventSink;
use crate::unit::{Answer, Unit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BusKind {
    Tcp,
    Rtu,
}

/// Locks a unit. A panic while holding the lock leaves a unit in a consistent enough state
/// for a simulator: keep serving rather than poison every later request.
pub(crate) fn lock(unit: &Mutex<Unit>) -> MutexGuard<'_, Unit> {
    unit.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) struct Bus {
    pub name: Arc<str>,
    pub kind: BusKind,
    pub units: BTreeMap<u8, Arc<Mutex<Unit>>>,
    /// Relay unit → the meter units whose sockets its channels switch.
    links: BTreeMap<u8, Vec<u8>>,
    connections: Mutex<CancellationToken>,
    parent: CancellationToken,
}

impl Bus {
    pub fn build(
        name: &str,
        kind: BusKind,
        specs: &[UnitSpec],
        events: &Arc<EventSink>,
        frozen: bool,
        parent: CancellationToken,
    ) -> Result<Bus, SimError> {
        let name: Arc<str> = Arc::from(name);
        let mut built = Vec::new();
        for spec in specs {
            built.extend(models::build(spec)?);
        }
        let mut channels = BTreeMap::new();
        for b in &built {
            if b.unit == 0 {
                return Err(SimError::InvalidSpec(
                    "unit 0 is the broadcast address".into(),
                ));
            }
            if !b.channels.is_empty() {
                channels.insert(b.unit, b.channels.clone());
            }
        }
        let mut units = BTreeMap::new();
        let mut links: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
        for b in built {
            let link = match b.link {
                None => None,
                Some(l) => {
                    let ch = channels
                        .get(&l.unit)
                        .and_then(|c| c.get(usize::from(l.channel)))
                        .ok_or_else(|| {
                            SimError::InvalidSpec(format!(
                                "unit {}: no relay channel {} on unit {} of this bus",
                                b.unit, l.channel, l.unit
                            ))
                        })?;
                    links.entry(l.unit).or_default().push(b.unit);
                    Some(ch.clone())
                }
            };
            let id = b.unit;
            let unit = Unit::new(b, name.clone(), events.clone(), frozen, link);
            if units.insert(id, Arc::new(Mutex::new(unit))).is_some() {
                return Err(SimError::InvalidSpec(format!(
                    "unit {id} twice on bus {name:?}"
                )));
            }
        }
        Ok(Bus {
            name,
            kind,
            units,
            links,
            connections: Mutex::new(parent.child_token()),
            parent,
        })
    }

    pub fn unit(&self, id: u8) -> Result<&Arc<Mutex<Unit>>, SimError> {
        self.units.get(&id).ok_or_else(|| SimError::UnknownUnit {
            bus: self.name.to_string(),
            unit: id,
        })
    }

    /// A relay's coils switch other units' sockets: let those see the change now.
    fn refresh_linked(&self, relay: u8) {
        for meter in self.links.get(&relay).into_iter().flatten() {
            if let Some(u) = self.units.get(meter) {
                lock(u).refresh();
            }
        }
    }

    /// Answers a request PDU for `unit`; `None` when the bus has no such unit.
    pub fn handle(&self, unit: u8, pdu: &[u8]) -> Option<Answer> {
        let answer = lock(self.units.get(&unit)?).handle(pdu);
        self.refresh_linked(unit);
        Some(answer)
    }

    /// Applies a broadcast write to every unit.
    pub fn broadcast(&self, pdu: &[u8]) {
        for (id, u) in &self.units {
            lock(u).broadcast(pdu);
            self.refresh_linked(*id);
        }
    }

    /// The token a new TCP connection runs under.
    pub fn connection_token(&self) -> CancellationToken {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Closes every open connection; later ones run under a fresh token.
    pub fn drop_connections(&self) {
        let mut t = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        t.cancel();
        *t = self.parent.child_token();
    }
}
