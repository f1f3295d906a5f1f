//! The TOML shape of a device profile, exactly as written in `config/profiles/*.toml` and in
//! installers' own profile files. Parsing only: no meaning is checked here (see `compile`).

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub profile: RawHeader,
    #[serde(default)]
    pub register: Vec<toml::Value>,
    #[serde(default)]
    pub points: Option<toml::Value>,
    #[serde(default)]
    pub controls: Option<toml::Value>,
    #[serde(default)]
    pub identify: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `socket`, `meter` or `relay`.
    pub kind: String,
    pub max_read_registers: Option<u16>,
    pub max_read_bits: Option<u16>,
    /// Registers a merged read may bridge between two wanted ones (only for devices that answer
    /// reserved addresses, like Alfen's 0xFFFF).
    pub max_gap: Option<u16>,
    /// Relay modules: number of channels.
    pub channels: Option<u16>,
    pub charging_threshold_w: Option<f64>,
    pub default_unit_id: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegister {
    pub name: String,
    /// `coil`, `discrete_input`, `holding` or `input`.
    pub table: String,
    pub address: u16,
    /// `bool`, `u16`, `i16`, `u32`, `i32`, `u64`, `f32`, `f64`, `string`.
    #[serde(rename = "type")]
    pub data_type: Option<String>,
    /// Registers a string occupies.
    pub length: Option<u16>,
    /// `big` (high word first, the default) or `little`.
    pub word_order: Option<String>,
    /// `big` (the default) or `little`, within each register.
    pub byte_order: Option<String>,
    pub scale: Option<f64>,
    pub offset: Option<f64>,
    pub unit: Option<String>,
    pub mask: Option<u64>,
    /// Raw values meaning "not available" (defaults: all ones for unsigned types, NaN for floats).
    pub unavailable: Option<Vec<u64>>,
    /// Read from this unit id instead of the device's (a station's shared unit).
    pub unit_id: Option<u8>,
    /// `every` poll (default), `once` after connecting, or `never` (write-only).
    pub read: Option<String>,
    /// Address is offset by the socket's channel on a multi-channel module.
    pub per_channel: Option<bool>,
    /// Write with function 16 even when the value is one register.
    pub write_multiple: Option<bool>,
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoints {
    pub vehicle: Option<RawMapPoint>,
    pub plug: Option<RawBoolPoint>,
    pub enabled: Option<RawBoolPoint>,
    pub fault: Option<RawFaultPoint>,
    pub energy_wh: Option<RawEnergyPoint>,
    pub power_w: Option<String>,
    pub current_a: Option<Vec<String>>,
    pub voltage_v: Option<Vec<String>>,
    pub setpoint_a: Option<String>,
    pub serial: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMapPoint {
    pub register: String,
    /// Raw value (number or text, written as a TOML key) → IEC 61851 state name.
    pub map: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBoolPoint {
    pub register: String,
    /// Raw values meaning "true"; default: any non-zero value.
    pub on: Option<Vec<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFaultPoint {
    pub register: String,
    /// Raw values meaning "no fault"; default `[0]`.
    pub ok: Option<Vec<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnergyPoint {
    pub register: String,
    /// `lifetime` (default) or `session` (the device restarts at 0 on plug-in).
    pub kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawControls {
    pub enable: Option<RawEnable>,
    pub setpoint: Option<RawSetpoint>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnable {
    /// The register written; absent when `via_setpoint` is set.
    pub register: Option<String>,
    pub on: Option<u16>,
    pub off: Option<u16>,
    /// Register read back to verify the write (default: the written one, if readable).
    pub verify: Option<String>,
    /// Disabling writes a setpoint of 0 A; enabling restores the socket's current.
    pub via_setpoint: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSetpoint {
    pub register: String,
    /// How often the setpoint is rewritten so the device does not fall back to its safe current
    /// ("25s"); absent when the device keeps it.
    pub refresh: Option<String>,
    pub verify: Option<String>,
    /// Below this current (A) the device pauses charging.
    pub min_a: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentify {
    pub register: String,
    /// The decoded text starts with this (case-insensitive).
    pub starts_with: Option<String>,
}
