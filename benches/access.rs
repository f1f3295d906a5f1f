//! Access benchmarks (figures in BENCHMARKS.md): `cargo bench --bench access`.
//! - a full list of 1,000,000 users (one token each) applied: staged in chunks of 10,000 as
//!   they would arrive from central, then swapped; wall time and peak RSS of this process;
//! - decision latency with that list: the store lookup of a token plus the pure decision,
//!   p50 and p99 over 100,000 random badges (known and unknown).

use sitegate::core::access::*;
use sitegate::core::rng::SplitMix64;
use sitegate::store::{self, StoreHandle, StoreSetup, Write};
use tokio::time::Instant;

const USERS: u64 = 1_000_000;
const CHUNK: u64 = 10_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::current_dir()
        .unwrap()
        .join("target")
        .join("bench-access");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    runtime.block_on(run(&dir));
}

fn user(i: u64) -> User {
    User {
        communities: vec!["residents".into()],
        blocked: i.is_multiple_of(97),
        ..User::new(&format!("user-{i:07}"), &format!("User {i}"))
    }
}

fn token(i: u64) -> IdToken {
    IdToken::new(&format!("{:08X}", i.wrapping_mul(0x9E37_79B9) as u32)).unwrap()
}

fn hwm_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn run(dir: &std::path::Path) {
    let setup = StoreSetup {
        path: dir.join(store::DB_FILE),
        time_zone: chrono_tz::Europe::Paris,
        socket_ids: vec!["p1".into()],
        run_id: "bench".into(),
        run_start: Instant::now(),
        reserve_bytes: 0,
        updates_cap: 100,
        clock: sitegate::clock::Clock::detect(),
        max_db_bytes: None,
    };
    let (handle, _, thread) = StoreHandle::start(setup).unwrap();
    let mut rules = SiteRules::empty();
    rules.site.communities = vec!["residents".into()];
    rules.site.default_community = Some("residents".into());
    rules.communities.insert(
        "residents".into(),
        Community {
            id: "residents".into(),
            kind: CommunityKind::Private,
            card_payment: false,
            tariff: Some("t1".into()),
            hours: None,
        },
    );

    let t0 = Instant::now();
    handle.apply(vec![Write::AccessListBegin]).await.unwrap();
    for start in (0..USERS).step_by(CHUNK as usize) {
        let users: Vec<User> = (start..start + CHUNK).map(user).collect();
        let tokens = (start..start + CHUNK)
            .map(|i| {
                let entry = TokenEntry {
                    user: Some(format!("user-{i:07}")),
                    status: TokenStatus::Accepted,
                    expiry_ms: None,
                    parent: None,
                    sockets: vec![],
                };
                (token(i), entry)
            })
            .collect();
        handle
            .apply(vec![Write::AccessListChunk { users, tokens }])
            .await
            .unwrap();
    }
    handle
        .apply(vec![Write::AccessListCommit {
            version: 1,
            rules: Box::new(rules.clone()),
        }])
        .await
        .unwrap();
    let applied = t0.elapsed();
    let size = std::fs::metadata(dir.join(store::DB_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    println!("## Access list of {USERS} users");
    println!("| applied (staged + swapped) | peak RSS | database |");
    println!("|---|---|---|");
    println!(
        "| {:.1} s | {:.1} MB | {:.0} MB |",
        applied.as_secs_f64(),
        hwm_mb(),
        size as f64 / 1e6
    );

    let conn = store::open_reader(&dir.join(store::DB_FILE)).unwrap();
    let rules = store::access::load_rules(&conn).unwrap();
    let policy = OfflinePolicy::default();
    let mut rng = SplitMix64::new(7);
    let mut times = Vec::with_capacity(100_000);
    let mut accepted = 0;
    for _ in 0..100_000 {
        // 90 % known badges, 10 % strangers.
        let t = if rng.below(10) == 0 {
            IdToken::new(&format!("FF{:06X}", rng.below(1 << 24))).unwrap()
        } else {
            token(rng.below(USERS))
        };
        let start = Instant::now();
        let found = store::access::lookup(&conn, &t).unwrap();
        let req = Request {
            token: &t,
            socket: "p1",
            socket_in_service: true,
            now_ms: 1_795_348_800_000,
            local_weekday: 2,
            local_minute: 720,
            online: false,
            user_sessions: 0,
            user_spent: rust_decimal::Decimal::ZERO,
        };
        let decision = authorize(&rules, &found, &policy, &req);
        times.push(start.elapsed());
        accepted += usize::from(matches!(decision, Decision::Accepted(_)));
    }
    times.sort();
    let pct = |q: f64| {
        times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e6
    };
    println!("## Decision latency, {USERS} users, 100,000 badges ({accepted} accepted)");
    println!("| p50 | p99 | max |");
    println!("|---|---|---|");
    println!(
        "| {:.1} µs | {:.1} µs | {:.1} µs |",
        pct(0.5),
        pct(0.99),
        times.last().unwrap().as_secs_f64() * 1e6
    );
    drop(handle);
    thread.join().unwrap();
}
