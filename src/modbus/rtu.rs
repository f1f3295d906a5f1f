//! The Modbus RTU master link on one serial line (RS-485): opens and configures the port,
//! frames requests, keeps the line's silences, finds the answer among whatever else is on the
//! wire, resynchronises after garbage, and counts what went wrong. Owns the port and the line's
//! timing; never decides what to poll or when (the bus owner does), never retries (a retry is
//! the owner's decision on a shared line), and never interprets the data it reads.
//!
//! One transaction at a time: the link is `&mut`, and the line is only ever read while a
//! transaction is in progress, so anything found on it beforehand is stale and discarded.

use std::fmt;
use std::io;
use std::time::Duration;

use log::debug;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_serial::{SerialPort, SerialStream};

use super::crc;
use super::frame::{ModbusError, ReadData, ReadRequest, WriteRequest};
use super::pdu::{self, EXCEPTION_FLAG, EXCEPTION_PDU_LEN, Request, Response, ResponseLen};
use super::timing::{self, LineTiming};
use crate::config::serial::{DataBits, Parity, SerialSettings, StopBits};

/// The unit id every device obeys and none answers.
pub const BROADCAST_UNIT: u8 = 0;
/// Unit id and CRC around every PDU.
const ADU_OVERHEAD: usize = 3;
/// The longest RTU frame the specification allows.
const MAX_ADU_LEN: usize = 256;
/// Received bytes kept while looking for the answer: a few frames' worth. Older bytes cannot be
/// the start of the answer any more and are dropped as garbage.
const MAX_RX_BUFFER: usize = 4 * MAX_ADU_LEN;

/// Line discipline beyond what the serial settings imply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineOptions {
    /// Least time from the end of one transaction (last byte sent or received) to the next
    /// request; t3.5 applies when this is shorter. Slow devices need 100-500 ms.
    pub inter_request_delay: Duration,
    /// Least time from the end of a broadcast to the next request, so that every device has
    /// carried it out before it is addressed again (the specification's turnaround delay).
    pub broadcast_turnaround: Duration,
}

impl Default for LineOptions {
    fn default() -> LineOptions {
        LineOptions {
            inter_request_delay: Duration::ZERO,
            broadcast_turnaround: Duration::from_millis(100),
        }
    }
}

/// What the link has seen since it was opened, for the owner's health reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Transactions started on the line, broadcasts included.
    pub requests: u64,
    pub timeouts: u64,
    pub framing_errors: u64,
    pub exceptions: u64,
    /// Bytes read and thrown away: stale input, garbage, frames that were not the answer.
    pub bytes_discarded: u64,
}

/// A Modbus RTU master on one serial line.
///
/// Its waits for the line end with up to two milliseconds of blocking sleep (see
/// [`timing::wait_until`]): it belongs to a bus owner running on its own OS thread with a
/// current-thread runtime.
#[derive(Debug)]
pub struct RtuLink {
    port: SerialStream,
    line: LineTiming,
    options: LineOptions,
    /// End of the last byte sent or received, garbage included.
    last_activity: Instant,
    /// No request before this (set by broadcasts).
    hold_until: Instant,
    counters: LinkCounters,
    rx: Vec<u8>,
}

impl RtuLink {
    /// Opens the port exclusively and configures it. Must run inside a tokio runtime (the port
    /// registers with its reactor). Each setting is applied on its own so that a refusal names
    /// it: some ports (and PTYs on some machines) refuse parity.
    pub fn open(settings: &SerialSettings, options: LineOptions) -> Result<RtuLink, ModbusError> {
        let builder = tokio_serial::new(settings.path.to_string_lossy(), settings.baud)
            .flow_control(tokio_serial::FlowControl::None);
        let mut port = SerialStream::open(&builder)
            .map_err(|e| port_error(settings, "open", io::Error::from(e)))?;
        configure(&mut port, settings)?;
        Ok(RtuLink {
            port,
            line: LineTiming::new(settings.baud, settings.bits_per_char()),
            options,
            // The port may have been busy just before: count opening as activity.
            last_activity: Instant::now(),
            hold_until: Instant::now(),
            counters: LinkCounters::default(),
            rx: Vec::with_capacity(MAX_RX_BUFFER),
        })
    }

    /// Reads `req.count` items. `timeout` is the device's allowance beyond the wire time of the
    /// request and of its answer; waiting for the line to be free before sending is not part
    /// of it.
    pub async fn read(
        &mut self,
        req: &ReadRequest,
        timeout: Duration,
    ) -> Result<ReadData, ModbusError> {
        match self
            .transact(req.unit, &Request::from(req), timeout)
            .await?
        {
            Response::Data(data) => Ok(data),
            Response::Written => Err(ModbusError::Framing("write answer to a read".into())),
        }
    }

    /// Writes; unit 0 is a broadcast: nothing is awaited, and the next request waits for the
    /// broadcast turnaround.
    pub async fn write(
        &mut self,
        req: &WriteRequest,
        timeout: Duration,
    ) -> Result<(), ModbusError> {
        self.transact(req.unit(), &Request::from(req), timeout)
            .await
            .map(|_| ())
    }

    /// One transaction of any function the PDU codec knows (function 15 is only reachable
    /// here). Unit 0 broadcasts a write and answers `Written` once it is on the line.
    pub async fn transact(
        &mut self,
        unit: u8,
        req: &Request,
        timeout: Duration,
    ) -> Result<Response, ModbusError> {
        let adu = encode_adu(unit, req)?;
        self.counters.requests += 1;
        let result = self.exchange(unit, req, &adu, timeout).await;
        self.count(&result);
        result
    }

    /// What the link has seen so far.
    #[cfg(test)]
    pub fn counters(&self) -> LinkCounters {
        self.counters
    }

    /// The line's character timing.
    #[cfg(test)]
    pub fn timing(&self) -> LineTiming {
        self.line
    }

    /// The earliest moment the next request may start.
    pub fn ready_at(&self) -> Instant {
        let gap = self.line.t3_5().max(self.options.inter_request_delay);
        (self.last_activity + gap).max(self.hold_until)
    }

    async fn exchange(
        &mut self,
        unit: u8,
        req: &Request,
        adu: &[u8],
        timeout: Duration,
    ) -> Result<Response, ModbusError> {
        self.settle(timeout).await?;
        let sent_end = self.send(adu).await?;
        if unit == BROADCAST_UNIT {
            self.hold_until = sent_end + self.options.broadcast_turnaround;
            return Ok(Response::Written);
        }
        let answer_len = ADU_OVERHEAD + req.response_len();
        let deadline = sent_end + self.line.wire_time(answer_len) + timeout;
        let pdu = self.receive(unit, req, deadline, timeout).await?;
        pdu::decode_response(req, &pdu)
    }

    /// Waits until the line may carry a request, throwing away whatever arrived since the last
    /// transaction (late answers, noise). Bytes found restart the silence: the line is only
    /// ready once it has been quiet for the full gap. Gives up after `budget` on a line that
    /// never falls silent.
    async fn settle(&mut self, budget: Duration) -> Result<(), ModbusError> {
        let give_up = Instant::now() + budget;
        loop {
            timing::wait_until(self.ready_at()).await;
            let stale = self.discard_pending()?;
            if stale == 0 {
                return Ok(());
            }
            debug!("rtu: discarded {stale} stale bytes before a request");
            if Instant::now() >= give_up {
                return Err(ModbusError::Framing(format!(
                    "line never fell silent within {budget:?}"
                )));
            }
        }
    }

    /// Reads and drops everything already received, without waiting.
    fn discard_pending(&mut self) -> Result<usize, ModbusError> {
        let mut chunk = [0u8; MAX_ADU_LEN];
        let mut total = 0;
        loop {
            match self.port.try_read(&mut chunk) {
                Ok(0) => return Err(port_closed()),
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if total > 0 {
            // When they arrived is unknown: now is the safe guess for the silence that follows.
            self.last_activity = self.last_activity.max(Instant::now());
            self.counters.bytes_discarded += total as u64;
        }
        Ok(total)
    }

    /// Sends one frame; returns when its last byte will have left the UART. The write only
    /// queues the bytes, so their end on the wire is estimated from the baud rate.
    async fn send(&mut self, adu: &[u8]) -> Result<Instant, ModbusError> {
        self.port.write_all(adu).await?;
        let end = Instant::now() + self.line.wire_time(adu.len());
        self.last_activity = end;
        Ok(end)
    }

    /// Collects bytes until the answer from `unit` to `req` is among them, and returns its PDU.
    /// A frame that is complete but rejected (bad CRC, another unit, function or byte count)
    /// ends the wait as soon as the line has been silent for t3.5 after it, unless a candidate
    /// for the answer is still arriving.
    async fn receive(
        &mut self,
        unit: u8,
        req: &Request,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Vec<u8>, ModbusError> {
        self.rx.clear();
        let mut chunk = [0u8; MAX_ADU_LEN];
        loop {
            let (rejected, waiting) = match scan(&self.rx, unit, req) {
                Scan::Found { start, len } => return Ok(self.take_frame(start, len)),
                Scan::Pending { rejected, waiting } => (rejected, waiting),
            };
            let wait_end = if rejected.is_some() && !waiting {
                deadline.min(self.last_activity + self.line.t3_5())
            } else {
                deadline
            };
            match tokio::time::timeout_at(wait_end, self.port.read(&mut chunk)).await {
                Ok(Ok(0)) => return Err(port_closed()),
                Ok(Ok(n)) => self.received(&chunk[..n]),
                Ok(Err(e)) => return Err(e.into()),
                Err(_elapsed) => return Err(self.nothing_found(unit, rejected, timeout)),
            }
        }
    }

    fn received(&mut self, bytes: &[u8]) {
        // Never moves back: bytes read while our own request is still estimated on the wire
        // (a PTY, an adapter that echoes) do not end that request early.
        self.last_activity = self.last_activity.max(Instant::now());
        self.rx.extend_from_slice(bytes);
        if self.rx.len() > MAX_RX_BUFFER {
            let excess = self.rx.len() - MAX_RX_BUFFER;
            self.rx.drain(..excess);
            self.counters.bytes_discarded += excess as u64;
        }
    }

    /// The PDU of the frame at `start..start + len`; everything around it is discarded.
    fn take_frame(&mut self, start: usize, len: usize) -> Vec<u8> {
        let around = self.rx.len() - len;
        if around > 0 {
            debug!("rtu: skipped {around} bytes around the answer");
        }
        self.counters.bytes_discarded += around as u64;
        self.rx[start + 1..start + len - 2].to_vec()
    }

    /// The error when the wait ends without the answer: silence is a timeout, anything else a
    /// framing error saying what came instead. The bytes are discarded.
    fn nothing_found(
        &mut self,
        unit: u8,
        rejected: Option<String>,
        timeout: Duration,
    ) -> ModbusError {
        let received = self.rx.len();
        self.counters.bytes_discarded += received as u64;
        if received == 0 {
            return ModbusError::Timeout(timeout);
        }
        let what = rejected.unwrap_or_else(|| {
            format!("{received} bytes, none the start of an answer from unit {unit}")
        });
        ModbusError::Framing(what)
    }

    fn count(&mut self, result: &Result<Response, ModbusError>) {
        match result {
            Ok(_) => {}
            Err(ModbusError::Timeout(_)) => self.counters.timeouts += 1,
            Err(ModbusError::Exception { .. }) => self.counters.exceptions += 1,
            Err(ModbusError::Framing(what)) => {
                self.counters.framing_errors += 1;
                debug!("rtu: framing error: {what}");
            }
            Err(_) => {}
        }
    }
}

/// Applies data bits, stop bits and parity one at a time so that a refusal names the setting,
/// then reads them back: some drivers accept a setting and silently keep the old one.
fn configure(port: &mut SerialStream, settings: &SerialSettings) -> Result<(), ModbusError> {
    let data_bits = match settings.data_bits {
        DataBits::Seven => tokio_serial::DataBits::Seven,
        DataBits::Eight => tokio_serial::DataBits::Eight,
    };
    let stop_bits = match settings.stop_bits {
        StopBits::One => tokio_serial::StopBits::One,
        StopBits::Two => tokio_serial::StopBits::Two,
    };
    let parity = match settings.parity {
        Parity::None => tokio_serial::Parity::None,
        Parity::Even => tokio_serial::Parity::Even,
        Parity::Odd => tokio_serial::Parity::Odd,
    };
    apply(
        settings,
        "data bits",
        data_bits,
        port.set_data_bits(data_bits),
        port.data_bits(),
    )?;
    apply(
        settings,
        "stop bits",
        stop_bits,
        port.set_stop_bits(stop_bits),
        port.stop_bits(),
    )?;
    apply(
        settings,
        "parity",
        parity,
        port.set_parity(parity),
        port.parity(),
    )?;
    Ok(())
}

fn apply<T: PartialEq + fmt::Debug>(
    settings: &SerialSettings,
    name: &str,
    wanted: T,
    set: tokio_serial::Result<()>,
    read_back: tokio_serial::Result<T>,
) -> Result<(), ModbusError> {
    let refused = |e: tokio_serial::Error| {
        port_error(
            settings,
            &format!("setting {name} to {wanted:?}"),
            io::Error::from(e),
        )
    };
    set.map_err(refused)?;
    let actual = read_back.map_err(refused)?;
    if actual != wanted {
        return Err(port_error(
            settings,
            &format!("setting {name} to {wanted:?}"),
            io::Error::other(format!("the port kept {actual:?}")),
        ));
    }
    Ok(())
}

fn port_error(settings: &SerialSettings, doing: &str, e: io::Error) -> ModbusError {
    ModbusError::Io(io::Error::new(
        e.kind(),
        format!("serial port {settings}: {doing} refused: {e}"),
    ))
}

fn port_closed() -> ModbusError {
    ModbusError::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "serial port closed",
    ))
}

/// Unit id, PDU, CRC. Reads cannot be broadcast: nobody would answer.
fn encode_adu(unit: u8, req: &Request) -> Result<Vec<u8>, ModbusError> {
    if unit == BROADCAST_UNIT && matches!(req, Request::Read { .. }) {
        return Err(ModbusError::InvalidRequest(
            "a read cannot be broadcast".into(),
        ));
    }
    let mut adu = vec![unit];
    adu.extend(req.encode()?);
    crc::append(&mut adu);
    Ok(adu)
}

/// What the received bytes hold so far.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// The answer is at `start..start + len`.
    Found { start: usize, len: usize },
    /// No answer yet. `rejected` describes the first complete frame that was not the answer;
    /// `waiting` says a candidate for the answer is still incomplete.
    Pending {
        rejected: Option<String>,
        waiting: bool,
    },
}

/// What one position in the received bytes may be the start of.
#[derive(Debug, PartialEq, Eq)]
enum Candidate {
    /// The answer: right unit, function, byte count and CRC.
    Answer(usize),
    /// Starts like the answer but has not fully arrived.
    Incomplete,
    /// Starts like the answer, is complete, and its CRC fails.
    Corrupt(String),
    /// A well-formed frame (its CRC checks) that is not the answer.
    Foreign { len: usize, why: String },
    /// Nothing recognisable: one byte of garbage.
    Garbage,
}

/// Finds the answer in `buf`, skipping garbage and frames that are not it. Stateless: it reads
/// the whole buffer each time, which costs little at RTU frame sizes and cannot lose its place.
fn scan(buf: &[u8], unit: u8, req: &Request) -> Scan {
    let mut rejected = None;
    let mut at = 0;
    while at < buf.len() {
        match classify(&buf[at..], unit, req) {
            Candidate::Answer(len) => return Scan::Found { start: at, len },
            Candidate::Incomplete => {
                return Scan::Pending {
                    rejected,
                    waiting: true,
                };
            }
            Candidate::Corrupt(why) => {
                rejected.get_or_insert(why);
                at += 1;
            }
            Candidate::Foreign { len, why } => {
                rejected.get_or_insert(why);
                at += len;
            }
            Candidate::Garbage => at += 1,
        }
    }
    Scan::Pending {
        rejected,
        waiting: false,
    }
}

fn classify(bytes: &[u8], unit: u8, req: &Request) -> Candidate {
    let function = req.function();
    let Some(&got_function) = bytes.get(1) else {
        // A lone last byte can only matter if it is our unit id.
        return if bytes[0] == unit {
            Candidate::Incomplete
        } else {
            Candidate::Garbage
        };
    };
    let ours =
        bytes[0] == unit && (got_function == function || got_function == function | EXCEPTION_FLAG);
    if !ours {
        return foreign(bytes, unit, req);
    }
    let pdu_len = if got_function & EXCEPTION_FLAG != 0 {
        EXCEPTION_PDU_LEN
    } else {
        match (req.expected_byte_count(), bytes.get(2)) {
            (Some(_), None) => return Candidate::Incomplete,
            (Some(expected), Some(&announced)) if announced != expected => {
                return foreign(bytes, unit, req);
            }
            _ => req.response_len(),
        }
    };
    let len = pdu_len + ADU_OVERHEAD;
    match bytes.get(..len) {
        None => Candidate::Incomplete,
        Some(frame) if crc::is_valid(frame) => Candidate::Answer(len),
        Some(_) => Candidate::Corrupt(format!("bad CRC in the answer from unit {unit}")),
    }
}

/// A complete frame with a valid CRC that is not the answer, described; else garbage.
fn foreign(bytes: &[u8], unit: u8, req: &Request) -> Candidate {
    let ResponseLen::Known(pdu_len) = pdu::response_len(&bytes[1..]) else {
        return Candidate::Garbage;
    };
    let len = pdu_len + ADU_OVERHEAD;
    if !bytes.get(..len).is_some_and(crc::is_valid) {
        return Candidate::Garbage;
    }
    let (got_unit, got_function, function) = (bytes[0], bytes[1], req.function());
    let why = if got_unit != unit {
        format!("answer from unit {got_unit}, expected unit {unit}")
    } else if got_function & !EXCEPTION_FLAG != function {
        format!("answer with function {got_function}, expected function {function}")
    } else {
        let expected = req.expected_byte_count().unwrap_or(0);
        format!("byte count {}, expected {expected}", bytes[2])
    };
    Candidate::Foreign { len, why }
}

#[cfg(test)]
mod tests {
    //! Over real PTY pairs: the link opens the slave side by path, the test plays the device on
    //! the master side with raw bytes (or runs tokio-modbus's RTU server there). PTYs are opened
    //! without parity: they carry no parity bits and refuse the setting on some machines.

    use super::*;
    use crate::modbus::frame::Table;

    const UNIT: u8 = 1;
    const TIMEOUT: Duration = Duration::from_millis(500);
    const REQUEST_LEN: usize = 8;

    struct Bench {
        link: RtuLink,
        device: SerialStream,
        /// The pair's own slave end: kept open for the test's lifetime.
        _slave: SerialStream,
    }

    fn bench(baud: u32, options: LineOptions) -> Bench {
        let (device, slave) = SerialStream::pair().expect("PTY pair");
        let path = slave.name().expect("the PTY slave has a path");
        let settings = SerialSettings {
            path: path.into(),
            baud,
            data_bits: DataBits::Eight,
            parity: Parity::None,
            stop_bits: StopBits::One,
        };
        let link = RtuLink::open(&settings, options).expect("open the PTY slave");
        Bench {
            link,
            device,
            _slave: slave,
        }
    }

    fn with_crc(bytes: &[u8]) -> Vec<u8> {
        let mut frame = bytes.to_vec();
        crc::append(&mut frame);
        frame
    }

    fn holding(unit: u8, address: u16, count: u16) -> ReadRequest {
        ReadRequest {
            unit,
            table: Table::Holding,
            address,
            count,
        }
    }

    /// A function 3 answer carrying `values`.
    fn registers_answer(unit: u8, values: &[u16]) -> Vec<u8> {
        let mut frame = vec![unit, 3, (values.len() * 2) as u8];
        for value in values {
            frame.extend_from_slice(&value.to_be_bytes());
        }
        crc::append(&mut frame);
        frame
    }

    fn values(from: u16) -> Vec<u16> {
        (from..from + 10).collect()
    }

    /// Reads one request of `len` bytes; returns it and when its last byte was read, which is
    /// never earlier than when the link sent it.
    async fn next_request(device: &mut SerialStream, len: usize) -> (Vec<u8>, Instant) {
        let mut request = vec![0u8; len];
        device.read_exact(&mut request).await.expect("request");
        (request, Instant::now())
    }

    /// Answers the next request (of `REQUEST_LEN` bytes) with `answer`.
    async fn answer_with(device: &mut SerialStream, answer: &[u8]) {
        next_request(device, REQUEST_LEN).await;
        device.write_all(answer).await.expect("answer");
    }

    /// Waits, bounded, until the link's port holds `n` unread bytes: PTY writes reach the other
    /// side asynchronously.
    async fn until_pending(link: &RtuLink, n: u32) {
        for _ in 0..1000 {
            if link.port.bytes_to_read().expect("FIONREAD") >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("{n} bytes never reached the link");
    }

    /// One read of 10 holding registers from `UNIT`, which the device answers with `reply`.
    async fn read_answered(
        link: &mut RtuLink,
        device: &mut SerialStream,
        reply: &[u8],
    ) -> Result<ReadData, ModbusError> {
        let req = holding(UNIT, 0, 10);
        let (result, ()) = tokio::join!(link.read(&req, TIMEOUT), answer_with(device, reply));
        result
    }

    /// One read of 10 holding registers from `UNIT`, which the device receives and ignores.
    async fn read_ignored(
        link: &mut RtuLink,
        device: &mut SerialStream,
        timeout: Duration,
    ) -> Result<ReadData, ModbusError> {
        let req = holding(UNIT, 0, 10);
        let (result, _) = tokio::join!(link.read(&req, timeout), next_request(device, REQUEST_LEN));
        result
    }

    fn framing_text<T: fmt::Debug>(result: Result<T, ModbusError>) -> String {
        match result {
            Err(ModbusError::Framing(what)) => what,
            other => panic!("expected a framing error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn reads_ten_holding_registers() {
        let Bench {
            mut link,
            mut device,
            _slave,
        } = bench(115_200, LineOptions::default());
        let device_side = async {
            let (request, _) = next_request(&mut device, REQUEST_LEN).await;
            assert_eq!(request, [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]);
            device
                .write_all(&registers_answer(UNIT, &values(100)))
                .await
                .unwrap();
        };
        let req = holding(UNIT, 0, 10);
        let (result, ()) = tokio::join!(link.read(&req, TIMEOUT), device_side);
        assert_eq!(result.unwrap(), ReadData::Words(values(100)));
        let expected = LinkCounters {
            requests: 1,
            ..LinkCounters::default()
        };
        assert_eq!(link.counters(), expected);
    }

    #[tokio::test]
    async fn garbage_before_the_answer_is_skipped() {
        let Bench {
            mut link,
            mut device,
            _slave,
        } = bench(115_200, LineOptions::default());
        // Includes our unit and function followed by a wrong byte count: a false start.
        let mut reply = vec![0x00, 0xFF, 0x01, 0x03, 0x7E];
        reply.extend(registers_answer(UNIT, &values(7)));
        let result = read_answered(&mut link, &mut device, &reply).await;
        assert_eq!(result.unwrap(), ReadData::Words(values(7)));
        assert_eq!(link.counters().bytes_discarded, 5);
        assert_eq!(link.counters().framing_errors, 0);
    }

    #[tokio::test]
    async fn bad_crc_is_a_framing_error_and_the_next_request_succeeds() {
        let Bench {
            mut link,
            mut device,
            _slave,
        } = bench(115_200, LineOptions::default());
        let mut corrupt = registers_answer(UNIT, &values(100));
        *corrupt.last_mut().unwrap() ^= 0x5A;
        let result = read_answered(&mut link, &mut device, &corrupt).await;
        assert!(framing_text(result).contains("CRC"));

        let good = registers_answer(UNIT, &values(200));
        let result = read_answered(&mut link, &mut device, &good).await;
        assert_eq!(result.unwrap(), ReadData::Words(values(200)));
        let counters = link.counters();
        assert_eq!((counters.requests, counters.framing_errors), (2, 1));
        assert_eq!(counters.bytes_discarded, corrupt.len() as u64);
    }

    #[tokio::test]
    async fn silence_is_a_timeout() {
        let Bench {
            mut link,
            mut device,
            _slave,
        } = bench(115_200, LineOptions::default());
        let timeout = Duration::from_millis(50);
        let result = read_ignored(&mut link, &mut device, timeout).await;
        assert!(matches!(result, Err(ModbusError::Timeout(t)) if t == timeout));
        assert_eq!(link.counters().timeouts, 1);
    }

    #[tokio::test]
    async fn an_exception_answer_gives_its_code() {
        let Bench {
            mut link,
            mut device,
            _slave,
        } = bench(115_200, LineOptions::default());
        let exception = with_crc(&[UNIT, 0x83, 0x02]);
        let result = read_answered(&mut link, &mut device, &exception).await;
        assert!(matches!(result, Err(ModbusError::Exception { code: 2 })));
        assert_eq!(link.counters().exceptions, 1);
    }

    #[tokio::test]
    async fn an_answer_from_another_unit_is_never_taken() {
        let Bench {
            mut link,
            mut device,
            _slave,
        } = bench(115_200, LineOptions::default());
        let foreign = registers_answer(2, &values(300));
        let result = read_answered(&mut link, &mut device, &foreign).await;
        assert!(framing_text(result).contains("unit 2"));

        // Followed by ours, the foreign frame is skipped whole and ours is taken.
        let mut reply = foreign.clone();
        reply.extend(registers_answer(UNIT, &values(400)));
        let result = read_answered(&mut link, &mut device, &reply).await;
        assert_eq!(result.unwrap(), ReadData::Words(values(400)));
        assert_eq!(link.counters().bytes_discarded, 2 * foreign.len() as u64);
    }

    #[tokio::test]
    async fn a_late_answer_is_discarded_before_the_next_request() {
        let Bench {
            mut link,
            mut device,
            _slave,
        } = bench(115_200, LineOptions::default());
        let timeout = Duration::from_millis(30);
        let result = read_ignored(&mut link, &mut device, timeout).await;
        assert!(matches!(result, Err(ModbusError::Timeout(_))));

        // The device answers after the link gave up; the answer would fit the next request.
        let late = registers_answer(UNIT, &values(500));
        device.write_all(&late).await.unwrap();
        until_pending(&link, late.len() as u32).await;

        let fresh = registers_answer(UNIT, &values(600));
        let result = read_answered(&mut link, &mut device, &fresh).await;
        assert_eq!(result.unwrap(), ReadData::Words(values(600)));
        assert_eq!(link.counters().bytes_discarded, late.len() as u64);
    }

    /// Answers one request, noting when the answer started to leave; returns when the next
    /// request arrived. The answer cannot reach the link before that note.
    async fn answer_then_time_next(device: &mut SerialStream) -> (Instant, Instant) {
        next_request(device, REQUEST_LEN).await;
        let answer_written = Instant::now();
        device
            .write_all(&registers_answer(UNIT, &values(1)))
            .await
            .unwrap();
        let (_, next_arrived) = next_request(device, REQUEST_LEN).await;
        device
            .write_all(&registers_answer(UNIT, &values(2)))
            .await
            .unwrap();
        (answer_written, next_arrived)
    }

    async fn two_reads(link: &mut RtuLink) {
        link.read(&holding(UNIT, 0, 10), TIMEOUT).await.unwrap();
        link.read(&holding(UNIT, 0, 10), TIMEOUT).await.unwrap();
    }

    #[tokio::test]
    async fn the_next_request_waits_t3_5_after_the_last_byte_received() {
        // At 9,600 baud t3.5 is several milliseconds: an ungated link would send within
        // microseconds of the answer.
        let Bench {
            mut link,
            mut device,
            _slave,
        } = bench(9_600, LineOptions::default());
        let t3_5 = link.timing().t3_5();
        assert!(t3_5 > Duration::from_millis(3));
        let ((), (answer_written, next_arrived)) =
            tokio::join!(two_reads(&mut link), answer_then_time_next(&mut device));
        assert!(
            next_arrived >= answer_written + t3_5,
            "next request {:?} after the answer, t3.5 is {t3_5:?}",
            next_arrived - answer_written
        );
    }

    #[tokio::test]
    async fn the_next_request_waits_the_inter_request_delay() {
        let delay = Duration::from_millis(30);
        let options = LineOptions {
            inter_request_delay: delay,
            ..LineOptions::default()
        };
        let Bench {
            mut link,
            mut device,
            _slave,
        } = bench(115_200, options);
        let ((), (answer_written, next_arrived)) =
            tokio::join!(two_reads(&mut link), answer_then_time_next(&mut device));
        assert!(next_arrived >= answer_written + delay);
    }

    #[tokio::test]
    async fn a_broadcast_expects_no_answer_and_holds_the_line() {
        let turnaround = Duration::from_millis(40);
        let options = LineOptions {
            broadcast_turnaround: turnaround,
            ..LineOptions::default()
        };
        let Bench {
            mut link,
            mut device,
            _slave,
        } = bench(9_600, options);
        let broadcast = WriteRequest::Register {
            unit: BROADCAST_UNIT,
            address: 0x10,
            value: 0x1234,
        };
        let link_side = async {
            let before_broadcast = Instant::now();
            link.write(&broadcast, TIMEOUT).await.unwrap();
            let read = link.read(&holding(UNIT, 0, 10), TIMEOUT).await.unwrap();
            (before_broadcast, read)
        };
        let device_side = async {
            let (request, _) = next_request(&mut device, REQUEST_LEN).await;
            assert_eq!(request, with_crc(&[0, 6, 0x00, 0x10, 0x12, 0x34]));
            let (_, read_arrived) = next_request(&mut device, REQUEST_LEN).await;
            device
                .write_all(&registers_answer(UNIT, &values(9)))
                .await
                .unwrap();
            read_arrived
        };
        let ((before_broadcast, read), read_arrived) = tokio::join!(link_side, device_side);
        assert_eq!(read, ReadData::Words(values(9)));
        // The broadcast cannot have started before `before_broadcast`.
        let earliest = before_broadcast + link.timing().wire_time(REQUEST_LEN) + turnaround;
        assert!(read_arrived >= earliest);
        assert_eq!(link.counters().requests, 2);
    }

    #[tokio::test]
    async fn a_broadcast_read_is_refused_before_the_line() {
        let Bench { mut link, .. } = bench(115_200, LineOptions::default());
        let result = link.read(&holding(BROADCAST_UNIT, 0, 1), TIMEOUT).await;
        assert!(matches!(result, Err(ModbusError::InvalidRequest(_))));
        assert_eq!(link.counters().requests, 0);
    }

    #[tokio::test]
    async fn opening_a_missing_port_names_it() {
        let settings = SerialSettings {
            path: "/dev/sitegate-no-such-port".into(),
            baud: 9_600,
            data_bits: DataBits::Eight,
            parity: Parity::Even,
            stop_bits: StopBits::One,
        };
        let err = RtuLink::open(&settings, LineOptions::default()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/dev/sitegate-no-such-port 9600 8E1"),
            "{text}"
        );
    }

    #[test]
    fn bits_per_character() {
        let mut settings = SerialSettings {
            path: "/dev/null".into(),
            baud: 9_600,
            data_bits: DataBits::Eight,
            parity: Parity::Even,
            stop_bits: StopBits::One,
        };
        assert_eq!(settings.bits_per_char(), 11);
        settings.parity = Parity::None;
        assert_eq!(settings.bits_per_char(), 10);
        settings.stop_bits = StopBits::Two;
        assert_eq!(settings.bits_per_char(), 11);
        settings.data_bits = DataBits::Seven;
        settings.parity = Parity::Odd;
        assert_eq!(settings.bits_per_char(), 11);
    }

    mod scanning {
        use super::*;

        fn read10() -> Request {
            Request::from(&holding(UNIT, 0, 10))
        }

        #[test]
        fn partial_answers_wait_for_more() {
            let answer = registers_answer(UNIT, &values(1));
            for cut in [1, 2, 3, answer.len() - 1] {
                assert_eq!(
                    scan(&answer[..cut], UNIT, &read10()),
                    Scan::Pending {
                        rejected: None,
                        waiting: true
                    },
                    "cut at {cut}"
                );
            }
            assert_eq!(
                scan(&answer, UNIT, &read10()),
                Scan::Found {
                    start: 0,
                    len: answer.len()
                }
            );
        }

        #[test]
        fn wrong_byte_count_and_function_are_described() {
            let short = registers_answer(UNIT, &values(1)[..4]);
            let Scan::Pending {
                rejected: Some(why),
                waiting: false,
            } = scan(&short, UNIT, &read10())
            else {
                panic!("a short answer was not rejected");
            };
            assert!(why.contains("byte count 8"), "{why}");

            let input = with_crc(&[UNIT, 4, 2, 0, 1]);
            let Scan::Pending {
                rejected: Some(why),
                ..
            } = scan(&input, UNIT, &read10())
            else {
                panic!("an answer to another function was not rejected");
            };
            assert!(why.contains("function 4"), "{why}");
        }

        #[test]
        fn noise_alone_is_neither_found_nor_rejected() {
            assert_eq!(
                scan(&[0x00, 0xFF, 0x55], UNIT, &read10()),
                Scan::Pending {
                    rejected: None,
                    waiting: false
                }
            );
        }

        #[test]
        fn write_echoes_are_found() {
            let req = Request::WriteCoil {
                address: 7,
                value: true,
            };
            let echo = with_crc(&[UNIT, 5, 0, 7, 0xFF, 0]);
            let mut buf = vec![0xAA];
            buf.extend(&echo);
            assert_eq!(
                scan(&buf, UNIT, &req),
                Scan::Found {
                    start: 1,
                    len: echo.len()
                }
            );
        }
    }

    mod interop {
        //! Against tokio-modbus's RTU server: an independent implementation of the framing.

        use std::future::{Ready, ready};
        use std::sync::{Arc, Mutex};

        use tokio_modbus::server::rtu::Server;
        use tokio_modbus::{ExceptionCode, Request as TmRequest, Response as TmResponse};

        use super::*;

        /// One unit with 16 coils; holding register `a` reads as `a * 3`.
        #[derive(Clone, Default)]
        struct Device {
            coils: Arc<Mutex<[bool; 16]>>,
        }

        impl tokio_modbus::server::Service for Device {
            type Request = tokio_modbus::SlaveRequest<'static>;
            type Response = Option<TmResponse>;
            type Exception = ExceptionCode;
            type Future = Ready<Result<Self::Response, Self::Exception>>;

            fn call(&self, req: Self::Request) -> Self::Future {
                // The server answers every unit id: staying silent for others is ours to do.
                if req.slave != UNIT {
                    return ready(Ok(None));
                }
                ready(self.answer(req.request).map(Some))
            }
        }

        impl Device {
            fn answer(&self, req: TmRequest<'static>) -> Result<TmResponse, ExceptionCode> {
                let mut coils = self.coils.lock().unwrap();
                match req {
                    TmRequest::ReadHoldingRegisters(address, count) => {
                        Ok(TmResponse::ReadHoldingRegisters(
                            (address..address + count).map(|a| a * 3).collect(),
                        ))
                    }
                    TmRequest::WriteSingleCoil(address, value) => {
                        let coil = coils
                            .get_mut(usize::from(address))
                            .ok_or(ExceptionCode::IllegalDataAddress)?;
                        *coil = value;
                        Ok(TmResponse::WriteSingleCoil(address, value))
                    }
                    TmRequest::WriteMultipleCoils(address, values) => {
                        let start = usize::from(address);
                        let target = coils
                            .get_mut(start..start + values.len())
                            .ok_or(ExceptionCode::IllegalDataAddress)?;
                        target.copy_from_slice(&values);
                        Ok(TmResponse::WriteMultipleCoils(address, values.len() as u16))
                    }
                    _ => Err(ExceptionCode::IllegalFunction),
                }
            }
        }

        #[tokio::test]
        async fn reads_registers_and_writes_coils_through_tokio_modbus_server() {
            let Bench {
                mut link,
                device: port,
                _slave,
            } = bench(115_200, LineOptions::default());
            let device = Device::default();
            let server = tokio::spawn(Server::new(port).serve_forever(device.clone()));

            let data = link.read(&holding(UNIT, 5, 10), TIMEOUT).await.unwrap();
            let expected: Vec<u16> = (5..15).map(|a| a * 3).collect();
            assert_eq!(data, ReadData::Words(expected));

            let coil = WriteRequest::Coil {
                unit: UNIT,
                address: 3,
                value: true,
            };
            link.write(&coil, TIMEOUT).await.unwrap();
            assert!(device.coils.lock().unwrap()[3]);

            let input = ReadRequest {
                unit: UNIT,
                table: Table::Input,
                address: 0,
                count: 1,
            };
            let refused = link.read(&input, TIMEOUT).await;
            assert!(matches!(refused, Err(ModbusError::Exception { code: 1 })));

            let quiet = link
                .read(&holding(2, 0, 1), Duration::from_millis(30))
                .await;
            assert!(matches!(quiet, Err(ModbusError::Timeout(_))));

            server.abort();
            assert_eq!(link.counters().framing_errors, 0);
        }
    }
}
