//! Wires the daemon: one owner task per bus, one core task, a published snapshot of the site.
//! Owns start-up order and shutdown (inputs stop first, then the core, under a deadline); never
//! makes decisions itself (the core does) nor talks Modbus (the bus owners do).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{BusConfig, Config, LinkConfig};
use crate::core::{Control, Effect, Event, Site, SocketSetup, SocketState, SocketView};
use crate::modbus::bus::{BusOwner, Desired};
use crate::modbus::device::{Device, Part};
use crate::modbus::stats::BusStats;
use crate::out_of_service;

/// Capacity of the channel from bus owners to the core. Full-policy: bus owners wait.
const EVENT_CAPACITY: usize = 256;

/// What the rest of the daemon (terminal table, later web and uplink) may read.
#[derive(Debug, Clone)]
pub struct SocketSnapshot {
    pub id: String,
    pub name: String,
    pub bus: String,
    pub unit_id: u8,
    pub profile: String,
    pub view: SocketView,
}

pub struct Daemon {
    pub snapshot: watch::Receiver<Vec<SocketSnapshot>>,
    pub bus_stats: Vec<(String, Arc<BusStats>)>,
    /// Each socket's bus owner (index into `bus_stats`) and device position there.
    socket_routes: Vec<Route>,
    /// Sends manager commands to the core (later: web and uplink). Full-policy: senders wait.
    pub commands: mpsc::Sender<Event>,
    inputs: CancellationToken,
    core: CancellationToken,
    input_tasks: TaskTracker,
    core_task: TaskTracker,
}

/// Where a socket's controls go: its bus owner, and its position among that owner's devices.
#[derive(Clone, Copy)]
struct Route {
    bus: usize,
    device: usize,
}

/// One bus owner per connection: a serial line or a TCP device is one connection, except a TCP
/// device that accepts several (`multiple_connections`), which gets one per socket so its
/// sockets are polled in parallel. Returns each owner's bus, name and sockets.
fn connections(config: &Config) -> Vec<(BusConfig, String, Vec<usize>)> {
    let mut owners = Vec::new();
    for (b, bus) in config.buses.iter().enumerate() {
        let sockets: Vec<usize> = (0..config.sockets.len())
            .filter(|&i| config.sockets[i].bus == b)
            .collect();
        let parallel = matches!(
            bus.link,
            LinkConfig::Tcp {
                multiple_connections: true,
                ..
            }
        );
        if parallel && sockets.len() > 1 {
            for i in sockets {
                let label = format!("{}/{}", bus.name, config.sockets[i].unit_id);
                owners.push((bus.clone(), label, vec![i]));
            }
        } else {
            owners.push((bus.clone(), bus.name.clone(), sockets));
        }
    }
    owners
}

impl Daemon {
    /// Starts polling. Binds nothing but the bus links, which the owners open themselves.
    pub fn start(config: &Config) -> Daemon {
        let at = Instant::now();
        let out = out_of_service::load(&config.state_dir);
        let setups = config
            .sockets
            .iter()
            .map(|s| SocketSetup {
                rules: s.profile.rules,
                max_current_a: s.max_current_a,
                out_of_service: out.contains(&s.id),
            })
            .collect();
        let site = Site::new(setups, at);
        let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);

        let inputs = CancellationToken::new();
        let input_tasks = TaskTracker::new();
        let mut routes = vec![Route { bus: 0, device: 0 }; config.sockets.len()];
        let mut desired_txs = Vec::new();
        let mut bus_stats = Vec::new();
        for (owner_index, (bus, label, sockets)) in connections(config).into_iter().enumerate() {
            let mut devices = Vec::new();
            let mut intervals = Vec::new();
            for i in sockets {
                let s = &config.sockets[i];
                routes[i] = Route {
                    bus: owner_index,
                    device: devices.len(),
                };
                let mut parts = vec![Part::new(s.unit_id, 0, s.profile.clone(), true)];
                if let Some(r) = &s.relay {
                    parts.push(Part::new(
                        r.unit_id,
                        r.channel,
                        r.profile.clone(),
                        r.plug_sensor,
                    ));
                }
                devices.push(Device {
                    socket: i,
                    parts,
                    max_current_a: s.max_current_a,
                    enable: None,
                    setpoint_a: None,
                });
                intervals.push(s.poll_interval);
            }
            let stats = Arc::new(BusStats::new(devices.len()));
            let (desired_tx, desired_rx) = watch::channel(vec![Desired::default(); devices.len()]);
            let owner = BusOwner::new(
                bus.clone(),
                devices,
                intervals,
                desired_rx,
                event_tx.clone(),
                stats.clone(),
            );
            let cancel = inputs.clone();
            match bus.link {
                LinkConfig::Tcp { .. } => {
                    input_tasks.spawn(owner.run(cancel));
                }
                // A serial line gets its own thread: its sub-millisecond waits block briefly.
                LinkConfig::Rtu(_) => {
                    input_tasks.spawn_blocking(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build();
                        match rt {
                            Ok(rt) => rt.block_on(owner.run(cancel)),
                            Err(e) => log::error!("cannot start the serial bus thread: {e}"),
                        }
                    });
                }
            }
            desired_txs.push(desired_tx);
            bus_stats.push((label, stats));
        }
        input_tasks.close();

        let snapshot_init = config
            .sockets
            .iter()
            .enumerate()
            .map(|(i, s)| SocketSnapshot {
                id: s.id.clone(),
                name: s.name.clone(),
                bus: config.buses[s.bus].name.clone(),
                unit_id: s.unit_id,
                profile: s.profile.name.clone(),
                view: site.view(i).cloned().expect("one view per socket"),
            })
            .collect();
        let (snapshot_tx, snapshot) = watch::channel(snapshot_init);
        let core = CancellationToken::new();
        let core_task = TaskTracker::new();
        let (commands, command_rx) = mpsc::channel(64);
        let task_routes = routes.clone();
        let task = CoreTask {
            site,
            routes,
            desired: desired_txs,
            snapshot: snapshot_tx,
            ids: config.sockets.iter().map(|s| s.id.clone()).collect(),
            out_of_service: out,
            state_dir: config.state_dir.clone(),
        };
        core_task.spawn(task.run(event_rx, command_rx, core.clone()));
        core_task.close();
        Daemon {
            snapshot,
            socket_routes: task_routes,
            bus_stats,
            commands,
            inputs,
            core,
            input_tasks,
            core_task,
        }
    }

    /// A socket's device error counters: failed polls and exception answers.
    pub fn socket_errors(&self, socket: usize) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(route) = self.socket_routes.get(socket) else {
            return (0, 0);
        };
        let device = &self.bus_stats[route.bus].1.devices[route.device];
        (
            device.failures.load(Relaxed),
            device.exceptions.load(Relaxed),
        )
    }

    /// Stops the bus owners, then the core, within `deadline`. Returns false when something
    /// had to be abandoned.
    pub async fn shutdown(self, deadline: Duration) -> bool {
        let until = Instant::now() + deadline;
        self.inputs.cancel();
        let inputs_done = tokio::time::timeout_at(until, self.input_tasks.wait())
            .await
            .is_ok();
        if !inputs_done {
            log::warn!("bus owners did not stop within {deadline:?}");
        }
        self.core.cancel();
        let core_done = tokio::time::timeout_at(until, self.core_task.wait())
            .await
            .is_ok();
        inputs_done && core_done
    }
}

struct CoreTask {
    site: Site,
    routes: Vec<Route>,
    desired: Vec<watch::Sender<Vec<Desired>>>,
    snapshot: watch::Sender<Vec<SocketSnapshot>>,
    ids: Vec<String>,
    out_of_service: BTreeSet<String>,
    state_dir: std::path::PathBuf,
}

impl CoreTask {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<Event>,
        mut commands: mpsc::Receiver<Event>,
        cancel: CancellationToken,
    ) {
        let start = self.site.start();
        self.apply(start);
        loop {
            let event = tokio::select! {
                // Cancel-safe: recv loses nothing when another branch wins.
                Some(e) = events.recv() => e,
                Some(e) = commands.recv() => e,
                _ = cancel.cancelled() => break,
                else => break,
            };
            let socket = match &event {
                Event::Polled { socket, .. }
                | Event::Unreachable { socket, .. }
                | Event::SetOutOfService { socket, .. } => *socket,
            };
            let effects = self.site.handle(event);
            if let Some(view) = self.site.view(socket) {
                let view = view.clone();
                self.snapshot.send_modify(|s| s[socket].view = view);
            }
            self.apply(effects);
        }
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::StateChanged {
                    socket,
                    from,
                    to,
                    reason,
                } => {
                    let id = self.ids[socket].as_str();
                    let level = match to {
                        SocketState::Faulted { .. } | SocketState::NotConnected => log::Level::Warn,
                        _ => log::Level::Info,
                    };
                    log::log!(level, socket = id; "socket {id}: {from} -> {to} ({reason})");
                }
                Effect::Control { socket, control } => {
                    let route = self.routes[socket];
                    self.desired[route.bus].send_modify(|d| match control {
                        Control::Enable(on) => d[route.device].enable = Some(on),
                        Control::Setpoint(a) => d[route.device].setpoint_a = Some(a),
                    });
                }
                Effect::PersistOutOfService {
                    socket,
                    out_of_service,
                } => {
                    let id = self.ids[socket].clone();
                    if out_of_service {
                        self.out_of_service.insert(id);
                    } else {
                        self.out_of_service.remove(&id);
                    }
                    if let Err(e) = out_of_service::save(&self.state_dir, &self.out_of_service) {
                        log::error!(
                            "cannot record sockets out of service in {}: {e}",
                            self.state_dir.display()
                        );
                    }
                }
            }
        }
    }
}
