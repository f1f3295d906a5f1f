//! The socket page over real HTTPS against the real daemon and a simulated socket: what a
//! manager sees and does (out of service and back, start for a user, stop), what a viewer may
//! not do, and the audit events central receives.

use crate::support::web::{self};
use crate::support::*;

/// A socket that needs an authorization (not free), the page, an installer, a manager and a
/// viewer.
async fn site(sim: &socket_sim::Sim) -> Site {
    let tables = web::one_socket(sim, "poll_interval = \"200ms\"")
        .await
        .replace("free = true\n", "")
        .replace("name = \"s\"", "name = \"Bay <i>1\"");
    web::start_site(sim, &tables, web::EVERY_ROLE).await
}

/// (actor, action, socket, user) of the control audit events in the outbox, oldest first.
fn audits(site: &Site) -> Vec<(String, String, String, Option<String>)> {
    let db = sitegate::store::open_reader(&site.config.state_dir.join(sitegate::store::DB_FILE))
        .unwrap();
    db.prepare("SELECT payload FROM outbox WHERE kind = 'control_audit' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_str(&p.unwrap()).unwrap();
            (
                v["actor"].as_str().unwrap().to_string(),
                v["action"].as_str().unwrap().to_string(),
                v["socket"].as_str().unwrap().to_string(),
                v["user"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_takes_a_socket_out_of_service_starts_a_session_for_a_user_and_stops_it() {
    let sim = sim(false);
    let site = site(&sim).await;
    site.wait_state("s", "Available").await;
    let manager = web::signed(&site, "manager").await;

    let page = manager.get("/sockets/s").await;
    assert_eq!(page.status, 200, "{}", page.head);
    assert!(page.body.contains("Bay &lt;i&gt;1") && !page.body.contains("<i>1"));
    assert!(page.body.contains("Available") && page.body.contains("Take out of service"));
    let dashboard = manager.get("/").await;
    assert!(
        dashboard.body.contains("href=\"/sockets/s\""),
        "tiles link here"
    );

    let taken = manager.post_form("/sockets/s/out-of-service", "").await;
    assert_eq!(taken.status, 303, "{}", taken.head);
    assert!(
        taken.head.contains("location: /sockets/s"),
        "{}",
        taken.head
    );
    site.wait_state("s", "Disabled").await;
    let page = manager.get("/sockets/s").await;
    assert!(page.body.contains("Out of service") && page.body.contains("Return to service"));
    let french = https::get(
        manager.tls.clone(),
        manager.addr,
        "/sockets/s",
        &format!("{}\r\nAccept-Language: fr", manager.cookie),
    )
    .await;
    assert!(french.body.contains("Hors service") && french.body.contains("Remettre en service"));
    let json = manager.get("/api/v1/sockets/s").await;
    let detail: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(detail["state"], "Disabled");
    assert_eq!(detail["out_of_service"], true);
    assert_eq!(detail["actions"], serde_json::json!(["return"]));
    assert_eq!(manager.post_form("/sockets/s/return", "").await.status, 303);
    site.wait_state("s", "Available").await;

    // A start names whom it lets charge: refused next to the field, the page kept.
    let empty = manager.post_form("/sockets/s/start", "user=++").await;
    assert_eq!(empty.status, 422);
    assert!(empty.body.contains("id=\"user-error\""), "{}", empty.body);
    assert!(empty.body.contains("aria-describedby=\"user-error\""));

    plug_in(&sim, "gw", 1);
    site.wait_state("s", "Occupied").await;
    let started = manager.post_form("/sockets/s/start", "user=alice").await;
    assert_eq!(started.status, 303, "{}", started.body);
    site.wait_until("alice's session to charge", |s| {
        s[0].view.state.name() == "Charging"
            && s[0]
                .view
                .session
                .as_ref()
                .is_some_and(|x| x.identity.as_deref() == Some("alice"))
    })
    .await;
    let page = manager.get("/sockets/s").await;
    assert!(page.body.contains("alice") && page.body.contains("Stop the session"));

    let stopped = manager
        .send_json("POST", "/api/v1/sockets/s/stop", &serde_json::json!({}))
        .await;
    assert_eq!(stopped.status, 202, "{}", stopped.body);
    site.wait_until("the session to end", |s| s[0].view.session.is_none())
        .await;
    let again = manager
        .send_json("POST", "/api/v1/sockets/s/stop", &serde_json::json!({}))
        .await;
    assert_eq!(again.status, 409, "nothing left to stop: {}", again.body);
    let page = manager.get("/api/v1/sockets/s").await;
    let detail: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(detail["history"][0]["user"], "alice");
    assert_eq!(detail["history"][0]["stop_reason"], "local");

    let m = |action: &str, user: Option<&str>| {
        (
            "manager".to_string(),
            action.to_string(),
            "s".to_string(),
            user.map(str::to_string),
        )
    };
    assert_eq!(
        audits(&site),
        [
            m("out_of_service", None),
            m("return", None),
            m("start", Some("alice")),
            m("stop", None)
        ]
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_only_watches_and_a_forged_post_is_refused() {
    let sim = sim(false);
    let site = site(&sim).await;
    site.wait_state("s", "Available").await;
    let viewer = web::signed(&site, "viewer").await;

    let page = viewer.get("/sockets/s").await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("action-") && !page.body.contains("Take out of service"),
        "no buttons for a viewer"
    );
    assert_eq!(viewer.post_form("/sockets/s/stop", "").await.status, 403);
    assert_eq!(
        viewer
            .send_json("POST", "/api/v1/sockets/s/stop", &serde_json::json!({}))
            .await
            .status,
        403
    );
    assert_eq!(
        viewer
            .post_form("/sockets/s/out-of-service", "")
            .await
            .status,
        403
    );

    // The manager's session, without its CSRF token: refused before any handler.
    let manager = web::signed(&site, "manager").await;
    let forged = manager
        .post_raw(
            "/sockets/s/out-of-service",
            "application/x-www-form-urlencoded",
            b"",
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(manager.get("/sockets/nope").await.status, 404);
    assert_eq!(
        manager.post_form("/sockets/s/explode", "").await.status,
        404
    );
    assert!(audits(&site).is_empty(), "nothing was done");
    assert_eq!(
        site.daemon().snapshot.borrow()[0].view.state.name(),
        "Available"
    );
    site.stop().await;
}
