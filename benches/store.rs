//! Store benchmarks (figures in BENCHMARKS.md): `cargo bench --bench store`.
//! - commit rate of session events with the chosen durability (WAL, synchronous = FULL),
//!   one event per transaction (as the core commits them) and grouped;
//! - bytes written to storage per hour with 64 sockets idle and with 64 charging: the real
//!   core and store, fed one simulated hour of 1 Hz polls (the clock is simulated, the writes
//!   and fsyncs are real). Measured from /proc/self/io `write_bytes` on a disk-backed folder.

use std::time::Duration;

use sitegate::core::readings::Readings;
use sitegate::core::site::{Event, IdGen, SessionChange, SessionRules, Site, SocketSetup};
use sitegate::core::socket_state::StateRules;
use sitegate::core::time::Stamp;
use sitegate::store::{self, StoreHandle, StoreSetup, Write};
use tokio::time::Instant;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Disk-backed: /tmp may be a tmpfs, whose writes reach no device.
    let base = std::env::current_dir()
        .unwrap()
        .join("target")
        .join("bench-store");
    std::fs::create_dir_all(&base).unwrap();
    runtime.block_on(commit_rate(&base));
    runtime.block_on(bytes_per_hour(&base, false));
    runtime.block_on(bytes_per_hour(&base, true));
}

fn setup(dir: &std::path::Path, sockets: usize) -> StoreSetup {
    StoreSetup {
        path: dir.join(store::DB_FILE),
        time_zone: chrono_tz::Europe::Paris,
        socket_ids: (0..sockets).map(|i| format!("s{i}")).collect(),
        run_id: "bench".into(),
        run_start: Instant::now(),
        reserve_bytes: 0,
        max_db_bytes: None,
        updates_cap: 10_000,
        clock: sitegate::clock::Clock::detect(),
    }
}

fn fresh_dir(base: &std::path::Path, name: &str) -> std::path::PathBuf {
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn commit_rate(base: &std::path::Path) {
    let dir = fresh_dir(base, "commit");
    let (handle, _, thread) = StoreHandle::start(setup(&dir, 1)).unwrap();
    let mut site = one_charging_site();
    let mut now = stamp(0);
    let mut session_event = || {
        now = Stamp {
            mono: now.mono + Duration::from_secs(1),
            wall_ms: now.wall_ms + 1000,
            ..now
        };
        site.handle(Event::Tick, now);
        let readings = Readings {
            plug: Some(true),
            enabled: Some(true),
            power_w: Some(7000.0),
            energy_wh: Some(now.wall_ms as f64 / 1e3),
            ..Readings::default()
        };
        let effects = site.handle(
            Event::Polled {
                socket: 0,
                readings,
                read_at: now.mono,
            },
            now,
        );
        let mut writes = store::writes_for(effects, now);
        if writes.is_empty() {
            // Force one session write per event: a sample.
            let view = site.view(0).unwrap();
            let session = Box::new(view.session.clone().unwrap());
            writes.push(Write::Session {
                session,
                change: SessionChange::Updated,
                sample: None,
            });
        }
        writes
    };
    let n = 300;
    let t0 = Instant::now();
    for _ in 0..n {
        handle.apply(session_event()).await.unwrap();
    }
    let single = n as f64 / t0.elapsed().as_secs_f64();
    // Grouped: 8 batches in flight at once are committed together.
    let t0 = Instant::now();
    let mut batches = 0;
    for _ in 0..(n / 8) {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (h, w) = (handle.clone(), session_event());
                tokio::spawn(async move { h.apply(w).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
            batches += 1;
        }
    }
    let grouped = batches as f64 / t0.elapsed().as_secs_f64();
    println!("## Session-event commits (WAL, synchronous = FULL)");
    println!("| one event per transaction | grouped, 8 in flight |");
    println!("|---|---|");
    println!("| {single:.0} commits/s | {grouped:.0} events/s |");
    drop(handle);
    thread.join().unwrap();
}

fn stamp(secs: u64) -> Stamp {
    static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let t0 = *T0.get_or_init(Instant::now);
    Stamp {
        mono: t0 + Duration::from_secs(secs),
        wall_ms: 1_795_348_800_000 + secs as i64 * 1000,
        trusted: true,
    }
}

fn sockets(n: usize) -> Vec<SocketSetup> {
    (0..n)
        .map(|_| SocketSetup {
            rules: StateRules::default(),
            max_current_a: 16.0,
            out_of_service: false,
            free: true,
        })
        .collect()
}

fn one_charging_site() -> Site {
    let mut site = Site::new(
        sockets(1),
        SessionRules::default(),
        vec![],
        IdGen::new(1),
        stamp(0),
    );
    site.start();
    let readings = Readings {
        plug: Some(true),
        enabled: Some(true),
        power_w: Some(7000.0),
        energy_wh: Some(0.0),
        ..Readings::default()
    };
    site.handle(
        Event::Polled {
            socket: 0,
            readings,
            read_at: stamp(0).mono,
        },
        stamp(0),
    );
    site
}

fn write_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn bytes_per_hour(base: &std::path::Path, charging: bool) {
    let n = 64;
    let dir = fresh_dir(base, if charging { "charging" } else { "idle" });
    let (handle, _, thread) = StoreHandle::start(setup(&dir, n)).unwrap();
    let mut site = Site::new(
        sockets(n),
        SessionRules::default(),
        vec![],
        IdGen::new(2),
        stamp(0),
    );
    let writes = store::writes_for(site.start(), stamp(0));
    handle.apply(writes).await.unwrap();
    let before = write_bytes();
    let t0 = Instant::now();
    let mut commits = 0;
    for sec in 1..=3600u64 {
        let now = stamp(sec);
        let mut effects = site.handle(Event::Tick, now);
        for socket in 0..n {
            // 7.4 kW each: about 2 Wh a second.
            let readings = Readings {
                plug: Some(charging),
                enabled: Some(charging),
                power_w: Some(if charging { 7400.0 } else { 0.0 }),
                energy_wh: Some(if charging { sec as f64 * 2.055 } else { 0.0 }),
                ..Readings::default()
            };
            effects.extend(site.handle(
                Event::Polled {
                    socket,
                    readings,
                    read_at: now.mono,
                },
                now,
            ));
        }
        let writes = store::writes_for(effects, now);
        if !writes.is_empty() {
            commits += 1;
        }
        handle.apply(writes).await.unwrap();
    }
    drop(handle);
    thread.join().unwrap();
    let bytes = write_bytes() - before;
    let db_size = std::fs::metadata(dir.join(store::DB_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "## 64 sockets {} for one simulated hour: {:.2} MB written to storage ({commits} commits, database {:.2} MB, {:.1} s of real time)",
        if charging { "charging" } else { "idle" },
        bytes as f64 / 1e6,
        db_size as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
}
