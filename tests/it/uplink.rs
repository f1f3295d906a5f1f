//! The uplink against real brokers (Debian's mosquitto, the embedded rumqttd) with central-sim
//! as central: what central receives, when records leave the site, what central may change.

use std::time::Duration;

use central_sim::{AckMode, CentralSim, Options};
use serde_json::Value;
use sitegate::store::{self, outbox::Stream};
use socket_sim::{Command, Model, UnitSpec};

use crate::support::mqtt::{Mosquitto, MosquittoOpts};
use crate::support::*;

const WAIT: Duration = Duration::from_secs(30);

/// `[uplink]` to a plain broker on loopback.
fn plain_uplink(port: u16) -> String {
    format!("[uplink]\nhost = \"127.0.0.1\"\nport = {port}\ntls = false\nkeep_alive = \"5s\"\n")
}

async fn central(port: u16, mode: AckMode) -> CentralSim {
    let mut opts = Options::new("127.0.0.1", port, "test");
    opts.ack_mode = mode;
    let sim = CentralSim::start(opts).await.expect("central-sim starts");
    sim.wait_ready(WAIT).await.expect("central-sim subscribed");
    sim
}

/// A free socket on a simulated TCP gateway, with `uplink` (and more tables) appended.
async fn site_with(sim: &socket_sim::Sim, extra: &str) -> Site {
    let addr = tcp(sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let tables = tcp_bus("gw", addr, "")
        + &socket("s", "gw", 1, "generic-socket", "poll_interval = \"200ms\"")
        + extra;
    let sim = sim.clone();
    tokio::task::spawn_blocking(move || Site::start(sim, &tables))
        .await
        .unwrap()
}

fn plug(sim: &socket_sim::Sim) {
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
}

fn outbox_depth(site: &Site) -> u64 {
    let conn = store::open_reader(&site.config.state_dir.join(store::DB_FILE)).unwrap();
    store::outbox::depth(&conn, Stream::Events).unwrap().0
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_reaches_central_and_leaves_the_site_only_once_acknowledged() {
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    let central = central(broker.port(), AckMode::Never).await;
    let sim = sim(false);
    let site = site_with(&sim, &plain_uplink(broker.port())).await;
    site.wait_state("s", "Available").await;
    plug(&sim);
    site.wait_state("s", "Charging").await;
    let events = central.wait_for_events(1, WAIT).await.unwrap();
    assert_eq!(types(&events)[0], "session_started");
    assert_eq!(events[0]["body"]["socket"], "s");
    assert!(
        outbox_depth(&site) >= 1,
        "unacknowledged: still at the site"
    );
    // The socket's retained state is there too, and the site says it is online.
    central
        .wait_until(WAIT, |s| s.socket_states.get("s").cloned())
        .await
        .unwrap();
    assert_eq!(central.site_state().unwrap()["status"], "online");

    central.set_ack_mode(AckMode::Immediate {
        batch: Duration::ZERO,
    });
    central.ack_now().await.unwrap();
    site.wait_until("the outbox to empty", |_| outbox_depth(&site) == 0)
        .await;
    assert_eq!(central.duplicates(), 0);
    assert!(central.events_in_order());
    site.stop().await;
    central.shutdown().await;
}
