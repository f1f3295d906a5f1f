//! Wires the daemon: one owner task per bus, one core task, a published snapshot of the site.
//! Owns start-up order and shutdown (inputs stop first, then the core, under a deadline); never
//! makes decisions itself (the core does) nor talks Modbus (the bus owners do).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{Clock, TrustSource};
use crate::config::{BusConfig, Config, LinkConfig};
use crate::core::site::{Command, IdGen, SessionChange};
use crate::core::time::Stamp;
use crate::core::{Control, Effect, Event, Site, SocketSetup, SocketState, SocketView};
use crate::modbus::bus::{BusOwner, Desired};
use crate::modbus::device::{Device, Part};
use crate::modbus::stats::BusStats;
use crate::store::{StoreError, StoreHandle, StoreSetup};

/// Capacity of the channel from bus owners to the core. Full-policy: bus owners wait.
const EVENT_CAPACITY: usize = 256;
/// Capacity of the channel from badge readers to the core. Full-policy: the read is dropped
/// and counted (the user presents the badge again).
const BADGE_CAPACITY: usize = 16;
/// Capacity of the channel of tokens the uplink asks central about. Full-policy: dropped (a
/// question is worth asking only while the user waits at the socket).
const QUESTION_CAPACITY: usize = 16;

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
    /// The link to central: connected, acknowledged, refused (`None` without `[uplink]`).
    pub uplink: Option<watch::Receiver<crate::uplink::UplinkStatus>>,
    /// The local web page, when enabled and listening.
    pub web: Option<crate::web::Web>,
    /// Each badge reader's counters (frames, rejected frames, drops), by reader name.
    pub reader_stats: Vec<(String, Arc<crate::readers::ReaderCounters>)>,
    /// Each socket's bus owner (index into `bus_stats`) and device position there.
    socket_routes: Vec<Route>,
    /// Sends manager and central commands to the core. Full-policy: senders wait.
    pub commands: mpsc::Sender<Command>,
    /// Beaten by the core's loop at least once a second: systemd's watchdog watches it.
    pub heartbeat: crate::notify::Heartbeat,
    store_thread: Option<std::thread::JoinHandle<()>>,
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
    /// Opens the database (recovering open sessions) and starts polling. Binds nothing but the
    /// bus links, which the owners open themselves.
    pub fn start(config: &Config) -> Result<Daemon, StoreError> {
        Daemon::start_linked(config, None)
    }

    /// As `start`, for the supervisor: the web page keeps its logins across daemons and can
    /// edit the configuration file and ask for a reload (`link`).
    pub fn start_linked(
        config: &Config,
        link: Option<crate::supervisor::Link>,
    ) -> Result<Daemon, StoreError> {
        let mut clock = Clock::new(TrustSource::detect());
        let now = clock.now();
        let setup = StoreSetup::for_site(config, &uuid::Uuid::now_v7().to_string(), now.mono);
        let (store, startup, store_thread) = StoreHandle::start(setup)?;
        if let Some(backup) = &startup.backup {
            log::info!(
                "database migrated; the previous version is kept in {}",
                backup.display()
            );
        }
        if !startup.recovered.is_empty() {
            log::info!(
                "{} session(s) were open at the last stop: checking them",
                startup.recovered.len()
            );
        }
        let setups = config
            .sockets
            .iter()
            .map(|s| SocketSetup {
                rules: s.profile.rules,
                max_current_a: s.max_current_a,
                out_of_service: startup.out_of_service.contains(&s.id),
                free: s.free,
            })
            .collect();
        let mut site = Site::new(
            setups,
            config.sessions,
            startup.recovered,
            IdGen::new(random_seed()),
            now,
        );
        // Decisions read the access list through their own read-only connection.
        let access_db = crate::store::open_reader(&config.state_dir.join(crate::store::DB_FILE))?;
        let rules = crate::store::access::load_rules(&access_db)?;
        let policy = central_policy(&access_db, config);
        site.set_access(
            config.sockets.iter().map(|s| s.id.clone()).collect(),
            rules,
            policy,
            config.site.time_zone,
        );
        load_pricing(&access_db, &mut site)?;
        let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);

        let inputs = CancellationToken::new();
        let input_tasks = TaskTracker::new();
        let mut routes = vec![Route { bus: 0, device: 0 }; config.sockets.len()];
        let mut desired_txs = Vec::new();
        let mut bus_stats = Vec::new();
        // The installer's tools on the web page: each owner's registers and reads.
        let mut taps = Vec::new();
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
            let device_sockets = devices.iter().map(|d| d.socket).collect();
            let (tap, tap_end) = crate::modbus::tap::BusTap::new(
                label.clone(),
                bus.clone(),
                stats.clone(),
                device_sockets,
            );
            taps.push(tap);
            let (desired_tx, desired_rx) = watch::channel(vec![Desired::default(); devices.len()]);
            let owner = BusOwner::new(
                bus.clone(),
                devices,
                intervals,
                desired_rx,
                event_tx.clone(),
                stats.clone(),
            )
            .with_tap(tap_end);
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
        // Badge readers: reads are dropped (and counted) when the core lags; users badge again.
        let (badge_tx, badge_rx) = mpsc::channel(BADGE_CAPACITY);
        let mut reader_sockets = Vec::new();
        let mut reader_stats = Vec::new();
        for (i, r) in config.readers.iter().enumerate() {
            let sockets = r
                .sockets
                .iter()
                .filter_map(|id| config.sockets.iter().position(|s| &s.id == id))
                .collect();
            reader_sockets.push(sockets);
            let reader = crate::readers::Reader::new(i, r.clone(), badge_tx.clone());
            reader_stats.push((r.name.clone(), reader.counters()));
            input_tasks.spawn(reader.run(inputs.clone()));
        }
        drop(badge_tx);
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
        let (questions, questions_rx) = mpsc::channel(QUESTION_CAPACITY);
        let store_for_uplink = store.clone();
        let (commands, command_rx) = mpsc::channel(64);
        let task_routes = routes.clone();
        let heartbeat = crate::notify::Heartbeat::default();
        let task = CoreTask {
            heartbeat: heartbeat.clone(),
            site,
            clock,
            store,
            routes,
            questions,
            asked: Default::default(),
            connection_timeout: config.sessions.connection_timeout,
            desired: desired_txs,
            snapshot: snapshot_tx,
            ids: config.sockets.iter().map(|s| s.id.clone()).collect(),
            access_db,
            reader_sockets,
        };
        let uplink = start_uplink(
            config,
            &store_for_uplink,
            event_tx.clone(),
            snapshot.clone(),
            questions_rx,
            policy,
            &inputs,
            &input_tasks,
        );
        start_local_broker(config, snapshot.clone(), &inputs, &input_tasks);
        let wiring = WebWiring {
            store: store_for_uplink.clone(),
            sockets: snapshot.clone(),
            uplink: uplink.clone(),
            commands: commands.clone(),
            installer: link,
            taps,
        };
        let web = start_web(config, wiring, &inputs, &input_tasks);
        core_task.spawn(task.run(event_rx, command_rx, badge_rx, core.clone()));
        core_task.close();
        Ok(Daemon {
            uplink,
            web,
            store_thread: Some(store_thread),
            snapshot,
            socket_routes: task_routes,
            bus_stats,
            reader_stats,
            commands,
            heartbeat,
            inputs,
            core,
            input_tasks,
            core_task,
        })
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
    pub async fn shutdown(mut self, deadline: Duration) -> bool {
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
        // The core task held the last store handle: the writer commits what it has and stops.
        let store_done = match self.store_thread.take() {
            Some(thread) => {
                let join = tokio::task::spawn_blocking(move || thread.join());
                matches!(tokio::time::timeout_at(until, join).await, Ok(Ok(Ok(()))))
            }
            None => true,
        };
        if !store_done {
            log::warn!("the database writer did not stop within {deadline:?}");
        }
        inputs_done && core_done && store_done
    }
}

struct CoreTask {
    heartbeat: crate::notify::Heartbeat,
    site: Site,
    clock: Clock,
    store: StoreHandle,
    routes: Vec<Route>,
    desired: Vec<watch::Sender<Vec<Desired>>>,
    snapshot: watch::Sender<Vec<SocketSnapshot>>,
    ids: Vec<String>,
    /// Read-only: the token lookups of badge decisions.
    access_db: rusqlite::Connection,
    /// Sockets each reader serves.
    reader_sockets: Vec<Vec<usize>>,
    /// Tokens to ask central about. Full-policy: dropped (the user badges again).
    questions: mpsc::Sender<(crate::core::access::IdToken, usize)>,
    /// Tokens asked about, with their reader's sockets, until the user gives up waiting.
    asked: std::collections::HashMap<crate::core::access::IdToken, (Vec<usize>, Instant)>,
    connection_timeout: Duration,
}

impl CoreTask {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<Event>,
        mut commands: mpsc::Receiver<Command>,
        mut badges: mpsc::Receiver<crate::readers::BadgeRead>,
        cancel: CancellationToken,
    ) {
        let start = self.site.start();
        let now = self.clock.now();
        self.apply(start, now).await;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let event = tokio::select! {
                // Cancel-safe: recv loses nothing when another branch wins.
                Some(e) = events.recv() => e,
                Some(c) = commands.recv() => Event::Command(c),
                // Cancel-safe, as above.
                Some(b) = badges.recv() => match self.badge_event(b) {
                    Some(e) => e,
                    None => continue,
                },
                // Cancel-safe: a timer.
                _ = tick.tick() => Event::Tick,
                _ = cancel.cancelled() => break,
                else => break,
            };
            self.heartbeat.beat();
            let socket = match &event {
                Event::Polled { socket, .. } | Event::Unreachable { socket, .. } => Some(*socket),
                _ => None,
            };
            let now = self.clock.now();
            let effects = self.site.handle(event, now);
            let mut follow_ups = self.apply(effects, now).await;
            // A badge central has just answered for is decided again, now from the cache.
            while let Some(event) = follow_ups.pop() {
                let effects = self.site.handle(event, now);
                follow_ups.extend(self.apply(effects, now).await);
            }
            let changed: Vec<usize> = match socket {
                Some(s) => vec![s],
                // Commands and ticks may touch any socket (sessions, samples).
                None => (0..self.ids.len()).collect(),
            };
            self.snapshot.send_modify(|snap| {
                for i in changed {
                    if let Some(view) = self.site.view(i) {
                        snap[i].view = view.clone();
                    }
                }
            });
        }
    }

    /// Persists what must be durable, waits for the commit, then acts: a socket is switched on
    /// only once the session that allows it is on disk.
    /// Returns the events that follow from what was committed (a badge to decide again).
    async fn apply(&mut self, effects: Vec<Effect>, now: Stamp) -> Vec<Event> {
        let mut answered = Vec::new();
        for effect in &effects {
            log_effect(&self.ids, effect);
            match effect {
                Effect::Audit(a) if a.outcome == "ask_central" => {
                    if let Some(&socket) = a.sockets.first() {
                        let _ = self.questions.try_send((a.token.clone(), socket));
                    }
                    // The user waits at the socket about as long as a plug-in would be awaited.
                    let until = now.mono + self.connection_timeout;
                    self.asked
                        .insert(a.token.clone(), (a.sockets.clone(), until));
                }
                Effect::CacheAnswer { token, .. } => {
                    if let Some((sockets, until)) = self.asked.remove(token)
                        && now.mono <= until
                    {
                        answered.push((token.clone(), sockets));
                    }
                }
                _ => {}
            }
        }
        self.asked.retain(|_, (_, until)| now.mono <= *until);
        let (writes, controls) = crate::store::plan(effects, now);
        // Switching off never waits for the disk: it is always safe, and a crash between the
        // record and the act must not leave a socket on without a session.
        let (off_now, after_commit): (Vec<_>, Vec<_>) = controls
            .into_iter()
            .partition(|(_, c)| *c == Control::Enable(false));
        for (socket, control) in off_now {
            self.send(socket, control);
        }
        let persisted = match self.store.apply(writes).await {
            Ok(()) => true,
            Err(e) => {
                log::error!("cannot record to the database: {e}");
                false
            }
        };
        for (socket, control) in after_commit {
            // Nothing is switched on whose record could not be written.
            if !persisted && control == Control::Enable(true) {
                log::error!(socket = self.ids[socket].as_str(); "socket {}: kept off: its session could not be recorded", self.ids[socket]);
                continue;
            }
            self.send(socket, control);
        }
        // The answer is in the cache now (committed above): decide those badges again.
        answered
            .into_iter()
            .filter_map(|(token, sockets)| self.lookup_badge(token, sockets))
            .collect()
    }

    /// A badge read as the core's event, with what the store knows of the token.
    fn badge_event(&self, read: crate::readers::BadgeRead) -> Option<Event> {
        let sockets = self.reader_sockets.get(read.reader)?.clone();
        self.lookup_badge(read.token, sockets)
    }

    /// A lookup takes microseconds (an indexed read): done here rather than on another thread.
    fn lookup_badge(
        &self,
        token: crate::core::access::IdToken,
        sockets: Vec<usize>,
    ) -> Option<Event> {
        match crate::store::access::lookup(&self.access_db, &token) {
            Ok(found) => Some(Event::Badge {
                sockets,
                token,
                found: Box::new(found),
            }),
            Err(e) => {
                log::error!("badge {token}: cannot read the access list: {e}");
                None
            }
        }
    }

    fn send(&self, socket: usize, control: Control) {
        let route = self.routes[socket];
        self.desired[route.bus].send_modify(|d| match control {
            Control::Enable(on) => d[route.device].enable = Some(on),
            Control::Setpoint(a) => d[route.device].setpoint_a = Some(a),
        });
    }
}

/// A seed for session ids, from the operating system's randomness (ids must differ between
/// runs even when the clock restarts in 1970).
fn random_seed() -> u64 {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    match std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => uuid::Uuid::now_v7().as_u64_pair().1,
    }
}

/// One log line per effect worth a line: state changes, session starts and ends, lapses.
fn log_effect(ids: &[String], effect: &Effect) {
    match effect {
        Effect::StateChanged {
            socket,
            from,
            to,
            reason,
        } => {
            let id = ids[*socket].as_str();
            // A vehicle's own course while plugged (charging, pausing) is debug: the session's
            // start and end lines tell it, and a site's journal stays near one line per socket
            // per minute at most (BENCHMARKS.md, "Logs").
            let plugged = |s: &SocketState| {
                matches!(
                    s,
                    SocketState::Occupied | SocketState::Charging | SocketState::SuspendedEV
                )
            };
            let level = match to {
                SocketState::Faulted { .. } | SocketState::NotConnected => log::Level::Warn,
                _ if plugged(from) && plugged(to) => log::Level::Debug,
                _ => log::Level::Info,
            };
            // A fault's code travels as the journal field CODE (`journalctl CODE=...`).
            match to {
                SocketState::Faulted { code } => {
                    log::log!(level, socket = id, code = code.as_str(); "socket {id}: {from} -> {to} ({reason})")
                }
                _ => log::log!(level, socket = id; "socket {id}: {from} -> {to} ({reason})"),
            }
        }
        Effect::Session {
            session, change, ..
        } => {
            let id = ids[session.socket].as_str();
            let session_id = session.id.to_string();
            match change {
                SessionChange::Started => log::info!(
                    socket = id, session_id = session_id.as_str();
                    "socket {id}: session {session_id} started ({})", session.auth.name()
                ),
                SessionChange::Ended => log::info!(
                    socket = id, session_id = session_id.as_str();
                    "socket {id}: session {session_id} ended: {}, {:.3} kWh{}",
                    session.stop_reason.map_or("?", |r| r.name()),
                    session.energy_wh() / 1000.0,
                    session.failed.as_deref().map(|f| format!(", failed: {f}")).unwrap_or_default()
                ),
                _ => {}
            }
        }
        Effect::AuthorizationLapsed { socket, .. } => {
            log::info!(socket = ids[*socket].as_str(); "socket {}: authorization lapsed", ids[*socket]);
        }
        Effect::ControlAudit(a) => {
            let id = ids.get(a.socket).map_or("?", String::as_str);
            let by = a.actor.as_deref().unwrap_or("the core");
            let reason = a.reason.map(|r| format!(" ({r})")).unwrap_or_default();
            log::info!(socket = id; "socket {id}: {} by {by}{reason}", a.action);
        }
        _ => {}
    }
}

/// Gives the core the published tariffs and promotions, and how often each promotion was used.
/// A row that no longer parses (written by another build) is skipped, loudly.
fn load_pricing(db: &rusqlite::Connection, site: &mut Site) -> Result<(), StoreError> {
    use crate::store::access;
    let mut tariffs = Vec::new();
    for (id, json) in access::tariffs(db)? {
        match crate::pricing::parse_tariff(&json) {
            Ok(t) => tariffs.push(t),
            Err(problems) => log::error!(
                "tariff {id} in the database is invalid, sessions under it go unpriced:\n{problems}"
            ),
        }
    }
    site.set_tariffs(tariffs);
    let mut promotions = Vec::new();
    for (id, json) in access::promotions(db)? {
        match crate::pricing::parse_promotion(&json) {
            Ok(p) => promotions.push(p),
            Err(problems) => {
                log::error!("promotion {id} in the database is invalid, not offered:\n{problems}")
            }
        }
    }
    let mut uses = crate::core::site::PromotionUses::default();
    for (promotion, user, count) in access::promotion_uses(db)? {
        *uses.total.entry(promotion.clone()).or_default() += count;
        if let Some(user) = user {
            uses.by_user.insert((promotion, user), count);
        }
    }
    site.set_promotions(promotions, uses);
    Ok(())
}

/// The offline policy in force: the config file's, patched by what central last sent.
fn central_policy(
    db: &rusqlite::Connection,
    config: &Config,
) -> crate::core::access::OfflinePolicy {
    policy_in_force(db, &config.site.id, config.access)
}

/// `base` (the config file's policy) patched by central's stored configuration: what the core
/// decides with (the web page's explain tool asks the same).
pub fn policy_in_force(
    db: &rusqlite::Connection,
    site_id: &str,
    base: crate::core::access::OfflinePolicy,
) -> crate::core::access::OfflinePolicy {
    use crate::uplink::downlink::{self, DownTopic, Downlink};
    let Ok(Some((_, json))) = crate::store::access::central_config(db) else {
        return base;
    };
    let topic = DownTopic::Config.full(site_id);
    let parsed = downlink::parse(
        site_id,
        &topic,
        json.as_bytes(),
        &downlink::DownlinkLimits::default(),
        &crate::uplink::signature::TrustedKeys::none(),
        None,
    );
    match parsed {
        Ok(Downlink::Config { policy, .. }) => policy.apply(base),
        _ => {
            log::error!(
                "central's stored configuration is unreadable: the config file's policy applies"
            );
            base
        }
    }
}

/// Starts the link to central when `[uplink]` is configured.
#[allow(clippy::too_many_arguments)]
fn start_uplink(
    config: &Config,
    store: &StoreHandle,
    core: mpsc::Sender<Event>,
    sockets: watch::Receiver<Vec<SocketSnapshot>>,
    questions: mpsc::Receiver<(crate::core::access::IdToken, usize)>,
    policy: crate::core::access::OfflinePolicy,
    cancel: &CancellationToken,
    tasks: &TaskTracker,
) -> Option<watch::Receiver<crate::uplink::UplinkStatus>> {
    let uplink = config.uplink.as_ref()?;
    let settings = match crate::uplink::settings(uplink) {
        Ok(s) => s,
        Err(e) => {
            log::error!("uplink: {e}; the site runs without central");
            return None;
        }
    };
    let (status_tx, status) = watch::channel(Default::default());
    let wiring = crate::uplink::Wiring {
        site_id: config.site.id.clone(),
        site_name: config.site.name.clone(),
        socket_ids: config.sockets.iter().map(|s| s.id.clone()).collect(),
        db_path: config.state_dir.join(crate::store::DB_FILE),
        store: store.clone(),
        core,
        sockets,
        questions,
        status: status_tx,
        policy,
    };
    tasks.spawn(crate::uplink::run(settings, wiring, cancel.clone()));
    Some(status)
}

/// Starts the embedded site broker and the publisher of live states into it, when enabled.
fn start_local_broker(
    config: &Config,
    sockets: watch::Receiver<Vec<SocketSnapshot>>,
    cancel: &CancellationToken,
    tasks: &TaskTracker,
) {
    let Some(broker) = config.broker.clone() else {
        return;
    };
    let site_id = config.site.id.clone();
    let telemetry = config
        .uplink
        .as_ref()
        .map_or(Duration::from_secs(10), |u| u.telemetry_interval);
    let cancel = cancel.clone();
    let inner = tasks.clone();
    tasks.spawn(async move {
        match crate::broker::EmbeddedBroker::start(&broker, cancel.clone(), &inner).await {
            Ok(b) => {
                log::info!("local broker listening on {}", b.addr);
                let login = (broker.username.clone(), broker.password.clone());
                crate::uplink::local::run(b.addr, login, site_id, sockets, telemetry, cancel).await;
            }
            Err(e) => log::error!("local broker: {e}; local integrations get no live states"),
        }
    });
}

/// What the web page reads of the daemon it belongs to (the rest comes from the config).
struct WebWiring {
    store: StoreHandle,
    sockets: watch::Receiver<Vec<SocketSnapshot>>,
    uplink: Option<watch::Receiver<crate::uplink::UplinkStatus>>,
    commands: mpsc::Sender<Command>,
    /// The supervisor's link (config edits, reloads), when one runs the daemon.
    installer: Option<crate::supervisor::Link>,
    /// Each bus owner's counters, live registers and scan channel (installer page and tools,
    /// system page, /metrics).
    taps: Vec<crate::modbus::tap::BusTap>,
}

/// Starts the local web page when `[web]` is enabled. A page that cannot listen (the port is
/// taken) is logged, and the site runs on without it.
fn start_web(
    config: &Config,
    wiring: WebWiring,
    cancel: &CancellationToken,
    tasks: &TaskTracker,
) -> Option<crate::web::Web> {
    let WebWiring {
        store,
        sockets,
        uplink,
        commands,
        installer,
        taps,
    } = wiring;
    let web = config.web.as_ref()?;
    // No account yet: a one-time code in the journal lets the installer create the first.
    let no_account = crate::store::open_reader(&config.state_dir.join(crate::store::DB_FILE))
        .and_then(|c| crate::store::accounts::count(&c))
        .is_ok_and(|n| n == 0);
    let setup = no_account
        .then(crate::web::auth::setup::SetupCode::generate)
        .and_then(Result::ok);
    if let Some(code) = &setup {
        code.announce();
    }
    let app = crate::web::AppState::new(crate::web::Parts {
        site_id: config.site.id.clone(),
        site_name: config.site.name.clone(),
        time_zone: config.site.time_zone,
        sockets,
        uplink,
        commands,
        db_path: config.state_dir.join(crate::store::DB_FILE),
        stopping: cancel.clone(),
        store,
        session_limits: crate::web::auth::sessions::SessionLimits {
            idle: web.session_idle,
            absolute: web.session_max,
            ..Default::default()
        },
        setup,
        installer,
        config: Arc::new(config.clone()),
        installer_tools: crate::web::installer_tools::Tools::new(config, taps),
    });
    match crate::web::Web::start(web, &config.state_dir, app, cancel.clone(), tasks) {
        Ok(w) => {
            log::info!("web page on https://{}/", w.addr);
            Some(w)
        }
        Err(e) => {
            log::error!("web page: {e}");
            None
        }
    }
}
