//! The installer page over real HTTPS against the supervised daemon: who may open it, adding a
//! socket through the form until it is polled, and refused edits (shown next to their field,
//! the file untouched). The test plays main's loop: it reloads when the page asks.

use crate::reload::{is, site_file, supervise_with_accounts, two_sockets, wait_snapshot};
use crate::support::*;
use crate::support::{https, web};

struct Setup {
    supervisor: sitegate::app::supervisor::Supervisor,
    sim: socket_sim::Sim,
    path: std::path::PathBuf,
    addr: std::net::SocketAddr,
    tls: std::sync::Arc<rustls::ClientConfig>,
    _dir: tempfile::TempDir,
}

/// Socket `a` on unit 1 (with a comment in its table); unit 2 is simulated and not configured.
async fn start() -> Setup {
    let sim = sim(false);
    let addr = two_sockets(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let tables = "[web]\nlisten = \"127.0.0.1:0\"\n".to_string()
        + &tcp_bus("gw", addr, "")
        + "# Socket a: by the gate\n"
        + &socket("a", "gw", 1, "generic-socket", "poll_interval = \"200ms\"");
    let path = site_file(dir.path(), &tables);
    let config = sitegate::config::load(&path).unwrap();
    let supervisor = supervise_with_accounts(&path, web::INSTALLER_AND_MANAGER).await;
    let web_addr = supervisor
        .daemon()
        .unwrap()
        .web
        .expect("the page listens")
        .addr;
    let tls = https::client_config(&config.state_dir.join("web-cert.pem"));
    Setup {
        supervisor,
        sim,
        path,
        addr: web_addr,
        tls,
        _dir: dir,
    }
}

const NEW_SOCKET: &str =
    "id=b&name=Bay+2&serial_number=SN-0002&uid=UID-2&profile=generic-socket&bus=gw&unit_id=";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installer_adds_a_socket_through_the_form_and_sees_it_polled() {
    let mut s = start().await;
    wait_snapshot(s.supervisor.daemon().unwrap().snapshot.clone(), "a", |x| {
        is(x, "a", "Available")
    })
    .await;
    let manager = web::sign_in(s.tls.clone(), s.addr, "manager").await;
    assert_eq!(manager.get("/installer").await.status, 403);
    assert_eq!(manager.get("/api/v1/installer").await.status, 403);
    assert_eq!(
        manager
            .post_form("/installer/sockets", &format!("{NEW_SOCKET}2"))
            .await
            .status,
        403
    );

    let installer = web::sign_in(s.tls.clone(), s.addr, "installer").await;
    let page = installer.get("/installer").await;
    assert_eq!(page.status, 200);
    let french = https::get(
        s.tls.clone(),
        s.addr,
        "/installer",
        &format!("{}\r\nAccept-Language: fr-FR,fr;q=0.9", installer.cookie),
    )
    .await;
    assert!(french.body.contains("Ajouter une prise") && french.body.contains("Esclave"));
    assert!(page.body.contains("TCP 127.0.0.1:") && page.body.contains("label for=\"unit_id\""));
    let added = installer
        .post_form("/installer/sockets", &format!("{NEW_SOCKET}2"))
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert!(
        added.head.contains("location: /installer?applied=0"),
        "{}",
        added.head
    );
    let text = std::fs::read_to_string(&s.path).unwrap();
    assert!(text.contains("# Socket a: by the gate") && text.contains("# Written by the test"));
    assert!(text.contains("serial_number = \"SN-0002\""));
    assert!(s.path.with_file_name("sitegate.toml.bak").exists());

    // Until the reload, the page says it is applying.
    let applying = installer.get("/installer?applied=0").await;
    assert!(applying.body.contains("Applying the change"));
    tokio::time::timeout(PATIENCE, s.supervisor.requested())
        .await
        .expect("the page asked for a reload");
    s.supervisor.reload().await.expect("reloaded");
    wait_snapshot(
        s.supervisor.daemon().unwrap().snapshot.clone(),
        "b polled",
        |x| is(x, "b", "Available"),
    )
    .await;

    // The same login goes on after the reload, on the same address.
    let sockets = installer.get("/api/v1/sockets").await;
    assert_eq!(sockets.status, 200, "{}", sockets.head);
    let tiles: serde_json::Value = serde_json::from_str(&sockets.body).unwrap();
    assert!(
        tiles
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "b" && t["state"] == "Available"),
        "{tiles}"
    );
    let done = installer.get("/installer?applied=0").await;
    assert!(
        done.body.contains("Last change applied: sockets added: b"),
        "{}",
        done.body
    );
    let json: serde_json::Value =
        serde_json::from_str(&installer.get("/api/v1/installer").await.body).unwrap();
    assert_eq!(json["generation"], 1);
    let b = &json["buses"][0]["sockets"][1];
    assert_eq!(b["serial_number"], "SN-0002");
    assert_eq!(b["state"], "Available");
    // Central hears who changed the configuration.
    let db = sitegate::store::open_reader(
        &s.supervisor
            .config()
            .state_dir
            .join(sitegate::store::DB_FILE),
    )
    .unwrap();
    let audit: String = db
        .query_row(
            "SELECT payload FROM outbox WHERE kind = 'config_audit'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let audit: serde_json::Value = serde_json::from_str(&audit).unwrap();
    assert_eq!(
        (&audit["actor"], &audit["action"], &audit["target"]),
        (
            &serde_json::json!("installer"),
            &serde_json::json!("socket_added"),
            &serde_json::json!("b")
        )
    );
    assert!(s.supervisor.shutdown().await);
    s.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_edit_is_refused_next_to_its_field_and_the_file_stays() {
    let s = start().await;
    let installer = web::sign_in(s.tls.clone(), s.addr, "installer").await;
    let original = std::fs::read(&s.path).unwrap();
    for (fields, field, message) in [
        (
            format!("{NEW_SOCKET}300"),
            "unit_id",
            "300 is outside 1..=247",
        ),
        (format!("{NEW_SOCKET}0"), "unit_id", "0 is outside 1..=247"),
        (format!("{NEW_SOCKET}x"), "unit_id", "is not a number"),
        (format!("{NEW_SOCKET}1"), "unit_id", "already taken"),
        (
            NEW_SOCKET.replace("id=b", "id=a") + "2",
            "id",
            "already the id of another socket",
        ),
    ] {
        let reply = installer.post_form("/installer/sockets", &fields).await;
        assert_eq!(reply.status, 422, "{fields}: {}", reply.head);
        let error = reply
            .body
            .split(&format!("id=\"{field}-error\""))
            .nth(1)
            .unwrap_or_else(|| panic!("{fields}: no message at {field}:\n{}", reply.body));
        let shown = error.split("</p>").next().unwrap();
        assert!(shown.contains(message), "{fields}: {shown}");
        assert!(
            reply
                .body
                .contains(&format!("aria-describedby=\"{field}-error\""))
        );
        assert!(
            reply.body.contains("value=\"SN-0002\""),
            "the values are kept"
        );
        assert_eq!(
            std::fs::read(&s.path).unwrap(),
            original,
            "{fields}: file untouched"
        );
    }
    // The uplink form too: a port out of range is refused at its field.
    let reply = installer
        .post_form(
            "/installer/uplink",
            "host=127.0.0.1&port=70000&username=&password=",
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.head);
    let shown = reply
        .body
        .split("id=\"uplink-port-error\"")
        .nth(1)
        .expect("at the port");
    assert!(
        shown.split("</p>").next().unwrap().contains("70000"),
        "{shown}"
    );
    assert_eq!(std::fs::read(&s.path).unwrap(), original);
    // The API says the same by field.
    let reply = installer
        .send_json(
            "POST",
            "/api/v1/installer/sockets",
            &serde_json::json!({"id": "b", "name": "B", "profile": "generic-socket", "bus": "gw", "unit_id": "300"}),
        )
        .await;
    assert_eq!(reply.status, 422);
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert!(
        json["errors"]["unit_id"][0]
            .as_str()
            .unwrap()
            .contains("300")
    );
    assert_eq!(std::fs::read(&s.path).unwrap(), original);
    assert_eq!(s.supervisor.status().borrow().generation, 0);
    assert!(s.supervisor.shutdown().await);
    s.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_in_use_is_not_removed_and_an_edit_keeps_the_rest_of_the_file() {
    let mut s = start().await;
    wait_snapshot(s.supervisor.daemon().unwrap().snapshot.clone(), "a", |x| {
        is(x, "a", "Available")
    })
    .await;
    let installer = web::sign_in(s.tls.clone(), s.addr, "installer").await;
    plug_in(&s.sim, "gw", 1);
    wait_snapshot(
        s.supervisor.daemon().unwrap().snapshot.clone(),
        "a session",
        |x| x[0].view.session.is_some(),
    )
    .await;
    let original = std::fs::read(&s.path).unwrap();
    let refused = installer.post_form("/installer/sockets/a/remove", "").await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("a session runs on this socket"));
    let api = installer
        .send_json(
            "DELETE",
            "/api/v1/installer/sockets/a",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(api.status, 409, "{}", api.body);
    let api = installer
        .send_json(
            "DELETE",
            "/api/v1/installer/sockets/zz",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(api.status, 404, "{}", api.body);
    assert_eq!(std::fs::read(&s.path).unwrap(), original);

    // Its name and serial number may change meanwhile; the other keys and comments stay.
    let form = installer.get("/installer/sockets/a").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("value=\"generic-socket\" selected"));
    let edited = installer
        .post_form(
            "/installer/sockets/a",
            "id=a&name=Gate&serial_number=SN-A&uid=&profile=generic-socket&bus=gw&unit_id=1",
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.body);
    let text = std::fs::read_to_string(&s.path).unwrap();
    assert!(text.contains("name = \"Gate\"") && text.contains("poll_interval = \"200ms\""));
    assert!(text.contains("# Socket a: by the gate"), "{text}");
    tokio::time::timeout(PATIENCE, s.supervisor.requested())
        .await
        .expect("the page asked for a reload");
    let changes = s.supervisor.reload().await.expect("reloaded");
    assert_eq!(changes.changed, vec!["a".to_string()]);
    // The session is recovered and goes on (confirmed at the first poll after the restart).
    wait_snapshot(
        s.supervisor.daemon().unwrap().snapshot.clone(),
        "the session on",
        |x| x[0].view.session.is_some(),
    )
    .await;
    let json: serde_json::Value =
        serde_json::from_str(&installer.get("/api/v1/installer").await.body).unwrap();
    assert_eq!(json["buses"][0]["sockets"][0]["name"], "Gate");
    assert_eq!(json["buses"][0]["sockets"][0]["session_running"], true);
    assert!(s.supervisor.shutdown().await);
    s.sim.shutdown().await;
}
