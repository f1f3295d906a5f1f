//! Bus benchmarks (a bench binary, not a test: figures go to BENCHMARKS.md).
//!
//! `cargo bench --bench bus -- [rtu] [dead] [tcp]` (all three when none is named):
//! - rtu:  polls/s achieved by one bus owner on one emulated RS-485 line, 10-register reads at
//!   8E1 (11 bits per character), divided by the line's physical bound
//!   T_min = (13 + 2N) t_c + 2 t3.5 (../shared/reference/modbus-rtu-timing.md). Target >= 0.90.
//! - dead: the poll rate of 7 live units on a saturated 19,200-baud line, before and after the
//!   8th unit goes silent. Target: drop <= 10 %.
//! - tcp:  256 sockets (32 simulated Alfen stations x 8 sockets, each its own TCP bus) polled at
//!   1 Hz by the daemon in this process, the simulators in a child process: CPU % of one core,
//!   RSS, and p99 of poll lateness against the fixed period. Targets: <= 2 %, <= 20 MB, <= 20 ms.
//!
//! The daemon runs in-process (release build, 2 worker threads, as `sitegate run`); RTU
//! simulators run in-process on their own threads, the TCP ones in a separate process so that
//! their CPU and memory are not counted.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use sitegate::app::daemon::Daemon;
use sitegate::config::{self, Config};
use socket_sim::{Model, RtuOptions, Sim, SimOptions, UnitSpec};

const BENCH_PROFILE: &str = r#"
[profile]
name = "bench-10"
description = "ten input registers read in one request"
kind = "meter"
[[register]]
name = "block"
table = "input"
address = 0
type = "string"
length = 10
"#;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = args.is_empty();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bench-10.toml"), BENCH_PROFILE).unwrap();
    if all || args.iter().any(|a| a == "rtu") {
        runtime.block_on(rtu_efficiency(dir.path()));
    }
    if all || args.iter().any(|a| a == "dead") {
        runtime.block_on(dead_unit(dir.path()));
    }
    if all || args.iter().any(|a| a == "tcp") {
        runtime.block_on(tcp_256(dir.path()));
    }
}

fn header(dir: &std::path::Path) -> String {
    format!(
        "[site]\nid = \"bench\"\nname = \"Bench\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \"{}\"\n[profiles]\nfiles = [\"bench-10.toml\"]\n",
        dir.join("state").display()
    )
}

fn parse(dir: &std::path::Path, text: &str) -> Config {
    config::parse(text, dir).unwrap_or_else(|e| panic!("bench config:\n{e}"))
}

/// A saturated line: `units` units each asking for 10 polls/s, more than any rate can carry.
fn rtu_config(
    dir: &std::path::Path,
    path: &std::path::Path,
    baud: u32,
    units: u8,
    timeout: &str,
) -> Config {
    let mut text = header(dir);
    text += &format!(
        "[[bus]]\nname = \"line\"\nkind = \"rtu\"\ndevice = \"{}\"\nbaud = {baud}\nparity = \"none\"\nstop_bits = 2\nrequest_timeout = \"{timeout}\"\nretries = 1\ndead_after = 3\n",
        path.display()
    );
    for u in 1..=units {
        text += &format!(
            "[[socket]]\nid = \"u{u}\"\nname = \"u{u}\"\nbus = \"line\"\nunit_id = {u}\nprofile = \"bench-10\"\npoll_interval = \"100ms\"\n"
        );
    }
    parse(dir, &text)
}

async fn rtu_line(baud: u32, units: u8) -> (Sim, std::path::PathBuf) {
    let sim = Sim::new(SimOptions {
        frozen: true,
        ..SimOptions::default()
    })
    .unwrap();
    let specs = (1..=units)
        .map(|u| UnitSpec::new(u, Model::GenericSocket))
        .collect();
    let path = sim
        .serve_rtu_pty(
            "line",
            specs,
            RtuOptions {
                baud,
                bits_per_char: 11,
                ..RtuOptions::default()
            },
        )
        .await
        .unwrap();
    (sim, path)
}

/// Physical bound of 10-register reads at 11 bits per character (polls/s).
fn bound(baud: u32) -> f64 {
    let tc = 11.0 / f64::from(baud);
    let t35 = if baud > 19_200 { 0.00175 } else { 3.5 * tc };
    1.0 / ((13.0 + 20.0) * tc + 2.0 * t35)
}

fn polls(daemon: &Daemon, devices: std::ops::Range<usize>) -> u64 {
    let stats = &daemon.bus_stats[0].1;
    devices
        .map(|i| stats.devices[i].polls.load(Relaxed) - stats.devices[i].failures.load(Relaxed))
        .sum()
}

async fn rate(daemon: &Daemon, devices: std::ops::Range<usize>, window: Duration) -> f64 {
    let before = polls(daemon, devices.clone());
    let t0 = tokio::time::Instant::now();
    tokio::time::sleep(window).await;
    let after = polls(daemon, devices);
    (after - before) as f64 / t0.elapsed().as_secs_f64()
}

async fn rtu_efficiency(dir: &std::path::Path) {
    println!(
        "## RTU bus efficiency (10-register reads, 8E1 emulated, 16 units saturating the line)"
    );
    println!("| baud | polls/s | bound | efficiency |");
    println!("|---|---|---|---|");
    for baud in [9_600, 19_200, 38_400, 115_200] {
        let (sim, path) = rtu_line(baud, 16).await;
        let daemon = Daemon::start(&rtu_config(dir, &path, baud, 16, "200ms")).unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await; // connect, first polls
        let achieved = rate(&daemon, 0..16, Duration::from_secs(10)).await;
        let b = bound(baud);
        println!("| {baud} | {achieved:.1} | {b:.1} | {:.3} |", achieved / b);
        daemon.shutdown(Duration::from_secs(5)).await;
        sim.shutdown().await;
    }
}

async fn dead_unit(dir: &std::path::Path) {
    println!("## One dead unit among 8 (19,200 baud 8E1, 10-register reads, saturated line)");
    let (sim, path) = rtu_line(19_200, 8).await;
    let daemon = Daemon::start(&rtu_config(dir, &path, 19_200, 8, "100ms")).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (live, all8) = tokio::join!(
        rate(&daemon, 0..7, Duration::from_secs(20)),
        rate(&daemon, 0..8, Duration::from_secs(20))
    );
    sim.control("line", 8, socket_sim::Command::Silence { count: None })
        .unwrap();
    let mut snap = daemon.snapshot.clone();
    while snap.borrow_and_update()[7].view.state.to_string() != "NotConnected" {
        snap.changed().await.unwrap();
    }
    let with_dead = rate(&daemon, 0..7, Duration::from_secs(30)).await;
    let dead_requests = sim.truth("line", 8).unwrap().requests_received;
    println!(
        "| polls/s of units 1-7 | all 8 alive | unit 8 dead | change | line time lost to the dead unit |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| | {live:.2} | {with_dead:.2} | {:+.1} % | {:.1} % |",
        100.0 * (with_dead - live) / live,
        100.0 * (all8 - with_dead) / all8
    );
    println!("(requests the dead unit received in all: {dead_requests})");
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
}

fn spawn_stations(n: usize) -> (Child, Vec<String>) {
    let exe = std::env::var("SOCKET_SIM").unwrap_or_else(|_| {
        let mut p = std::env::current_exe().unwrap();
        p.pop();
        if p.ends_with("deps") {
            p.pop();
        }
        p.join("socket-sim").display().to_string()
    });
    let mut cmd = Command::new(&exe);
    for i in 0..n {
        cmd.args([
            "--tcp",
            "127.0.0.1:0",
            "--name",
            &format!("st{i}"),
            "--profile",
            "alfen-ng9xx",
            "--units",
            "1-8",
        ]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{exe}: {e} (build it: cargo build --release -p socket-sim)"));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addrs = (0..n)
        .map(|_| {
            lines
                .next()
                .unwrap()
                .unwrap()
                .split_whitespace()
                .nth(2)
                .unwrap()
                .to_string()
        })
        .collect();
    (child, addrs)
}

/// CPU seconds (user + system) of this process, from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn status_kb(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}

async fn tcp_256(dir: &std::path::Path) {
    println!("## 256 TCP sockets at 1 Hz (32 Alfen stations x 8 sockets)");
    let (mut child, addrs) = spawn_stations(32);
    let mut text = header(dir);
    for (i, addr) in addrs.iter().enumerate() {
        let (host, port) = addr.rsplit_once(':').unwrap();
        text += &format!(
            "[[bus]]\nname = \"st{i}\"\nkind = \"tcp\"\nhost = \"{host}\"\nport = {port}\n"
        );
        for u in 1..=8 {
            text += &format!(
                "[[socket]]\nid = \"st{i}-{u}\"\nname = \"st{i}-{u}\"\nbus = \"st{i}\"\nunit_id = {u}\nprofile = \"alfen-ng9xx\"\n"
            );
        }
    }
    let config = parse(dir, &text);
    let daemon = Daemon::start(&config).unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await; // connect, identity reads, first writes
    let lateness_before: Vec<u64> = lateness(&daemon);
    let polls_before: u64 = daemon
        .bus_stats
        .iter()
        .map(|(_, s)| s.polls.load(Relaxed))
        .sum();
    let (cpu0, t0) = (cpu_seconds(), tokio::time::Instant::now());
    tokio::time::sleep(Duration::from_secs(60)).await;
    let (cpu1, wall) = (cpu_seconds(), t0.elapsed().as_secs_f64());
    let polls_after: u64 = daemon
        .bus_stats
        .iter()
        .map(|(_, s)| s.polls.load(Relaxed))
        .sum();
    let hist: Vec<u64> = lateness(&daemon)
        .iter()
        .zip(&lateness_before)
        .map(|(a, b)| a - b)
        .collect();
    let failures: u64 = daemon
        .bus_stats
        .iter()
        .map(|(_, s)| s.timeouts.load(Relaxed) + s.framing_errors.load(Relaxed))
        .sum();
    println!("| polls/s | CPU % of one core | RSS MB (peak) | p99 lateness | timeouts + framing |");
    println!("|---|---|---|---|---|");
    println!(
        "| {:.1} | {:.2} | {:.1} ({:.1}) | < {} ms | {failures} |",
        (polls_after - polls_before) as f64 / wall,
        100.0 * (cpu1 - cpu0) / wall,
        status_kb("VmRSS:") as f64 / 1024.0,
        status_kb("VmHWM:") as f64 / 1024.0,
        quantile_ms(&hist, 0.99)
    );
    daemon.shutdown(Duration::from_secs(5)).await;
    let _ = child.kill();
    let _ = child.wait();
}

fn lateness(daemon: &Daemon) -> Vec<u64> {
    let n = sitegate::modbus::stats::LATENESS_BUCKETS_MS.len() + 1;
    (0..n)
        .map(|i| {
            daemon
                .bus_stats
                .iter()
                .map(|(_, s)| s.lateness[i].load(Relaxed))
                .sum()
        })
        .collect()
}

fn quantile_ms(hist: &[u64], q: f64) -> String {
    let total: u64 = hist.iter().sum();
    let target = (q * total as f64).ceil() as u64;
    let mut seen = 0;
    for (i, c) in hist.iter().enumerate() {
        seen += c;
        if seen >= target {
            return sitegate::modbus::stats::LATENESS_BUCKETS_MS
                .get(i)
                .map_or("inf".into(), |b| b.to_string());
        }
    }
    "-".into()
}
