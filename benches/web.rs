//! Web page benchmarks (issue 6; figures in BENCHMARKS.md): `cargo bench --bench web [-- PART]`,
//! PART `dashboard` or `sse` (both when none).
//!
//! The site runs in a child process of its own (this binary with `serve`): the real daemon with
//! its HTTPS page, polling 12 simulated sockets (socket-sim over Modbus TCP) that a scenario
//! plugs vehicles into, so the tiles change every second. The clients run in this process, so
//! the site's CPU time (read from `/proc/<pid>/stat`) is the page's and the polling's alone.
//! - dashboard: 50 clients, each on its own kept-alive TLS connection, ask for the dashboard's
//!   HTML in a loop for 20 s; latency per request (p50/p99/max) and requests per second;
//! - sse: the site's CPU use over 30 s with no client, then with 100 clients on the live stream
//!   (`/api/v1/stream`, one update a second); the difference is what the stream costs, as a
//!   share of one core.

#[path = "common/https.rs"]
mod https;
#[path = "common/site.rs"]
mod sim_site;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const PASSWORD: &str = "correct horse battery staple";
const SOCKETS: u8 = 12;
const DASHBOARD_CLIENTS: usize = 50;
const DASHBOARD_FOR: Duration = Duration::from_secs(20);
const SSE_CLIENTS: usize = 100;
const SSE_WINDOW: Duration = Duration::from_secs(30);

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if args.first().map(String::as_str) == Some("serve") {
        serve();
        return;
    }
    let all = !args.iter().any(|a| a == "dashboard" || a == "sse");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut site = Site::spawn();
    runtime.block_on(async {
        let cookie =
            https::cookie(&https::sign_in(site.addr, &site.tls, "manager", PASSWORD).await);
        if all || args.iter().any(|a| a == "dashboard") {
            dashboard(&site, &cookie).await;
        }
        if all || args.iter().any(|a| a == "sse") {
            sse(&site, &cookie).await;
        }
    });
    site.child.kill().ok();
    site.child.wait().ok();
}

/// The site in the child process: its address, certificate and process.
struct Site {
    child: Child,
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    _dir: tempfile::TempDir,
}

impl Site {
    fn spawn() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("serve")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr: SocketAddr = loop {
            let line = lines
                .next()
                .expect("the site says where it listens")
                .unwrap();
            if let Some(a) = line.strip_prefix("listening ") {
                break a.parse().unwrap();
            }
        };
        let tls = https::client_config(&dir.path().join("state/web-cert.pem"));
        Site {
            child,
            addr,
            tls,
            _dir: dir,
        }
    }

    /// User plus system CPU time of the site's process so far.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_millis(ticks * 1000 / hz)
    }

    async fn connect(&self) -> https::Conn {
        https::connect(self.addr, &self.tls).await
    }
}

/// The child: a manager account, 12 simulated sockets with a scenario, the daemon and its page.
fn serve() {
    let dir = PathBuf::from(std::env::args().nth(2).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let (sim, config) = sim_site::start(
            &dir,
            SOCKETS,
            Duration::from_millis(500),
            "listen = \"127.0.0.1:0\"",
        )
        .await;
        add_manager(&config).await;
        let daemon = sitegate::app::daemon::Daemon::start(&config).unwrap();
        sim.run_scenario(7);
        let addr = daemon.web.as_ref().expect("the page listens").addr;
        println!("listening {addr}");
        // Until the parent kills the process.
        std::future::pending::<()>().await;
    });
}

async fn add_manager(config: &sitegate::config::Config) {
    use sitegate::store::accounts::{AccountAction, AccountChange, NewAccount};
    use sitegate::store::roles::Role;
    use sitegate::store::{StoreHandle, StoreSetup, Write};
    let now = Instant::now();
    let hash = sitegate::web::auth::password::hash(PASSWORD).unwrap();
    // The first account must be an installer.
    let changes =
        [("installer", Role::Installer), ("manager", Role::Manager)].map(|(name, role)| {
            Write::Account(Box::new(AccountChange {
                actor: "bench".into(),
                at: sitegate::core::time::Stamp {
                    mono: now,
                    wall_ms: chrono::Utc::now().timestamp_millis(),
                    trusted: true,
                },
                action: AccountAction::Create(NewAccount {
                    username: name.into(),
                    display_name: name.into(),
                    role,
                    password_hash: hash.clone(),
                    active_until_ms: None,
                    language: None,
                }),
            }))
        });
    let (handle, _, thread) = StoreHandle::start(StoreSetup::for_site(
        config,
        "bench",
        &sitegate::clock::Clock::detect(),
    ))
    .unwrap();
    handle.apply(changes.into()).await.unwrap();
    drop(handle);
    thread.join().unwrap();
}

/// One GET on a kept-alive connection; the body's length.
async fn get<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    conn: &mut tokio::io::BufReader<S>,
    path: &str,
    cookie: &str,
) -> usize {
    let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{cookie}\r\n\r\n");
    conn.get_mut().write_all(head.as_bytes()).await.unwrap();
    let mut length = 0;
    let mut status = String::new();
    conn.read_line(&mut status).await.unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).await.unwrap();
    length
}

async fn dashboard(site: &Site, cookie: &str) {
    // Warm up: one request per connection opens it (TLS handshakes are not what is measured).
    let mut conns = Vec::new();
    for _ in 0..DASHBOARD_CLIENTS {
        let mut c = tokio::io::BufReader::new(site.connect().await);
        get(&mut c, "/", cookie).await;
        conns.push(c);
    }
    let started = Instant::now();
    let cpu_before = site.cpu();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let cookie = cookie.to_string();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut bytes = 0;
                while started.elapsed() < DASHBOARD_FOR {
                    let t = Instant::now();
                    bytes = get(&mut c, "/", &cookie).await;
                    latencies.push(t.elapsed());
                }
                (latencies, bytes)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut page_bytes = 0;
    for t in tasks {
        let (l, b) = t.await.unwrap();
        all.extend(l);
        page_bytes = b;
    }
    let elapsed = started.elapsed();
    let cpu = site.cpu() - cpu_before;
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "dashboard: {DASHBOARD_CLIENTS} clients, {} requests in {:.1} s ({:.0}/s), page {} bytes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; site CPU {:.0} % of a core",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        page_bytes,
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        all.last().unwrap().as_secs_f64() * 1e3,
        cpu.as_secs_f64() / elapsed.as_secs_f64() * 100.0,
    );
}

async fn sse(site: &Site, cookie: &str) {
    let measure = |label: &'static str| async move {
        let cpu = site.cpu();
        let t = Instant::now();
        tokio::time::sleep(SSE_WINDOW).await;
        let share = (site.cpu() - cpu).as_secs_f64() / t.elapsed().as_secs_f64();
        println!("sse: {label}: site CPU {:.2} % of a core", share * 100.0);
        share
    };
    let idle = measure("no client").await;
    let events = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut streams = Vec::new();
    for _ in 0..SSE_CLIENTS {
        let mut tls = site.connect().await;
        let head = format!("GET /api/v1/stream HTTP/1.1\r\nHost: localhost\r\n{cookie}\r\n\r\n");
        tls.write_all(head.as_bytes()).await.unwrap();
        let events = events.clone();
        streams.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]);
                        let count = text.matches("event: sockets").count() as u64;
                        events.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let before = events.load(std::sync::atomic::Ordering::Relaxed);
    let busy = measure("100 stream clients").await;
    let received = events.load(std::sync::atomic::Ordering::Relaxed) - before;
    println!(
        "sse: {SSE_CLIENTS} clients received {received} updates in {} s ({:.2} per client per second); the stream costs {:.2} % of a core",
        SSE_WINDOW.as_secs(),
        received as f64 / SSE_CLIENTS as f64 / SSE_WINDOW.as_secs_f64(),
        (busy - idle) * 100.0
    );
    for s in streams {
        s.abort();
    }
}
