//! Simulated badge readers on PTY pairs: an ASCII line reader (one UID per line, CR LF) and an
//! RDM6300 125 kHz module (STX, 10 hex chars of data, XOR checksum, ETX, repeated every 100 ms
//! while the card stays in the field).
//!
//! Owns the reader vocabulary (`ReaderProtocol`, `ReaderCommand` and its JSON form), the bytes
//! each command puts on the wire, and the line task that writes them. Written from the RDM6300
//! description independently of sitegate's decoder. Never reads what a client sends (readers
//! only talk). The PTY's client side stays open here, as for the RTU lines, so that a client
//! closing and reopening the path finds a live line.

use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_serial::{SerialPort, SerialStream};
use tokio_util::sync::CancellationToken;

use crate::error::SimError;
use crate::rng::SplitMix64;

/// How often an RDM6300 repeats the frame of a card in its field.
pub const RDM6300_REPEAT: Duration = Duration::from_millis(100);
/// Writes queued per reader before `control_reader` refuses more.
const QUEUE: usize = 16;
const STX: u8 = 0x02;
const ETX: u8 = 0x03;

/// What a simulated reader sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderProtocol {
    /// The UID as text, as given in the command, ended by CR LF.
    #[default]
    Ascii,
    /// RDM6300 frames.
    Rdm6300,
}

impl FromStr for ReaderProtocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ascii" => Ok(ReaderProtocol::Ascii),
            "rdm6300" => Ok(ReaderProtocol::Rdm6300),
            other => Err(format!(
                "unknown reader protocol {other:?} (ascii, rdm6300)"
            )),
        }
    }
}

fn default_hold_ms() -> u64 {
    300
}
fn default_uid() -> String {
    "0102A1B2C3".into()
}

/// What a test, the demo or the control channel does at a reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum ReaderCommand {
    /// A card is presented. ASCII: `uid` is sent as given (any case or separators), once.
    /// RDM6300: `uid` is 10 hex digits (version byte and tag) or 8 (version 00), and its
    /// frame is repeated every 100 ms for `hold_ms` (at least once).
    Badge {
        uid: String,
        #[serde(default = "default_hold_ms")]
        hold_ms: u64,
    },
    /// RDM6300 only: one frame whose checksum is wrong.
    BadChecksum {
        #[serde(default = "default_uid")]
        uid: String,
    },
    /// `bytes` random bytes that are neither STX, ETX, CR nor LF.
    Garbage { bytes: usize },
}

/// The writes a command makes, in order, `RDM6300_REPEAT` apart.
pub(crate) fn wire(
    protocol: ReaderProtocol,
    cmd: &ReaderCommand,
    rng: &mut SplitMix64,
) -> Result<Vec<Vec<u8>>, SimError> {
    match (protocol, cmd) {
        (ReaderProtocol::Ascii, ReaderCommand::Badge { uid, .. }) => {
            if uid.contains(['\r', '\n']) {
                return Err(SimError::InvalidState("a UID holds no line end".into()));
            }
            Ok(vec![format!("{uid}\r\n").into_bytes()])
        }
        (ReaderProtocol::Rdm6300, ReaderCommand::Badge { uid, hold_ms }) => {
            let frame = rdm6300_frame(uid, false)?;
            let repeats = hold_ms.div_ceil(RDM6300_REPEAT.as_millis() as u64).max(1);
            Ok(vec![frame; repeats as usize])
        }
        (ReaderProtocol::Rdm6300, ReaderCommand::BadChecksum { uid }) => {
            Ok(vec![rdm6300_frame(uid, true)?])
        }
        (ReaderProtocol::Ascii, ReaderCommand::BadChecksum { .. }) => Err(SimError::Unsupported(
            "bad_checksum: ASCII lines carry no checksum".into(),
        )),
        (_, ReaderCommand::Garbage { bytes }) => {
            let mut junk = Vec::with_capacity(*bytes);
            while junk.len() < *bytes {
                let b = (rng.next_u64() & 0xFF) as u8;
                if !matches!(b, STX | ETX | b'\r' | b'\n') {
                    junk.push(b);
                }
            }
            Ok(vec![junk])
        }
    }
}

/// STX, the data in uppercase hex, the XOR of the data bytes in hex, ETX.
fn rdm6300_frame(uid: &str, bad_checksum: bool) -> Result<Vec<u8>, SimError> {
    let digits = match uid.len() {
        8 => format!("00{uid}"),
        10 => uid.to_string(),
        _ => {
            return Err(SimError::InvalidState(format!(
                "an RDM6300 UID is 8 or 10 hex digits, not {}",
                uid.len()
            )));
        }
    }
    .to_ascii_uppercase();
    let mut sum = 0u8;
    for i in (0..10).step_by(2) {
        sum ^= u8::from_str_radix(&digits[i..i + 2], 16)
            .map_err(|_| SimError::InvalidState("the UID is not hex".into()))?;
    }
    if bad_checksum {
        sum ^= 0x5A;
    }
    let mut frame = vec![STX];
    frame.extend(digits.as_bytes());
    frame.extend(format!("{sum:02X}").as_bytes());
    frame.push(ETX);
    Ok(frame)
}

/// A reader's PTY: its path and the queue of its writes.
pub(crate) struct ReaderLine {
    pub protocol: ReaderProtocol,
    pub tx: mpsc::Sender<Vec<Vec<u8>>>,
}

/// Opens the PTY pair; returns the line and the path a client opens, and the task to spawn.
pub(crate) fn open_pty(
    protocol: ReaderProtocol,
    cancel: CancellationToken,
) -> io::Result<(ReaderLine, PathBuf, impl Future<Output = ()>)> {
    let (master, slave) = SerialStream::pair().map_err(io::Error::from)?;
    let path = slave
        .name()
        .map(PathBuf::from)
        .ok_or_else(|| io::Error::other("PTY without a name"))?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let task = run(master, slave, rx, cancel);
    Ok((ReaderLine { protocol, tx }, path, task))
}

async fn run(
    mut master: SerialStream,
    slave: SerialStream,
    mut rx: mpsc::Receiver<Vec<Vec<u8>>>,
    cancel: CancellationToken,
) {
    let write = async {
        while let Some(writes) = rx.recv().await {
            for (k, bytes) in writes.iter().enumerate() {
                if k > 0 {
                    tokio::time::sleep(RDM6300_REPEAT).await;
                }
                master.write_all(bytes).await?;
                master.flush().await?;
            }
        }
        Ok::<(), io::Error>(())
    };
    tokio::select! {
        () = cancel.cancelled() => {}
        r = write => if let Err(e) = r {
            log::warn!("reader line stopped: {e}");
        },
    }
    drop(slave);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form() {
        let c: ReaderCommand = serde_json::from_str(r#"{"cmd":"badge","uid":"04A1B2C3"}"#).unwrap();
        assert_eq!(
            c,
            ReaderCommand::Badge {
                uid: "04A1B2C3".into(),
                hold_ms: 300
            }
        );
        let c: ReaderCommand = serde_json::from_str(r#"{"cmd":"garbage","bytes":5}"#).unwrap();
        assert_eq!(c, ReaderCommand::Garbage { bytes: 5 });
    }

    #[test]
    fn rdm6300_frames() {
        let mut rng = SplitMix64::new(1);
        let badge = ReaderCommand::Badge {
            uid: "010063e9ae".into(),
            hold_ms: 450,
        };
        let writes = wire(ReaderProtocol::Rdm6300, &badge, &mut rng).unwrap();
        assert_eq!(writes.len(), 5);
        assert_eq!(writes[0], b"\x02010063E9AE25\x03");
        let short = ReaderCommand::Badge {
            uid: "04A1B2C3".into(),
            hold_ms: 0,
        };
        let writes = wire(ReaderProtocol::Rdm6300, &short, &mut rng).unwrap();
        assert_eq!(writes, [b"\x020004A1B2C3D4\x03".to_vec()]);
        let bad = ReaderCommand::BadChecksum {
            uid: "010063E9AE".into(),
        };
        let writes = wire(ReaderProtocol::Rdm6300, &bad, &mut rng).unwrap();
        assert_ne!(writes[0], b"\x02010063E9AE25\x03");
        assert!(wire(ReaderProtocol::Ascii, &bad, &mut rng).is_err());
        let junk = wire(
            ReaderProtocol::Rdm6300,
            &ReaderCommand::Garbage { bytes: 300 },
            &mut rng,
        )
        .unwrap();
        assert_eq!(junk[0].len(), 300);
        assert!(!junk[0].iter().any(|b| matches!(b, 2 | 3 | 10 | 13)));
    }
}
