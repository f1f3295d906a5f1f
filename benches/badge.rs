//! Badge to relay (figure in BENCHMARKS.md): `cargo bench --bench badge`.
//! A simulated RDM6300 reader on a PTY and 8 simulated smart sockets on one Modbus TCP bus polled
//! at 1 Hz; the daemon in this process. Each round: a vehicle is plugged into socket 1, the
//! badge is presented, and the time from the badge frame leaving the reader to the relay coil
//! write reaching the socket is measured (the simulator's truth stream); then the badge again
//! stops the session and the vehicle leaves. The bus keeps polling the other sockets meanwhile.

use std::time::Duration;

use sitegate::app::daemon::Daemon;
use sitegate::config;
use sitegate::core::access::*;
use sitegate::store::{StoreHandle, StoreSetup};
use socket_sim::{
    Change, Command, Model, ReaderCommand, ReaderProtocol, Sim, SimOptions, TcpOptions, UnitSpec,
};
use tokio::time::Instant;

const ROUNDS: usize = 100;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn prepare(config: &config::Config) {
    let setup = StoreSetup::for_site(config, "prepare", &sitegate::clock::Clock::detect());
    let (handle, _, thread) = StoreHandle::start(setup).unwrap();
    let user = User::new("alice", "Alice");
    let entry = TokenEntry {
        user: Some("alice".into()),
        status: TokenStatus::Accepted,
        expiry_ms: None,
        parent: None,
        sockets: vec![],
    };
    let tokens = vec![(IdToken::new("0004A1B2C3").unwrap(), entry)];
    handle
        .replace_access_list(1, SiteRules::empty(), vec![user], tokens)
        .await
        .unwrap();
    drop(handle);
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::new(SimOptions::default()).unwrap();
    let units = (1..=8)
        .map(|u| UnitSpec::new(u, Model::GenericSocket))
        .collect();
    let opts = TcpOptions {
        one_request_at_a_time: true,
        ..TcpOptions::default()
    };
    let addr = sim
        .serve_tcp("gw", ([127, 0, 0, 1], 0).into(), units, opts)
        .await
        .unwrap();
    let reader = sim.serve_reader_pty("r1", ReaderProtocol::Rdm6300).unwrap();
    let mut text = format!(
        "[site]\nid = \"b\"\nname = \"B\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \"state\"\n\
         [[bus]]\nname = \"gw\"\nkind = \"tcp\"\nhost = \"{}\"\nport = {}\n",
        addr.ip(),
        addr.port()
    );
    for u in 1..=8 {
        text += &format!(
            "[[socket]]\nid = \"s{u}\"\nname = \"s{u}\"\nbus = \"gw\"\nunit_id = {u}\nprofile = \"generic-socket\"\n"
        );
    }
    text += &format!(
        "[[reader]]\nname = \"r1\"\ndevice = \"{}\"\nprotocol = \"rdm6300\"\nsockets = [\"s1\"]\ndebounce = \"100ms\"\n",
        reader.display()
    );
    let config = config::parse(&text, dir.path()).unwrap();
    prepare(&config).await;
    let daemon = Daemon::start(&config).unwrap();
    let rx = daemon.snapshot.clone();
    let mut snap = daemon.snapshot.clone();
    let wait_state = |want: &'static str| {
        let mut snap = rx.clone();
        async move {
            while snap.borrow_and_update()[0].view.state.to_string() != want {
                snap.changed().await.unwrap();
            }
        }
    };
    wait_state("Available").await;
    let mut latencies = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        sim.control(
            "gw",
            1,
            Command::Plug {
                vehicle_max_a: 16.0,
                phases: 3,
                wants_wh: 1e6,
            },
        )
        .unwrap();
        wait_state("Occupied").await;
        let mut truth = sim.subscribe();
        let t0 = Instant::now();
        sim.control_reader(
            "r1",
            ReaderCommand::Badge {
                uid: "0004A1B2C3".into(),
                hold_ms: 0,
            },
        )
        .unwrap();
        loop {
            let e = truth.recv().await.unwrap();
            if e.unit == 1 && matches!(e.change, Change::Relay { closed: true, .. }) {
                break;
            }
        }
        latencies.push(t0.elapsed());
        wait_state("Charging").await;
        // The same badge stops the session; then the vehicle leaves.
        tokio::time::sleep(Duration::from_millis(150)).await; // past the reader's debounce
        sim.control_reader(
            "r1",
            ReaderCommand::Badge {
                uid: "0004A1B2C3".into(),
                hold_ms: 0,
            },
        )
        .unwrap();
        while snap.borrow_and_update()[0].view.session.is_some() {
            snap.changed().await.unwrap();
        }
        sim.control("gw", 1, Command::Unplug).unwrap();
        wait_state("Available").await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    latencies.sort();
    let ms = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1e3
    };
    println!("## Badge frame to relay write, {ROUNDS} rounds, 8 sockets polled at 1 Hz on the bus");
    println!("| p50 | p99 | max |");
    println!("|---|---|---|");
    println!(
        "| {:.1} ms | {:.1} ms | {:.1} ms |",
        ms(0.5),
        ms(0.99),
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    daemon.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
}
