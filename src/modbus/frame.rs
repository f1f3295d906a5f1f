//! Modbus vocabulary shared by every transport: what a write carries and how a transaction
//! fails (what a read addresses and returns is the profiles' `profile::register`). Pure data;
//! no I/O.

use std::fmt;

pub use crate::profile::register::{ReadData, ReadRequest, Table};

/// One write transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteRequest {
    /// Function 5.
    Coil { unit: u8, address: u16, value: bool },
    /// Function 6.
    Register { unit: u8, address: u16, value: u16 },
    /// Function 16: multi-register values must be written in one request on most devices.
    Registers {
        unit: u8,
        address: u16,
        values: Vec<u16>,
    },
}

impl fmt::Display for WriteRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteRequest::Coil {
                unit,
                address,
                value,
            } => {
                write!(
                    f,
                    "unit {unit}: coil {address} := {}",
                    if *value { "on" } else { "off" }
                )
            }
            WriteRequest::Register {
                unit,
                address,
                value,
            } => {
                write!(f, "unit {unit}: register {address:#06x} := {value:#06x}")
            }
            WriteRequest::Registers {
                unit,
                address,
                values,
            } => {
                write!(f, "unit {unit}: registers {address:#06x} := {values:04x?}")
            }
        }
    }
}

impl WriteRequest {
    pub fn unit(&self) -> u8 {
        match self {
            WriteRequest::Coil { unit, .. }
            | WriteRequest::Register { unit, .. }
            | WriteRequest::Registers { unit, .. } => *unit,
        }
    }
}

/// How one Modbus transaction fails. Callers branch on it: a timeout or a framing error counts
/// toward "not connected" and makes a TCP link reconnect; an exception proves the device is
/// alive but refused the request (usually a profile bug or an unsupported feature).
#[derive(Debug, thiserror::Error)]
pub enum ModbusError {
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("exception {code:#04x} ({})", exception_name(*.code))]
    Exception { code: u8 },
    #[error("malformed answer: {0}")]
    Framing(String),
    #[error("link down: {0}")]
    Io(#[from] std::io::Error),
    /// The request itself breaks the specification (zero or too many items, an address range
    /// past 65535, a broadcast read): a caller or configuration bug, never sent on the line.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl ModbusError {
    /// Whether the device answered at all (an exception is an answer).
    pub fn device_answered(&self) -> bool {
        matches!(self, ModbusError::Exception { .. })
    }
}

/// The standard names of Modbus exception codes.
pub fn exception_name(code: u8) -> &'static str {
    match code {
        1 => "illegal function",
        2 => "illegal data address",
        3 => "illegal data value",
        4 => "server device failure",
        5 => "acknowledge",
        6 => "server device busy",
        8 => "memory parity error",
        10 => "gateway path unavailable",
        11 => "gateway target device failed to respond",
        _ => "unknown exception",
    }
}
