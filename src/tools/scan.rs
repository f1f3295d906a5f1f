//! `sitegate modbus scan`: which unit ids answer on a bus, and which profile each looks like.

use std::io::Write;

use crate::config::BusConfig;
use crate::modbus::frame::{ModbusError, ReadData, ReadRequest, Table};
use crate::profile::{ProfileSet, decode::decode_words};

use super::{Session, ToolError};

/// What answered at one unit id.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub unit: u8,
    /// Profiles whose identification matched, most specific first, with what was read.
    pub looks_like: Vec<(String, String)>,
}

/// Probes `units` one by one with the bus's (short) timeout and writes a line per answering
/// unit to `out`.
pub async fn scan(
    bus: &BusConfig,
    profiles: &ProfileSet,
    units: std::ops::RangeInclusive<u8>,
    out: &mut impl Write,
) -> Result<Vec<Found>, ToolError> {
    let mut session = Session::open(bus).await?;
    let mut found = Vec::new();
    for unit in units {
        let Some(unit_found) = probe_unit(&mut session, profiles, unit).await else {
            continue;
        };
        let looks_like = unit_found.looks_like;
        let what = match looks_like.first() {
            Some((name, detail)) => format!("looks like {name} ({detail})"),
            None => "answers; no built-in or configured profile recognises it".to_string(),
        };
        let _ = writeln!(out, "unit {unit:>3}: {what}");
        found.push(Found { unit, looks_like });
    }
    let _ = writeln!(out, "{} unit(s) answered on bus {}", found.len(), bus.name);
    Ok(found)
}

/// Whatever reads for a scan: the tool's own link, or a running bus owner (the web page).
pub trait ProbeLink {
    fn probe(
        &mut self,
        req: &ReadRequest,
    ) -> impl std::future::Future<Output = Result<ReadData, ModbusError>> + Send;
}

impl ProbeLink for Session<'_> {
    async fn probe(&mut self, req: &ReadRequest) -> Result<ReadData, ModbusError> {
        self.read(req).await
    }
}

/// What answers at `unit`, and which profiles it looks like; `None` when nothing answers.
pub async fn probe_unit(
    link: &mut impl ProbeLink,
    profiles: &ProfileSet,
    unit: u8,
) -> Option<Found> {
    if !answers(link, unit).await {
        return None;
    }
    let looks_like = identify(link, profiles, unit).await;
    Some(Found { unit, looks_like })
}

/// A unit is present when it answers anything, even an exception.
async fn answers(session: &mut impl ProbeLink, unit: u8) -> bool {
    let probes = [Table::Holding, Table::Input, Table::Coil];
    for table in probes {
        let req = ReadRequest {
            unit,
            table,
            address: 0,
            count: 1,
        };
        match session.probe(&req).await {
            // A gateway's "path unavailable" or "target failed to respond": nobody there.
            Err(ModbusError::Exception { code: 10 | 11 }) => return false,
            Ok(_) | Err(ModbusError::Exception { .. }) => return true,
            Err(ModbusError::Timeout(_)) => return false,
            // Garbage or a broken link: try the next probe.
            Err(_) => {}
        }
    }
    false
}

/// Profiles whose identify register reads as expected, most specific first: a text to match,
/// then devices before relay modules (a smart socket has a relay coil too).
async fn identify(
    session: &mut impl ProbeLink,
    profiles: &ProfileSet,
    unit: u8,
) -> Vec<(String, String)> {
    let mut candidates: Vec<_> = profiles.iter().filter(|p| p.identify.is_some()).collect();
    candidates.sort_by_key(|p| {
        let text_match = p.identify.as_ref().is_some_and(|i| i.starts_with.is_some());
        (
            !text_match,
            p.kind == crate::profile::DeviceKind::Relay,
            p.name.clone(),
        )
    });
    let mut matches = Vec::new();
    for p in candidates {
        let id = p.identify.as_ref().expect("filtered");
        let reg = &p.registers[id.register];
        let req = ReadRequest {
            unit: reg.unit_for(unit),
            table: reg.table,
            address: reg.address,
            count: reg.width(),
        };
        let value = match session.probe(&req).await {
            Ok(ReadData::Words(w)) => decode_words(reg, &w),
            Ok(ReadData::Bits(b)) => {
                crate::profile::decode::decode_bit(b.first().copied().unwrap_or(false))
            }
            Err(e) => {
                log::debug!("unit {unit}: not {}: {e}", p.name);
                continue;
            }
        };
        let text = value.to_string();
        let ok = match &id.starts_with {
            Some(prefix) => text
                .trim_matches('"')
                .to_ascii_lowercase()
                .starts_with(&prefix.to_ascii_lowercase()),
            None => value != crate::profile::Value::Unavailable,
        };
        log::debug!(
            "unit {unit}: {} reads {text}: {}",
            p.name,
            if ok { "match" } else { "no match" }
        );
        if ok {
            matches.push((p.name.clone(), format!("{} = {text}", reg.name)));
        }
    }
    matches
}
