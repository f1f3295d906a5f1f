//! The simulator's error type.
//!
//! Owns every error the library API returns to its caller; transports return `io::Error`
//! because that is what a listener or a PTY fails with.
//! Never carries Modbus exceptions: those are answers to a client, not errors of the simulator.

use std::io;

/// What went wrong with a control command, a unit spec or a bus.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("no bus named {0:?}")]
    UnknownBus(String),
    #[error("bus {bus:?} has no unit {unit}")]
    UnknownUnit { bus: String, unit: u8 },
    #[error("unit {unit} on bus {bus:?} ({model}) has no socket: {hint}")]
    NoSocket {
        bus: String,
        unit: u8,
        model: String,
        hint: &'static str,
    },
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("invalid unit spec: {0}")]
    InvalidSpec(String),
    #[error(
        "unknown profile {0:?} (known: generic-socket, generic-relay, eastron-sdm630, abb-terra-ac, alfen-ng9xx, plain-4)"
    )]
    UnknownModel(String),
    #[error("no reader named {0:?}")]
    UnknownReader(String),
    #[error("reader {0:?} exists already")]
    DuplicateReader(String),
    #[error("bus {0:?} exists already")]
    DuplicateBus(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<SimError> for io::Error {
    fn from(e: SimError) -> Self {
        match e {
            SimError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
        }
    }
}
