//! The simulator handle: owns every bus, the physics tick, the ground-truth log writer, the
//! scenario loop, and their lifetimes.
//!
//! Every task it starts runs under one `CancellationToken` and one `TaskTracker` (RTU lines run
//! on their own OS threads, each watched by a tracked task): `cancel()` or dropping the last
//! `Sim` clone stops them all, `shutdown()` also waits for them. Never frames bytes or decides
//! register values: it routes control commands and time to units.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

use crate::bus::{Bus, BusKind, lock};
use crate::command::Command;
use crate::error::SimError;
use crate::models::{Model, UnitSpec};
use crate::reader::{self, ReaderCommand, ReaderLine, ReaderProtocol};
use crate::rng::SplitMix64;
use crate::transport::{RtuOptions, TcpOptions, rtu, tcp};
use crate::truth::{EventSink, Truth, TruthEvent};

/// How the simulator runs.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Append every ground-truth event to this file as JSON lines.
    pub truth_log: Option<PathBuf>,
    /// Physics step (tokio time); default 100 ms.
    pub tick: Duration,
    /// Start every unit frozen: its state changes only by requests and control commands.
    pub frozen: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            truth_log: None,
            tick: Duration::from_millis(100),
            frozen: false,
        }
    }
}

pub(crate) struct Shared {
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
    buses: RwLock<BTreeMap<String, Arc<Bus>>>,
    readers: RwLock<BTreeMap<String, ReaderLine>>,
    /// Garbage for the readers: deterministic, like everything else here.
    reader_rng: Mutex<SplitMix64>,
    events: Arc<EventSink>,
    frozen: bool,
}

/// A cloneable handle on all simulated devices. Create it inside a tokio runtime.
#[derive(Clone)]
pub struct Sim {
    shared: Arc<Shared>,
    /// Tasks hold `Shared`, not this: the last handle dropped cancels them.
    _guard: Arc<DropGuard>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("buses", &self.shared.bus_names())
            .finish()
    }
}

impl Sim {
    /// Starts the physics tick (and the log writer). Fails only when the log cannot be created.
    pub fn new(opts: SimOptions) -> io::Result<Sim> {
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let log = match &opts.truth_log {
            Some(path) => {
                let file = File::create(path)?;
                let (tx, rx) = mpsc::unbounded_channel();
                tracker.spawn(write_log(BufWriter::new(file), rx, cancel.clone()));
                Some(tx)
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            cancel: cancel.clone(),
            tracker,
            buses: RwLock::new(BTreeMap::new()),
            readers: RwLock::new(BTreeMap::new()),
            reader_rng: Mutex::new(SplitMix64::new(0x5EED)),
            events: EventSink::new(log),
            frozen: opts.frozen,
        });
        shared.tracker.spawn(tick(
            shared.clone(),
            opts.tick.max(Duration::from_millis(1)),
        ));
        Ok(Sim {
            shared,
            _guard: Arc::new(cancel.drop_guard()),
        })
    }

    /// Stops every listener, line, tick and scenario (returns at once).
    pub fn cancel(&self) {
        self.shared.cancel.cancel();
    }

    /// Stops everything and waits until it has stopped (the truth log is flushed).
    pub async fn shutdown(&self) {
        self.cancel();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }

    /// Serves `units` over Modbus TCP on `addr` (port 0: any free port); returns the bound
    /// address. Unit ids the bus lacks get exception 0x0B, as from a gateway.
    pub async fn serve_tcp(
        &self,
        bus: &str,
        addr: SocketAddr,
        units: Vec<UnitSpec>,
        opts: TcpOptions,
    ) -> io::Result<SocketAddr> {
        let s = &self.shared;
        let b = s.new_bus(bus, BusKind::Tcp, &units)?;
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        s.add_bus(b.clone())?;
        s.tracker.spawn(tcp::serve(
            listener,
            b,
            opts,
            s.cancel.clone(),
            s.tracker.clone(),
        ));
        Ok(local)
    }

    /// Serves `units` over Modbus RTU on a new PTY pair; returns the path a client opens
    /// (without parity: PTYs refuse it; the line's timing is `opts.bits_per_char`).
    pub async fn serve_rtu_pty(
        &self,
        bus: &str,
        units: Vec<UnitSpec>,
        opts: RtuOptions,
    ) -> io::Result<PathBuf> {
        let s = &self.shared;
        let b = s.new_bus(bus, BusKind::Rtu, &units)?;
        let path = rtu::spawn_pty_line(b.clone(), opts, s.cancel.clone(), &s.tracker).await?;
        s.add_bus(b)?;
        Ok(path)
    }

    /// Serves a badge reader on a new PTY pair; returns the path a client opens (8N1; the PTY
    /// has no speed). Reader names are their own namespace, apart from buses.
    pub fn serve_reader_pty(&self, name: &str, protocol: ReaderProtocol) -> io::Result<PathBuf> {
        let s = &self.shared;
        let mut readers = s.readers.write().unwrap_or_else(PoisonError::into_inner);
        if readers.contains_key(name) {
            return Err(SimError::DuplicateReader(name.to_string()).into());
        }
        let (line, path, task) = reader::open_pty(protocol, s.cancel.clone())?;
        s.tracker.spawn(task);
        readers.insert(name.to_string(), line);
        Ok(path)
    }

    /// Queues what a reader sends for `cmd`; returns at once (an RDM6300 badge held for a
    /// while keeps being sent after that). Commands to one reader go out in order.
    pub fn control_reader(&self, name: &str, cmd: ReaderCommand) -> Result<(), SimError> {
        let s = &self.shared;
        let readers = s.readers.read().unwrap_or_else(PoisonError::into_inner);
        let line = readers
            .get(name)
            .ok_or_else(|| SimError::UnknownReader(name.to_string()))?;
        let writes = {
            let mut rng = s.reader_rng.lock().unwrap_or_else(PoisonError::into_inner);
            reader::wire(line.protocol, &cmd, &mut rng)?
        };
        line.tx
            .try_send(writes)
            .map_err(|_| SimError::InvalidState(format!("reader {name:?} is busy or stopped")))
    }

    /// Applies a control command to one unit (`drop_connections`: to its bus).
    pub fn control(&self, bus: &str, unit: u8, cmd: Command) -> Result<(), SimError> {
        self.shared.control(bus, unit, &cmd)
    }

    /// The ground truth of one unit; `None` when there is no such bus or unit.
    pub fn truth(&self, bus: &str, unit: u8) -> Option<Truth> {
        self.shared.truth(bus, unit)
    }

    /// Every ground-truth event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<TruthEvent> {
        self.shared.events.subscribe()
    }

    /// Every (bus, unit) served, in order.
    pub fn units(&self) -> Vec<(String, u8)> {
        self.shared.units()
    }

    /// Freezes or unfreezes every unit.
    pub fn set_frozen(&self, frozen: bool) {
        let cmd = if frozen {
            Command::Freeze
        } else {
            Command::Unfreeze
        };
        for (bus, unit) in self.units() {
            let _ = self.shared.control(&bus, unit, &cmd);
        }
    }

    /// Starts the demo's deterministic scenario on every socket unit served so far: vehicles
    /// plug in, charge, get full, leave; faults come and go; meters are reset now and then.
    /// Decisions come from `seed` and tokio time only.
    pub fn run_scenario(&self, seed: u64) {
        let s = &self.shared;
        s.tracker.spawn(crate::scenario::run(s.clone(), seed));
    }
}

impl Shared {
    fn bus_names(&self) -> Vec<String> {
        self.buses
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    fn new_bus(&self, name: &str, kind: BusKind, units: &[UnitSpec]) -> Result<Arc<Bus>, SimError> {
        if self
            .buses
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(name)
        {
            return Err(SimError::DuplicateBus(name.to_string()));
        }
        let bus = Bus::build(
            name,
            kind,
            units,
            &self.events,
            self.frozen,
            self.cancel.clone(),
        )?;
        Ok(Arc::new(bus))
    }

    fn add_bus(&self, bus: Arc<Bus>) -> Result<(), SimError> {
        let mut buses = self.buses.write().unwrap_or_else(PoisonError::into_inner);
        if buses.contains_key(&*bus.name) {
            return Err(SimError::DuplicateBus(bus.name.to_string()));
        }
        buses.insert(bus.name.to_string(), bus);
        Ok(())
    }

    fn bus(&self, name: &str) -> Result<Arc<Bus>, SimError> {
        self.buses
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| SimError::UnknownBus(name.to_string()))
    }

    fn all_buses(&self) -> Vec<Arc<Bus>> {
        self.buses
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    pub(crate) fn units(&self) -> Vec<(String, u8)> {
        self.all_buses()
            .iter()
            .flat_map(|b| {
                b.units
                    .keys()
                    .map(|u| (b.name.to_string(), *u))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub(crate) fn has_socket(&self, bus: &str, unit: u8) -> bool {
        self.bus(bus)
            .ok()
            .and_then(|b| b.units.get(&unit).map(|u| lock(u).has_socket()))
            .unwrap_or(false)
    }

    pub(crate) fn control(&self, bus: &str, unit: u8, cmd: &Command) -> Result<(), SimError> {
        let b = self.bus(bus)?;
        let u = b.unit(unit)?;
        match cmd {
            Command::DropConnections if b.kind == BusKind::Tcp => {
                b.drop_connections();
                return Ok(());
            }
            Command::DropConnections => {
                return Err(SimError::Unsupported(
                    "drop_connections: not a TCP bus".into(),
                ));
            }
            Command::BadCrc { .. } if b.kind == BusKind::Tcp => {
                return Err(SimError::Unsupported(
                    "bad_crc: TCP frames carry no CRC".into(),
                ));
            }
            _ => {}
        }
        // Time commands on an Alfen station unit move the whole station: one clock, as in
        // the real box.
        let station = {
            let g = lock(u);
            g.core.model == Model::AlfenNg9xx && !g.has_socket()
        };
        let whole_station = station
            && matches!(
                cmd,
                Command::Freeze | Command::Unfreeze | Command::Advance { .. }
            );
        if whole_station {
            for other in b.units.values() {
                let mut g = lock(other);
                if g.core.model == Model::AlfenNg9xx {
                    g.command(cmd)?;
                }
            }
            Ok(())
        } else {
            lock(u).command(cmd)
        }
    }

    pub(crate) fn truth(&self, bus: &str, unit: u8) -> Option<Truth> {
        let b = self.bus(bus).ok()?;
        let t = lock(b.units.get(&unit)?).truth();
        Some(t)
    }
}

/// Advances every unfrozen unit by the tokio time that passed.
async fn tick(shared: Arc<Shared>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = shared.cancel.cancelled() => return,
            _ = interval.tick() => {}
        }
        let now = tokio::time::Instant::now();
        let dt = now - last;
        last = now;
        for bus in shared.all_buses() {
            for u in bus.units.values() {
                let mut g = lock(u);
                if !g.core.frozen {
                    g.advance(dt);
                }
            }
        }
    }
}

/// Writes events as JSON lines; flushes whenever the queue is empty, so a reader of the file
/// sees every event soon after it happened.
async fn write_log(
    mut out: BufWriter<File>,
    mut rx: mpsc::UnboundedReceiver<TruthEvent>,
    cancel: CancellationToken,
) {
    let write = |out: &mut BufWriter<File>, e: &TruthEvent| -> io::Result<()> {
        serde_json::to_writer(&mut *out, e)?;
        out.write_all(b"\n")
    };
    loop {
        tokio::select! {
            biased;
            e = rx.recv() => {
                let Some(e) = e else { break };
                let mut res = write(&mut out, &e);
                while let Ok(e) = rx.try_recv() {
                    res = res.and_then(|()| write(&mut out, &e));
                }
                if let Err(err) = res.and_then(|()| out.flush()) {
                    log::error!("truth log: {err}");
                    return;
                }
            }
            () = cancel.cancelled() => break,
        }
    }
    while let Ok(e) = rx.try_recv() {
        let _ = write(&mut out, &e);
    }
    let _ = out.flush();
}
