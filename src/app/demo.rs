//! `sitegate demo`: a whole site on this machine. Simulated hardware in-process (an Alfen
//! station and an ABB wallbox on Modbus TCP, smart sockets and a metered plain socket on an
//! RS-485 line emulated on a PTY), the real daemon polling it, a scenario loop plugging
//! vehicles in and out, and a refreshing table of socket states until Ctrl-C.
//!
//! The whole loop with central runs too: the daemon's embedded broker (`[broker]`, a free
//! loopback port, a random password) carries both the daemon's uplink (`[uplink]`, plain TCP on
//! loopback) and central-sim, which pushes the site's access list, tariffs and promotions over
//! MQTT, acknowledges the site's events and sends one remote command.
//! Owns the demo's temporary state directory; binds only loopback ports and one PTY.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use central_sim::{AckMode, CentralSim};
use serde_json::{Value, json};

use socket_sim::{
    Model, ReaderCommand, ReaderProtocol, RelayLink, RtuOptions, Sim, SimOptions, TcpOptions,
    UnitSpec,
};

use crate::app::daemon::Daemon;
use crate::config::{self, Config};
use crate::core::SocketSnapshot;
use crate::problems::Problems;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("starting the simulators: {0}")]
    Simulator(#[from] std::io::Error),
    #[error("the demo configuration is invalid (a bug):\n{0}")]
    Config(Problems),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("central-sim: {0}")]
    Central(String),
}

fn central_error(e: anyhow::Error) -> DemoError {
    DemoError::Central(format!("{e:#}"))
}

/// The simulated site and the configuration that points the daemon at it.
pub struct DemoSite {
    pub sim: Sim,
    pub config: Config,
    state_dir: PathBuf,
    /// The web page's accounts: (username, password), installer first.
    pub logins: Vec<(String, String)>,
}

impl DemoSite {
    /// Starts the simulated hardware on loopback and a PTY.
    pub async fn start() -> Result<DemoSite, DemoError> {
        let sim = Sim::new(SimOptions::default())?;
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let alfen_opts = TcpOptions {
            max_connections: Some(2),
            one_request_at_a_time: true,
            idle_timeout: Some(Duration::from_secs(60)),
        };
        let alfen = sim
            .serve_tcp(
                "alfen",
                loopback,
                vec![UnitSpec::new(200, Model::AlfenNg9xx)],
                alfen_opts,
            )
            .await?;
        let abb = sim
            .serve_tcp(
                "abb",
                loopback,
                vec![UnitSpec::new(1, Model::AbbTerraAc)],
                TcpOptions::default(),
            )
            .await?;
        let mut line = vec![
            UnitSpec::new(1, Model::GenericSocket),
            UnitSpec::new(2, Model::GenericSocket),
            UnitSpec {
                phases: Some(1),
                ..UnitSpec::new(3, Model::GenericSocket)
            },
            UnitSpec::new(10, Model::GenericRelay),
        ];
        line.push(UnitSpec {
            relay: Some(RelayLink {
                unit: 10,
                channel: 0,
            }),
            ..UnitSpec::new(4, Model::EastronSdm630)
        });
        let pty = sim
            .serve_rtu_pty(
                "rs485",
                line,
                RtuOptions {
                    baud: 19_200,
                    bits_per_char: 11,
                    ..RtuOptions::default()
                },
            )
            .await?;

        let reader = sim.serve_reader_pty("garage", ReaderProtocol::Rdm6300)?;

        // A fresh directory: central's list versions start at 1 (one demo after another in a
        // process gets its own).
        static STARTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let state_dir =
            std::env::temp_dir().join(format!("sitegate-demo-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state_dir);
        let broker = Broker {
            addr: free_loopback_port()?,
            password: random_password(),
        };
        let web = web_address()?;
        let text = demo_config(alfen, abb, &pty, &reader, &state_dir, &broker, web);
        let config = config::parse(&text, &state_dir).map_err(DemoError::Config)?;
        let logins = demo_accounts(&config).await?;
        Ok(DemoSite {
            sim,
            config,
            state_dir,
            logins,
        })
    }

    pub async fn stop(self) {
        self.sim.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// The embedded broker's address and login (username [`BROKER_USER`]).
struct Broker {
    addr: SocketAddr,
    password: String,
}

const BROKER_USER: &str = "demo";

/// A loopback port free a moment ago: rumqttd cannot listen on port 0 and report the port, so
/// one is taken and given back (another process could take it in between; fine for a demo).
fn free_loopback_port() -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.local_addr()
}

/// The page on 127.0.0.1:8443 when that port is free (an address to remember), else on any
/// free port (a second demo, or a test beside one).
fn web_address() -> std::io::Result<SocketAddr> {
    match std::net::TcpListener::bind(("127.0.0.1", 8443)) {
        Ok(l) => l.local_addr(),
        Err(_) => free_loopback_port(),
    }
}

/// An installer and a manager for the web page, with fresh random passwords, made as
/// `sitegate account add` makes them.
async fn demo_accounts(config: &Config) -> Result<Vec<(String, String)>, DemoError> {
    use crate::store::accounts::{AccountAction, AccountChange, NewAccount};
    use crate::store::roles::Role;
    use crate::store::{StoreHandle, StoreSetup, Write};
    use crate::web::auth::password;
    let now = tokio::time::Instant::now();
    let at = crate::core::time::Stamp {
        mono: now,
        wall_ms: crate::clock::wall_ms(),
        trusted: false,
    };
    let mut logins = Vec::new();
    let mut writes = Vec::new();
    for (name, role) in [("installer", Role::Installer), ("manager", Role::Manager)] {
        let pw = random_password();
        let hash = tokio::task::spawn_blocking({
            let pw = pw.clone();
            move || password::hash(&pw)
        })
        .await
        .map_err(|e| DemoError::Central(e.to_string()))?
        .map_err(|e| DemoError::Central(e.to_string()))?;
        writes.push(Write::Account(Box::new(AccountChange {
            actor: "demo".into(),
            at,
            action: AccountAction::Create(NewAccount {
                username: name.into(),
                display_name: format!("Demo {name}"),
                role,
                password_hash: hash,
                active_until_ms: None,
                language: None,
            }),
        })));
        logins.push((name.to_string(), pw));
    }
    let setup = StoreSetup::for_site(config, "demo-accounts", &crate::clock::Clock::detect());
    let (handle, _, thread) = StoreHandle::start(setup)?;
    let result = handle.apply(writes).await;
    drop(handle);
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    result?;
    Ok(logins)
}

/// 24 hex characters from the system's random source.
fn random_password() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 12];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let (a, b) = uuid::Uuid::now_v7().as_u64_pair();
        bytes[..8].copy_from_slice(&b.to_le_bytes());
        bytes[8..].copy_from_slice(&a.to_le_bytes()[..4]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The site as an installer would configure it. The PTY carries no parity bits, so the line is
/// set to 8N2: the same 11 bits per character as the 8E1 the simulator emulates.
fn demo_config(
    alfen: SocketAddr,
    abb: SocketAddr,
    pty: &std::path::Path,
    reader: &std::path::Path,
    state_dir: &std::path::Path,
    broker: &Broker,
    web: SocketAddr,
) -> String {
    format!(
        r#"
[site]
id = "demo"
name = "Demo site"
time_zone = "Europe/Paris"

[state]
directory = "{state}"

[[bus]]
name = "alfen"
kind = "tcp"
host = "{alfen_host}"
port = {alfen_port}

[[bus]]
name = "abb"
kind = "tcp"
host = "{abb_host}"
port = {abb_port}

[[bus]]
name = "rs485"
kind = "rtu"
device = "{pty}"
baud = 19200
parity = "none"
stop_bits = 2
request_timeout = "200ms"

[[socket]]
id = "alfen-1"
name = "Alfen station, left"
bus = "alfen"
unit_id = 1
profile = "alfen-ng9xx"
max_current_a = 32
free = true

[[socket]]
id = "alfen-2"
name = "Alfen station, right"
bus = "alfen"
unit_id = 2
profile = "alfen-ng9xx"
max_current_a = 32
free = true

[[socket]]
id = "abb-1"
name = "ABB Terra AC"
bus = "abb"
unit_id = 1
profile = "abb-terra-ac"
max_current_a = 16
free = true

[[socket]]
id = "box-1"
name = "Garage box 1"
bus = "rs485"
unit_id = 1
profile = "generic-socket"

[[socket]]
id = "box-2"
name = "Garage box 2"
bus = "rs485"
unit_id = 2
profile = "generic-socket"

[[socket]]
id = "box-3"
name = "Garage box 3 (single phase)"
bus = "rs485"
unit_id = 3
profile = "generic-socket"

[[socket]]
id = "plain-1"
name = "Plain socket with meter"
bus = "rs485"
unit_id = 4
profile = "eastron-sdm630"
free = true
relay = {{ unit_id = 10, channel = 0 }}

# The garage boxes need a badge (central-sim sends the access list, see `access_list`).
[[reader]]
name = "garage"
device = "{reader}"
protocol = "rdm6300"
sockets = ["box-1", "box-2", "box-3"]

# The local web page (HTTPS, a self-signed certificate made at the first start).
[web]
listen = "{web}"

# The embedded broker carries the uplink and central-sim as well as local integrations.
[broker]
listen = "{broker}"
username = "{user}"
password = "{password}"

[uplink]
host = "{broker_host}"
port = {broker_port}
tls = false
username = "{user}"
password = "{password}"
"#,
        broker = broker.addr,
        web = web,
        broker_host = broker.addr.ip(),
        broker_port = broker.addr.port(),
        user = BROKER_USER,
        password = broker.password,
        state = state_dir.display(),
        alfen_host = alfen.ip(),
        alfen_port = alfen.port(),
        abb_host = abb.ip(),
        abb_port = abb.port(),
        pty = pty.display(),
        reader = reader.display(),
    )
}

/// How long the demo waits for each step of central's side: the broker, central-sim's
/// subscription, the uplink's connection, each list's `accepted`.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// central-sim acknowledges at most this long after the first unacknowledged record.
const ACK_BATCH: Duration = Duration::from_millis(200);

/// What the demo does beyond the site itself.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Seed of the scenario loop.
    pub seed: u64,
    /// When central-sim sends its one remote command (`remote_stop` of a running session,
    /// a badged one when there is one, sent at the first second after this when a session
    /// runs).
    pub command_after: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: 1,
            command_after: Duration::from_secs(20),
        }
    }
}

/// Where the live table goes while the demo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Stdout: redrawn in place on a terminal, printed every 10 s when piped.
    Stdout,
    /// Nothing (tests).
    Quiet,
}

/// The remote command's round trip, as the table shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteCommand {
    /// `remote_stop alfen-1`.
    pub what: String,
    /// central-sim's command id.
    pub id: String,
    /// The site's answer on `results` (`accepted`, `rejected`...), once it came.
    pub status: Option<String>,
}

/// A running demo: the simulated site, the daemon (with its embedded broker and uplink) and
/// central-sim on that broker, with the site's lists already applied.
pub struct Demo {
    site: DemoSite,
    pub daemon: Daemon,
    pub central: CentralSim,
    options: DemoOptions,
    command: Mutex<Option<RemoteCommand>>,
}

impl Demo {
    /// Starts the site and the daemon, then central-sim once the broker listens; returns once
    /// the site has accepted central's tariffs, promotions and access list, with the scenario
    /// running.
    pub async fn start(options: DemoOptions) -> Result<Demo, DemoError> {
        let site = DemoSite::start().await?;
        let daemon = match Daemon::start(&site.config) {
            Ok(d) => d,
            Err(e) => {
                site.stop().await;
                return Err(e.into());
            }
        };
        let central = match start_central(&site.config, &daemon).await {
            Ok(c) => c,
            Err(e) => {
                daemon.shutdown(Duration::from_secs(5)).await;
                site.stop().await;
                return Err(e);
            }
        };
        site.sim.run_scenario(options.seed);
        Ok(Demo {
            site,
            daemon,
            central,
            options,
            command: Mutex::new(None),
        })
    }

    /// The configuration the daemon runs with.
    pub fn config(&self) -> &Config {
        &self.site.config
    }

    /// The web page's address (`None` when it could not listen) and its logins.
    pub fn web(&self) -> (Option<SocketAddr>, &[(String, String)]) {
        (self.daemon.web.as_ref().map(|w| w.addr), &self.site.logins)
    }

    /// Where the web page is and how to sign in, for the top of the demo's screen.
    pub fn web_banner(&self) -> String {
        match self.web() {
            (Some(addr), logins) => {
                let mut s = format!(
                    "web page: https://{addr}/ (self-signed certificate: accept it in the browser)\n"
                );
                for (user, pw) in logins {
                    s.push_str(&format!("  sign in as {user} / {pw}\n"));
                }
                s
            }
            (None, _) => "web page: not listening (see the log)\n".into(),
        }
    }

    /// The remote command, once sent.
    pub fn remote_command(&self) -> Option<RemoteCommand> {
        self.command.lock().unwrap().clone()
    }

    /// Runs the demo's loop every second (badges at the garage reader, the remote command, the
    /// table) until `stop` completes; returns its output.
    pub async fn run_until<F: Future>(&self, stop: F, output: Output) -> F::Output {
        let tty = std::io::stdout().is_terminal();
        let started = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut ticks: u64 = 0;
        tokio::pin!(stop);
        loop {
            tokio::select! {
                r = &mut stop => return r,
                _ = tick.tick() => {}
            }
            let sockets = self.daemon.snapshot.borrow().clone();
            badge_waiting_vehicles(&self.site.sim, &sockets, ticks);
            if started.elapsed() >= self.options.command_after {
                self.remote_command_step(&sockets).await;
            }
            if output == Output::Stdout {
                let table = self.render();
                let mut out = std::io::stdout().lock();
                // On a terminal the table redraws in place; piped, it is printed every 10 s.
                if tty {
                    let _ = write!(out, "\x1b[2J\x1b[H{table}");
                } else if ticks.is_multiple_of(10) {
                    let _ = writeln!(out, "{table}");
                }
                let _ = out.flush();
            }
            ticks += 1;
        }
    }

    /// Sends `remote_stop` for the first socket with a running session (once), then looks for
    /// the site's answer.
    async fn remote_command_step(&self, sockets: &[SocketSnapshot]) {
        let sent = self.command.lock().unwrap().clone();
        match sent {
            None => {
                // A badged session first: a free socket starts a new session at once while
                // the vehicle stays plugged in.
                let charging = |s: &&SocketSnapshot| {
                    s.view.session.is_some() && s.view.state.to_string() == "Charging"
                };
                let Some(socket) = sockets
                    .iter()
                    .filter(charging)
                    .find(|s| s.id.starts_with("box-"))
                    .or_else(|| sockets.iter().find(charging))
                else {
                    return;
                };
                let command = json!({"command": "remote_stop", "socket": socket.id});
                match self.central.send_command(command).await {
                    Ok(id) => {
                        *self.command.lock().unwrap() = Some(RemoteCommand {
                            what: format!("remote_stop {}", socket.id),
                            id,
                            status: None,
                        });
                    }
                    Err(e) => log::warn!("demo: central-sim could not send its command: {e:#}"),
                }
            }
            Some(RemoteCommand {
                id, status: None, ..
            }) => {
                let status = self.central.results().iter().find_map(|r| {
                    (r["command_id"].as_str() == Some(id.as_str()))
                        .then(|| r["status"].as_str().unwrap_or("?").to_string())
                });
                if let Some(status) = status
                    && let Some(c) = self.command.lock().unwrap().as_mut()
                {
                    c.status = Some(status);
                }
            }
            Some(_) => {}
        }
    }

    /// The live table: sockets, buses and the link to central.
    pub fn render(&self) -> String {
        let mut s = self.web_banner();
        s.push_str(&render(&self.daemon.snapshot.borrow(), &self.daemon));
        s.push('\n');
        s.push_str(&self.render_central());
        s
    }

    fn render_central(&self) -> String {
        let mut s = String::new();
        let addr = self.site.config.broker.as_ref().map(|b| b.listen);
        s.push_str(&format!(
            "central  (central-sim on the embedded broker {})\n",
            addr.map_or("-".into(), |a| a.to_string())
        ));
        match &self.daemon.uplink {
            Some(rx) => {
                let u = rx.borrow().clone();
                s.push_str(&format!(
                    "  uplink    {}, connections {}  events acknowledged {:>4}  in flight {:>3}  refused {}{}\n",
                    if u.connected { "connected" } else { "NOT connected" },
                    u.connections,
                    u.events_acked,
                    u.in_flight,
                    u.refused,
                    u.last_refusal
                        .as_ref()
                        .map_or(String::new(), |r| format!(" (last: {r})")),
                ));
            }
            None => s.push_str("  uplink    not configured\n"),
        }
        let st = self.central.stats();
        let last = st
            .events
            .records
            .values()
            .next_back()
            .and_then(|e| e["type"].as_str())
            .unwrap_or("-")
            .to_string();
        s.push_str(&format!(
            "  received  events {:>4}  updates {:>4}  duplicates {}  last event {}  acks sent {}\n",
            st.events.records.len(),
            st.updates.records.len(),
            st.events.duplicates + st.updates.duplicates,
            last,
            st.acks_sent,
        ));
        s.push_str(&format!(
            "  pushed    tariffs v1, promotions v1, access list v1 ({} chunks): accepted\n",
            BADGES.len()
        ));
        let command = self.command.lock().unwrap().clone();
        s.push_str(&match command {
            None => format!(
                "  command   remote_stop of a running session, from {} s\n",
                self.options.command_after.as_secs()
            ),
            Some(c) => format!(
                "  command   {} ({}): {}\n",
                c.what,
                c.id,
                c.status.as_deref().unwrap_or("waiting for the answer")
            ),
        });
        s
    }

    /// Stops central-sim (a client of the daemon's embedded broker, which the daemon's shutdown
    /// stops), then the daemon, then the simulated site.
    pub async fn stop(self) {
        self.central.shutdown().await;
        self.daemon.shutdown(Duration::from_secs(5)).await;
        self.site.stop().await;
    }
}

/// Runs the demo until Ctrl-C, or for `seconds`.
pub async fn run(seconds: Option<u64>, seed: u64) -> Result<(), DemoError> {
    let options = DemoOptions {
        seed,
        ..DemoOptions::default()
    };
    println!("sitegate demo: starting the site, its broker and central-sim...");
    let demo = Demo::start(options).await?;

    let stop = async {
        match seconds {
            Some(s) => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(s)) => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    demo.run_until(stop, Output::Stdout).await;
    println!("{}", demo.render());
    demo.stop().await;
    Ok(())
}

/// Starts central-sim on the daemon's embedded broker once it listens, waits until the uplink
/// is connected and subscribed, then pushes the site's lists and waits for each `accepted`.
async fn start_central(config: &Config, daemon: &Daemon) -> Result<CentralSim, DemoError> {
    let Some(broker) = &config.broker else {
        return Err(DemoError::Central("the demo config has no [broker]".into()));
    };
    wait_listening(broker.listen).await?;
    let mut opts = central_sim::Options::new(
        &broker.listen.ip().to_string(),
        broker.listen.port(),
        &config.site.id,
    );
    opts.username = Some(broker.username.clone());
    opts.password = Some(broker.password.clone());
    opts.ack_mode = AckMode::Immediate { batch: ACK_BATCH };
    let central = CentralSim::start(opts).await.map_err(central_error)?;
    if let Err(e) = central_setup(config, daemon, &central).await {
        central.shutdown().await;
        return Err(e);
    }
    Ok(central)
}

async fn central_setup(
    config: &Config,
    daemon: &Daemon,
    central: &CentralSim,
) -> Result<(), DemoError> {
    central
        .wait_ready(SETUP_TIMEOUT)
        .await
        .map_err(central_error)?;
    let Some(mut uplink) = daemon.uplink.clone() else {
        return Err(DemoError::Central(
            "the daemon runs without its uplink".into(),
        ));
    };
    match tokio::time::timeout(SETUP_TIMEOUT, uplink.wait_for(|s| s.connected)).await {
        Ok(Ok(_)) => {}
        _ => {
            return Err(DemoError::Central(format!(
                "the daemon's uplink did not connect within {SETUP_TIMEOUT:?}"
            )));
        }
    }
    site_listens(central).await?;
    let (tariffs, promotions, list) = central_lists(config);
    central
        .push_tariffs(&tariffs)
        .await
        .map_err(central_error)?;
    accepted(central, "tariffs").await?;
    central
        .push_promotions(&promotions)
        .await
        .map_err(central_error)?;
    accepted(central, "promotions").await?;
    // One user per chunk: the chunked path, with its commit and checksum.
    central
        .push_access_full(&list, 1)
        .await
        .map_err(central_error)?;
    // Badges wait for this: the boxes' users are on the list before anyone badges.
    accepted(central, "access/commit").await
}

/// Until the broker accepts connections (the daemon starts it in the background).
async fn wait_listening(addr: SocketAddr) -> Result<(), DemoError> {
    let deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(DemoError::Central(format!(
                "the embedded broker does not listen on {addr} after {SETUP_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The uplink subscribes right after its CONNACK: a `report_state` command answered on
/// `results` shows its subscriptions are in place (a message sent before would be lost).
async fn site_listens(central: &CentralSim) -> Result<(), DemoError> {
    let deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    let mut ids = Vec::new();
    loop {
        let id = central
            .send_command(json!({"command": "report_state"}))
            .await
            .map_err(central_error)?;
        ids.push(id);
        let answered = central
            .wait_until(Duration::from_millis(500), |s| {
                s.results
                    .iter()
                    .any(|r| ids.iter().any(|id| r["command_id"].as_str() == Some(id)))
                    .then_some(())
            })
            .await;
        if answered.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(DemoError::Central(
                "the site does not answer central's commands".into(),
            ));
        }
    }
}

/// Waits for the site's answer to a pushed message; anything but `accepted` is an error.
async fn accepted(central: &CentralSim, reference: &str) -> Result<(), DemoError> {
    let result = central
        .wait_for_result(reference, SETUP_TIMEOUT)
        .await
        .map_err(central_error)?;
    if result["status"] == "accepted" {
        Ok(())
    } else {
        Err(DemoError::Central(format!(
            "the site did not accept {reference}: {result}"
        )))
    }
}

/// The live socket table, with each bus's counters.
pub fn render(sockets: &[SocketSnapshot], daemon: &Daemon) -> String {
    let now = tokio::time::Instant::now();
    let mut s = String::new();
    s.push_str("sitegate demo: simulated site (Ctrl-C to stop)\n\n");
    s.push_str(&format!(
        "{:<9} {:<8} {:<15} {:<14} {:>7} {:>9} {:>11} {:>7} {:<10} {:>10} {:>6}\n",
        "socket",
        "bus/unit",
        "profile",
        "state",
        "since",
        "power kW",
        "session kWh",
        "limit A",
        "who",
        "cost",
        "errors"
    ));
    for (i, sock) in sockets.iter().enumerate() {
        let (failures, exceptions) = daemon.socket_errors(i);
        let r = &sock.view.readings;
        let kw = r
            .power_w
            .map_or("-".into(), |w| format!("{:.2}", w / 1000.0));
        let kwh = sock
            .view
            .session
            .as_ref()
            .map_or("-".into(), |s| format!("{:.3}", s.energy_wh() / 1000.0));
        let limit = r.setpoint_a.map_or("-".into(), |a| format!("{a:.1}"));
        let session = sock.view.session.as_ref();
        let who = session.map_or("-".to_string(), |s| {
            s.identity.clone().unwrap_or_else(|| "free".into())
        });
        let cost = session
            .and_then(|s| s.cost.as_ref())
            .map_or("-".into(), |c| {
                format!("{} {}", c.total_incl_tax, c.currency)
            });
        let since = format!(
            "{}s",
            now.saturating_duration_since(sock.view.since).as_secs()
        );
        s.push_str(&format!(
            "{:<9} {:<8} {:<15} {:<14} {:>7} {:>9} {:>11} {:>7} {:<10} {:>10} {:>6}\n",
            sock.id,
            format!("{}/{}", sock.bus, sock.unit_id),
            sock.profile,
            sock.view.state.to_string(),
            since,
            kw,
            kwh,
            limit,
            who,
            cost,
            failures + exceptions
        ));
    }
    s.push('\n');
    for (name, st) in &daemon.bus_stats {
        use std::sync::atomic::Ordering::Relaxed;
        s.push_str(&format!(
            "bus {:<6} polls {:>6}  requests {:>6}  timeouts {:>3}  framing {:>3}  exceptions {:>3}  writes {:>3}  p99 late < {} ms\n",
            name,
            st.polls.load(Relaxed),
            st.requests.load(Relaxed),
            st.timeouts.load(Relaxed),
            st.framing_errors.load(Relaxed),
            st.exceptions.load(Relaxed),
            st.writes.load(Relaxed),
            st.lateness_quantile_ms(0.99).map_or("-".into(), |ms| ms.to_string()),
        ));
    }
    s
}

/// Badges of the demo's users, presented by the demo loop.
const BADGES: [&str; 2] = ["0004A1B2C3", "0005B0B0B0"];

/// What central sends the demo site: the tariff (per kWh plus parking after a 15-minute grace,
/// VAT 20 %), Alice's opening offer (her first kWh free, this month), and the access list (two
/// users with badges; the site's tariff).
fn central_lists(config: &Config) -> (Value, Value, Value) {
    let tariff = json!({"id": "standard", "currency": "EUR",
        "energy": {"prices": [{"price_kwh": "0.30"}]},
        "idle_time": {"min_idle_minutes": 15, "prices": [{"price_minute": "0.10"}]},
        "taxes": [{"name": "VAT", "percent": 20}]});
    let today = crate::clock::wall_utc()
        .with_timezone(&config.site.time_zone)
        .date_naive();
    let promotion = json!({
        "id": "opening",
        "first_day": today.to_string(),
        "last_day": (today + chrono::Days::new(30)).to_string(),
        "users": ["alice"],
        "action": {"free_kwh": 1},
        "limit_per_user": 3,
    });
    let tokens: Vec<Value> = BADGES
        .iter()
        .zip(["alice", "bob"])
        .map(|(t, u)| json!({"token": t, "user": u, "status": "Accepted"}))
        .collect();
    let list = json!({
        "version": 1,
        "rules": {
            "site": {"home": false, "communities": [], "default_community": null,
                     "tariff": "standard"},
            "communities": [],
            "sockets": {},
        },
        "users": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}],
        "tokens": tokens,
    });
    (
        json!({"version": 1, "tariffs": [tariff]}),
        json!({"version": 1, "promotions": [promotion]}),
        list,
    )
}

/// Presents a badge at the garage reader for a box where a vehicle waits (the scenario plugs
/// vehicles in; someone has to badge).
fn badge_waiting_vehicles(sim: &Sim, sockets: &[SocketSnapshot], round: u64) {
    let waiting = sockets.iter().any(|s| {
        s.id.starts_with("box-")
            && s.view.session.is_none()
            && s.view.state.to_string() == "Occupied"
    });
    if waiting && round.is_multiple_of(3) {
        let uid = BADGES[(round / 3) as usize % BADGES.len()];
        let _ = sim.control_reader(
            "garage",
            ReaderCommand::Badge {
                uid: uid.into(),
                hold_ms: 300,
            },
        );
    }
}
