//! The installer's tools page over real HTTPS, against the real daemon and simulated sockets:
//! error counters, live registers, the relay test, bus scans through the bus owner (TCP and a
//! serial line the daemon is polling), and the uplink connection test against Mosquitto.

use serde_json::{Value, json};
use socket_sim::{Command, Model, UnitSpec};

use crate::support::mqtt::{Mosquitto, MosquittoOpts, Tls};
use crate::support::*;
use crate::support::{https, web};

const INSTALLER: &str = "installer";
const MANAGER: &str = "manager";

async fn start(sim: &socket_sim::Sim, tables: String) -> Site {
    use sitegate::store::roles::Role;
    web::start_site(
        sim,
        &tables,
        &[(INSTALLER, Role::Installer), (MANAGER, Role::Manager)],
    )
    .await
}

fn json_of(reply: &https::Reply) -> Value {
    serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("JSON ({e}): {} {}", reply.head, reply.body))
}

/// Reads `path` as JSON until `check` holds: again after each change of the daemon's snapshot
/// (every poll publishes one), within `PATIENCE`.
async fn wait_json(
    site: &Site,
    user: &web::Signed,
    path: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut polls = site.daemon().snapshot.clone();
    let mut last = Value::Null;
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            polls.borrow_and_update();
            last = json_of(&user.get(path).await);
            if check(&last) {
                return last.clone();
            }
            polls.changed().await.expect("daemon running");
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("gave up waiting for {what}: {last}"))
}

fn device(overview: &Value) -> &Value {
    &overview["buses"][0]["devices"][0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_live_registers_and_the_relay_test_show_what_the_socket_does() {
    let sim = sim(false);
    let addr = tcp(&sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let site = start(
        &sim,
        tcp_bus("gw", addr, "request_timeout = \"150ms\"\nretries = 0")
            + &socket("s", "gw", 1, "generic-socket", "poll_interval = \"200ms\""),
    )
    .await;
    site.wait_state("s", "Available").await;
    let installer = web::signed(&site, INSTALLER).await;

    // The page lists the bus and the socket's device, with a link to its registers.
    let page = installer.get("/installer/tools").await;
    assert_eq!(page.status, 200, "{}", page.head);
    assert!(page.body.contains("Installer tools"));
    let french = https::get(
        installer.tls.clone(),
        installer.addr,
        "/installer/tools",
        &format!("{}\r\nAccept-Language: fr", installer.cookie),
    )
    .await;
    assert!(
        french.body.contains("Outils de l'installateur") && french.body.contains("Scanner le bus")
    );
    assert!(page.body.contains("href=\"/installer/tools/sockets/s\""));

    // The device stops answering for a few polls: its failed polls count, on the page too.
    sim.control("gw", 1, Command::Silence { count: Some(3) })
        .unwrap();
    let overview = wait_json(
        &site,
        &installer,
        "/api/v1/installer/tools",
        "failed polls counted",
        |v| device(v)["failed_polls"].as_u64() >= Some(1),
    )
    .await;
    assert!(overview["buses"][0]["timeouts"].as_u64() >= Some(1));
    assert_eq!(device(&overview)["socket"], "s");
    sim.control(
        "gw",
        1,
        Command::Exception {
            code: 2,
            count: Some(1),
        },
    )
    .unwrap();
    wait_json(
        &site,
        &installer,
        "/api/v1/installer/tools",
        "an exception answer counted",
        |v| device(v)["exceptions"].as_u64() >= Some(1),
    )
    .await;
    site.wait_state("s", "Available").await;

    // Live registers: the simulator's energy, raw and decoded, with its unit.
    sim.control("gw", 1, Command::SetEnergy { wh: 12_345.0 })
        .unwrap();
    let regs = wait_json(
        &site,
        &installer,
        "/api/v1/installer/tools/sockets/s",
        "the energy register",
        |v| {
            v["registers"].as_array().is_some_and(|r| {
                r.iter()
                    .any(|g| g["name"] == "energy" && g["value"] == "12345")
            })
        },
    )
    .await;
    let energy = regs["registers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "energy")
        .unwrap();
    assert_eq!(energy["unit_of_measure"], "Wh");
    assert_eq!(energy["raw"], json!([0, 0, 0, 12345]));
    assert!(regs["polled_at"].is_string());
    let page = installer.get("/installer/tools/sockets/s").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("0x3039") && page.body.contains("12345 Wh"));

    // The relay test closes the simulator's relay, then opens it again.
    assert!(!sim.truth("gw", 1).unwrap().enabled);
    let reply = installer
        .post_form("/installer/tools/sockets/s/relay-test", "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("Relay on for"));
    let again = installer
        .send_json(
            "POST",
            "/api/v1/installer/tools/sockets/s/relay-test",
            &json!({}),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(
        json_of(&again)["refused"],
        "a relay test is already running"
    );
    site.wait_agree_truth("gw", 1, |t| t.enabled).await;
    site.wait_agree_truth("gw", 1, |t| !t.enabled).await;
    // Both ends of the test are audited in the outbox, with who asked.
    // (Switching off does not wait for the disk: the record follows.)
    site.wait_until("the end of the test audited", |_| {
        control_audits(&site).len() >= 2
    })
    .await;
    let audits = control_audits(&site);
    assert_eq!(
        audits,
        [
            ("relay_test_on".to_string(), Some("installer".to_string())),
            ("relay_test_off".to_string(), None)
        ]
    );

    // A vehicle charging: the relay test is refused, with the reason.
    sim.control(
        "gw",
        1,
        Command::Plug {
            vehicle_max_a: 16.0,
            phases: 1,
            wants_wh: 20_000.0,
        },
    )
    .unwrap();
    site.wait_state("s", "Charging").await;
    let refused = installer
        .send_json(
            "POST",
            "/api/v1/installer/tools/sockets/s/relay-test",
            &json!({}),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(json_of(&refused)["refused"], "the socket has a session");
    let page = installer
        .post_form("/installer/tools/sockets/s/relay-test", "")
        .await;
    assert_eq!(page.status, 409);
    assert!(page.body.contains("Refused: the socket has a session"));

    // A manager may not use the tools.
    let manager = web::signed(&site, MANAGER).await;
    assert_eq!(manager.get("/installer/tools").await.status, 403);
    assert_eq!(manager.get("/api/v1/installer/tools").await.status, 403);
    assert_eq!(
        manager
            .post_form("/installer/tools/sockets/s/relay-test", "")
            .await
            .status,
        403
    );
    assert_eq!(
        manager
            .send_json("POST", "/api/v1/installer/tools/uplink-test", &json!({}))
            .await
            .status,
        403
    );
    site.stop().await;
}

/// The `control_audit` records of the outbox: action and who asked.
fn control_audits(site: &Site) -> Vec<(String, Option<String>)> {
    use sitegate::store;
    let conn = store::open_reader(&site.config.state_dir.join(store::DB_FILE)).unwrap();
    let mut stmt = conn
        .prepare("SELECT payload FROM outbox WHERE kind = 'control_audit' ORDER BY rowid")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|p| {
            let v: Value = serde_json::from_str(&p.unwrap()).unwrap();
            assert_eq!(v["socket"], "s");
            (
                v["action"].as_str().unwrap().to_string(),
                v["actor"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn units(scan: &Value) -> Vec<u64> {
    scan["found"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["unit"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_finds_exactly_the_units_that_answer_on_tcp_and_refuses_bad_fields() {
    let sim = sim(false);
    let addr = tcp(
        &sim,
        "gw",
        vec![
            UnitSpec::new(1, Model::GenericSocket),
            UnitSpec::new(3, Model::GenericSocket),
        ],
    )
    .await;
    let site = start(
        &sim,
        tcp_bus("gw", addr, "")
            + &socket("s", "gw", 1, "generic-socket", "poll_interval = \"200ms\""),
    )
    .await;
    site.wait_state("s", "Available").await;
    let installer = web::signed(&site, INSTALLER).await;
    let scan = installer
        .send_json(
            "POST",
            "/api/v1/installer/tools/buses/gw/scan",
            &json!({"first": 1, "last": 6, "timeout_ms": 150}),
        )
        .await;
    assert_eq!(scan.status, 200, "{}", scan.body);
    let scan = json_of(&scan);
    assert_eq!(units(&scan), vec![1, 3]);
    assert_eq!(scan["found"][1]["profiles"][0], "generic-socket");

    // The page's form: the result, and a refused field comes back next to its input.
    let page = installer
        .post_form(
            "/installer/tools/buses/gw/scan",
            "first=2&last=4&timeout_ms=150",
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("unit 3: looks like generic-socket"));
    let refused = installer
        .post_form(
            "/installer/tools/buses/gw/scan",
            "first=0&last=4&timeout_ms=150",
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("id=\"scan-gw-first-error\""));
    assert!(
        refused
            .body
            .contains("aria-describedby=\"scan-gw-first-error\"")
    );
    assert!(refused.body.contains("value=\"0\""), "the value is kept");
    site.wait_state("s", "Available").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_of_a_serial_line_goes_through_the_bus_owner_while_it_polls() {
    let sim = sim(false);
    let path = rtu(
        &sim,
        "line",
        vec![
            UnitSpec::new(1, Model::GenericSocket),
            UnitSpec::new(2, Model::GenericSocket),
        ],
        38_400,
    )
    .await;
    let site = start(
        &sim,
        rtu_bus("line", &path, 38_400, "request_timeout = \"100ms\"")
            + &socket(
                "s",
                "line",
                1,
                "generic-socket",
                "poll_interval = \"200ms\"",
            ),
    )
    .await;
    site.wait_state("s", "Available").await;
    let installer = web::signed(&site, INSTALLER).await;
    let before = json_of(&installer.get("/api/v1/installer/tools").await);
    let scan = installer
        .send_json(
            "POST",
            "/api/v1/installer/tools/buses/line/scan",
            &json!({"first": 1, "last": 4, "timeout_ms": 100}),
        )
        .await;
    assert_eq!(scan.status, 200, "{}", scan.body);
    assert_eq!(units(&json_of(&scan)), vec![1, 2]);
    // Polling went on: more polls, none failed, the socket still answers.
    let after = json_of(&installer.get("/api/v1/installer/tools").await);
    assert!(device(&after)["polls"].as_u64() > device(&before)["polls"].as_u64());
    assert_eq!(device(&after)["failed_polls"], 0);
    site.wait_state("s", "Available").await;
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uplink_test_reports_each_step_and_names_an_untrusted_certificate() {
    let broker = Mosquitto::start(MosquittoOpts {
        tls: Tls::Server,
        password: None,
    })
    .await;
    let pki = broker.pki().clone();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let sim = sim(false);
    let addr = tcp(&sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let uplink = format!(
        "[uplink]\nhost = \"localhost\"\nport = {}\nca_file = \"{}\"\nkeep_alive = \"5s\"\n",
        broker.port(),
        ca.display()
    );
    let site = start(
        &sim,
        uplink + &tcp_bus("gw", addr, "") + &socket("s", "gw", 1, "generic-socket", ""),
    )
    .await;
    let installer = web::signed(&site, INSTALLER).await;
    let reply = installer
        .send_json("POST", "/api/v1/installer/tools/uplink-test", &json!({}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let report = json_of(&reply);
    assert_eq!(report["ok"], true, "{report}");
    let steps: Vec<_> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [("dns", true), ("tcp", true), ("tls", true), ("mqtt", true)]
    );
    let page = installer
        .post_form("/installer/tools/uplink-test", "")
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("connection OK"));
    // Nothing listens on the port given in the form: the TCP step fails, in words.
    let free = crate::support::mqtt::free_port();
    let page = installer
        .post_form(
            "/installer/tools/uplink-test",
            &format!("host=127.0.0.1&port={free}"),
        )
        .await;
    assert!(page.body.contains("connection refused"), "{}", page.body);
    let refused = installer
        .post_form("/installer/tools/uplink-test", "port=http")
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("id=\"uplink-port-error\""));
    site.stop().await;

    // Another CA: the TLS step fails and says why.
    let other = crate::support::mqtt::Pki::generate();
    let target = sitegate::uplink::probe::Target {
        host: "localhost".into(),
        port: broker.port(),
        tls: Some(sitegate::uplink::tls::client_config(other.ca_pem.as_bytes(), None).unwrap()),
        credentials: None,
        client_id: "test-probe".into(),
    };
    let report = sitegate::uplink::probe::probe(&target, std::time::Duration::from_secs(5)).await;
    assert!(!report.ok);
    let last = report.steps.last().unwrap();
    assert_eq!((last.step, last.ok), ("tls", false));
    assert!(
        last.detail.starts_with("certificate not trusted"),
        "{}",
        last.detail
    );
}
