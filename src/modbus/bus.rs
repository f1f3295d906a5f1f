//! The bus owner: the one task that talks on a bus (a TCP connection or a serial line) and
//! serves every device on it. One request at a time; writes go ahead of polls and are read
//! back; polls follow each device's fixed period (earliest due first, so the schedule is
//! fair; devices due together are polled back to back on one wake-up), skipping missed slots
//! rather than bursting; a dead unit is retried at growing intervals; a lost link is reopened
//! with jittered, capped backoff and logged once.
//!
//! Inputs: the core's desired controls (a `watch`: latest value wins, so the core never waits
//! on a bus). Outputs: `core::Event`s on a bounded channel; when it is full the owner waits
//! (backpressure slows polling; no reading or state change is dropped).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::device::{CheckedWrite, Device};
use super::frame::{ModbusError, ReadData, ReadRequest};
use super::health::{Health, Transition};
use super::link::Link;
use super::schedule::Period;
use super::stats::BusStats;
use crate::config::BusConfig;
use crate::core::{Control, Event};
use crate::profile::decode::decode_words;

/// What the core wants of one device on this bus (index = position in `BusOwner::devices`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Desired {
    pub enable: Option<bool>,
    pub setpoint_a: Option<f64>,
}

pub struct BusOwner {
    config: BusConfig,
    devices: Vec<Device>,
    periods: Vec<Period>,
    health: Vec<Health>,
    /// When each device's setpoint was last written, for devices that forget it.
    setpoint_written: Vec<Option<Instant>>,
    /// Whether the device answered its last poll: controls wait for it, then are restored.
    reachable: Vec<bool>,
    /// Sequence of the last poll of each device: ties in due time go to the longest unserved.
    served: Vec<u64>,
    serial: u64,
    pending: VecDeque<(usize, CheckedWrite)>,
    desired: watch::Receiver<Vec<Desired>>,
    events: mpsc::Sender<Event>,
    stats: Arc<BusStats>,
    link: Option<Link>,
    link_retry_at: Instant,
    link_backoff: Box<dyn Iterator<Item = Duration> + Send>,
    link_down_logged: bool,
    /// The installer's tools: live registers out, one-off reads in (`with_tap`).
    tap: Option<super::tap::TapEnd>,
}

fn backoff() -> Box<dyn Iterator<Item = Duration> + Send> {
    Box::new(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .without_max_times()
            .build(),
    )
}

impl BusOwner {
    pub fn new(
        config: BusConfig,
        devices: Vec<Device>,
        poll_intervals: Vec<Duration>,
        desired: watch::Receiver<Vec<Desired>>,
        events: mpsc::Sender<Event>,
        stats: Arc<BusStats>,
    ) -> BusOwner {
        let now = Instant::now();
        let n = devices.len();
        // Every device falls due at once: one timer wake-up starts a round that polls them
        // back to back (a round of 64 TCP units takes a few milliseconds), rather than one
        // wake-up per device spread over the period.
        let periods = poll_intervals
            .iter()
            .map(|&every| Period::new(every, now))
            .collect();
        let health = poll_intervals
            .iter()
            .map(|&every| Health::new(config.dead_after, every.max(Duration::from_secs(1))))
            .collect();
        BusOwner {
            devices,
            periods,
            health,
            setpoint_written: vec![None; n],
            reachable: vec![false; n],
            served: vec![0; n],
            serial: 0,
            pending: VecDeque::new(),
            desired,
            events,
            stats,
            link: None,
            link_retry_at: now,
            link_backoff: backoff(),
            link_down_logged: false,
            config,
            tap: None,
        }
    }

    /// Publishes each device's decoded registers to the tap and serves its reads between polls.
    pub fn with_tap(mut self, tap: super::tap::TapEnd) -> BusOwner {
        self.tap = Some(tap);
        self
    }

    async fn next_tool_read(tap: &mut Option<super::tap::TapEnd>) -> Option<super::tap::ToolRead> {
        match tap {
            Some(t) => t.reads.recv().await,
            None => std::future::pending().await,
        }
    }

    /// A tool's read (a scan probe): one attempt, not counted as the devices' errors.
    async fn serve_tool_read(&mut self, read: super::tap::ToolRead) {
        let result = match self.ensure_link().await {
            Ok(link) => link.read(&read.request, read.timeout).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &result
            && self.link.as_ref().is_some_and(|l| l.must_reopen_after(e))
            && let Some(l) = self.link.take()
        {
            l.close().await;
        }
        let _ = read.reply.send(result);
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        self.take_desired();
        loop {
            if let Some((device, write)) = self.pending.pop_front() {
                self.write(device, write).await;
                continue;
            }
            self.queue_setpoint_refreshes(Instant::now());
            if !self.pending.is_empty() {
                continue;
            }
            let Some((next, due)) = self.next_poll() else {
                // No devices: serve the tools (a scan of an empty bus) until shutdown.
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    Some(read) = Self::next_tool_read(&mut self.tap) => {
                        self.serve_tool_read(read).await;
                        continue;
                    }
                }
            };
            let wake = self.next_refresh().map_or(due, |r| r.min(due));
            if wake <= Instant::now() {
                // Within a round: no timer and no task switch between polls; what the select
                // below would have served first still goes first.
                if cancel.is_cancelled() {
                    break;
                }
                if self.desired.has_changed().unwrap_or(false) {
                    self.take_desired();
                } else if let Some(read) = self.tap.as_mut().and_then(|t| t.reads.try_recv().ok()) {
                    self.serve_tool_read(read).await;
                } else if Instant::now() >= due && self.poll(next).await.is_err() {
                    break; // The core is gone: shutting down.
                }
                continue;
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                // Cancel-safe: `changed` only marks the value seen when it returns.
                Ok(()) = self.desired.changed() => self.take_desired(),
                // Cancel-safe: `recv` loses nothing when another branch wins.
                Some(read) = Self::next_tool_read(&mut self.tap) => self.serve_tool_read(read).await,
                // Cancel-safe: a timer.
                _ = sleep_until(wake) => {
                    // Woken for a setpoint refresh, the poll may not be due yet.
                    if Instant::now() >= due && self.poll(next).await.is_err() {
                        break; // The core is gone: shutting down.
                    }
                }
            }
        }
        if let Some(link) = self.link.take() {
            link.close().await;
        }
    }

    fn next_poll(&self) -> Option<(usize, Instant)> {
        (0..self.devices.len())
            .min_by_key(|&i| (self.periods[i].due(), self.served[i]))
            .map(|i| (i, self.periods[i].due()))
    }

    fn next_refresh(&self) -> Option<Instant> {
        self.devices
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.health[*i].is_dead())
            .filter_map(|(i, d)| Some(self.setpoint_written[i]? + d.setpoint_refresh()?.0))
            .min()
    }

    fn queue_setpoint_refreshes(&mut self, now: Instant) {
        for i in 0..self.devices.len() {
            if self.health[i].is_dead() {
                continue;
            }
            let Some(written) = self.setpoint_written[i] else {
                continue;
            };
            if let Some((every, writes)) = self.devices[i].setpoint_refresh()
                && now >= written + every
            {
                // Marked now so a failing write is not retried in a tight loop.
                self.setpoint_written[i] = Some(now);
                self.pending.extend(writes.into_iter().map(|w| (i, w)));
            }
        }
    }

    fn take_desired(&mut self) {
        let desired = self.desired.borrow_and_update().clone();
        for (i, want) in desired.into_iter().enumerate().take(self.devices.len()) {
            let d = &mut self.devices[i];
            let mut controls = Vec::new();
            if want.setpoint_a.is_some() && want.setpoint_a != d.setpoint_a {
                controls.push(Control::Setpoint(want.setpoint_a.unwrap_or_default()));
            }
            if want.enable.is_some() && want.enable != d.enable {
                controls.push(Control::Enable(want.enable.unwrap_or_default()));
            }
            for c in controls {
                let writes = self.devices[i].apply_control(c);
                // An unreachable device gets its controls restored when it answers.
                if self.reachable[i] {
                    self.pending.extend(writes.into_iter().map(|w| (i, w)));
                }
            }
        }
    }

    async fn ensure_link(&mut self) -> Result<&mut Link, ModbusError> {
        if self.link.is_none() {
            let now = Instant::now();
            if now < self.link_retry_at {
                return Err(ModbusError::Io(std::io::Error::other(
                    "link down, waiting to retry",
                )));
            }
            match Link::open(&self.config).await {
                Ok(link) => {
                    if self.link_down_logged {
                        log::info!(bus = self.config.name.as_str(); "bus {}: link open again", self.config.name);
                        self.link_down_logged = false;
                    }
                    self.stats.reconnects.fetch_add(1, Relaxed);
                    self.link = Some(link);
                }
                Err(e) => {
                    let wait = self.link_backoff.next().unwrap_or(Duration::from_secs(30));
                    self.link_retry_at = Instant::now() + wait;
                    if !self.link_down_logged {
                        log::warn!(bus = self.config.name.as_str(); "bus {}: cannot open link: {e}; retrying with backoff", self.config.name);
                        self.link_down_logged = true;
                    }
                    return Err(e);
                }
            }
        }
        Ok(self.link.as_mut().expect("opened above"))
    }

    fn count_error(&self, e: &ModbusError) {
        let counter = match e {
            ModbusError::Timeout(_) => &self.stats.timeouts,
            ModbusError::Framing(_) => &self.stats.framing_errors,
            ModbusError::Exception { .. } => &self.stats.exceptions,
            _ => &self.stats.io_errors,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// One read, retried on a live unit; the link is dropped when the error leaves it unusable.
    async fn read(&mut self, req: &ReadRequest, attempts: u32) -> Result<ReadData, ModbusError> {
        let timeout = self.config.request_timeout;
        let mut last = None;
        for _ in 0..attempts {
            self.stats.requests.fetch_add(1, Relaxed);
            let link = self.ensure_link().await?;
            match link.read(req, timeout).await {
                Ok(data) => {
                    // A working transaction: the link is stable, start backoff afresh.
                    self.link_backoff = backoff();
                    return Ok(data);
                }
                Err(e) => {
                    self.count_error(&e);
                    if self.link.as_ref().is_some_and(|l| l.must_reopen_after(&e))
                        && let Some(l) = self.link.take()
                    {
                        l.close().await;
                    }
                    if e.device_answered() {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or(ModbusError::Timeout(timeout)))
    }

    async fn poll(&mut self, i: usize) -> Result<(), mpsc::error::SendError<Event>> {
        let now = Instant::now();
        let late = now.saturating_duration_since(self.periods[i].due());
        self.stats.record_lateness(late);
        let skipped_before = self.periods[i].skipped;
        self.periods[i].advance(now);
        self.stats
            .skipped_polls
            .fetch_add(self.periods[i].skipped - skipped_before, Relaxed);
        self.serial += 1;
        self.served[i] = self.serial;
        self.stats.polls.fetch_add(1, Relaxed);
        self.stats.devices[i].polls.fetch_add(1, Relaxed);

        let attempts = if self.health[i].is_dead() {
            1
        } else {
            1 + self.config.retries
        };
        let mut failure: Option<ModbusError> = None;
        'parts: for p in 0..self.devices[i].parts.len() {
            for plan in self.devices[i].parts[p].reads() {
                match self.read(&plan.request, attempts).await {
                    Ok(data) => {
                        self.devices[i].parts[p].store(&plan, &data);
                        if let Some(tap) = &self.tap {
                            let profile = self.devices[i].parts[p].profile.clone();
                            tap.live.record(i, p, profile, plan, data);
                        }
                    }
                    Err(e @ ModbusError::Exception { .. }) => {
                        // The device is alive but refuses this block: its registers read as
                        // unavailable, and the error shows on the device's counters.
                        self.stats.devices[i].exceptions.fetch_add(1, Relaxed);
                        log::debug!(bus = self.config.name.as_str(); "unit {}: {e} on {:?}", plan.request.unit, plan.request);
                        let empty = ReadData::Words(vec![]);
                        self.devices[i].parts[p].store(&plan, &empty);
                    }
                    Err(e) => {
                        failure = Some(e);
                        break 'parts;
                    }
                }
            }
        }
        self.stats.record_latency(now.elapsed());
        let socket = self.devices[i].socket;
        match failure {
            None => {
                if let Some(tap) = &self.tap {
                    tap.live.polled(i, crate::clock::wall_ms());
                }
                for part in &mut self.devices[i].parts {
                    part.set_identity_read(true);
                }
                if self.health[i].success() == Some(Transition::Revived) {
                    log::info!(bus = self.config.name.as_str(); "unit {} answers again", self.devices[i].parts[0].unit);
                }
                if !std::mem::replace(&mut self.reachable[i], true) {
                    // First answer, or back after a failure: the device may have restarted and
                    // forgotten its setpoint.
                    let writes = self.devices[i].restore();
                    self.pending.extend(writes.into_iter().map(|w| (i, w)));
                }
                let readings = self.devices[i].readings();
                let read_at = Instant::now();
                self.events
                    .send(Event::Polled {
                        socket,
                        readings,
                        read_at,
                    })
                    .await?;
            }
            Some(e) => {
                self.stats.devices[i].failures.fetch_add(1, Relaxed);
                self.reachable[i] = false;
                let (transition, wait) = self.health[i].failure();
                if let Some(wait) = wait {
                    self.periods[i].postpone_to(Instant::now() + wait);
                }
                if transition == Some(Transition::Died) {
                    for part in &mut self.devices[i].parts {
                        part.set_identity_read(false);
                    }
                    let reason = format!(
                        "{} failed polls in a row, last: {e}",
                        self.health[i].consecutive_failures()
                    );
                    self.events
                        .send(Event::Unreachable { socket, reason })
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn write(&mut self, i: usize, w: CheckedWrite) {
        let timeout = self.config.request_timeout;
        self.stats.writes.fetch_add(1, Relaxed);
        let result = match self.ensure_link().await {
            Ok(link) => link.write(&w.write, timeout).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            self.count_error(&e);
            self.stats.write_failures.fetch_add(1, Relaxed);
            if self.link.as_ref().is_some_and(|l| l.must_reopen_after(&e))
                && let Some(l) = self.link.take()
            {
                l.close().await;
            }
            log::warn!(bus = self.config.name.as_str(); "{}: {e}", w.write);
            return;
        }
        if w.is_setpoint {
            self.setpoint_written[i] = Some(Instant::now());
        }
        let Some((read, register, expect)) = w.verify else {
            return;
        };
        let verified = match self.read(&read, 1).await {
            Ok(ReadData::Words(words)) => {
                let reg = &self.devices[i].parts[w.part].profile.registers[register];
                decode_words(reg, &words)
                    .as_number()
                    .is_some_and(|v| (v - expect).abs() < 0.05)
            }
            Ok(ReadData::Bits(bits)) => bits.first().is_some_and(|&b| b == (expect != 0.0)),
            Err(_) => false,
        };
        if !verified {
            self.stats.write_failures.fetch_add(1, Relaxed);
            log::warn!(bus = self.config.name.as_str(); "{}: not confirmed by reading back", w.write);
        }
    }
}
