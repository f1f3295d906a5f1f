//! The installer's Modbus tools (`sitegate modbus scan|read|write`), like mbpoll but aware of
//! profiles. They open the bus themselves, so they work without the daemon running (and a
//! serial port the daemon holds is reported as busy). Owns nothing long-lived.

mod read;
mod scan;
mod write;

pub use read::read;
pub use scan::{Found, ProbeLink, probe_unit, scan};
pub use write::{WriteAction, write};

use std::time::Duration;

use crate::config::{BusConfig, Config};
use crate::modbus::frame::{ModbusError, ReadData, ReadRequest, WriteRequest};
use crate::modbus::link::Link;
use crate::profile::{Profile, ProfileSet};

/// Why a tool could not run.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("no bus named `{0}` in the configuration (known: {1})")]
    UnknownBus(String, String),
    #[error("no profile named `{0}` (known: {1})")]
    UnknownProfile(String, String),
    #[error("{0}")]
    Usage(String),
    #[error("cannot open bus `{bus}`: {source}")]
    Open { bus: String, source: ModbusError },
    #[error("unit {unit}: {source}")]
    Device { unit: u8, source: ModbusError },
}

/// The bus named `name` in `config`, with the request timeout overridden if asked.
pub fn bus_from_config(
    config: &Config,
    name: &str,
    timeout: Option<Duration>,
) -> Result<BusConfig, ToolError> {
    let mut bus = config
        .buses
        .iter()
        .find(|b| b.name == name)
        .cloned()
        .ok_or_else(|| {
            ToolError::UnknownBus(
                name.to_string(),
                config
                    .buses
                    .iter()
                    .map(|b| b.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
    if let Some(t) = timeout {
        bus.request_timeout = t;
    }
    Ok(bus)
}

pub fn profile<'a>(
    profiles: &'a ProfileSet,
    name: &str,
) -> Result<&'a std::sync::Arc<Profile>, ToolError> {
    profiles.get(name).ok_or_else(|| {
        ToolError::UnknownProfile(
            name.to_string(),
            profiles.names().collect::<Vec<_>>().join(", "),
        )
    })
}

/// A bus link for one tool run: opened on first use, reopened after an error that leaves it out
/// of step (a TCP timeout), so one silent unit does not spoil the next one's answer.
struct Session<'a> {
    bus: &'a BusConfig,
    link: Option<Link>,
}

impl<'a> Session<'a> {
    async fn open(bus: &'a BusConfig) -> Result<Session<'a>, ToolError> {
        let link = Link::open(bus).await.map_err(|source| ToolError::Open {
            bus: bus.name.clone(),
            source,
        })?;
        Ok(Session {
            bus,
            link: Some(link),
        })
    }

    async fn read(&mut self, req: &ReadRequest) -> Result<ReadData, ModbusError> {
        let link = match &mut self.link {
            Some(l) => l,
            None => self.link.insert(Link::open(self.bus).await?),
        };
        let result = link.read(req, self.bus.request_timeout).await;
        self.drop_if_broken(&result);
        result
    }

    async fn write(&mut self, req: &WriteRequest) -> Result<(), ModbusError> {
        let link = match &mut self.link {
            Some(l) => l,
            None => self.link.insert(Link::open(self.bus).await?),
        };
        let result = link.write(req, self.bus.request_timeout).await;
        self.drop_if_broken(&result);
        result
    }

    fn drop_if_broken<T>(&mut self, result: &Result<T, ModbusError>) {
        if let Err(e) = result
            && self.link.as_ref().is_some_and(|l| l.must_reopen_after(e))
        {
            self.link = None;
        }
    }
}

/// A value with its unit, for people.
fn with_unit(value: &crate::profile::Value, unit: Option<&str>) -> String {
    match (value, unit) {
        (crate::profile::Value::Number(n), Some(u)) => format!("{} {u}", trim_number(*n)),
        (crate::profile::Value::Number(n), None) => trim_number(*n),
        (v, _) => v.to_string(),
    }
}

fn trim_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n:.3}").trim_end_matches('0').to_string()
    }
}
