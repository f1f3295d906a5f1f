//! `sitegate demo`: a whole site on this machine. Simulated hardware in-process (an Alfen
//! station and an ABB wallbox on Modbus TCP, smart sockets and a metered plain socket on an
//! RS-485 line emulated on a PTY), the real daemon polling it, a scenario loop plugging
//! vehicles in and out, and a refreshing table of socket states until Ctrl-C.
//! Owns the demo's temporary state directory; binds only loopback ports and one PTY.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use socket_sim::{
    Model, ReaderCommand, ReaderProtocol, RelayLink, RtuOptions, Sim, SimOptions, TcpOptions,
    UnitSpec,
};

use crate::config::{self, Config};
use crate::daemon::{Daemon, SocketSnapshot};
use crate::problems::Problems;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("starting the simulators: {0}")]
    Simulator(#[from] std::io::Error),
    #[error("the demo configuration is invalid (a bug):\n{0}")]
    Config(Problems),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// The simulated site and the configuration that points the daemon at it.
pub struct DemoSite {
    pub sim: Sim,
    pub config: Config,
    state_dir: PathBuf,
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

        let state_dir = std::env::temp_dir().join(format!("sitegate-demo-{}", std::process::id()));
        let text = demo_config(alfen, abb, &pty, &reader, &state_dir);
        let config = config::parse(&text, &state_dir).map_err(DemoError::Config)?;
        publish_access_and_tariff(&config).await?;
        Ok(DemoSite {
            sim,
            config,
            state_dir,
        })
    }

    pub async fn stop(self) {
        self.sim.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// The site as an installer would configure it. The PTY carries no parity bits, so the line is
/// set to 8N2: the same 11 bits per character as the 8E1 the simulator emulates.
fn demo_config(
    alfen: SocketAddr,
    abb: SocketAddr,
    pty: &std::path::Path,
    reader: &std::path::Path,
    state_dir: &std::path::Path,
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

# The garage boxes need a badge (see publish_access_and_tariff).
[[reader]]
name = "garage"
device = "{reader}"
protocol = "rdm6300"
sockets = ["box-1", "box-2", "box-3"]
"#,
        state = state_dir.display(),
        alfen_host = alfen.ip(),
        alfen_port = alfen.port(),
        abb_host = abb.ip(),
        abb_port = abb.port(),
        pty = pty.display(),
        reader = reader.display(),
    )
}

/// Runs the demo until Ctrl-C, or for `seconds`.
pub async fn run(seconds: Option<u64>, seed: u64) -> Result<(), DemoError> {
    let site = DemoSite::start().await?;
    let daemon = Daemon::start(&site.config)?;
    site.sim.run_scenario(seed);
    let tty = std::io::stdout().is_terminal();
    let mut snapshot = daemon.snapshot.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let until = seconds.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        if until.is_some_and(|u| tokio::time::Instant::now() >= u) {
            break;
        }
        badge_waiting_vehicles(&site.sim, &snapshot.borrow(), ticks);
        let table = render(&snapshot.borrow_and_update(), &daemon);
        let mut out = std::io::stdout().lock();
        // On a terminal the table redraws in place; piped, it is printed every 10 s.
        if tty {
            let _ = write!(out, "\x1b[2J\x1b[H{table}");
        } else if ticks.is_multiple_of(10) {
            let _ = writeln!(out, "{table}");
        }
        ticks += 1;
        let _ = out.flush();
    }
    let table = render(&snapshot.borrow(), &daemon);
    println!("{table}");
    daemon.shutdown(Duration::from_secs(5)).await;
    site.stop().await;
    Ok(())
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

/// What central would have sent: two users with badges, and the site's tariff (per kWh plus
/// parking after a 15-minute grace, VAT 20 %).
async fn publish_access_and_tariff(config: &Config) -> Result<(), DemoError> {
    use crate::core::access::*;
    use crate::store::{StoreHandle, StoreSetup, Write};
    let setup = StoreSetup::for_site(config, "demo-setup", tokio::time::Instant::now());
    let (handle, _, thread) = StoreHandle::start(setup)?;
    let user = |id: &str, name: &str| User::new(id, name);
    let entry = |id: &str| TokenEntry {
        user: Some(id.into()),
        status: TokenStatus::Accepted,
        expiry_ms: None,
        parent: None,
        sockets: vec![],
    };
    let tokens: Vec<(IdToken, TokenEntry)> = BADGES
        .iter()
        .zip(["alice", "bob"])
        .filter_map(|(t, u)| Some((IdToken::new(t)?, entry(u))))
        .collect();
    let mut rules = SiteRules::empty();
    rules.site.tariff = Some("standard".into());
    let tariff = r#"{"id":"standard","currency":"EUR",
        "energy":{"prices":[{"price_kwh":"0.30"}]},
        "idle_time":{"min_idle_minutes":15,"prices":[{"price_minute":"0.10"}]},
        "taxes":[{"name":"VAT","percent":20}]}"#;
    handle
        .replace_access_list(
            1,
            rules,
            vec![user("alice", "Alice"), user("bob", "Bob")],
            tokens,
        )
        .await?;
    handle
        .apply(vec![Write::Tariffs {
            version: 1,
            tariffs: vec![("standard".into(), tariff.into())],
        }])
        .await?;
    // Alice's opening offer (Orain): her first kWh free, this month.
    let today = chrono::Utc::now()
        .with_timezone(&config.site.time_zone)
        .date_naive();
    let promotion = serde_json::json!({
        "id": "opening",
        "first_day": today.to_string(),
        "last_day": (today + chrono::Days::new(30)).to_string(),
        "users": ["alice"],
        "action": {"free_kwh": 1},
        "limit_per_user": 3,
    });
    handle
        .apply(vec![Write::Promotions {
            version: 1,
            promotions: vec![("opening".into(), promotion.to_string())],
        }])
        .await?;
    drop(handle);
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    Ok(())
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
