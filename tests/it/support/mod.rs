//! Starting a simulated site and the daemon against it, and waiting for what a user would see.
//! Waits are for conditions, with a generous limit that only bounds a failing test.

// Browser tests' toolkit: not every helper is used by a test yet.
#[allow(dead_code)]
pub mod a11y;
#[allow(dead_code)]
pub mod browser;
pub mod https;
pub mod mqtt;
#[allow(dead_code)]
pub mod web;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sitegate::app::daemon::Daemon;
use sitegate::config::{self, Config};
use sitegate::core::SocketSnapshot;
use socket_sim::{RtuOptions, Sim, SimOptions, TcpOptions, Truth, UnitSpec};

/// Longest a condition may take before the test fails; a bound, not an expectation.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Site {
    pub sim: Sim,
    pub daemon: Option<Daemon>,
    pub config: Config,
    /// Holds the state directory for the site's lifetime.
    _dir: tempfile::TempDir,
}

pub fn sim(frozen: bool) -> Sim {
    Sim::new(SimOptions {
        frozen,
        ..SimOptions::default()
    })
    .expect("simulator")
}

pub async fn tcp(sim: &Sim, bus: &str, units: Vec<UnitSpec>) -> SocketAddr {
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    sim.serve_tcp(
        bus,
        any,
        units,
        TcpOptions {
            one_request_at_a_time: true,
            ..TcpOptions::default()
        },
    )
    .await
    .expect("tcp listener")
}

pub async fn rtu(sim: &Sim, bus: &str, units: Vec<UnitSpec>, baud: u32) -> PathBuf {
    sim.serve_rtu_pty(
        bus,
        units,
        RtuOptions {
            baud,
            bits_per_char: 11,
            ..RtuOptions::default()
        },
    )
    .await
    .expect("pty line")
}

/// A `[[bus]]` table for a simulated TCP device.
pub fn tcp_bus(name: &str, addr: SocketAddr, extra: &str) -> String {
    format!(
        "[[bus]]\nname = \"{name}\"\nkind = \"tcp\"\nhost = \"{}\"\nport = {}\n{extra}\n",
        addr.ip(),
        addr.port()
    )
}

/// A `[[bus]]` table for a simulated RTU line (8N2: the 11 bits of 8E1 without parity, which a
/// PTY refuses).
pub fn rtu_bus(name: &str, path: &Path, baud: u32, extra: &str) -> String {
    format!(
        "[[bus]]\nname = \"{name}\"\nkind = \"rtu\"\ndevice = \"{}\"\nbaud = {baud}\nparity = \"none\"\nstop_bits = 2\n{extra}\n",
        path.display()
    )
}

/// A `[[socket]]` table; free charging, so a plug-in starts a session.
pub fn socket(id: &str, bus: &str, unit: u8, profile: &str, extra: &str) -> String {
    format!(
        "[[socket]]\nid = \"{id}\"\nname = \"{id}\"\nbus = \"{bus}\"\nunit_id = {unit}\nprofile = \"{profile}\"\nfree = true\n{extra}\n"
    )
}

impl Site {
    /// Validates `tables` (buses and sockets) and starts the daemon on it.
    pub fn start(sim: Sim, tables: &str) -> Site {
        Site::start_after(sim, tables, |_| {})
    }

    /// As `start`, with `prepare` run on the validated config before the daemon starts (to put
    /// an access list in its database, say).
    pub fn start_after(sim: Sim, tables: &str, prepare: impl FnOnce(&Config)) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        // No web page unless the test asks for one: tests run side by side.
        let web = if tables.contains("[web]") {
            ""
        } else {
            "[web]\nenabled = false\n"
        };
        let text = format!(
            "[site]\nid = \"test\"\nname = \"Test\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \"state\"\n{web}{tables}"
        );
        let config = config::parse(&text, dir.path())
            .unwrap_or_else(|e| panic!("test config invalid:\n{e}\n{text}"));
        prepare(&config);
        let daemon = Daemon::start(&config).expect("daemon starts");
        Site {
            sim,
            daemon: Some(daemon),
            config,
            _dir: dir,
        }
    }

    pub fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("running")
    }

    /// Waits until `check` accepts the site's snapshot; fails with the last snapshot.
    pub async fn wait_until(
        &self,
        what: &str,
        check: impl Fn(&[SocketSnapshot]) -> bool,
    ) -> Vec<SocketSnapshot> {
        let mut rx = self.daemon().snapshot.clone();
        let outcome = tokio::time::timeout(PATIENCE, async {
            loop {
                if check(&rx.borrow_and_update()) {
                    return;
                }
                rx.changed().await.expect("daemon running");
            }
        })
        .await;
        let snapshot = rx.borrow().clone();
        if outcome.is_err() {
            panic!("gave up waiting for {what}; last snapshot:\n{snapshot:#?}");
        }
        snapshot
    }

    /// Waits until `socket`'s state is `state` (its `Display`, e.g. "Charging").
    pub async fn wait_state(&self, socket: &str, state: &str) -> SocketSnapshot {
        let snap = self
            .wait_until(&format!("{socket} to be {state}"), |s| {
                s.iter()
                    .any(|x| x.id == socket && x.view.state.to_string() == state)
            })
            .await;
        snap.into_iter().find(|x| x.id == socket).expect("socket")
    }

    /// Waits until the daemon's view of `socket` and the simulator's truth of (bus, unit) agree
    /// by `agree`; returns both.
    pub async fn wait_agree(
        &self,
        socket: &str,
        bus: &str,
        unit: u8,
        agree: impl Fn(&SocketSnapshot, &Truth) -> Result<(), String>,
    ) -> (SocketSnapshot, Truth) {
        let mut rx = self.daemon().snapshot.clone();
        let mut last = String::new();
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                let snap = rx
                    .borrow_and_update()
                    .iter()
                    .find(|x| x.id == socket)
                    .cloned()
                    .expect("socket");
                let truth = self.sim.truth(bus, unit).expect("simulated unit");
                match agree(&snap, &truth) {
                    Ok(()) => return (snap, truth),
                    Err(why) => last = why,
                }
                rx.changed().await.expect("daemon running");
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("{socket} never agreed with the simulator: {last}"))
    }

    /// Waits until the simulator's truth of (bus, unit) satisfies `check`, whatever the daemon
    /// does (it may be stopped): polled on the simulator's own change events.
    pub async fn wait_agree_truth(
        &self,
        bus: &str,
        unit: u8,
        check: impl Fn(&Truth) -> bool,
    ) -> Truth {
        let mut events = self.sim.subscribe();
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                let truth = self.sim.truth(bus, unit).expect("simulated unit");
                if check(&truth) {
                    return truth;
                }
                // Any change of the simulation may make it true; a lagging receiver just rechecks.
                let _ = events.recv().await;
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            panic!("the simulator never reached the expected state of {bus}/{unit}")
        })
    }

    pub async fn stop(mut self) {
        if let Some(d) = self.daemon.take() {
            assert!(
                d.shutdown(Duration::from_secs(5)).await,
                "daemon stops within its deadline"
            );
        }
        self.sim.shutdown().await;
    }
}

/// `a` and `b` agree within `tol` (absolute) or both are absent.
pub fn close(what: &str, a: Option<f64>, b: Option<f64>, tol: f64) -> Result<(), String> {
    match (a, b) {
        (None, None) => Ok(()),
        (Some(x), Some(y)) if (x - y).abs() <= tol => Ok(()),
        _ => Err(format!("{what}: sitegate {a:?}, simulator {b:?}")),
    }
}

/// A vehicle plugged in at `bus`'s `unit`: three phases, 16 A, wanting more than any test gives.
pub fn plug_in(sim: &Sim, bus: &str, unit: u8) {
    let plug = socket_sim::Command::Plug {
        vehicle_max_a: 16.0,
        phases: 3,
        wants_wh: 1e6,
    };
    sim.control(bus, unit, plug).unwrap();
}

/// Access-list badges: (token, user, status) each, valid on every socket, without expiry.
pub fn token_entries(
    badges: &[(&str, &str, sitegate::core::access::TokenStatus)],
) -> Vec<(
    sitegate::core::access::IdToken,
    sitegate::core::access::TokenEntry,
)> {
    use sitegate::core::access::{IdToken, TokenEntry};
    badges
        .iter()
        .map(|(token, user, status)| {
            let entry = TokenEntry {
                user: Some((*user).into()),
                status: *status,
                expiry_ms: None,
                parent: None,
                sockets: vec![],
            };
            (IdToken::new(token).unwrap(), entry)
        })
        .collect()
}

/// Opens the site's store as the daemon would, runs `f` with its handle and the moment, and
/// closes it (the writer thread joined): for what an earlier sync, an earlier run or
/// `sitegate account add` left in the database before the daemon starts.
pub fn with_store_handle(
    config: &Config,
    f: impl AsyncFnOnce(&sitegate::store::StoreHandle, sitegate::core::time::Stamp),
) {
    use sitegate::store::{StoreHandle, StoreSetup};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let now = tokio::time::Instant::now();
        let setup = StoreSetup::for_site(config, "test-setup", &sitegate::clock::Clock::detect());
        let (handle, _, thread) = StoreHandle::start(setup).unwrap();
        let at = sitegate::core::time::Stamp {
            mono: now,
            wall_ms: chrono::Utc::now().timestamp_millis(),
            trusted: true,
        };
        f(&handle, at).await;
        drop(handle);
        thread.join().unwrap();
    });
}

/// Everything central-sim received from the site is as docs/asyncapi.yaml describes it (each
/// message was checked as it arrived): the end of every test that runs a central-sim.
pub fn assert_contract_kept(central: &central_sim::CentralSim) {
    let violations = central.contract_violations();
    assert!(
        violations.is_empty(),
        "central-sim received messages docs/asyncapi.yaml does not describe:\n{}",
        violations.join("\n")
    );
    assert!(
        central.contract_checked() > 0,
        "central-sim received nothing to check"
    );
}
