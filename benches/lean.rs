//! Lean at every scale (issue 13): what the real daemon costs doing a site's plain job, from 64
//! to 512 sockets. A bench binary, not a test: figures go to BENCHMARKS.md.
//!
//! `cargo build --release --bin sitegate && cargo build --release -p socket-sim`, then
//! `cargo bench --bench lean -- [VARIANT...]` (`64` when none is named; several in one
//! invocation also print each figure's ratio to the `64` run's). Variants:
//! - `64`, `128`, `256`, `512`: 1, 2, 4, 8 TCP ports × 64 units (Modbus unit ids stop at 247,
//!   so 512 units cannot share a port); `8x8`: 8 ports × 8 units;
//! - `nouplink`: 64 units, no `[uplink]`: µs of CPU per Modbus request and answer;
//! - `web`: 64 units with the uplink and the web page: 10 sign-ins over HTTPS (RSS after them),
//!   then one signed-in live stream (`/api/v1/stream`, the dashboard's) open for the window;
//!   run it with `64` (`-- 64 web`) for the CPU it adds.
//!
//! The job: `socket-sim` (a child process, so its CPU is not counted) serves every unit as a
//! `plain-4` charger (holding registers 0-3: energy u32 Wh, power W, IEC 61851 state), each
//! with a vehicle charging (`LEAN_IDLE=1`: none plugged in); the release binary
//! `target/release/sitegate run --config <file>` (a child process) polls every unit at 1 Hz
//! with the profile `PROFILE` below (free sockets: a plug-in starts an anonymous session), its
//! uplink (`tls = false`, `telemetry_interval = "1s"`) connected to Debian's Mosquitto on a free
//! loopback port; a subscriber in this process on `sitegate/v1/+/sockets/+/telemetry` checks
//! that every unit arrives once a second.
//!
//! Figures per run, over the window (`LEAN_SECS`, default 120) after a warm-up (`LEAN_WARMUP`,
//! default 10 s): the daemon's CPU (utime + stime of `/proc/<pid>/stat`, every thread, plus
//! waited-for children) per wall second as % of one core; its RSS at the end (`VmRSS`) and peak
//! (`VmHWM`); Modbus polls (requests the simulator received, from its ground truth) and µs of
//! daemon CPU per poll; telemetry messages received, per unit per second, duplicates (a unit's
//! `at` seen twice), gaps (> 1.5 s between a unit's arrivals), units missing (none in the
//! window); latency = arrival wall time − the payload's `at`, p50/p99/max.
//!
//! CPU profile (`LEAN_PERF=DIR`): `perf record -e cpu-clock -F 999 --call-graph dwarf` on the
//! daemon for the window, into `DIR/lean-<variant>.perf.data` (`LEAN_PERF_CALLGRAPH=fp` for
//! frame pointers, with a binary built for it: `SITEGATE=path` runs another binary). Sampling
//! costs the daemon some CPU: take the figures from runs without it. `benches/flame.sh` turns
//! the data into flame graphs (inferno):
//!
//! ```text
//! cargo build --release --bin sitegate && cargo build --release -p socket-sim
//! cargo bench --bench lean -- 64 128 256 nouplink           # the figures, ~10 min
//! LEAN_SECS=15 cargo bench --bench lean -- 64 web           # a quick look
//! LEAN_PERF=target/lean-perf cargo bench --bench lean -- 64 256
//! benches/flame.sh target/lean-perf benches/flames          # before-64.svg, before-256.svg
//! ```

#[path = "common/https.rs"]
mod https;
#[path = "common/mosquitto.rs"]
mod mosquitto;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Lines, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const SITE: &str = "lean";
const PASSWORD: &str = "correct horse battery staple";
const TOPICS: &str = "sitegate/v1/+/sockets/+/telemetry";
const VARIANTS: [&str; 7] = ["64", "128", "256", "512", "8x8", "nouplink", "web"];

/// The sitegate profile of socket-sim's `plain-4` model (written into the run's directory, not
/// shipped): one read of 4 holding registers per poll.
const PROFILE: &str = r#"
[profile]
name = "plain-4"
description = "four holding registers: energy, power, state (benches/lean.rs)"
kind = "socket"

[[register]]
name = "energy"
table = "holding"
address = 0
type = "u32"
unit = "Wh"

[[register]]
name = "power"
table = "holding"
address = 2
unit = "W"

[[register]]
name = "state"
table = "holding"
address = 3
description = "IEC 61851: 0 A, 1 B1, 2 B2, 3 C1, 4 C2, 5 E, 6 F"

[points]
vehicle = { register = "state", map = { 0 = "A", 1 = "B1", 2 = "B2", 3 = "C1", 4 = "C2", 5 = "E", 6 = "F" } }
energy_wh = { register = "energy" }
power_w = "power"
"#;

#[derive(Debug, Clone, Copy)]
struct Variant {
    name: &'static str,
    ports: usize,
    units_per_port: u8,
    uplink: bool,
    web: bool,
}

impl Variant {
    fn named(name: &str) -> Option<Variant> {
        let name = VARIANTS.into_iter().find(|v| *v == name)?;
        let (ports, units_per_port, uplink, web) = match name {
            "64" => (1, 64, true, false),
            "128" => (2, 64, true, false),
            "256" => (4, 64, true, false),
            "512" => (8, 64, true, false),
            "8x8" => (8, 8, true, false),
            "nouplink" => (1, 64, false, false),
            "web" => (1, 64, true, true),
            _ => unreachable!(),
        };
        Some(Variant {
            name,
            ports,
            units_per_port,
            uplink,
            web,
        })
    }

    fn units(&self) -> usize {
        self.ports * usize::from(self.units_per_port)
    }
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
struct Figures {
    variant: &'static str,
    units: usize,
    window_s: f64,
    cpu_pct: f64,
    rss_mb: f64,
    hwm_mb: f64,
    polls: u64,
    us_per_poll: f64,
    telemetry: Option<Telemetry>,
    web: Option<WebFigures>,
}

#[derive(Debug, Clone, Default)]
struct Telemetry {
    messages: usize,
    per_unit_s: f64,
    duplicates: usize,
    gaps: usize,
    missing: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Clone, Default)]
struct WebFigures {
    rss_after_sign_ins_mb: f64,
    stream_updates: u64,
}

fn env_secs(key: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut variants = Vec::new();
    for a in &args {
        match Variant::named(a) {
            Some(v) => variants.push(v),
            None => panic!("unknown variant {a:?}: one of {VARIANTS:?}"),
        }
    }
    if variants.is_empty() {
        variants.push(Variant::named("64").unwrap());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let window = env_secs("LEAN_SECS", 120);
    let warmup = env_secs("LEAN_WARMUP", 10);
    let mut all = Vec::new();
    for v in variants {
        let f = runtime.block_on(run(v, warmup, window));
        print_run(&f);
        all.push(f);
    }
    print_table(&all);
}

// ---------------------------------------------------------------------------------------------
// Child processes

fn sibling_exe(env: &str, name: &str, build: &str) -> PathBuf {
    let path = std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| {
        let mut p = std::env::current_exe().unwrap();
        p.pop();
        if p.ends_with("deps") {
            p.pop();
        }
        p.join(name)
    });
    assert!(path.exists(), "{}: missing ({build})", path.display());
    path
}

/// socket-sim with one `plain-4` bus per port, and its JSON-lines control channel.
struct Simulator {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    addrs: Vec<SocketAddr>,
}

impl Simulator {
    fn spawn(v: &Variant) -> Simulator {
        let exe = sibling_exe(
            "SOCKET_SIM",
            "socket-sim",
            "cargo build --release -p socket-sim --bin socket-sim",
        );
        let mut cmd = Command::new(exe);
        for p in 0..v.ports {
            cmd.args(["--tcp", "127.0.0.1:0", "--name", &format!("p{p}")]);
            cmd.args(["--profile", "plain-4", "--units"]);
            cmd.arg(format!("1-{}", v.units_per_port));
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addrs = (0..v.ports)
            .map(|_| {
                let line = lines.next().unwrap().unwrap();
                line.split_whitespace().nth(2).unwrap().parse().unwrap()
            })
            .collect();
        Simulator {
            child,
            stdin,
            lines,
            addrs,
        }
    }

    fn ask(&mut self, request: &Value) -> Value {
        writeln!(self.stdin, "{request}").unwrap();
        self.stdin.flush().unwrap();
        let line = self.lines.next().unwrap().unwrap();
        let reply: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(reply["ok"], true, "socket-sim: {request} -> {reply}");
        reply
    }

    /// Requests the simulator received, every unit together.
    fn requests(&mut self, v: &Variant) -> u64 {
        let mut sum = 0;
        for p in 0..v.ports {
            for u in 1..=v.units_per_port {
                let t = self
                    .ask(&serde_json::json!({"cmd": "truth", "bus": format!("p{p}"), "unit": u}));
                sum += t["truth"]["requests_received"].as_u64().unwrap();
            }
        }
        sum
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} ended: {status}");
        }
        assert!(Instant::now() < deadline, "{what} does not listen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `sitegate run`, its output in the run's directory; stopped with SIGTERM.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// utime + stime + cutime + cstime, in seconds.
    fn cpu_s(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // The fields after the command name (which is in parentheses).
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = f[11..15].iter().map(|t| t.parse::<f64>().unwrap()).sum();
        // SAFETY: sysconf has no preconditions.
        ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
    }

    fn status_mb(&self, key: &str) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill has no memory preconditions; the pid is our child's, not yet reaped.
        unsafe { libc::kill(self.pid() as libc::pid_t, libc::SIGTERM) };
        for _ in 0..150 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The site's configuration

fn config(
    v: &Variant,
    dir: &Path,
    sim: &Simulator,
    broker: Option<u16>,
    web: Option<u16>,
) -> String {
    let mut text = format!(
        "[site]\nid = \"{SITE}\"\nname = \"Lean\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \"{}\"\n[profiles]\nfiles = [\"plain-4.toml\"]\n",
        dir.join("state").display()
    );
    match web {
        Some(port) => text += &format!("[web]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n"),
        None => text += "[web]\nenabled = false\n",
    }
    if let Some(port) = broker {
        text += &format!(
            "[uplink]\nhost = \"127.0.0.1\"\nport = {port}\ntls = false\ntelemetry_interval = \"1s\"\n"
        );
    }
    for (p, addr) in sim.addrs.iter().enumerate() {
        text += &format!(
            "[[bus]]\nname = \"p{p}\"\nkind = \"tcp\"\nhost = \"{}\"\nport = {}\n",
            addr.ip(),
            addr.port()
        );
        for u in 1..=v.units_per_port {
            text += &format!(
                "[[socket]]\nid = \"p{p}-{u}\"\nname = \"p{p}-{u}\"\nbus = \"p{p}\"\nunit_id = {u}\nprofile = \"plain-4\"\npoll_interval = \"1s\"\nfree = true\n"
            );
        }
    }
    text
}

fn sitegate(args: &[&str], dir: &Path, stdin: Option<&str>) -> Child {
    let exe = sibling_exe(
        "SITEGATE",
        "sitegate",
        "cargo build --release --bin sitegate",
    );
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("sitegate.log"))
        .unwrap();
    let mut child = Command::new(exe)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        let mut s = child.stdin.take().unwrap();
        writeln!(s, "{text}").unwrap();
    }
    child
}

// ---------------------------------------------------------------------------------------------
// The subscriber

/// Per socket: (`at`, arrival), wall-clock ms.
type Arrivals = Arc<Mutex<HashMap<String, Vec<(f64, f64)>>>>;

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

/// The subscriber's arrivals and its task (aborted once the run is measured).
async fn subscribe(port: u16) -> (Arrivals, tokio::task::JoinHandle<()>) {
    let arrivals: Arrivals = Arc::default();
    let mut opts = MqttOptions::new("lean-bench-subscriber", "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_request_channel_capacity(64);
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let mut ready_tx = Some(ready_tx);
    let sink = arrivals.clone();
    let task = tokio::spawn(async move {
        let _client = client.clone();
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    client.subscribe(TOPICS, QoS::AtMostOnce).await.unwrap();
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let arrival = now_ms();
                    let v: Value = serde_json::from_slice(&p.payload).unwrap();
                    let at = chrono::DateTime::parse_from_rfc3339(v["at"].as_str().unwrap())
                        .unwrap()
                        .timestamp_millis() as f64;
                    let socket = v["socket"].as_str().unwrap().to_string();
                    sink.lock()
                        .unwrap()
                        .entry(socket)
                        .or_default()
                        .push((at, arrival));
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("subscriber: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .expect("the subscriber subscribes")
        .unwrap();
    (arrivals, task)
}

fn telemetry(v: &Variant, arrivals: &Arrivals, from_ms: f64, to_ms: f64) -> Telemetry {
    let map = arrivals.lock().unwrap();
    let mut t = Telemetry::default();
    let mut latencies = Vec::new();
    for p in 0..v.ports {
        for u in 1..=v.units_per_port {
            let mut seen = HashSet::new();
            let mut msgs: Vec<(f64, f64)> = map
                .get(&format!("p{p}-{u}"))
                .map(|m| {
                    m.iter()
                        .copied()
                        .filter(|(_, arr)| (from_ms..to_ms).contains(arr))
                        .collect()
                })
                .unwrap_or_default();
            if msgs.is_empty() {
                t.missing += 1;
                continue;
            }
            msgs.sort_by(|a, b| a.1.total_cmp(&b.1));
            t.messages += msgs.len();
            for (i, (at, arrival)) in msgs.iter().enumerate() {
                if !seen.insert(*at as i64) {
                    t.duplicates += 1;
                }
                if i > 0 && arrival - msgs[i - 1].1 > 1_500.0 {
                    t.gaps += 1;
                }
                latencies.push(arrival - at);
            }
        }
    }
    t.per_unit_s = t.messages as f64 / v.units() as f64 / ((to_ms - from_ms) / 1e3);
    latencies.sort_by(f64::total_cmp);
    let q = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    t.p50_ms = q(0.50);
    t.p99_ms = q(0.99);
    t.max_ms = latencies.last().copied().unwrap_or(f64::NAN);
    t
}

// ---------------------------------------------------------------------------------------------
// The web page: sign-ins and one live stream

/// One live stream open until aborted; counts the socket updates it receives.
fn live_stream(
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    cookie: String,
    updates: Arc<std::sync::atomic::AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut conn = https::connect(([127, 0, 0, 1], port).into(), &tls).await;
        let head = format!("GET /api/v1/stream HTTP/1.1\r\nHost: localhost\r\n{cookie}\r\n\r\n");
        conn.write_all(head.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let count = text.matches("event: sockets").count() as u64;
                    updates.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// One run

async fn run(v: Variant, warmup: Duration, window: Duration) -> Figures {
    println!(
        "## lean {}: {} units ({} port(s) x {}), uplink {}, web {}; warm-up {} s, window {} s",
        v.name,
        v.units(),
        v.ports,
        v.units_per_port,
        if v.uplink { "on" } else { "off" },
        if v.web { "on" } else { "off" },
        warmup.as_secs(),
        window.as_secs()
    );
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("plain-4.toml"), PROFILE).unwrap();
    let mut sim = Simulator::spawn(&v);
    if std::env::var("LEAN_IDLE").as_deref() != Ok("1") {
        for p in 0..v.ports {
            for u in 1..=v.units_per_port {
                sim.ask(&serde_json::json!({
                    "bus": format!("p{p}"), "unit": u, "cmd": "plug",
                    "vehicle_max_a": 16, "phases": 3, "wants_wh": 1e9,
                }));
            }
        }
    }
    let broker = if v.uplink {
        // Without Nagle's delay toward the subscriber: the latency measured is the site's.
        Some(mosquitto::Mosquitto::start("set_tcp_nodelay true\n").await)
    } else {
        None
    };
    let arrivals = match &broker {
        Some(b) => Some(subscribe(b.port).await),
        None => None,
    };
    let web_port = v.web.then(free_port);
    let config_path = dir.join("sitegate.toml");
    std::fs::write(
        &config_path,
        config(&v, dir, &sim, broker.as_ref().map(|b| b.port), web_port),
    )
    .unwrap();
    let config_arg = config_path.to_str().unwrap();
    if v.web {
        // The first account must be an installer; the password is read from standard input.
        let status = sitegate(
            &[
                "account",
                "add",
                "--config",
                config_arg,
                "--username",
                "installer",
                "--role",
                "installer",
            ],
            dir,
            Some(PASSWORD),
        )
        .wait()
        .unwrap();
        assert!(status.success(), "sitegate account add: {status}");
    }
    let mut daemon = Daemon {
        child: sitegate(&["run", "--config", config_arg], dir, None),
    };
    if let Some(port) = web_port {
        wait_for_port(port, &mut daemon.child, "sitegate's web page").await;
    }
    tokio::time::sleep(warmup).await;
    if let Some(status) = daemon.child.try_wait().unwrap() {
        panic!(
            "sitegate ended: {status}\n{}",
            std::fs::read_to_string(dir.join("sitegate.log")).unwrap_or_default()
        );
    }

    let mut web = None;
    let mut stream = None;
    let updates = Arc::new(std::sync::atomic::AtomicU64::new(0));
    if let Some(port) = web_port {
        let tls = https::client_config(&dir.join("state/web-cert.pem"));
        let mut cookie = String::new();
        for _ in 0..10 {
            cookie = https::cookie(
                &https::sign_in(([127, 0, 0, 1], port).into(), &tls, "installer", PASSWORD).await,
            );
        }
        web = Some(WebFigures {
            rss_after_sign_ins_mb: daemon.status_mb("VmRSS:"),
            stream_updates: 0,
        });
        stream = Some(live_stream(port, tls, cookie, updates.clone()));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    let perf = std::env::var_os("LEAN_PERF").map(|d| {
        let d = PathBuf::from(d);
        std::fs::create_dir_all(&d).unwrap();
        let out = d.join(format!("lean-{}.perf.data", v.name));
        let graph = match std::env::var("LEAN_PERF_CALLGRAPH").as_deref() {
            Ok("fp") => "fp".to_string(),
            _ => "dwarf,16384".to_string(),
        };
        println!("perf record into {}", out.display());
        Command::new("perf")
            .args([
                "record",
                "-e",
                "cpu-clock",
                "-F",
                "999",
                "--call-graph",
                &graph,
                "-o",
            ])
            .arg(&out)
            .args(["-p", &daemon.pid().to_string(), "--", "sleep"])
            .arg(window.as_secs().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("perf")
    });

    let requests0 = sim.requests(&v);
    let updates0 = updates.load(std::sync::atomic::Ordering::Relaxed);
    let (cpu0, t0, wall0) = (daemon.cpu_s(), Instant::now(), now_ms());
    tokio::time::sleep(window).await;
    let (cpu1, wall_s, wall1) = (daemon.cpu_s(), t0.elapsed().as_secs_f64(), now_ms());
    let (rss_mb, hwm_mb) = (daemon.status_mb("VmRSS:"), daemon.status_mb("VmHWM:"));
    let requests1 = sim.requests(&v);
    if let Some(mut p) = perf {
        let _ = p.wait();
    }
    if let Some(w) = &mut web {
        w.stream_updates = updates.load(std::sync::atomic::Ordering::Relaxed) - updates0;
    }
    if let Some(s) = stream {
        s.abort();
    }
    // Messages published up to the window's end arrive within a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let telemetry = arrivals.as_ref().map(|(a, task)| {
        task.abort();
        telemetry(&v, a, wall0, wall1)
    });
    drop(daemon);
    drop(broker);
    drop(sim);
    let log = std::fs::read_to_string(dir.join("sitegate.log")).unwrap_or_default();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("WARN") || l.starts_with("ERROR"))
        .collect();
    if !warnings.is_empty() {
        println!(
            "sitegate logged {} warnings or errors, the first:",
            warnings.len()
        );
        for w in warnings.iter().take(5) {
            println!("  {w}");
        }
    }
    let polls = requests1 - requests0;
    let cpu = cpu1 - cpu0;
    Figures {
        variant: v.name,
        units: v.units(),
        window_s: wall_s,
        cpu_pct: 100.0 * cpu / wall_s,
        rss_mb,
        hwm_mb,
        polls,
        us_per_poll: cpu * 1e6 / polls.max(1) as f64,
        telemetry,
        web,
    }
}

// ---------------------------------------------------------------------------------------------
// Output

fn print_run(f: &Figures) {
    println!(
        "{}: {} units, window {:.1} s: CPU {:.2} % of one core; RSS {:.1} MB (peak {:.1} MB); polls {} ({:.1}/s, {:.3} per unit per s), {:.1} us of CPU per poll",
        f.variant,
        f.units,
        f.window_s,
        f.cpu_pct,
        f.rss_mb,
        f.hwm_mb,
        f.polls,
        f.polls as f64 / f.window_s,
        f.polls as f64 / f.window_s / f.units as f64,
        f.us_per_poll
    );
    if let Some(t) = &f.telemetry {
        println!(
            "  telemetry: {} messages ({:.3} per unit per s), {} duplicates, {} gaps > 1.5 s, {} units missing; latency (arrival - at) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            t.messages, t.per_unit_s, t.duplicates, t.gaps, t.missing, t.p50_ms, t.p99_ms, t.max_ms
        );
    }
    if let Some(w) = &f.web {
        println!(
            "  web: RSS after 10 sign-ins {:.1} MB; live stream: {} updates in the window",
            w.rss_after_sign_ins_mb, w.stream_updates
        );
    }
}

fn print_table(all: &[Figures]) {
    println!();
    println!(
        "| variant | units | window s | CPU % of one core | µs CPU per poll | RSS MB (peak) | polls/s | telemetry msgs | per unit/s | dup | gaps | missing | latency p50 / p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for f in all {
        let t = f
            .telemetry
            .as_ref()
            .map_or("| - | - | - | - | - | - |".to_string(), |t| {
                format!(
                    "| {} | {:.3} | {} | {} | {} | {:.1} / {:.1} |",
                    t.messages, t.per_unit_s, t.duplicates, t.gaps, t.missing, t.p50_ms, t.p99_ms
                )
            });
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.1} | {:.1} ({:.1}) | {:.1} {t}",
            f.variant,
            f.units,
            f.window_s,
            f.cpu_pct,
            f.us_per_poll,
            f.rss_mb,
            f.hwm_mb,
            f.polls as f64 / f.window_s
        );
    }
    let Some(base) = all.iter().find(|f| f.variant == "64") else {
        return;
    };
    if all.len() < 2 {
        return;
    }
    println!();
    println!("Ratios to the 64-unit run:");
    println!("| variant | units | CPU | RSS | peak RSS | µs CPU per poll |");
    println!("|---|---|---|---|---|---|");
    for f in all.iter().filter(|f| f.variant != "64") {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            f.variant,
            f.units as f64 / base.units as f64,
            f.cpu_pct / base.cpu_pct,
            f.rss_mb / base.rss_mb,
            f.hwm_mb / base.hwm_mb,
            f.us_per_poll / base.us_per_poll
        );
    }
    if let Some(w) = all.iter().find(|f| f.variant == "web") {
        println!(
            "web: the page, 10 sign-ins and one live stream add {:+.2} % of one core to the 64 run, RSS {:+.1} MB",
            w.cpu_pct - base.cpu_pct,
            w.rss_mb - base.rss_mb
        );
    }
}
