//! Wire formats of badge readers: pure decoders from arbitrary byte chunks (a frame may arrive
//! split over reads or glued to the next) to normalised tokens. Owns framing, resynchronisation
//! after garbage, validation and the counts of what was rejected. Never reads a port, never
//! debounces, never logs (a rejection carries its reason; the UID never appears in it).
//!
//! Normalisation (OCPP id tokens: uppercase hex, byte 0 first):
//! - ASCII line, hex: the digits as sent, byte 0 first, uppercased; spaces, `:` and `-` removed.
//! - ASCII line, decimal: the number as a big-endian integer (most significant byte first, as
//!   the number printed on 125 kHz cards), in hex, at least 4 bytes: `0078230211` → `04A9B2C3`.
//! - RDM6300: the 5 data bytes in frame order (version or customer byte, then the 4-byte tag,
//!   most significant first): `02 "0100 63E9AE" "25" 03` → `010063E9AE`.

use super::config::{AsciiFormat, Protocol};
use super::token::Token;

/// Longest ASCII line accepted: a 10-byte UID written with separators fits easily.
pub const MAX_LINE_LEN: usize = 64;
const STX: u8 = 0x02;
const ETX: u8 = 0x03;
/// RDM6300: 10 hex chars of data and 2 of checksum between STX and ETX.
const RDM6300_BODY: usize = 12;
/// Bytes in a decimal UID: at least the 4 of a 125 kHz tag or a single-size NFC UID.
const MIN_DECIMAL_BYTES: usize = 4;

/// Why a frame or line was thrown away. Never holds the UID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("bad checksum: the frame says {sent:02X}, its data gives {computed:02X}")]
    BadChecksum { sent: u8, computed: u8 },
    #[error("over-long: more than {max} bytes without an end")]
    TooLong { max: usize },
    #[error("truncated: a new frame started after {len} bytes")]
    Truncated { len: usize },
    #[error("{len} bytes between start and end, {RDM6300_BODY} expected")]
    WrongLength { len: usize },
    #[error("not hex digits")]
    NotHex,
    #[error("odd number of hex digits")]
    OddLength,
    #[error("not a decimal number")]
    NotDecimal,
}

/// What the decoder has seen since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderCounts {
    /// Frames or lines that gave a token (repeats included).
    pub frames: u64,
    pub rejected: u64,
    /// RDM6300: bytes outside any frame.
    pub garbage_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames (RDM6300: looking for STX; lines: at the start of a line).
    Idle,
    /// Collecting a frame or line in `buf`.
    Collecting,
    /// An over-long line was rejected: skipping to its end.
    Skipping,
}

/// Turns a reader's byte stream into tokens and rejections.
#[derive(Debug)]
pub struct Decoder {
    protocol: Protocol,
    state: State,
    buf: Vec<u8>,
    counts: DecoderCounts,
}

impl Decoder {
    pub fn new(protocol: Protocol) -> Decoder {
        Decoder {
            protocol,
            state: State::Idle,
            buf: Vec::with_capacity(MAX_LINE_LEN),
            counts: DecoderCounts::default(),
        }
    }

    pub fn counts(&self) -> DecoderCounts {
        self.counts
    }

    /// Feeds one chunk as read from the port; returns what it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<Token, Rejected>> {
        let mut out = Vec::new();
        for &b in chunk {
            let done = match self.protocol {
                Protocol::Rdm6300 => self.rdm6300_byte(b),
                Protocol::AsciiLine { format } => self.line_byte(b, format),
            };
            if let Some(result) = done {
                match &result {
                    Ok(_) => self.counts.frames += 1,
                    Err(_) => self.counts.rejected += 1,
                }
                out.push(result);
            }
        }
        out
    }

    fn rdm6300_byte(&mut self, b: u8) -> Option<Result<Token, Rejected>> {
        match (self.state, b) {
            // A start inside a frame: the frame was cut short; this byte begins the next one.
            (State::Collecting, STX) => {
                let len = self.buf.len();
                self.buf.clear();
                Some(Err(Rejected::Truncated { len }))
            }
            (_, STX) => {
                self.state = State::Collecting;
                self.buf.clear();
                None
            }
            (State::Collecting, ETX) => {
                self.state = State::Idle;
                Some(rdm6300_body(&self.buf))
            }
            (State::Collecting, _) if self.buf.len() == RDM6300_BODY => {
                // No ETX where it belongs: resynchronise on the next STX.
                self.state = State::Idle;
                self.counts.garbage_bytes += 1;
                Some(Err(Rejected::TooLong {
                    max: RDM6300_BODY + 2,
                }))
            }
            (State::Collecting, _) => {
                self.buf.push(b);
                None
            }
            _ => {
                self.counts.garbage_bytes += 1;
                None
            }
        }
    }

    fn line_byte(&mut self, b: u8, format: AsciiFormat) -> Option<Result<Token, Rejected>> {
        let end = b == b'\r' || b == b'\n';
        match (self.state, end) {
            (State::Skipping, true) => {
                self.state = State::Idle;
                None
            }
            (State::Skipping, false) => None,
            // CR LF, or a blank line: nothing to decode.
            (State::Idle, true) => None,
            (_, true) => {
                self.state = State::Idle;
                let line = std::mem::take(&mut self.buf);
                Some(decode_line(&line, format))
            }
            (_, false) if self.buf.len() == MAX_LINE_LEN => {
                self.state = State::Skipping;
                self.buf.clear();
                Some(Err(Rejected::TooLong { max: MAX_LINE_LEN }))
            }
            (_, false) => {
                self.state = State::Collecting;
                self.buf.push(b);
                None
            }
        }
    }
}

/// The 12 characters between STX and ETX.
fn rdm6300_body(body: &[u8]) -> Result<Token, Rejected> {
    if body.len() != RDM6300_BODY {
        return Err(Rejected::WrongLength { len: body.len() });
    }
    let bytes = hex_bytes(body).ok_or(Rejected::NotHex)?;
    let (data, sent) = bytes.split_at(5);
    let computed = data.iter().fold(0, |acc, b| acc ^ b);
    if computed != sent[0] {
        return Err(Rejected::BadChecksum {
            sent: sent[0],
            computed,
        });
    }
    Token::from_bytes(data).ok_or(Rejected::NotHex)
}

fn decode_line(line: &[u8], format: AsciiFormat) -> Result<Token, Rejected> {
    let text: Vec<u8> = line
        .iter()
        .copied()
        .filter(|c| !matches!(c, b' ' | b'\t' | b':' | b'-'))
        .collect();
    match format {
        AsciiFormat::Hex => {
            if text.len() % 2 == 1 {
                return Err(Rejected::OddLength);
            }
            let bytes = hex_bytes(&text).ok_or(Rejected::NotHex)?;
            Token::from_bytes(&bytes).ok_or(Rejected::NotHex)
        }
        AsciiFormat::Decimal => {
            if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
                return Err(Rejected::NotDecimal);
            }
            // Checked digits only: the parse fails on overflow alone (more than 38 digits).
            let number: u128 = std::str::from_utf8(&text)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(Rejected::NotDecimal)?;
            let bytes = number.to_be_bytes();
            let significant = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
            let start = significant.min(bytes.len() - MIN_DECIMAL_BYTES);
            Token::from_bytes(&bytes[start..]).ok_or(Rejected::NotDecimal)
        }
    }
}

/// Pairs of hex digits to bytes; `None` if any is not a hex digit or one is left over.
fn hex_bytes(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 == 1 {
        return None;
    }
    text.chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests;
