//! Modbus TCP transport: a listener and one task per connection, framing MBAP itself.
//!
//! Owns the MBAP header (transaction id echoed, protocol 0, length, unit id), the connection
//! limit (a connection over it is accepted and closed at once, as an Alfen does with a third
//! master), the one-request-at-a-time behaviour of real devices (requests that arrive while one
//! is being answered are dropped, not queued), the idle timeout, the `slow` delay, garbage on
//! the wire and closing connections on `drop_connections`. Unit ids the bus lacks get exception
//! 0x0B, as a gateway answers for an absent target. Never decides an answer: the `Bus` does.
//!
//! Garbage on TCP is a junk record whose length field matches its size and whose protocol id
//! is not 0: a client rejects it at once instead of waiting for bytes that never come (real
//! junk on TCP comes from confused gateways, whole records at a time).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::Bus;
use crate::pdu::{self, Exception};

/// How a TCP bus behaves.
#[derive(Debug, Clone, Default)]
pub struct TcpOptions {
    /// Most simultaneous connections (Alfen: 2); `None`: unlimited.
    pub max_connections: Option<usize>,
    /// Drop requests that arrive while one is being answered, as most real devices do.
    pub one_request_at_a_time: bool,
    /// Close a connection idle this long (Alfen: 60 s); `None`: never.
    pub idle_timeout: Option<Duration>,
}

/// Counts a live connection; uncounts it when the connection task ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) async fn serve(
    listener: TcpListener,
    bus: Arc<Bus>,
    opts: TcpOptions,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    let live = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: pause instead of spinning.
                log::warn!("bus {}: accept: {e}", bus.name);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if opts
            .max_connections
            .is_some_and(|max| live.load(Ordering::SeqCst) >= max)
        {
            log::debug!("bus {}: refusing {peer}: connection limit", bus.name);
            drop(stream);
            continue;
        }
        live.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(live.clone());
        let (bus, opts, token) = (bus.clone(), opts.clone(), bus.connection_token());
        tracker.spawn(async move {
            let _slot = slot;
            if let Err(e) = connection(stream, &bus, &opts, token).await {
                log::debug!("bus {}: connection from {peer}: {e}", bus.name);
            }
        });
    }
}

/// A complete MBAP frame at the start of `buf`: its length, or `None` when more bytes are
/// needed. A header no Modbus client sends closes the connection.
fn frame_len(buf: &[u8]) -> io::Result<Option<usize>> {
    if buf.len() < 7 {
        return Ok(None);
    }
    let protocol = u16::from_be_bytes([buf[2], buf[3]]);
    let len = usize::from(u16::from_be_bytes([buf[4], buf[5]]));
    if protocol != 0 || !(2..=254).contains(&len) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a Modbus TCP header",
        ));
    }
    Ok((buf.len() >= 6 + len).then_some(6 + len))
}

async fn read_some(
    stream: &mut TcpStream,
    chunk: &mut [u8],
    idle: Option<Duration>,
) -> io::Result<usize> {
    match idle {
        None => stream.read(chunk).await,
        Some(t) => tokio::time::timeout(t, stream.read(chunk))
            .await
            .unwrap_or_else(|_| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "idle connection closed",
                ))
            }),
    }
}

/// Discards whatever the client sent meanwhile (requests pipelined behind the one answered).
fn discard_pending(stream: &TcpStream) {
    let mut sink = [0u8; 512];
    while let Ok(n) = stream.try_read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}

async fn connection(
    mut stream: TcpStream,
    bus: &Bus,
    opts: &TcpOptions,
    token: CancellationToken,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        while let Some(n) = frame_len(&buf)? {
            let frame: Vec<u8> = buf.drain(..n).collect();
            if opts.one_request_at_a_time {
                buf.clear();
            }
            let reply = tokio::select! {
                () = token.cancelled() => return Ok(()),
                r = answer(bus, &frame) => r,
            };
            let Some(reply) = reply else { continue };
            if opts.one_request_at_a_time {
                discard_pending(&stream);
            }
            stream.write_all(&reply).await?;
        }
        let n = tokio::select! {
            () = token.cancelled() => return Ok(()),
            r = read_some(&mut stream, &mut chunk, opts.idle_timeout) => r?,
        };
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The bytes to send for one request frame (after the `slow` delay); `None`: silence.
async fn answer(bus: &Bus, frame: &[u8]) -> Option<Vec<u8>> {
    let (tid, unit, request) = ([frame[0], frame[1]], frame[6], &frame[7..]);
    let answer = match bus.handle(unit, request) {
        Some(a) => a,
        None => crate::unit::Answer {
            pdu: Some(pdu::exception(
                pdu::function_of(request),
                Exception::GATEWAY_TARGET,
            )),
            ..Default::default()
        },
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let response = answer.pdu?;
    let mut adu = Vec::with_capacity(7 + response.len());
    adu.extend_from_slice(&tid);
    adu.extend_from_slice(&[0, 0]);
    adu.extend_from_slice(&(response.len() as u16 + 1).to_be_bytes());
    adu.push(unit);
    adu.extend_from_slice(&response);
    Some(match answer.garbage {
        None => adu,
        Some((mut junk, prefix)) => {
            junk.resize(junk.len().max(8), 0xA5);
            let len = (junk.len() - 6) as u16;
            let protocol = 0x8000 | u16::from(junk[2]);
            junk[2..4].copy_from_slice(&protocol.to_be_bytes());
            junk[4..6].copy_from_slice(&len.to_be_bytes());
            if prefix {
                junk.extend_from_slice(&adu);
            }
            junk
        }
    })
}
