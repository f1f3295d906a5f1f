//! Badge readers: the edge that owns the serial ports of RFID/NFC readers and turns what they
//! send into normalised id tokens.
//!
//! Owns the ports (`reader`: one task per reader, reopened with backoff), the wire formats
//! (`frame`: ASCII line readers and RDM6300 frames), the repeat suppression (`debounce`) and the
//! token type that keeps UIDs out of logs (`token`). Never decides who may charge, never binds a
//! reader to a socket by itself (the core does, from `ReaderConfig::sockets`), never reads the
//! configuration file (`config` holds the typed settings only).
//!
//! See docs/readers.md for the supported readers and how their UIDs are normalised.

mod config;
mod debounce;
mod frame;
mod reader;
mod token;

pub use config::{AsciiFormat, DEFAULT_BAUD, DEFAULT_DEBOUNCE, Protocol, ReaderConfig};
pub use debounce::Debounce;
pub use frame::{Decoder, DecoderCounts, MAX_LINE_LEN, Rejected};
pub use reader::{BadgeRead, Reader, ReaderCounters, ReaderStats};
pub use token::Token;
