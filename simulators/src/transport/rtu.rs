//! Modbus RTU transport on a PTY pair, with the timing of a real RS-485 line.
//!
//! Owns RTU framing (our own, not tokio-modbus's server: see `transport`): frames end where
//! their function code says, or, for unknown function codes, at a silence; CRC-16/MODBUS;
//! unit-id filtering (requests for absent units get silence, as on a real line; broadcasts to
//! unit 0 are applied and never answered); fault injection on the raw bytes (garbage, bad CRC).
//!
//! Timing emulation: the PTY delivers bytes at once, so the response is held back until the
//! instant a real line would have delivered its last byte:
//! `start + wire(request) + t3.5 + turnaround + slow + wire(response)`, where `start` is when
//! the request arrived, or later if the line was still busy with the previous transaction plus
//! its closing t3.5 (a client that does not keep that silence gets it imposed, as the real line
//! would). Each line runs on its own OS thread with a current-thread runtime, so the final
//! sub-millisecond blocking wait (`timing::wait_until`) delays nobody else.
//!
//! The PTY's client side is kept open here as well: with no slave fd open the master reads EIO
//! (a hang-up), so a client closing and reopening the path would find a dead line.
//! Never decides an answer: the `Bus` does.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio_serial::{SerialPort, SerialStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::Bus;
use crate::pdu;
use crate::transport::timing::{LineTiming, wait_until};

/// How an RTU line behaves.
#[derive(Debug, Clone)]
pub struct RtuOptions {
    /// Line speed for the timing emulation (the PTY itself has none). Default 19,200.
    pub baud: u32,
    /// 11 for 8E1/8O1/8N2 (the specification), 10 for 8N1. Default 11.
    pub bits_per_char: u8,
    /// Device reaction time added after the request's t3.5 (real devices: 2-10 ms). Default 0.
    pub turnaround: Duration,
    /// Hold responses back to line speed (default true); off, they go out at once.
    pub emulate_timing: bool,
    /// Silence that ends a frame of unknown length; default max(t3.5, 5 ms), PTYs and their
    /// clients being far less punctual than a UART.
    pub frame_gap: Option<Duration>,
}

impl Default for RtuOptions {
    fn default() -> Self {
        RtuOptions {
            baud: 19_200,
            bits_per_char: 11,
            turnaround: Duration::ZERO,
            emulate_timing: true,
            frame_gap: None,
        }
    }
}

/// CRC-16/MODBUS (reflected 0xA001, init 0xFFFF), sent low byte first.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0xFFFFu16;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

fn crc_ok(frame: &[u8]) -> bool {
    frame.len() >= 4 && {
        let (body, crc) = frame.split_at(frame.len() - 2);
        crc16(body).to_le_bytes() == crc
    }
}

/// Starts the line's thread; returns the path of the PTY side a client opens.
pub(crate) async fn spawn_pty_line(
    bus: Arc<Bus>,
    opts: RtuOptions,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) -> io::Result<PathBuf> {
    if opts.baud == 0 || !(7..=12).contains(&opts.bits_per_char) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "baud > 0, bits_per_char 7..=12",
        ));
    }
    let (path_tx, path_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("rtu-{}", bus.name))
        .spawn(move || {
            let _done = done_tx;
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(line(bus, opts, cancel, path_tx)),
                Err(e) => {
                    let _ = path_tx.send(Err(e));
                }
            }
        })?;
    // The tracker sees the thread through this task: `shutdown()` waits for the line to end.
    tracker.spawn(async move {
        let _ = done_rx.await;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    });
    path_rx
        .await
        .map_err(|_| io::Error::other("RTU line thread ended before opening its PTY"))?
}

struct Line {
    bus: Arc<Bus>,
    timing: LineTiming,
    opts: RtuOptions,
    /// When the line is free again: end of the last frame plus t3.5.
    free_at: Instant,
}

async fn line(
    bus: Arc<Bus>,
    opts: RtuOptions,
    cancel: CancellationToken,
    path_tx: oneshot::Sender<io::Result<PathBuf>>,
) {
    // `pair()` takes no flock and sets no TIOCEXCL on our client-side fd, so the client's own
    // exclusive open succeeds; do not call `set_exclusive(false)` on it: that takes a shared
    // flock, which locks the client out.
    let (mut master, slave) = match SerialStream::pair() {
        Ok(p) => p,
        Err(e) => {
            let _ = path_tx.send(Err(e.into()));
            return;
        }
    };
    let Some(path) = slave.name() else {
        let _ = path_tx.send(Err(io::Error::other("PTY without a name")));
        return;
    };
    let _ = path_tx.send(Ok(PathBuf::from(path)));
    let timing = LineTiming {
        baud: opts.baud,
        bits_per_char: opts.bits_per_char,
    };
    let mut line = Line {
        bus,
        timing,
        opts,
        free_at: Instant::now(),
    };
    tokio::select! {
        () = cancel.cancelled() => {}
        r = line.run(&mut master) => if let Err(e) = r {
            log::warn!("rtu {}: line stopped: {e}", line.bus.name);
        },
    }
    drop(slave);
}

impl Line {
    fn gap(&self) -> Duration {
        self.opts
            .frame_gap
            .unwrap_or_else(|| self.timing.t35().max(Duration::from_millis(5)))
    }

    async fn run(&mut self, port: &mut SerialStream) -> io::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(300);
        let mut chunk = [0u8; 300];
        // After a frame with a bad CRC a device ignores the line until it goes quiet.
        let mut resync = false;
        let mut arrived = Instant::now();
        loop {
            if !resync
                && let Some(n) = pdu::rtu_request_len(&buf)
                && buf.len() >= n
            {
                let frame: Vec<u8> = buf.drain(..n).collect();
                if crc_ok(&frame) {
                    self.process(port, &frame, arrived).await?;
                } else {
                    resync = true;
                }
                continue;
            }
            let read = if buf.is_empty() && !resync {
                Ok(port.read(&mut chunk).await)
            } else {
                tokio::time::timeout(self.gap(), port.read(&mut chunk)).await
            };
            match read {
                Ok(Ok(0)) => tokio::time::sleep(Duration::from_millis(10)).await,
                Ok(Ok(n)) => {
                    buf.extend_from_slice(&chunk[..n]);
                    arrived = Instant::now();
                }
                // EIO while no client has the PTY open (should not happen: we hold it open).
                Ok(Err(e)) if e.raw_os_error() == Some(5) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok(Err(e)) => return Err(e),
                Err(_silence) => {
                    // The line went quiet: a frame of unknown length ends here, junk is dropped.
                    let frame = std::mem::take(&mut buf);
                    if !resync && crc_ok(&frame) {
                        self.process(port, &frame, arrived).await?;
                    }
                    resync = false;
                }
            }
        }
    }

    async fn process(
        &mut self,
        port: &mut SerialStream,
        frame: &[u8],
        arrived: Instant,
    ) -> io::Result<()> {
        let t = self.timing;
        let start = arrived.max(self.free_at);
        let request_end = start + t.wire(frame.len());
        let (unit, request) = (frame[0], &frame[1..frame.len() - 2]);
        let answer = if unit == 0 {
            self.bus.broadcast(request);
            None
        } else {
            self.bus.handle(unit, request)
        };
        let Some(answer) = answer.filter(|a| a.pdu.is_some()) else {
            // Nobody answers; the request still occupied the line.
            self.free_at = request_end + t.t35();
            return Ok(());
        };
        let mut adu = Vec::with_capacity(3 + answer.pdu.as_ref().map_or(0, Vec::len));
        adu.push(unit);
        adu.extend_from_slice(answer.pdu.as_deref().unwrap_or_default());
        let mut crc = crc16(&adu);
        if answer.bad_crc {
            crc ^= 0xFFFF;
        }
        adu.extend_from_slice(&crc.to_le_bytes());
        let out = match answer.garbage {
            None => adu,
            Some((junk, false)) => junk,
            Some((mut junk, true)) => {
                junk.extend_from_slice(&adu);
                junk
            }
        };
        let react = t.t35() + self.opts.turnaround + answer.delay;
        let deadline = request_end + react + t.wire(out.len());
        if self.opts.emulate_timing {
            wait_until(deadline).await;
        } else if !answer.delay.is_zero() {
            tokio::time::sleep(answer.delay).await;
        }
        port.write_all(&out).await?;
        port.flush().await?;
        self.free_at = Instant::now().max(deadline) + t.t35();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_a_known_frame() {
        // Read holding 0x0000 × 1 from unit 1: 01 03 00 00 00 01 84 0A.
        let crc = crc16(&[1, 3, 0, 0, 0, 1]);
        assert_eq!(crc.to_le_bytes(), [0x84, 0x0A]);
        assert!(crc_ok(&[1, 3, 0, 0, 0, 1, 0x84, 0x0A]));
        assert!(!crc_ok(&[1, 3, 0, 0, 0, 1, 0x84, 0x0B]));
    }
}
