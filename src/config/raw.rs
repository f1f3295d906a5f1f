//! The configuration file's TOML shape (`config/sitegate.example.toml` documents every key).
//! Parsing only: numbers are read wide and durations as text so that validation can say what
//! is wrong in an installer's words (`300 is outside 1..=247`) instead of serde's.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub site: toml::Value,
    #[serde(default)]
    pub log: Option<toml::Value>,
    #[serde(default)]
    pub state: Option<toml::Value>,
    #[serde(default)]
    pub sessions: Option<toml::Value>,
    #[serde(default)]
    pub profiles: Option<toml::Value>,
    #[serde(default)]
    pub bus: Vec<toml::Value>,
    #[serde(default)]
    pub socket: Vec<toml::Value>,
    #[serde(default)]
    pub reader: Vec<toml::Value>,
    #[serde(default)]
    pub access: Option<toml::Value>,
    #[serde(default)]
    pub uplink: Option<toml::Value>,
    #[serde(default)]
    pub broker: Option<toml::Value>,
    #[serde(default)]
    pub web: Option<toml::Value>,
}

/// The local web page.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    pub enabled: Option<bool>,
    pub listen: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub session_idle: Option<String>,
    pub session_max: Option<String>,
}

/// The MQTT link to central (`docs/mqtt.md`). Keys an installer must give are still `Option`s
/// here, so that a missing one is reported next to every other problem of the section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUplink {
    pub host: Option<String>,
    pub port: Option<i64>,
    pub tls: Option<bool>,
    pub allow_plaintext: Option<bool>,
    pub ca_file: Option<String>,
    pub client_cert_file: Option<String>,
    pub client_key_file: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub keep_alive: Option<String>,
    pub window: Option<i64>,
    pub telemetry_interval: Option<String>,
    pub reconnect_max: Option<String>,
    pub max_downlink_bytes: Option<i64>,
    pub require_signed_downlink: Option<bool>,
    /// Key id → base64 Ed25519 public key; values are checked one by one (with their path).
    #[serde(default)]
    pub trusted_keys: toml::Table,
}

/// The embedded local broker.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBroker {
    pub enabled: Option<bool>,
    pub listen: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub max_connections: Option<i64>,
    pub max_payload_bytes: Option<i64>,
}

/// OCPP's offline rules, with OCPP's names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccess {
    pub local_authorize_offline: Option<bool>,
    pub local_pre_authorize: Option<bool>,
    pub allow_offline_tx_for_unknown_id: Option<bool>,
    pub allow_concurrent_tx: Option<bool>,
    pub stop_transaction_on_invalid_id: Option<bool>,
    pub max_energy_on_invalid_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReader {
    pub name: String,
    pub device: String,
    /// `rdm6300`, `ascii-hex` or `ascii-decimal`.
    pub protocol: String,
    pub baud: Option<i64>,
    pub sockets: Vec<String>,
    pub debounce: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub id: String,
    pub name: String,
    pub time_zone: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    pub directory: Option<String>,
    pub disk_reserve_mb: Option<i64>,
    pub max_database_mb: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    pub connection_timeout: Option<String>,
    pub lost_grace: Option<String>,
    pub sample_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfiles {
    #[serde(default)]
    pub files: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBus {
    pub name: String,
    /// `tcp` or `rtu`.
    pub kind: String,
    // tcp
    pub host: Option<String>,
    pub port: Option<i64>,
    pub multiple_connections: Option<bool>,
    // rtu
    pub device: Option<String>,
    pub baud: Option<i64>,
    pub data_bits: Option<i64>,
    pub parity: Option<String>,
    pub stop_bits: Option<i64>,
    // both
    pub request_timeout: Option<String>,
    pub retries: Option<i64>,
    pub inter_request_delay: Option<String>,
    pub dead_after: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSocket {
    pub id: String,
    pub name: String,
    pub serial_number: Option<String>,
    pub uid: Option<String>,
    pub bus: String,
    pub unit_id: i64,
    pub profile: String,
    pub max_current_a: Option<f64>,
    pub poll_interval: Option<String>,
    pub free: Option<bool>,
    pub relay: Option<RawRelay>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelay {
    pub unit_id: i64,
    pub profile: Option<String>,
    pub channel: Option<i64>,
    pub plug_sensor: Option<bool>,
}
