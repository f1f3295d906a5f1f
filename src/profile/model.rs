//! A device profile once validated: the registers of a device and which socket points and
//! controls they provide. Immutable and shared (`Arc<Profile>`) by every device using it.

use std::time::Duration;

use crate::core::{StateRules, VehicleState};
use crate::profile::register::Table;

/// What kind of device a profile describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// A charging socket or station socket: provides the socket's state itself.
    Socket,
    /// An energy meter, paired with a relay module for plain sockets.
    Meter,
    /// A Modbus I/O module with relay outputs (and optional plug sensors) per channel.
    Relay,
}

impl DeviceKind {
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Socket => "socket",
            DeviceKind::Meter => "meter",
            DeviceKind::Relay => "relay",
        }
    }
}

/// How much one request may ask of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    pub max_read_registers: u16,
    pub max_read_bits: u16,
    /// Unwanted registers a merged read may bridge.
    pub max_gap: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Bool,
    U16,
    I16,
    U32,
    I32,
    U64,
    F32,
    F64,
    /// ASCII, two characters per register, NUL padded.
    String {
        registers: u16,
    },
    /// Binary bytes shown as hex digits (serial numbers that are not text).
    Hex {
        registers: u16,
    },
}

impl DataType {
    /// Registers (or bits, for `Bool`) one value occupies.
    pub fn width(self) -> u16 {
        match self {
            DataType::Bool | DataType::U16 | DataType::I16 => 1,
            DataType::U32 | DataType::I32 | DataType::F32 => 2,
            DataType::U64 | DataType::F64 => 4,
            DataType::String { registers } | DataType::Hex { registers } => registers,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::U16 => "u16",
            DataType::I16 => "i16",
            DataType::U32 => "u32",
            DataType::I32 => "i32",
            DataType::U64 => "u64",
            DataType::F32 => "f32",
            DataType::F64 => "f64",
            DataType::String { .. } => "string",
            DataType::Hex { .. } => "hex",
        }
    }

    /// Decodes to text rather than a number.
    pub fn is_text(self) -> bool {
        matches!(self, DataType::String { .. } | DataType::Hex { .. })
    }
}

/// Order of words within a value, or of bytes within a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Most significant first (Modbus's usual order).
    Big,
    Little,
}

/// When a register is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadWhen {
    /// At every poll.
    Every,
    /// Once after the device (re)connects: identity, firmware.
    Once,
    /// Never: write-only.
    Never,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Register {
    pub name: String,
    pub table: Table,
    pub address: u16,
    pub data_type: DataType,
    pub word_order: Order,
    pub byte_order: Order,
    /// value = raw × scale + offset.
    pub scale: f64,
    pub offset: f64,
    pub unit: Option<String>,
    /// Applied to the raw integer before shifting it down to bit 0.
    pub mask: Option<u64>,
    /// Raw integers meaning "not available".
    pub unavailable: Vec<u64>,
    /// Read at this unit instead of the device's (a station's unit 200).
    pub unit_id: Option<u8>,
    pub read: ReadWhen,
    pub per_channel: bool,
    pub write_multiple: bool,
    pub description: Option<String>,
}

impl Register {
    /// Registers (or bits) occupied.
    pub fn width(&self) -> u16 {
        self.data_type.width()
    }

    /// Address for a device on `channel` of a multi-channel module.
    pub fn address_at(&self, channel: u16) -> u16 {
        if self.per_channel {
            self.address + channel
        } else {
            self.address
        }
    }

    /// Unit id to read it from, for a device at `device_unit`.
    pub fn unit_for(&self, device_unit: u8) -> u8 {
        self.unit_id.unwrap_or(device_unit)
    }
}

/// A raw value in a map key: numbers for numeric registers, text for strings.
#[derive(Debug, Clone, PartialEq)]
pub enum MapKey {
    Number(f64),
    Text(String),
}

/// Registers are referred to by index into `Profile::registers`.
pub type RegisterIndex = usize;

#[derive(Debug, Clone, PartialEq)]
pub struct VehiclePoint {
    pub register: RegisterIndex,
    pub map: Vec<(MapKey, VehicleState)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BoolPoint {
    pub register: RegisterIndex,
    /// Raw values meaning true; empty means "any non-zero".
    pub on: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FaultPoint {
    pub register: RegisterIndex,
    /// Raw values meaning "no fault".
    pub ok: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergyKind {
    /// Monotonic since manufacture.
    Lifetime,
    /// Restarts at 0 when a vehicle is plugged in (ABB Terra AC).
    Session,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnergyPoint {
    pub register: RegisterIndex,
    pub kind: EnergyKind,
}

/// Which registers provide each socket point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Points {
    pub vehicle: Option<VehiclePoint>,
    pub plug: Option<BoolPoint>,
    pub enabled: Option<BoolPoint>,
    pub fault: Option<FaultPoint>,
    pub energy_wh: Option<EnergyPoint>,
    pub power_w: Option<RegisterIndex>,
    pub current_a: [Option<RegisterIndex>; 3],
    pub voltage_v: [Option<RegisterIndex>; 3],
    pub setpoint_a: Option<RegisterIndex>,
    pub serial: Option<RegisterIndex>,
}

/// How a socket is switched on and off.
#[derive(Debug, Clone, PartialEq)]
pub enum EnableControl {
    /// Write `on` or `off` to a coil or register; read `verify` back.
    Register {
        register: RegisterIndex,
        on: u16,
        off: u16,
        verify: Option<RegisterIndex>,
    },
    /// The device has no enable: a setpoint of 0 A pauses it.
    ViaSetpoint,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SetpointControl {
    pub register: RegisterIndex,
    /// Rewrite period, for devices that fall back to a safe current otherwise.
    pub refresh: Option<Duration>,
    pub verify: Option<RegisterIndex>,
    /// Below this the device pauses charging (A).
    pub min_a: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Controls {
    pub enable: Option<EnableControl>,
    pub setpoint: Option<SetpointControl>,
}

/// How `modbus scan` recognises a device of this profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Identify {
    pub register: RegisterIndex,
    /// The decoded text must start with this; `None`: answering the read is enough.
    pub starts_with: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub kind: DeviceKind,
    pub limits: RequestLimits,
    /// Channels of a relay module; 0 for single devices.
    pub channels: u16,
    pub default_unit_id: Option<u8>,
    pub rules: StateRules,
    pub registers: Vec<Register>,
    pub points: Points,
    pub controls: Controls,
    pub identify: Option<Identify>,
}

impl Profile {
    pub fn register(&self, name: &str) -> Option<&Register> {
        self.registers.iter().find(|r| r.name == name)
    }

    /// Unit ids other than the device's own that this profile reads (a station's unit).
    pub fn extra_units(&self) -> Vec<u8> {
        let mut units: Vec<u8> = self.registers.iter().filter_map(|r| r.unit_id).collect();
        units.sort_unstable();
        units.dedup();
        units
    }
}
