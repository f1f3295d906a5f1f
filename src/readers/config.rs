//! The typed settings of one badge reader. Owns their shape and defaults; never parses or
//! validates a file (the configuration module builds these).

use std::path::PathBuf;
use std::time::Duration;

/// How long a card must have been out of the field before it is reported again.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(1500);
/// The line speed of the RDM6300 and of most USB serial badge readers.
pub const DEFAULT_BAUD: u32 = 9_600;

/// How an ASCII line reader writes the UID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AsciiFormat {
    /// Hex digits, byte 0 first (`04A1B2C3`, `04:a1:b2:c3`, `04 A1 B2 C3`).
    #[default]
    Hex,
    /// The UID as one decimal number, most significant byte first (`0078230211`), as many
    /// 125 kHz readers print it and as it is printed on the cards.
    Decimal,
}

/// What a reader sends on its serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// One UID per line, ended by CR and/or LF.
    AsciiLine { format: AsciiFormat },
    /// RDM6300 125 kHz module: `STX`, 10 hex chars of data, 2 of checksum, `ETX`.
    Rdm6300,
}

/// One badge reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderConfig {
    /// For logs and the operator (`entrance`).
    pub name: String,
    pub device: PathBuf,
    /// 8N1 at this speed.
    pub baud: u32,
    pub protocol: Protocol,
    /// Socket ids the reader serves: one, or several among which the core lets the user choose
    /// within a timeout.
    pub sockets: Vec<String>,
    /// A card still in the field is not reported again; it is once it has been away this long.
    pub debounce: Duration,
}

impl ReaderConfig {
    /// A reader with the default speed and debounce.
    pub fn new(name: &str, device: impl Into<PathBuf>, protocol: Protocol) -> ReaderConfig {
        ReaderConfig {
            name: name.to_string(),
            device: device.into(),
            baud: DEFAULT_BAUD,
            protocol,
            sockets: Vec::new(),
            debounce: DEFAULT_DEBOUNCE,
        }
    }
}
