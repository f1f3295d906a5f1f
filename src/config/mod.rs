//! The daemon's configuration in three steps: TOML text → `raw` serde structs → `validate`,
//! which collects every problem with its key path → the typed `Config` below. Parsing binds no
//! port and opens no device: `check-config` and the daemon run the same code.

pub(crate) mod diff;
pub(crate) mod edit;
mod raw;
pub mod serial;
mod uplink;
mod validate;
mod web;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use uplink::{BrokerConfig, TlsConfig, UplinkConfig};
pub use validate::{load, parse};
pub use web::{WebConfig, WebTls};

use crate::profile::{Profile, ProfileSet};
use serial::SerialSettings;

/// Exit code of `check-config` and `run` for an invalid configuration (EX_DATAERR would be 65;
/// 64 is EX_USAGE, which linkerd2-proxy and others use for bad settings).
pub const EXIT_INVALID_CONFIG: i32 = 64;

#[derive(Debug, Clone)]
pub struct Config {
    pub site: SiteConfig,
    pub log_level: log::LevelFilter,
    /// Where state that must survive restarts is kept.
    pub state_dir: PathBuf,
    /// Free disk space kept for session records (bytes).
    pub disk_reserve_bytes: u64,
    /// Largest the database may grow (bytes); `None`: the disk is the limit.
    pub max_database_bytes: Option<u64>,
    pub sessions: crate::core::site::SessionRules,
    pub buses: Vec<BusConfig>,
    pub sockets: Vec<SocketConfig>,
    pub readers: Vec<crate::readers::ReaderConfig>,
    pub access: crate::core::access::OfflinePolicy,
    pub profiles: ProfileSet,
    /// The MQTT link to central; `None`: the site runs offline only.
    pub uplink: Option<UplinkConfig>,
    /// The embedded local broker; `None` when `[broker]` is absent or disabled.
    pub broker: Option<BrokerConfig>,
    /// The local web page; `None` when `[web] enabled = false`.
    pub web: Option<WebConfig>,
}

#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub id: String,
    pub name: String,
    pub time_zone: chrono_tz::Tz,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BusConfig {
    pub name: String,
    pub link: LinkConfig,
    pub request_timeout: Duration,
    /// Extra attempts of a failed request to a live unit.
    pub retries: u32,
    /// Silence kept between two requests, on top of the serial line's 3.5 characters.
    pub inter_request_delay: Duration,
    /// Consecutive failed polls after which a unit is "not connected".
    pub dead_after: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LinkConfig {
    Tcp {
        host: String,
        port: u16,
        multiple_connections: bool,
    },
    Rtu(SerialSettings),
}

/// How the installer reads a link: `TCP 192.168.1.20:502`, `RTU /dev/ttyUSB0 19200 8E1`.
impl std::fmt::Display for LinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use serial::{DataBits, Parity, StopBits};
        match self {
            LinkConfig::Tcp { host, port, .. } => write!(f, "TCP {host}:{port}"),
            LinkConfig::Rtu(s) => {
                let data = match s.data_bits {
                    DataBits::Seven => 7,
                    DataBits::Eight => 8,
                };
                let parity = match s.parity {
                    Parity::None => 'N',
                    Parity::Even => 'E',
                    Parity::Odd => 'O',
                };
                let stop = match s.stop_bits {
                    StopBits::One => 1,
                    StopBits::Two => 2,
                };
                write!(
                    f,
                    "RTU {} {} {data}{parity}{stop}",
                    s.path.display(),
                    s.baud
                )
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct SocketConfig {
    pub id: String,
    pub name: String,
    pub serial_number: Option<String>,
    pub uid: Option<String>,
    /// Index into `Config::buses`.
    pub bus: usize,
    pub unit_id: u8,
    pub profile: Arc<Profile>,
    pub max_current_a: f64,
    pub poll_interval: Duration,
    /// A plug-in starts an anonymous session, without authorization.
    pub free: bool,
    pub relay: Option<RelayConfig>,
}

/// A relay module channel switching a plain socket whose meter is the main device.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub unit_id: u8,
    pub profile: Arc<Profile>,
    pub channel: u16,
    /// Whether a plug sensor is wired to the channel's input.
    pub plug_sensor: bool,
}

#[cfg(test)]
mod tests;
