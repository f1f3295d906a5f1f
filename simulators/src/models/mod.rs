//! Device models: one file per real device, each serving its register map as its vendor
//! document (shared/reference/devices.md, docs/generic-socket.md) describes it.
//!
//! Owns the profile names (`Model`), the unit specification (`UnitSpec`) and the `Device`
//! trait: how a model answers a parsed request, what it offers the socket's physics, and its
//! timers (setpoint validity, communication timeout). Never frames bytes, never sleeps, never
//! reads a clock: time is the unit's simulated clock passed in `Core`.

mod abb_terra;
mod alfen;
mod generic_relay;
mod generic_socket;
mod plain4;
pub(crate) mod regs;
mod sdm630;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub(crate) use abb_terra::COMM_TIMEOUT_ERROR as ABB_COMM_TIMEOUT_ERROR;
pub(crate) use generic_relay::RelayChannel;

use crate::error::SimError;
use crate::pdu::{Exception, Request, Response};
use crate::physics::{Offer, Socket};
use crate::truth::SetpointSource;
use crate::unit::Core;

/// A device profile, by the names sitegate's profiles use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// sitegate's own smart socket (docs/generic-socket.md).
    #[default]
    GenericSocket,
    /// A relay I/O module: coils and plug-sensor discrete inputs, N channels (default 8).
    GenericRelay,
    /// Eastron SDM630 three-phase meter (RTU).
    EastronSdm630,
    /// ABB Terra AC wallbox.
    AbbTerraAc,
    /// Alfen Eve / NG9xx station: unit 200 plus sockets at units 1..=n (default 2).
    AlfenNg9xx,
    /// A minimal charger: energy, power and state in holding registers 0..=3, no control
    /// (`benches/lean.rs`).
    Plain4,
}

impl Model {
    pub const ALL: [Model; 6] = [
        Model::GenericSocket,
        Model::GenericRelay,
        Model::EastronSdm630,
        Model::AbbTerraAc,
        Model::AlfenNg9xx,
        Model::Plain4,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Model::GenericSocket => "generic-socket",
            Model::GenericRelay => "generic-relay",
            Model::EastronSdm630 => "eastron-sdm630",
            Model::AbbTerraAc => "abb-terra-ac",
            Model::AlfenNg9xx => "alfen-ng9xx",
            Model::Plain4 => "plain-4",
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Model {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        Model::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| SimError::UnknownModel(s.to_string()))
    }
}

/// The relay channel that switches an SDM630-metered socket ("plain socket + meter").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayLink {
    /// The generic-relay unit on the same bus.
    pub unit: u8,
    pub channel: u16,
}

/// One simulated unit (an Alfen station spec stands for the station and its sockets).
/// Every `Option` falls back to the documented default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitSpec {
    /// Unit id; for `alfen-ng9xx` the station's (normally 200), its sockets being 1..=n.
    pub unit: u8,
    pub model: Model,
    /// Serial number: generic-socket up to 16 ASCII chars, SDM630 a decimal u32, ABB 16 hex
    /// digits (8 bytes), Alfen up to 22 ASCII chars (the station's). Default: derived from the
    /// unit id.
    pub serial: Option<String>,
    /// generic-relay channels (1..=16, default 8).
    pub channels: Option<u16>,
    /// alfen-ng9xx sockets (default 2).
    pub sockets: Option<u8>,
    /// Supply phases wired to the socket, 1 or 3 (default 3).
    pub phases: Option<u8>,
    /// Socket rating (A): default 16 for generic-socket, SDM630 and plain-4 sockets,
    /// 32 for the stations.
    pub rated_a: Option<f64>,
    /// eastron-sdm630: the relay channel switching the metered socket (default: always on).
    pub relay: Option<RelayLink>,
    /// Alfen: validity of the Modbus max current (default 60 s).
    pub setpoint_validity: Option<Duration>,
    /// Alfen: safe current (default 6 A).
    pub safe_current_a: Option<f64>,
    /// Alfen: station active max current, register 1100 (default 32 A).
    pub station_max_a: Option<f64>,
    /// Alfen: phase switching enabled, so 1215 is writable (default true).
    pub phase_switching: Option<bool>,
    /// ABB: communication timeout at power-on, register 0x4106 (default 60 s).
    pub comm_timeout_s: Option<u16>,
}

impl UnitSpec {
    pub fn new(unit: u8, model: Model) -> Self {
        UnitSpec {
            unit,
            model,
            ..Default::default()
        }
    }

    pub fn with_serial(mut self, serial: impl Into<String>) -> Self {
        self.serial = Some(serial.into());
        self
    }
}

/// One device model. `serve` answers a request already parsed; errors are Modbus exceptions.
pub(crate) trait Device: Send {
    fn serve(&mut self, core: &mut Core, req: &Request) -> Result<Response, Exception>;

    /// What the device offers the socket now; units without a socket (a station's own unit, a
    /// relay module) offer nothing.
    fn offer(&self, _core: &Core) -> Offer {
        Offer {
            enabled: false,
            limit_a: 0.0,
            phases: 3,
            error: false,
        }
    }

    /// The charging limit in force and its origin, for the ground truth.
    fn setpoint(&self, _core: &Core) -> Option<(f64, SetpointSource)> {
        None
    }

    /// Clock time of the next timer (validity lapse, communication timeout), so that time is
    /// stepped exactly to it.
    fn next_timer(&self, _core: &Core) -> Option<Duration> {
        None
    }

    /// Called after the clock moved: timers that are due fire.
    fn on_time(&mut self, _core: &mut Core) {}

    /// A vehicle was plugged in: a new session starts.
    fn on_plug(&mut self, _core: &mut Core) {}

    /// The error code the device reports besides socket faults (ABB communication timeout).
    fn error_code(&self, _core: &Core) -> u16 {
        0
    }

    /// True when the energy register counts the session (ABB), not the meter.
    fn energy_is_session(&self) -> bool {
        false
    }

    fn relays(&self) -> Vec<bool> {
        Vec::new()
    }
}

/// What `build` makes of one spec entry.
pub(crate) struct Built {
    pub unit: u8,
    pub model: Model,
    pub serial: String,
    pub socket: Option<Socket>,
    pub link: Option<RelayLink>,
    pub device: Box<dyn Device>,
    /// generic-relay: its channels, for linking meters.
    pub channels: Vec<Arc<RelayChannel>>,
}

fn check_phases(spec: &UnitSpec) -> Result<u8, SimError> {
    match spec.phases.unwrap_or(3) {
        p @ (1 | 3) => Ok(p),
        p => Err(SimError::InvalidSpec(format!(
            "unit {}: phases {p} (1 or 3)",
            spec.unit
        ))),
    }
}

/// Expands and validates one unit spec into devices.
pub(crate) fn build(spec: &UnitSpec) -> Result<Vec<Built>, SimError> {
    let phases = check_phases(spec)?;
    let socket = |default_rating: f64| {
        Some(Socket::new(
            phases,
            230.0,
            spec.rated_a.unwrap_or(default_rating),
        ))
    };
    let one = |serial: String, socket, device: Box<dyn Device>| Built {
        unit: spec.unit,
        model: spec.model,
        serial,
        socket,
        link: None,
        device,
        channels: Vec::new(),
    };
    Ok(match spec.model {
        Model::GenericSocket => {
            let serial = generic_socket::serial(spec)?;
            vec![one(
                serial,
                socket(16.0),
                Box::<generic_socket::GenericSocket>::default(),
            )]
        }
        Model::GenericRelay => {
            let relay = generic_relay::GenericRelay::new(spec)?;
            let channels = relay.channels.clone();
            let serial = spec
                .serial
                .clone()
                .unwrap_or_else(|| format!("GRL-{:08}", spec.unit));
            let mut b = one(serial, None, Box::new(relay));
            b.channels = channels;
            vec![b]
        }
        Model::EastronSdm630 => {
            let (serial, dev) = sdm630::Sdm630::new(spec)?;
            let mut b = one(serial, socket(16.0), Box::new(dev));
            b.link = spec.relay;
            vec![b]
        }
        Model::AbbTerraAc => {
            let (serial, dev) = abb_terra::AbbTerra::new(spec)?;
            vec![one(serial, socket(32.0), Box::new(dev))]
        }
        Model::AlfenNg9xx => alfen::build(spec, phases)?,
        Model::Plain4 => vec![one(
            plain4::serial(spec),
            socket(16.0),
            Box::new(plain4::Plain4),
        )],
    })
}
