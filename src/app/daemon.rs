//! Wires the daemon: one owner task per bus, one core task, a published snapshot of the site.
//! Owns start-up order and shutdown, under one deadline: the inputs stop first (bus owners,
//! badge readers, the web page), then the core decides every event already queued and stops,
//! so all it decided is committed; the outputs stop last: the uplink publishes what is
//! committed, says `offline` itself and disconnects, and the local broker goes. Never makes
//! decisions itself (the core does) nor talks Modbus (the bus owners do).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::core_task::{CoreTask, Route};
use crate::clock::Clock;
use crate::config::{BusConfig, Config, LinkConfig};
use crate::core::site::{Command, IdGen};
use crate::core::{Event, Site, SocketChange, SocketSetup, SocketSnapshot};
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
    /// Bus owners, badge readers, the web page: they stop first.
    inputs: Stage,
    /// The core task: it stops once it has drained its queue.
    core: Stage,
    /// The uplink and the local broker: they stop last, once the core has drained.
    outputs: Stage,
    /// The core's event channel, for tests that queue events behind the bus owners'.
    #[cfg(test)]
    events: mpsc::Sender<Event>,
}

/// One bus owner's connection: its bus, its name in logs and counters, its sockets.
struct Connection {
    bus: BusConfig,
    label: String,
    sockets: Vec<usize>,
}

/// One bus owner per connection: a serial line or a TCP device is one connection, except a TCP
/// device that accepts several (`multiple_connections`), which gets one per socket so its
/// sockets are polled in parallel.
fn connections(config: &Config) -> Vec<Connection> {
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
                owners.push(Connection {
                    bus: bus.clone(),
                    label: format!("{}/{}", bus.name, config.sockets[i].unit_id),
                    sockets: vec![i],
                });
            }
        } else {
            owners.push(Connection {
                bus: bus.clone(),
                label: bus.name.clone(),
                sockets,
            });
        }
    }
    owners
}

/// A group of tasks that stop together: a token that tells them, a tracker that waits for them.
#[derive(Default)]
struct Stage {
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Stage {
    /// Tells the stage's tasks to stop and waits for them until `until`; false when they did
    /// not all stop.
    async fn stop(&self, until: Instant) -> bool {
        self.cancel.cancel();
        self.tasks.close();
        tokio::time::timeout_at(until, self.tasks.wait())
            .await
            .is_ok()
    }
}

/// The database, open and recovered, with its writer thread.
struct OpenStore {
    handle: StoreHandle,
    startup: crate::store::Startup,
    writer: std::thread::JoinHandle<()>,
    /// Read-only: the core task's token lookups, and what the core starts from.
    reader: rusqlite::Connection,
}

/// Opens (and migrates) the database and reads what must be recovered.
fn open_store(config: &Config, clock: &Clock) -> Result<OpenStore, StoreError> {
    let setup = StoreSetup::for_site(config, &uuid::Uuid::now_v7().to_string(), clock);
    let (handle, startup, writer) = StoreHandle::start(setup)?;
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
    // Decisions read the access list through their own read-only connection.
    let reader = crate::store::open_reader(&config.state_dir.join(crate::store::DB_FILE))?;
    Ok(OpenStore {
        handle,
        startup,
        writer,
        reader,
    })
}

/// The core as the database left it: recovered sessions, sockets out of service, the access
/// rules, central's policy, tariffs and promotions.
fn core_site(
    config: &Config,
    store: &mut OpenStore,
    policy: crate::core::access::OfflinePolicy,
    now: crate::core::time::Stamp,
) -> Result<Site, StoreError> {
    let setups = config
        .sockets
        .iter()
        .map(|s| SocketSetup {
            rules: s.profile.rules,
            max_current_a: s.max_current_a,
            out_of_service: store.startup.out_of_service.contains(&s.id),
            free: s.free,
        })
        .collect();
    let mut site = Site::new(
        setups,
        config.sessions,
        std::mem::take(&mut store.startup.recovered),
        IdGen::new(random_seed()),
        now,
    );
    let rules = crate::store::access::load_rules(&store.reader)?;
    site.set_access(
        config.sockets.iter().map(|s| s.id.clone()).collect(),
        rules,
        policy,
        config.site.time_zone,
    );
    load_pricing(&store.reader, &mut site)?;
    Ok(site)
}

/// The running bus owners, as the core task and the web page reach them.
struct BusOwners {
    /// Each socket's owner and position there.
    routes: Vec<Route>,
    /// What the core wants of each owner's devices.
    desired: Vec<watch::Sender<Vec<Desired>>>,
    stats: Vec<(String, Arc<BusStats>)>,
    /// The installer's tools on the web page: each owner's registers and reads.
    taps: Vec<crate::modbus::tap::BusTap>,
}

/// Starts one bus owner per connection; each sends its readings to the core on `events`.
fn start_bus_owners(config: &Config, events: &mpsc::Sender<Event>, stage: &Stage) -> BusOwners {
    let mut owners = BusOwners {
        routes: vec![Route { bus: 0, device: 0 }; config.sockets.len()],
        desired: Vec::new(),
        stats: Vec::new(),
        taps: Vec::new(),
    };
    for (owner_index, connection) in connections(config).into_iter().enumerate() {
        let Connection {
            bus,
            label,
            sockets,
        } = connection;
        let mut devices = Vec::new();
        let mut intervals = Vec::new();
        for i in sockets {
            let s = &config.sockets[i];
            owners.routes[i] = Route {
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
        owners.taps.push(tap);
        let (desired_tx, desired_rx) = watch::channel(vec![Desired::default(); devices.len()]);
        let owner = BusOwner::new(
            bus.clone(),
            devices,
            intervals,
            desired_rx,
            events.clone(),
            stats.clone(),
        )
        .with_tap(tap_end);
        let cancel = stage.cancel.clone();
        match bus.link {
            LinkConfig::Tcp { .. } => {
                stage.tasks.spawn(owner.run(cancel));
            }
            // A serial line gets its own thread: its sub-millisecond waits block briefly.
            LinkConfig::Rtu(_) => {
                stage.tasks.spawn_blocking(move || {
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
        owners.desired.push(desired_tx);
        owners.stats.push((label, stats));
    }
    owners
}

/// The running badge readers.
struct Readers {
    /// Their reads. Full-policy: dropped and counted when the core lags; users badge again.
    reads: mpsc::Receiver<crate::readers::BadgeRead>,
    /// The sockets each reader serves.
    sockets: Vec<Vec<usize>>,
    stats: Vec<(String, Arc<crate::readers::ReaderCounters>)>,
}

fn start_readers(config: &Config, stage: &Stage) -> Readers {
    let (badge_tx, reads) = mpsc::channel(BADGE_CAPACITY);
    let mut readers = Readers {
        reads,
        sockets: Vec::new(),
        stats: Vec::new(),
    };
    for (i, r) in config.readers.iter().enumerate() {
        let sockets = r
            .sockets
            .iter()
            .filter_map(|id| config.sockets.iter().position(|s| &s.id == id))
            .collect();
        readers.sockets.push(sockets);
        let reader = crate::readers::Reader::new(i, r.clone(), badge_tx.clone());
        readers.stats.push((r.name.clone(), reader.counters()));
        stage.tasks.spawn(reader.run(stage.cancel.clone()));
    }
    readers
}

/// What the site looks like before the core's first turn.
fn first_snapshot(config: &Config, site: &Site) -> Vec<SocketSnapshot> {
    config
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
        .collect()
}

impl Daemon {
    /// Opens the database (recovering open sessions) and starts polling. Binds nothing but the
    /// bus links, which the owners open themselves.
    pub fn start(config: &Config) -> Result<Daemon, StoreError> {
        Daemon::start_linked(config, None)
    }

    /// As `start`, for the supervisor: the web page keeps its logins across daemons and can
    /// edit the configuration file and ask for a reload (`link`). Starts, in order: the store,
    /// the core's state, the inputs (bus owners, badge readers), the outputs (uplink, local
    /// broker), the web page, and the core task last, so nothing it decides is lost.
    pub fn start_linked(
        config: &Config,
        link: Option<crate::web::reload::ReloadLink>,
    ) -> Result<Daemon, StoreError> {
        let clock = Clock::detect();
        let now = clock.now();
        let mut store = open_store(config, &clock)?;
        let policy = crate::store::access::policy_in_force(&store.reader, config.access);
        let site = core_site(config, &mut store, policy, now)?;
        let OpenStore {
            handle: store,
            writer,
            reader: access_db,
            ..
        } = store;

        let inputs = Stage::default();
        let core = Stage::default();
        let outputs = Stage::default();
        let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);
        let buses = start_bus_owners(config, &event_tx, &inputs);
        let readers = start_readers(config, &inputs);

        let (snapshot_tx, snapshot) = watch::channel(first_snapshot(config, &site));
        // A tick announces every socket at once: room for a few of them.
        let (changes, _) = broadcast::channel(4 * config.sockets.len() + 64);
        let (questions, questions_rx) = mpsc::channel(QUESTION_CAPACITY);
        let (commands, command_rx) = mpsc::channel(64);
        let heartbeat = crate::notify::Heartbeat::default();
        let uplink = start_uplink(
            config,
            &clock,
            &store,
            event_tx.clone(),
            (snapshot.clone(), changes.subscribe()),
            questions_rx,
            policy,
            &outputs,
        );
        start_local_broker(
            config,
            (snapshot.clone(), changes.subscribe()),
            &clock,
            &outputs,
        );
        let wiring = WebWiring {
            store: store.clone(),
            sockets: snapshot.clone(),
            uplink: uplink.clone(),
            commands: commands.clone(),
            installer: link,
            taps: buses.taps,
            clock: clock.clone(),
        };
        let web = start_web(config, wiring, &inputs);
        let task = CoreTask {
            heartbeat: heartbeat.clone(),
            site,
            clock,
            store,
            routes: buses.routes.clone(),
            questions,
            asked: Default::default(),
            connection_timeout: config.sessions.connection_timeout,
            desired: buses.desired,
            snapshot: snapshot_tx,
            changes,
            ids: config.sockets.iter().map(|s| s.id.clone()).collect(),
            access_db,
            reader_sockets: readers.sockets,
        };
        core.tasks
            .spawn(task.run(event_rx, command_rx, readers.reads, core.cancel.clone()));
        #[cfg(test)]
        let events = event_tx.clone();
        drop(event_tx);
        Ok(Daemon {
            uplink,
            web,
            store_thread: Some(writer),
            snapshot,
            socket_routes: buses.routes,
            bus_stats: buses.stats,
            reader_stats: readers.stats,
            commands,
            heartbeat,
            inputs,
            core,
            outputs,
            #[cfg(test)]
            events,
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

    /// Stops the daemon within `deadline`, in order: the inputs (bus owners, badge readers, the
    /// web page); the core, once it has decided and committed every event already queued (a
    /// last unplug is recorded as such); the outputs (the uplink publishes what was committed,
    /// publishes `offline` itself and disconnects; the local broker); the database writer,
    /// once its last handle is gone. Returns false when something had to be abandoned.
    pub async fn shutdown(mut self, deadline: Duration) -> bool {
        let until = Instant::now() + deadline;
        let inputs_done = self.inputs.stop(until).await;
        if !inputs_done {
            log::warn!("bus owners, readers or the web page did not stop within {deadline:?}");
        }
        let core_done = self.core.stop(until).await;
        if !core_done {
            log::warn!("the core did not drain its queue within {deadline:?}");
        }
        // Every write the core made is committed (it waits for each commit): the uplink can
        // ship it, say goodbye and stop. Its goodbye is bounded on its own too.
        let outputs_done = self.outputs.stop(until).await;
        if !outputs_done {
            log::warn!("the uplink or the local broker did not stop within {deadline:?}");
        }
        // The last store handles are gone: the writer commits what it has and stops.
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
        inputs_done && core_done && outputs_done && store_done
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

/// Gives the core the published tariffs and promotions, and how often each promotion was used.
/// A row that no longer parses (written by another build) is skipped, loudly.
fn load_pricing(db: &rusqlite::Connection, site: &mut Site) -> Result<(), StoreError> {
    use crate::store::access;
    let mut tariffs = Vec::new();
    for (id, json) in access::tariffs(db)? {
        match crate::core::pricing::parse_tariff(&json) {
            Ok(t) => tariffs.push(t),
            Err(problems) => log::error!(
                "tariff {id} in the database is invalid, sessions under it go unpriced:\n{problems}"
            ),
        }
    }
    site.set_tariffs(tariffs);
    let mut promotions = Vec::new();
    for (id, json) in access::promotions(db)? {
        match crate::core::pricing::parse_promotion(&json) {
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

/// What the live publishers read: the site's snapshot and the core's per-socket announcements.
type LiveSockets = (
    watch::Receiver<Vec<SocketSnapshot>>,
    broadcast::Receiver<SocketChange>,
);

/// Starts the link to central when `[uplink]` is configured.
#[allow(clippy::too_many_arguments)]
fn start_uplink(
    config: &Config,
    clock: &Clock,
    store: &StoreHandle,
    core: mpsc::Sender<Event>,
    (sockets, changes): LiveSockets,
    questions: mpsc::Receiver<(crate::core::access::IdToken, usize)>,
    policy: crate::core::access::OfflinePolicy,
    stage: &Stage,
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
        changes,
        questions,
        status: status_tx,
        policy,
        clock: clock.clone(),
    };
    stage
        .tasks
        .spawn(crate::uplink::run(settings, wiring, stage.cancel.clone()));
    Some(status)
}

/// Starts the embedded site broker and the publisher of live states into it, when enabled.
fn start_local_broker(
    config: &Config,
    (sockets, changes): LiveSockets,
    clock: &Clock,
    stage: &Stage,
) {
    let Some(broker) = config.broker.clone() else {
        return;
    };
    let site_id = config.site.id.clone();
    let socket_ids = config.sockets.iter().map(|s| s.id.clone()).collect();
    let telemetry = config
        .uplink
        .as_ref()
        .map_or(Duration::from_secs(10), |u| u.telemetry_interval);
    let cancel = stage.cancel.clone();
    let clock = clock.clone();
    let inner = stage.tasks.clone();
    stage.tasks.spawn(async move {
        match crate::broker::EmbeddedBroker::start(&broker, cancel.clone(), &inner).await {
            Ok(b) => {
                log::info!("local broker listening on {}", b.addr);
                let wiring = crate::uplink::local::LocalWiring {
                    broker: b.addr,
                    login: (broker.username.clone(), broker.password.clone()),
                    site_id,
                    socket_ids,
                    sockets,
                    changes,
                    telemetry_interval: telemetry,
                    clock,
                };
                crate::uplink::local::run(wiring, cancel).await;
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
    installer: Option<crate::web::reload::ReloadLink>,
    /// Each bus owner's counters, live registers and scan channel (installer page and tools,
    /// system page, /metrics).
    taps: Vec<crate::modbus::tap::BusTap>,
    clock: Clock,
}

/// Starts the local web page when `[web]` is enabled. A page that cannot listen (the port is
/// taken) is logged, and the site runs on without it.
fn start_web(config: &Config, wiring: WebWiring, stage: &Stage) -> Option<crate::web::Web> {
    let WebWiring {
        store,
        sockets,
        uplink,
        commands,
        installer,
        taps,
        clock,
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
        stopping: stage.cancel.clone(),
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
        clock,
    });
    match crate::web::Web::start(
        web,
        &config.state_dir,
        app,
        stage.cancel.clone(),
        &stage.tasks,
    ) {
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

#[cfg(test)]
mod tests;
