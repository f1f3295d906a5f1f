//! `sitegate demo`'s whole loop: the demo's site, daemon, embedded broker and central-sim, run
//! by the demo's own loop; central receives session events, acknowledges them, and its remote
//! command comes back answered.

use std::time::Duration;

use serde_json::Value;
use sitegate::app::demo::{Demo, DemoOptions, Output};
use sitegate::store::{self, outbox::Stream};

const WAIT: Duration = Duration::from_secs(90);

/// Polls `cond` every 50 ms until it holds, at most `WAIT`.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_sends_sessions_to_central_sim_and_they_are_acknowledged() {
    let options = DemoOptions {
        seed: 1,
        command_after: Duration::ZERO,
    };
    let demo = Demo::start(options).await.expect("the demo starts");
    // Start returns once the site accepted central's lists.
    let results = demo.central.results();
    for reference in ["tariffs", "promotions", "access/commit"] {
        assert!(
            results
                .iter()
                .any(|r| r["ref"] == reference && r["status"] == "accepted"),
            "{reference} accepted: {results:?}"
        );
    }
    let db = demo.config().state_dir.join(store::DB_FILE);
    let checks = async {
        let central = &demo.central;
        // A session starts (the scenario plugs vehicles in) and reaches central.
        central
            .wait_until(WAIT, |s| {
                let events: Vec<Value> = s.events.records.values().cloned().collect();
                (!of_type(&events, "session_started").is_empty()).then_some(())
            })
            .await
            .expect("a session_started event at central-sim");
        // The demo's remote_stop of a running session: answered, and the session ends remotely.
        until("the remote command's answer", || {
            demo.remote_command().is_some_and(|c| c.status.is_some())
        })
        .await;
        let command = demo.remote_command().unwrap();
        assert_eq!(command.status.as_deref(), Some("accepted"), "{command:?}");
        let socket = command.what.trim_start_matches("remote_stop ").to_string();
        central
            .wait_until(WAIT, |s| {
                s.events
                    .records
                    .values()
                    .any(|e| {
                        e["type"] == "session_ended"
                            && e["body"]["socket"] == socket.as_str()
                            && e["body"]["stop_reason"] == "remote"
                    })
                    .then_some(())
            })
            .await
            .expect("the remotely stopped session's session_ended at central-sim");
        // Everything central received is acknowledged: the site's outbox empties.
        let received = central
            .stats()
            .events
            .records
            .keys()
            .max()
            .copied()
            .unwrap();
        let uplink = demo.daemon.uplink.clone().expect("the demo has an uplink");
        until("the outbox to empty", || {
            let status = uplink.borrow().clone();
            let conn = store::open_reader(&db).unwrap();
            let depth = store::outbox::depth(&conn, Stream::Events).unwrap().0;
            status.events_acked >= received && status.in_flight == 0 && depth == 0
        })
        .await;
        assert!(central.events_in_order());
        assert_eq!(central.duplicates(), 0);
        assert_eq!(uplink.borrow().refused, 0);
    };
    demo.run_until(checks, Output::Quiet).await;
    let table = demo.render();
    assert!(table.contains("uplink    connected"), "{table}");
    // The screen says where the web page is and how to sign in, and that login works.
    let (addr, logins) = demo.web();
    let addr = addr.expect("the demo's web page listens");
    assert!(table.contains(&format!("https://{addr}/")), "{table}");
    let (user, password) = &logins[0];
    assert!(table.contains(&format!("sign in as {user} / {password}")));
    let tls = crate::support::https::client_config(&demo.config().state_dir.join("web-cert.pem"));
    let reply = crate::support::https::request(
        tls,
        addr,
        "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        format!("username={user}&password={password}").as_bytes(),
        1 << 16,
    )
    .await;
    assert_eq!(
        reply.status, 303,
        "the printed login signs in: {}",
        reply.head
    );
    crate::support::assert_contract_kept(&demo.central);
    demo.stop().await;
}
