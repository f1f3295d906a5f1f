//! The uplink against real brokers (Debian's mosquitto, the embedded rumqttd) with central-sim
//! as central: what central receives, when records leave the site, what central may change.

use std::time::Duration;

use central_sim::{AckMode, CentralSim, Options};
use serde_json::Value;
use sitegate::store::{self, outbox::Stream};
use socket_sim::{Command, Model, UnitSpec};

use crate::support::mqtt::{Mosquitto, MosquittoOpts, Published, Tls};
use crate::support::*;

const WAIT: Duration = Duration::from_secs(30);

/// `[uplink]` to a plain broker on loopback.
fn plain_uplink(port: u16) -> String {
    format!(
        "[uplink]\nhost = \"127.0.0.1\"\nport = {port}\ntls = false\nkeep_alive = \"5s\"\nreconnect_max = \"2s\"\n"
    )
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
    assert_contract_kept(&central);
    central.shutdown().await;
}

/// Puts `n` authorization records in the site's outbox before the daemon starts (a backlog
/// built up while central was unreachable).
fn fill_outbox(config: &sitegate::config::Config, n: usize) {
    use sitegate::core::access::IdToken;
    use sitegate::core::site::Audit;
    use sitegate::store::Write;
    with_store_handle(config, async |handle, at| {
        let now = at.mono;
        let token = IdToken::new("04A1B2C3").unwrap();
        for batch in 0..n.div_ceil(500) {
            let writes = (0..500.min(n - batch * 500))
                .map(|i| {
                    Write::Audit(Box::new(Audit {
                        token: token.clone(),
                        sockets: vec![0],
                        user: Some(format!("user-{}", batch * 500 + i)),
                        outcome: "accepted",
                        reason: None,
                        source: Some("local_list"),
                        at: sitegate::core::time::Stamp {
                            mono: now,
                            wall_ms: 1_795_000_000_000 + (batch * 500 + i) as i64,
                            trusted: true,
                        },
                    }))
                })
                .collect();
            handle.apply(writes).await.unwrap();
        }
    });
}

async fn site_with_backlog(sim: &socket_sim::Sim, extra: &str, backlog: usize) -> Site {
    let addr = tcp(sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let tables = tcp_bus("gw", addr, "")
        + &socket("s", "gw", 1, "generic-socket", "poll_interval = \"200ms\"")
        + extra;
    let sim = sim.clone();
    tokio::task::spawn_blocking(move || {
        Site::start_after(sim, &tables, |config| fill_outbox(config, backlog))
    })
    .await
    .unwrap()
}

/// Every event once after deduplication, none missing...
fn assert_exactly_once(central: &CentralSim, first: u64, n: usize) {
    let events = central.events();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (first..first + n as u64).collect();
    assert_eq!(seqs.len(), n, "distinct events received");
    assert_eq!(seqs, expected, "every event");
}

/// ...and each arrived first after the one before it.
fn assert_exactly_once_in_order(central: &CentralSim, first: u64, n: usize) {
    assert_exactly_once(central, first, n);
    assert!(central.events_in_order());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_ten_thousand_events_drains_with_nothing_lost_or_duplicated() {
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    let central = central(
        broker.port(),
        AckMode::Immediate {
            batch: Duration::from_millis(20),
        },
    )
    .await;
    let sim = sim(false);
    let site = site_with_backlog(&sim, &plain_uplink(broker.port()), 10_000).await;
    central.wait_for_events(10_000, WAIT).await.unwrap();
    site.wait_until("the outbox to empty", |_| outbox_depth(&site) == 0)
        .await;
    assert_exactly_once_in_order(&central, 1, 10_000);
    assert_eq!(central.duplicates(), 0, "no reconnect: nothing sent twice");
    site.stop().await;
    assert_contract_kept(&central);
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_and_restarted_during_a_drain_loses_nothing() {
    let mut broker = Mosquitto::start(MosquittoOpts::default()).await;
    let central = central(
        broker.port(),
        AckMode::Immediate {
            batch: Duration::from_millis(20),
        },
    )
    .await;
    let sim = sim(false);
    let site = site_with_backlog(&sim, &plain_uplink(broker.port()), 5_000).await;
    central
        .wait_until(WAIT, |s| (s.events.records.len() >= 500).then_some(()))
        .await
        .unwrap();
    broker.kill();
    broker.restart().await;
    central
        .wait_for_events(5_000, Duration::from_secs(90))
        .await
        .unwrap();
    site.wait_until("the outbox to empty", |_| outbox_depth(&site) == 0)
        .await;
    // Not "in order": the broker restarted without persistence, so what the site resent before
    // central-sim subscribed again was lost, and came again later (central acks only a
    // contiguous run, so nothing was skipped).
    assert_exactly_once(&central, 1, 5_000);
    site.stop().await;
    assert_contract_kept(&central);
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_mutual_tls_verify_the_broker_and_present_the_sites_certificate() {
    let broker = Mosquitto::start(MosquittoOpts {
        tls: Tls::Mutual,
        password: None,
    })
    .await;
    let pki = broker.pki().clone();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    };
    let ca = write("ca.pem", &pki.ca_pem);
    let cert = write("site.pem", &pki.client_cert_pem);
    let key = write("site.key", &pki.client_key_pem);
    let mut opts = Options::new("localhost", broker.port(), "test");
    opts.tls = Some(central_sim::Tls {
        ca_pem: pki.ca_pem.clone().into_bytes(),
        client: Some((
            pki.client_cert_pem.clone().into_bytes(),
            pki.client_key_pem.clone().into_bytes(),
        )),
    });
    opts.ack_mode = AckMode::Immediate {
        batch: Duration::ZERO,
    };
    let central = CentralSim::start(opts).await.unwrap();
    central.wait_ready(WAIT).await.unwrap();
    let uplink = format!(
        "[uplink]\nhost = \"localhost\"\nport = {}\nca_file = \"{ca}\"\nclient_cert_file = \"{cert}\"\nclient_key_file = \"{key}\"\nkeep_alive = \"5s\"\n",
        broker.port()
    );
    let sim = sim(false);
    let site = site_with(&sim, &uplink).await;
    site.wait_state("s", "Available").await;
    plug(&sim);
    central.wait_for_events(1, WAIT).await.unwrap();
    site.wait_until("the outbox to empty", |_| outbox_depth(&site) == 0)
        .await;
    let status = site.daemon().uplink.as_ref().unwrap().borrow().clone();
    assert!(status.connected);
    site.stop().await;

    // Without its certificate, the same site is refused: never connected, never in plain.
    let uplink = format!(
        "[uplink]\nhost = \"localhost\"\nport = {}\nca_file = \"{ca}\"\nkeep_alive = \"5s\"\n",
        broker.port()
    );
    let sim2 = crate::support::sim(false);
    let site = site_with(&sim2, &uplink).await;
    let mut status = site.daemon().uplink.as_ref().unwrap().clone();
    let refused = tokio::time::timeout(WAIT, status.wait_for(|s| s.failed_attempts >= 2))
        .await
        .expect("attempts are made")
        .unwrap()
        .clone();
    assert_eq!(
        refused.connections, 0,
        "a site without a client certificate never connects (and never in plain): {:?}",
        refused.last_error
    );
    site.stop().await;
    assert_contract_kept(&central);
    central.shutdown().await;
}

fn last_event_seq(site: &Site) -> u64 {
    let conn = store::open_reader(&site.config.state_dir.join(store::DB_FILE)).unwrap();
    store::outbox::last_made(&conn, Stream::Events).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_link_cut_of_a_minute_while_sessions_run_loses_and_repeats_nothing() {
    use crate::support::mqtt::SilentProxy;
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    let proxy = SilentProxy::start(broker.addr()).await;
    let central = central(
        broker.port(),
        AckMode::Immediate {
            batch: Duration::from_millis(20),
        },
    )
    .await;
    let sim = sim(false);
    let site = site_with(&sim, &plain_uplink(proxy.addr().port())).await;
    let mut status = site.daemon().uplink.as_ref().unwrap().clone();
    status.wait_for(|s| s.connected).await.unwrap();
    site.wait_state("s", "Available").await;
    plug(&sim);
    site.wait_state("s", "Charging").await;
    central.wait_for_events(1, WAIT).await.unwrap();

    // The link goes silent: nothing is closed, nothing arrives, in either direction.
    proxy.go_silent();
    sim.control("gw", 1, Command::Unplug).unwrap();
    site.wait_state("s", "Available").await;
    plug(&sim);
    site.wait_state("s", "Charging").await;
    // Keep-alive notices the dead link well within the minute; a session starting after that
    // is flagged offline.
    tokio::time::timeout(Duration::from_secs(40), status.wait_for(|s| !s.connected))
        .await
        .expect("the dead link is noticed")
        .unwrap();
    sim.control("gw", 1, Command::Unplug).unwrap();
    site.wait_state("s", "Available").await;
    plug(&sim);
    let offline = site.wait_state("s", "Charging").await;
    // The broker, hearing nothing either, publishes the site's last will.
    central
        .wait_until(Duration::from_secs(40), |s| {
            s.state
                .as_ref()
                .filter(|v| v["status"] == "offline")
                .map(|_| ())
        })
        .await
        .expect("the last will says offline");
    tokio::time::sleep(Duration::from_secs(60)).await; // the outage itself, not a wait for a result
    proxy.resume();

    site.wait_until("every event acknowledged", |_| outbox_depth(&site) == 0)
        .await;
    let last = last_event_seq(&site);
    assert!(last >= 5, "three sessions started, two ended: {last}");
    assert_exactly_once_in_order(&central, 1, last as usize);
    let events = central.events();
    let restarted = events
        .iter()
        .rfind(|e| e["type"] == "session_started")
        .unwrap();
    assert_eq!(
        restarted["body"]["session_id"],
        offline.view.session.unwrap().id.to_string()
    );
    assert_eq!(
        restarted["offline"], true,
        "started while central was unreachable"
    );
    site.stop().await;
    assert_contract_kept(&central);
    central.shutdown().await;
}

/// A site that requires signed downlink messages, trusting central-sim's key `central-1`.
async fn signed_site(
    broker: &Mosquitto,
    sim: &socket_sim::Sim,
    extra_socket: &str,
) -> (Site, CentralSim) {
    let (seed, public) = central_sim::keygen();
    let mut opts = Options::new("127.0.0.1", broker.port(), "test");
    opts.signer = Some(central_sim::Signer::from_seed_b64("central-1", &seed).unwrap());
    opts.ack_mode = AckMode::Immediate {
        batch: Duration::ZERO,
    };
    let central = CentralSim::start(opts).await.unwrap();
    central.wait_ready(WAIT).await.unwrap();
    let uplink = plain_uplink(broker.port())
        + "require_signed_downlink = true\n[uplink.trusted_keys]\n"
        + &format!("central-1 = \"{public}\"\n");
    let addr = tcp(sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let tables = tcp_bus("gw", addr, "")
        + &socket("s", "gw", 1, "generic-socket", "poll_interval = \"200ms\"")
            .replace("free = true\n", extra_socket)
        + &uplink;
    let sim = sim.clone();
    let site = tokio::task::spawn_blocking(move || Site::start(sim, &tables))
        .await
        .unwrap();
    // The birth follows the site's subscriptions: from then on, it hears central.
    central
        .wait_until(WAIT, |s| {
            s.state
                .as_ref()
                .filter(|v| v["status"] == "online")
                .map(|_| ())
        })
        .await
        .unwrap();
    (site, central)
}

fn tariffs(version: u64, price: &str) -> Value {
    serde_json::json!({"version": version, "tariffs": [
        {"id": "standard", "currency": "EUR", "energy": {"prices": [{"price_kwh": price}]}}
    ]})
}

fn published_tariffs_version(site: &Site) -> u64 {
    let conn = store::open_reader(&site.config.state_dir.join(store::DB_FILE)).unwrap();
    store::access::published_version(&conn, "tariffs").unwrap()
}

/// Results refused with `reason`, in arrival order.
async fn refusal(central: &CentralSim, n: usize) -> Vec<String> {
    central
        .wait_until(WAIT, |s| {
            let refused: Vec<String> = s
                .results
                .iter()
                .filter(|r| r["status"] == "refused")
                .map(|r| r["reason"].as_str().unwrap_or_default().to_string())
                .collect();
            (refused.len() >= n).then_some(refused)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}: results {:#?}", central.results()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_forged_oversized_and_stale_downlink_messages_are_refused_and_change_nothing() {
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    let sim = sim(false);
    let (site, central) = signed_site(&broker, &sim, "free = true\n").await;
    central.push_tariffs(&tariffs(5, "0.25")).await.unwrap();
    let accepted = central.wait_for_result("tariffs", WAIT).await.unwrap();
    assert_eq!(
        (accepted["status"].as_str(), accepted["version"].as_u64()),
        (Some("accepted"), Some(5))
    );

    // Unsigned, while signatures are required.
    let body = tariffs(6, "0.01").to_string().into_bytes();
    central
        .publish_raw("test", "tariffs", body.clone())
        .await
        .unwrap();
    // Forged: signed by a key that claims to be central's.
    let (other_seed, _) = central_sim::keygen();
    let forger = central_sim::Signer::from_seed_b64("central-1", &other_seed).unwrap();
    let forged = forger.sign("sitegate/v1/test/tariffs", &body);
    central
        .publish_raw("test", "tariffs", forged)
        .await
        .unwrap();
    // Oversized: above max_downlink_bytes, before anything is parsed.
    central
        .publish_raw("test", "tariffs", vec![b' '; 300 * 1024])
        .await
        .unwrap();
    // Stale: properly signed, but not above the current version.
    central.push_tariffs(&tariffs(5, "0.01")).await.unwrap();

    let reasons = refusal(&central, 4).await;
    assert_eq!(
        reasons,
        ["unsigned", "bad_signature", "too_large", "version_mismatch"]
    );
    assert_eq!(
        published_tariffs_version(&site),
        5,
        "the state did not change"
    );
    let status = site.daemon().uplink.as_ref().unwrap().borrow().clone();
    assert_eq!(status.refused, 4, "each refusal counted");
    site.stop().await;
    assert_contract_kept(&central);
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_start_and_stop_round_trip_with_each_command_answered_once() {
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    let sim = sim(false);
    let (site, central) = signed_site(&broker, &sim, "").await;
    site.wait_state("s", "Available").await;
    plug(&sim);
    site.wait_state("s", "Occupied").await;

    let start = serde_json::json!({"id": "cmd-start", "command": "remote_start", "socket": "s", "token": "04A1B2C3"});
    central.send_command(start.clone()).await.unwrap();
    let answer = central.wait_for_result("cmd-start", WAIT).await.unwrap();
    assert_eq!(answer["status"], "accepted");
    let charging = site.wait_state("s", "Charging").await;
    let session = charging.view.session.unwrap();
    let started = central.wait_for_events(1, WAIT).await.unwrap();
    assert_eq!(started[0]["body"]["auth_method"], "remote");
    assert_eq!(started[0]["body"]["session_id"], session.id.to_string());

    // The same command again (a retry by central, a replay by someone else): not run twice.
    central.send_command(start).await.unwrap();
    central
        .wait_until(WAIT, |s| {
            (s.results
                .iter()
                .filter(|r| r["command_id"] == "cmd-start")
                .count()
                == 2)
                .then_some(())
        })
        .await
        .unwrap();
    let answers: Vec<String> = central
        .results()
        .iter()
        .filter(|r| r["command_id"] == "cmd-start")
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(answers, ["accepted", "duplicate"]);
    // A command past its expiry is refused, not run.
    let stale = serde_json::json!({"id": "cmd-stale", "command": "remote_stop", "socket": "s",
        "expires_at": "2020-01-01T00:00:00Z"});
    central.send_command(stale).await.unwrap();
    let answer = central.wait_for_result("cmd-stale", WAIT).await.unwrap();
    assert_eq!(answer["status"], "expired");
    assert_eq!(
        site.wait_state("s", "Charging")
            .await
            .view
            .session
            .unwrap()
            .id,
        session.id
    );

    let stop = serde_json::json!({"id": "cmd-stop", "command": "remote_stop", "session_id": session.id.to_string()});
    central.send_command(stop).await.unwrap();
    assert_eq!(
        central.wait_for_result("cmd-stop", WAIT).await.unwrap()["status"],
        "accepted"
    );
    let ended = central
        .wait_until(WAIT, |s| {
            s.events
                .records
                .values()
                .find(|e| e["type"] == "session_ended")
                .cloned()
        })
        .await
        .unwrap();
    assert_eq!(ended["body"]["stop_reason"], "remote");
    assert!(!sim.truth("gw", 1).unwrap().enabled, "the relay is off");
    site.stop().await;
    assert_contract_kept(&central);
    central.shutdown().await;
}

fn access_list(version: u64, users: usize) -> Value {
    let users_json: Vec<Value> = (0..users)
        .map(|i| {
            serde_json::json!({"id": format!("u{i}"), "name": format!("User {i}"),
            "communities": ["residents"], "credit": {"kind": "prepaid", "amount": "20.00"}})
        })
        .collect();
    let tokens: Vec<Value> = (0..users)
        .map(|i| {
            serde_json::json!({"token": format!("{:08X}", 0x1000_0000 + i), "user": format!("u{i}"),
            "status": "Accepted"})
        })
        .collect();
    serde_json::json!({
        "version": version,
        "rules": {
            "site": {"home": false, "communities": ["residents"], "default_community": "residents", "tariff": null},
            "communities": [{"id": "residents", "public": false, "card_payment": false, "tariff": null, "hours": null}],
            "sockets": {}
        },
        "users": users_json,
        "tokens": tokens,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_list_of_100000_users_in_chunks_is_applied_and_a_stale_differential_asks_for_a_full_one()
 {
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    let sim = sim(false);
    let (site, central) = signed_site(&broker, &sim, "").await;
    let pushed = central
        .push_access_full(&access_list(3, 100_000), 500)
        .await
        .unwrap();
    assert_eq!(pushed.chunks.len(), 200);
    let answer = central
        .wait_for_result("access/commit", Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(
        (answer["status"].as_str(), answer["version"].as_u64()),
        (Some("accepted"), Some(3))
    );
    let conn = store::open_reader(&site.config.state_dir.join(store::DB_FILE)).unwrap();
    assert_eq!(store::access::list_version(&conn).unwrap(), 3);
    let last = token_of(99_999);
    let found = store::access::lookup(&conn, &last).unwrap();
    assert_eq!(found.user.map(|u| u.id).as_deref(), Some("u99999"));

    // A differential whose version is not above the list's: refused, central asked for a full list.
    let diff = serde_json::json!({"version": 3, "users": [{"id": "u1", "remove": true}]});
    central.push_diff(&diff).await.unwrap();
    let answer = central.wait_for_result("access/diff", WAIT).await.unwrap();
    assert_eq!(
        (
            answer["reason"].as_str(),
            answer["want"].as_str(),
            answer["current"].as_u64()
        ),
        (Some("version_mismatch"), Some("access/full"), Some(3))
    );
    assert!(
        store::access::lookup(&conn, &token_of(1))
            .unwrap()
            .user
            .is_some(),
        "u1 kept"
    );
    site.stop().await;
    assert_contract_kept(&central);
    central.shutdown().await;
}

fn token_of(i: usize) -> sitegate::core::access::IdToken {
    sitegate::core::access::IdToken::new(&format!("{:08X}", 0x1000_0000 + i)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_embedded_broker_central_gets_the_sessions_and_local_clients_the_live_states() {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let port = crate::support::mqtt::free_port();
    let login = "[broker]\nenabled = true\nlisten = \"127.0.0.1:PORT\"\nusername = \"local\"\npassword = \"a-long-local-secret\"\n"
        .replace("PORT", &port.to_string());
    let uplink = plain_uplink(port) + "username = \"local\"\npassword = \"a-long-local-secret\"\n";
    let sim = sim(false);
    let site = site_with(&sim, &(login + &uplink)).await;
    let mut opts = Options::new("127.0.0.1", port, "test");
    opts.username = Some("local".into());
    opts.password = Some("a-long-local-secret".into());
    opts.ack_mode = AckMode::Immediate {
        batch: Duration::ZERO,
    };
    let central = CentralSim::start(opts).await.unwrap();
    central.wait_ready(WAIT).await.unwrap();
    site.wait_state("s", "Available").await;
    plug(&sim);
    central.wait_for_events(1, WAIT).await.unwrap();
    site.wait_until("the outbox to empty", |_| outbox_depth(&site) == 0)
        .await;

    // A home-automation client subscribes and gets the socket's retained state.
    let mut options = MqttOptions::new("display", "127.0.0.1", port);
    options.set_credentials("local", "a-long-local-secret");
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    client
        .subscribe("sitegate/v1/test/sockets/s/state", QoS::AtLeastOnce)
        .await
        .unwrap();
    let state: Value = tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = eventloop.poll().await.unwrap() {
                return serde_json::from_slice(&p.payload).unwrap();
            }
        }
    })
    .await
    .expect("a retained state");
    assert_eq!(state["socket"], "s");
    assert!(["Charging", "Occupied", "SuspendedEV"].contains(&state["state"].as_str().unwrap()));
    site.stop().await;
    assert_contract_kept(&central);
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_badge_is_asked_about_and_central_s_answer_starts_the_session() {
    use socket_sim::{ReaderCommand, ReaderProtocol};
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    let central = central(
        broker.port(),
        AckMode::Immediate {
            batch: Duration::ZERO,
        },
    )
    .await;
    let sim = sim(false);
    let addr = tcp(&sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let reader = sim
        .serve_reader_pty("entrance", ReaderProtocol::Ascii)
        .unwrap();
    let tables = tcp_bus("gw", addr, "")
        + &socket("s", "gw", 1, "generic-socket", "poll_interval = \"200ms\"")
            .replace("free = true\n", "")
        + &format!(
            "[[reader]]\nname = \"entrance\"\ndevice = \"{}\"\nprotocol = \"ascii-hex\"\nsockets = [\"s\"]\n",
            reader.display()
        )
        + &plain_uplink(broker.port());
    let sim_for_site = sim.clone();
    let site = tokio::task::spawn_blocking(move || Site::start(sim_for_site, &tables))
        .await
        .unwrap();
    let mut status = site.daemon().uplink.as_ref().unwrap().clone();
    status.wait_for(|s| s.connected).await.unwrap();
    site.wait_state("s", "Available").await;
    plug(&sim);
    site.wait_state("s", "Occupied").await;

    sim.control_reader(
        "entrance",
        ReaderCommand::Badge {
            uid: "0AC0FFEE".into(),
            hold_ms: 0,
        },
    )
    .unwrap();
    let question = central
        .wait_until(WAIT, |s| s.authorize.first().cloned())
        .await
        .unwrap();
    assert_eq!(
        (question["token"].as_str(), question["socket"].as_str()),
        (Some("0AC0FFEE"), Some("s"))
    );
    let answer = serde_json::json!({"command": "authorize_answer", "token": "0AC0FFEE",
        "status": "Accepted", "user": "guest-7"});
    let id = central.send_command(answer).await.unwrap();
    assert_eq!(
        central.wait_for_result(&id, WAIT).await.unwrap()["status"],
        "accepted"
    );
    let charging = site.wait_state("s", "Charging").await;
    assert_eq!(
        charging.view.session.unwrap().identity.as_deref(),
        Some("guest-7")
    );
    site.stop().await;
    assert_contract_kept(&central);
    central.shutdown().await;
}

/// The site's `state` topic as a subscriber sees it, as messages come.
async fn state_topic(
    port: u16,
    id: &str,
) -> (
    tokio::sync::mpsc::UnboundedReceiver<Published>,
    tokio::task::JoinHandle<()>,
) {
    crate::support::mqtt::subscribe(port, id, "sitegate/v1/test/state").await
}

/// The next message on `rx` whose status is `status`.
async fn state_is(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Published>,
    status: &str,
) -> (bool, Value) {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(PATIENCE, async {
        while let Some(p) = rx.recv().await {
            if p.json["status"] == status {
                return Some((p.retain, p.json));
            }
            seen.push(p.json);
        }
        None
    })
    .await;
    match found {
        Ok(Some(m)) => m,
        _ => panic!("no `{status}` on the site's state topic; got {seen:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_publishes_offline_itself_and_disconnects_so_central_sees_it_at_once() {
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    // Between the site and the broker, a link that keeps the broker's side open when the
    // site's side closes: the broker learns the site has gone only from its DISCONNECT, or
    // after a keep-alive and a half (90 s here, far beyond this test's waits). An `offline`
    // seen at once is the site's own, not the last will the broker publishes for a lost link.
    let proxy = crate::support::mqtt::SilentProxy::start_keeping_broker_side(broker.addr()).await;
    let sim = sim(false);
    let uplink = format!(
        "[uplink]\nhost = \"127.0.0.1\"\nport = {}\ntls = false\nkeep_alive = \"60s\"\n",
        proxy.addr().port()
    );
    let mut site = site_with(&sim, &uplink).await;
    let (mut central, watcher) = state_topic(broker.port(), "central").await;
    state_is(&mut central, "online").await;
    let mut status = site.daemon().uplink.clone().unwrap();
    tokio::time::timeout(PATIENCE, status.wait_for(|s| s.connected))
        .await
        .expect("the uplink connects")
        .unwrap();

    let daemon = site.daemon.take().unwrap();
    assert!(daemon.shutdown(Duration::from_secs(10)).await);
    let (_, offline) = state_is(&mut central, "offline").await;
    assert_eq!(offline, serde_json::json!({"status": "offline"}));
    // Retained: whoever looks later (central restarting) sees the site offline.
    let (mut later, later_task) = state_topic(broker.port(), "central-later").await;
    let first = tokio::time::timeout(PATIENCE, later.recv())
        .await
        .expect("a retained state")
        .unwrap();
    assert!(first.retain, "{}", first.json);
    assert_eq!(first.json["status"], "offline", "{}", first.json);
    // The broker saw a clean DISCONNECT from the site (not a lost connection).
    assert!(
        broker.log().contains("Client test disconnected"),
        "{}",
        broker.log()
    );
    watcher.abort();
    later_task.abort();
    sim.shutdown().await;
}
