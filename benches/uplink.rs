//! Uplink benchmarks (issue 5; figures in BENCHMARKS.md): `cargo bench --bench uplink [-- PART]`,
//! PART one or more of `drain`, `state`, `access`, `fleet` (all when none). Each part runs in a
//! child process of its own, so that its peak RSS is its own. Debian's Mosquitto
//! (`/usr/sbin/mosquitto`) on a free loopback port is the broker, central-sim (in this process)
//! is central, and the uplink task (`sitegate::uplink::run`) runs directly against a real SQLite
//! store; the core is a channel drained and dropped.
//! - drain: 100,000 queued events to central, acknowledged by central-sim; events/s per window;
//! - state: a socket's state change, announced as the core task does, until central-sim has it
//!   (p50/p99/max);
//! - access: a full list of 1,000,000 users over MQTT until central-sim has `accepted`;
//! - fleet: 500 sites (500 uplinks, 500 stores) against one broker and one central-sim.
//!
//! `nodelay` as an argument also sets Mosquitto's `set_tcp_nodelay true`. For diagnosis, the
//! drain reads `UPLINK_BENCH_EVENTS` (default 100,000), `UPLINK_BENCH_WINDOW` (one window
//! instead of 64, 256 and 1024) and `UPLINK_BENCH_RECORD` (central-sim's JSON-lines record).

#[path = "common/mosquitto.rs"]
mod mosquitto;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use central_sim::{AckMode, CentralSim, Options};
use serde_json::{Value, json};
use sha2::Digest;
use sitegate::core::SocketSnapshot;
use sitegate::core::access::{IdToken, OfflinePolicy};
use sitegate::core::site::{Audit, Event, SocketView};
use sitegate::core::socket_state::SocketState;
use sitegate::core::time::Stamp;
use sitegate::store::outbox::Stream;
use sitegate::store::{self, StoreHandle, StoreSetup, Write};
use sitegate::uplink::{self, Backoff, Settings, UplinkStatus, Wiring};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const PARTS: [&str; 4] = ["drain", "state", "access", "fleet"];
const PATIENCE: Duration = Duration::from_secs(600);

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let parts: Vec<&str> = PARTS
        .into_iter()
        .filter(|p| {
            !args.iter().any(|a| PARTS.contains(&a.as_str())) || args.contains(&p.to_string())
        })
        .collect();
    let nodelay = args.iter().any(|a| a == "nodelay");
    if nodelay {
        NODELAY.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    if parts.len() > 1 {
        // One child per part: a part's peak RSS is its own.
        let me = std::env::current_exe().unwrap();
        for p in parts {
            let mut child = Command::new(&me);
            child.arg(p);
            if nodelay {
                child.arg("nodelay");
            }
            let status = child.status().unwrap();
            assert!(status.success(), "part {p}: {status}");
        }
        return;
    }
    raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match parts.first().copied() {
        Some("drain") => runtime.block_on(drain()),
        Some("state") => runtime.block_on(state_latency()),
        Some("access") => runtime.block_on(access_full()),
        Some("fleet") => runtime.block_on(fleet()),
        _ => {}
    }
}

/// 500 sites hold a few thousand files and sockets.
fn raise_fd_limit() {
    // SAFETY: plain system calls on a local struct.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

// The broker.

/// A `VmRSS:`/`VmHWM:` line of a status file, in MB.
fn status_mb(path: &str, key: &str) -> f64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn self_mb(key: &str) -> f64 {
    status_mb("/proc/self/status", key)
}

/// Mosquitto's defaults drop QoS 1 messages queued for a client beyond 1,000 (plus 20 in
/// flight); central-sim, one subscriber for every site, would lose some. Unbounded here. With
/// the `nodelay` argument the broker also disables Nagle's algorithm (`set_tcp_nodelay true`;
/// Mosquitto's default is false).
fn broker_conf() -> String {
    let mut conf = String::from("max_queued_messages 0\n");
    if NODELAY.load(std::sync::atomic::Ordering::Relaxed) {
        conf.push_str("set_tcp_nodelay true\n");
    }
    conf
}

static NODELAY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

// A site.

fn stamp() -> Stamp {
    Stamp {
        mono: Instant::now(),
        wall_ms: chrono::Utc::now().timestamp_millis(),
        trusted: true,
    }
}

fn setup(dir: &Path) -> StoreSetup {
    StoreSetup {
        path: dir.join(store::DB_FILE),
        time_zone: chrono_tz::Europe::Paris,
        socket_ids: vec!["p1".into(), "p2".into()],
        run_id: "bench".into(),
        run_start: Instant::now(),
        reserve_bytes: 0,
        updates_cap: 10_000,
        clock: sitegate::clock::Clock::detect(),
        max_db_bytes: None,
    }
}

/// `n` authorization records (each one an `events` record of the outbox), `batch` per commit.
async fn prefill(store: &StoreHandle, n: usize, batch: usize) {
    let mut left = n;
    let mut i = 0u64;
    while left > 0 {
        let k = left.min(batch);
        let writes = (0..k)
            .map(|_| {
                i += 1;
                Write::Audit(Box::new(Audit {
                    token: IdToken::new(&format!("{:08X}", i.wrapping_mul(0x9E37_79B9) as u32))
                        .unwrap(),
                    sockets: vec![0],
                    user: Some(format!("user-{i:07}")),
                    outcome: "accepted",
                    reason: None,
                    source: Some("list"),
                    at: stamp(),
                }))
            })
            .collect();
        store.apply(writes).await.unwrap();
        left -= k;
    }
}

fn snapshot(id: &str, state: SocketState) -> SocketSnapshot {
    SocketSnapshot {
        id: id.into(),
        name: id.into(),
        bus: "bus".into(),
        unit_id: 1,
        profile: "generic-socket".into(),
        view: SocketView {
            state,
            read_at: None,
            readings: Default::default(),
            since: Instant::now(),
            out_of_service: false,
            session: None,
        },
    }
}

fn settings(port: u16, window: usize, max_downlink_bytes: usize) -> Settings {
    Settings {
        host: "127.0.0.1".into(),
        port,
        tls: None,
        credentials: None,
        keep_alive: Duration::from_secs(15),
        window,
        telemetry_interval: Duration::from_secs(60),
        max_downlink_bytes,
        require_signed_downlink: false,
        trusted_keys: vec![],
        backoff: Backoff::default(),
    }
}

/// A running uplink with what the rest of the daemon would hold.
struct Site {
    task: JoinHandle<()>,
    sockets: watch::Sender<Vec<SocketSnapshot>>,
    /// The core's announcements, as the core task makes them.
    changes: tokio::sync::broadcast::Sender<sitegate::core::SocketChange>,
    status: watch::Receiver<UplinkStatus>,
    _questions: mpsc::Sender<(IdToken, usize)>,
    core: JoinHandle<()>,
}

fn start_site(
    site_id: &str,
    dir: &Path,
    store: &StoreHandle,
    settings: Settings,
    cancel: &CancellationToken,
) -> Site {
    let (core_tx, mut core_rx) = mpsc::channel::<Event>(64);
    let core = tokio::spawn(async move { while core_rx.recv().await.is_some() {} });
    let (sockets, sockets_rx) = watch::channel(vec![
        snapshot("p1", SocketState::Available),
        snapshot("p2", SocketState::Available),
    ]);
    let (questions, questions_rx) = mpsc::channel(16);
    let (status_tx, status) = watch::channel(UplinkStatus::default());
    let (changes, changes_rx) = tokio::sync::broadcast::channel(64);
    let wiring = Wiring {
        site_id: site_id.into(),
        site_name: site_id.into(),
        socket_ids: vec!["p1".into(), "p2".into()],
        db_path: dir.join(store::DB_FILE),
        store: store.clone(),
        core: core_tx,
        sockets: sockets_rx,
        changes: changes_rx,
        questions: questions_rx,
        status: status_tx,
        policy: OfflinePolicy::default(),
        clock: sitegate::clock::Clock::detect(),
    };
    let task = tokio::spawn(uplink::run(settings, wiring, cancel.clone()));
    Site {
        task,
        sockets,
        changes,
        status,
        _questions: questions,
        core,
    }
}

impl Site {
    async fn stop(self, cancel: &CancellationToken) {
        cancel.cancel();
        let _ = self.task.await;
        drop(self.sockets);
        let _ = self.core.await;
    }
}

async fn central(port: u16, sites: Vec<String>, batch: Duration) -> CentralSim {
    let mut opts = Options::new("127.0.0.1", port, &sites[0]);
    opts.sites = sites;
    opts.ack_mode = AckMode::Immediate { batch };
    opts.max_packet_bytes = 16 << 20;
    opts.record = std::env::var_os("UPLINK_BENCH_RECORD").map(Into::into);
    let sim = CentralSim::start(opts).await.unwrap();
    sim.wait_ready(Duration::from_secs(30)).await.unwrap();
    sim
}

fn outbox_depth(conn: &rusqlite::Connection) -> u64 {
    store::outbox::depth(conn, Stream::Events).unwrap().0
}

async fn stop_store(store: StoreHandle, thread: std::thread::JoinHandle<()>) {
    drop(store);
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();
}

// 1. Drain.

const DRAIN_EVENTS: usize = 100_000;
fn drain_events() -> usize {
    std::env::var("UPLINK_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DRAIN_EVENTS)
}
const ACK_BATCH: Duration = Duration::from_millis(20);

async fn drain() {
    println!(
        "## Drain of {} queued events (central-sim acks, batch {} ms; broker nodelay {})",
        drain_events(),
        ACK_BATCH.as_millis(),
        NODELAY.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!("| window | time | events/s | distinct at central | duplicates | in order | acks |");
    println!("|---|---|---|---|---|---|---|");
    let windows: Vec<usize> = match std::env::var("UPLINK_BENCH_WINDOW") {
        Ok(w) => vec![w.parse().unwrap()],
        Err(_) => vec![64, 256, 1024],
    };
    for window in windows {
        drain_one(window).await;
    }
}

async fn drain_one(window: usize) {
    let broker = mosquitto::Mosquitto::start(&broker_conf()).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    prefill(&store, drain_events(), 5_000).await;
    let conn = store::open_reader(&dir.path().join(store::DB_FILE)).unwrap();
    assert_eq!(outbox_depth(&conn), drain_events() as u64);
    let sim = central(broker.port, vec!["bench".into()], ACK_BATCH).await;
    let cancel = CancellationToken::new();
    let t0 = Instant::now();
    let site = start_site(
        "bench",
        dir.path(),
        &store,
        settings(broker.port, window, 256 * 1024),
        &cancel,
    );
    let got = sim
        .wait_until(PATIENCE, |s| {
            (s.events.records.len() >= drain_events()).then_some(())
        })
        .await;
    if got.is_err() {
        let s = sim.stats();
        println!(
            "| {window} | STALLED: central has {} events, acked {}, site status {:?} | | | | | |",
            s.events.records.len(),
            s.events.acked,
            *site.status.borrow()
        );
    } else {
        while outbox_depth(&conn) > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let took = t0.elapsed().as_secs_f64();
        let s = sim.stats();
        println!(
            "| {window} | {took:.2} s | {:.0} | {} | {} | {} | {} |",
            drain_events() as f64 / took,
            s.events.records.len(),
            s.events.duplicates,
            s.events.in_order,
            s.acks_sent
        );
    }
    site.stop(&cancel).await;
    sim.shutdown().await;
    drop(conn);
    stop_store(store, thread).await;
}

// 2. Socket state to central.

const STATE_SAMPLES: usize = 1_000;

async fn state_latency() {
    let broker = mosquitto::Mosquitto::start(&broker_conf()).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    let sim = central(broker.port, vec!["bench".into()], ACK_BATCH).await;
    let cancel = CancellationToken::new();
    let site = start_site(
        "bench",
        dir.path(),
        &store,
        settings(broker.port, 256, 256 * 1024),
        &cancel,
    );
    let state_of = |s: &central_sim::SiteStats| {
        s.socket_states
            .get("p1")
            .and_then(|v| v["state"].as_str().map(str::to_owned))
    };
    sim.wait_until(PATIENCE, |s| {
        (state_of(s).as_deref() == Some("Available")).then_some(())
    })
    .await
    .unwrap();
    let mut times = Vec::with_capacity(STATE_SAMPLES);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    for i in 0..STATE_SAMPLES {
        tick.tick().await;
        let (state, name) = if i % 2 == 0 {
            (SocketState::Charging, "Charging")
        } else {
            (SocketState::Available, "Available")
        };
        let t0 = Instant::now();
        site.sockets.send_modify(|s| {
            s[0].view.state = state;
            s[0].view.since = t0;
        });
        let _ = site.changes.send(sitegate::core::SocketChange::State(0));
        sim.wait_until(Duration::from_secs(10), |s| {
            (state_of(s).as_deref() == Some(name)).then_some(())
        })
        .await
        .unwrap();
        times.push(t0.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pct = |q: f64| ms(times[((times.len() as f64 * q) as usize).min(times.len() - 1)]);
    println!(
        "## Socket state change to central-sim, {STATE_SAMPLES} changes 50 ms apart (uplink task, the core's announcement; broker nodelay {})",
        NODELAY.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!("| p50 | p99 | max |");
    println!("|---|---|---|");
    println!(
        "| {:.2} ms | {:.2} ms | {:.2} ms |",
        pct(0.5),
        pct(0.99),
        ms(*times.last().unwrap())
    );
    site.stop(&cancel).await;
    sim.shutdown().await;
    stop_store(store, thread).await;
}

// 3. A full access list over MQTT.

const USERS: usize = 1_000_000;
const CHUNK_USERS: usize = 5_000;
const MAX_DOWNLINK: usize = 1 << 20;

fn token_of(i: usize) -> String {
    format!("{:08X}", (i as u64).wrapping_mul(0x9E37_79B9) as u32)
}

/// Chunk `i` of `n` of the list, as central-sim's `chunk_access_list` shapes it (made one at a
/// time: the whole list as one JSON value would take central-sim gigabytes).
fn chunk(version: u64, i: usize, n: usize) -> Vec<u8> {
    let range = i * CHUNK_USERS..((i + 1) * CHUNK_USERS).min(USERS);
    let users: Vec<Value> = range
        .clone()
        .map(|u| json!({"id": format!("user-{u:07}"), "name": format!("User {u}"), "communities": ["residents"]}))
        .collect();
    let tokens: Vec<Value> = range
        .map(
            |u| json!({"token": token_of(u), "user": format!("user-{u:07}"), "status": "Accepted"}),
        )
        .collect();
    let mut m = serde_json::Map::new();
    m.insert("version".into(), json!(version));
    m.insert("chunk".into(), json!(i));
    m.insert("chunks".into(), json!(n));
    if i == 0 {
        m.insert(
            "rules".into(),
            json!({
                "site": {"home": false, "communities": ["residents"],
                         "default_community": "residents", "tariff": null},
                "communities": [{"id": "residents", "public": false, "card_payment": false,
                                 "tariff": null}],
                "sockets": {}
            }),
        );
    }
    m.insert("users".into(), Value::Array(users));
    m.insert("tokens".into(), Value::Array(tokens));
    serde_json::to_vec(&Value::Object(m)).unwrap()
}

async fn access_full() {
    let broker = mosquitto::Mosquitto::start(&broker_conf()).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    let sim = central(broker.port, vec!["bench".into()], ACK_BATCH).await;
    let cancel = CancellationToken::new();
    let site = start_site(
        "bench",
        dir.path(),
        &store,
        settings(broker.port, 256, MAX_DOWNLINK),
        &cancel,
    );
    let mut status = site.status.clone();
    status.wait_for(|s| s.connected).await.unwrap();
    let rss_before = self_mb("VmRSS:");
    let n = USERS.div_ceil(CHUNK_USERS);
    let version = 1;
    let t0 = Instant::now();
    let mut sha = sha2::Sha256::new();
    let mut largest = 0;
    for i in 0..n {
        let bytes = chunk(version, i, n);
        largest = largest.max(bytes.len());
        sha.update(&bytes);
        sim.publish_json_bytes("bench", "access/full", bytes)
            .await
            .unwrap();
    }
    let sha256: String = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let published = t0.elapsed();
    sim.publish_down(
        "bench",
        "access/commit",
        &json!({"version": version, "chunks": n, "sha256": sha256}),
    )
    .await
    .unwrap();
    let result = sim
        .wait_for_result("access/commit", PATIENCE)
        .await
        .unwrap();
    let took = t0.elapsed();
    assert_eq!(result["status"], "accepted", "{result}");
    let conn = store::open_reader(&dir.path().join(store::DB_FILE)).unwrap();
    let last = IdToken::new(&token_of(USERS - 1)).unwrap();
    let found = store::access::lookup(&conn, &last).unwrap();
    let user = found.user.map(|u| u.id);
    assert_eq!(
        user.as_deref(),
        Some(format!("user-{:07}", USERS - 1).as_str())
    );
    let size = std::fs::metadata(dir.path().join(store::DB_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "## Full access list of {USERS} users over MQTT ({n} chunks of {CHUNK_USERS} users, max_downlink_bytes = {MAX_DOWNLINK})"
    );
    println!(
        "| until `accepted` at central | chunks published by | largest chunk | peak RSS (site + central-sim + broker client) | RSS before | database | last user's token |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {:.1} s | {:.1} s | {:.0} KiB | {:.1} MB | {:.1} MB | {:.0} MB | found ({}) |",
        took.as_secs_f64(),
        published.as_secs_f64(),
        largest as f64 / 1024.0,
        self_mb("VmHWM:"),
        rss_before,
        size as f64 / 1e6,
        user.unwrap()
    );
    drop(conn);
    site.stop(&cancel).await;
    sim.shutdown().await;
    stop_store(store, thread).await;
}

// 4. A fleet.

const SITES: usize = 500;
const FLEET_EVENTS: usize = 10;

async fn fleet() {
    let broker = mosquitto::Mosquitto::start(&broker_conf()).await;
    let ids: Vec<String> = (0..SITES).map(|i| format!("site-{i:03}")).collect();
    let sim = central(broker.port, ids.clone(), Duration::from_millis(50)).await;
    let rss_0 = self_mb("VmRSS:");
    let root = tempfile::tempdir().unwrap();
    let mut stores = Vec::new();
    let t_stores = Instant::now();
    for id in &ids {
        let dir = root.path().join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let (store, _, thread) = StoreHandle::start(setup(&dir)).unwrap();
        stores.push((dir, store, thread));
    }
    let mut fills = tokio::task::JoinSet::new();
    for (_, s, _) in &stores {
        let s = s.clone();
        fills.spawn(async move { prefill(&s, FLEET_EVENTS, FLEET_EVENTS).await });
    }
    fills.join_all().await;
    let stores_took = t_stores.elapsed();
    let rss_stores = self_mb("VmRSS:");
    let cpu_0 = broker.cpu_s();
    let cancel = CancellationToken::new();
    let t0 = Instant::now();
    let sites: Vec<Site> = stores
        .iter()
        .zip(&ids)
        .map(|((dir, store, _), id)| {
            start_site(
                id,
                dir,
                store,
                settings(broker.port, 256, 256 * 1024),
                &cancel,
            )
        })
        .collect();
    let mut connected_at = None;
    loop {
        let connected = sites.iter().filter(|s| s.status.borrow().connected).count();
        if connected == SITES && connected_at.is_none() {
            connected_at = Some(t0.elapsed());
        }
        let drained = sites
            .iter()
            .filter(|s| s.status.borrow().events_acked >= FLEET_EVENTS as u64)
            .count();
        if drained == SITES {
            break;
        }
        assert!(
            t0.elapsed() < PATIENCE,
            "{connected} connected, {drained} drained"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = t0.elapsed();
    let mut distinct = 0;
    let mut dups = 0;
    let mut in_order = true;
    let mut depth = 0;
    for ((dir, _, _), id) in stores.iter().zip(&ids) {
        let s = sim.stats_of(id).unwrap();
        distinct += s.events.records.len();
        dups += s.events.duplicates;
        in_order &= s.events.in_order;
        let conn = store::open_reader(&dir.join(store::DB_FILE)).unwrap();
        depth += outbox_depth(&conn);
    }
    // Idle for a while: keep-alives only.
    let cpu_1 = broker.cpu_s();
    let rss_up = self_mb("VmRSS:");
    tokio::time::sleep(Duration::from_secs(30)).await;
    let cpu_idle = broker.cpu_s() - cpu_1;
    println!(
        "## Fleet: {SITES} sites (one uplink task and one SQLite store each, {FLEET_EVENTS} events each) on one Mosquitto, one central-sim for all"
    );
    println!(
        "| all connected | all drained | events at central | duplicates | in order | outbox left |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {:.2} s | {:.2} s | {distinct} | {dups} | {in_order} | {depth} |",
        connected_at.unwrap().as_secs_f64(),
        took.as_secs_f64()
    );
    println!(
        "| process RSS: central-sim alone | + {SITES} stores | + {SITES} uplinks, drained | per site (store + uplink) | of which uplink | stores opened and filled in |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {rss_0:.1} MB | {rss_stores:.1} MB | {rss_up:.1} MB | {:.0} KB | {:.0} KB | {:.1} s |",
        (rss_up - rss_0) * 1024.0 / SITES as f64,
        (rss_up - rss_stores) * 1024.0 / SITES as f64,
        stores_took.as_secs_f64()
    );
    println!(
        "| broker CPU, connect + drain | broker CPU, 30 s idle after | broker RSS | broker peak RSS |"
    );
    println!("|---|---|---|---|");
    println!(
        "| {:.2} s | {:.2} s | {:.1} MB | {:.1} MB |",
        cpu_1 - cpu_0,
        cpu_idle,
        status_mb(&format!("/proc/{}/status", broker.pid()), "VmRSS:"),
        status_mb(&format!("/proc/{}/status", broker.pid()), "VmHWM:")
    );
    cancel.cancel();
    for s in sites {
        s.stop(&cancel).await;
    }
    sim.shutdown().await;
    for (_, store, thread) in stores {
        stop_store(store, thread).await;
    }
}
