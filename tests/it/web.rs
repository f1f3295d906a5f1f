//! The local web page over real HTTPS (its self-signed certificate), against the real daemon
//! and simulated sockets: what a manager's browser receives.

use crate::support::*;
use crate::support::{https, web};

const MANAGER: &str = "manager";

/// Socket `s` with a name in markup; the installer and a manager, made before the daemon starts.
async fn site_with_web(sim: &socket_sim::Sim) -> Site {
    use sitegate::store::roles::Role;
    let tables = web::one_socket(sim, "poll_interval = \"200ms\"")
        .await
        .replace("name = \"s\"", "name = \"Box <b>&amp; 1\"");
    web::start_site(
        sim,
        &tables,
        &[("installer", Role::Installer), (MANAGER, Role::Manager)],
    )
    .await
}

/// Signs the manager in; the `Cookie:` header line to send with later requests.
async fn sign_in(tls: std::sync::Arc<rustls::ClientConfig>, addr: std::net::SocketAddr) -> String {
    web::sign_in(tls, addr, MANAGER).await.cookie
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_served_over_https_in_the_browsers_language_and_escapes_names() {
    let sim = sim(false);
    let site = site_with_web(&sim).await;
    site.wait_state("s", "Available").await;
    let addr = site.daemon().web.expect("the page listens").addr;
    let tls = https::client_config(&site.config.state_dir.join("web-cert.pem"));

    // Nobody signed in: the page sends to the sign-in form, the API says 401.
    assert_eq!(https::get(tls.clone(), addr, "/", "").await.status, 303);
    assert_eq!(
        https::get(tls.clone(), addr, "/api/v1/dashboard", "")
            .await
            .status,
        401
    );
    let wrong = https::request(
        tls.clone(),
        addr,
        "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        b"username=manager&password=not-it",
        1 << 16,
    )
    .await;
    assert_eq!(wrong.status, 401);
    let cookie = sign_in(tls.clone(), addr).await;
    let page = https::get(tls.clone(), addr, "/", &cookie).await;
    assert_eq!(page.status, 200, "{}", page.head);
    assert!(page.body.contains("<h1>Dashboard</h1>"));
    assert!(page.body.contains("Available"));
    assert!(
        page.body.contains("Box &lt;b&gt;&amp;amp; 1") && !page.body.contains("<b>&"),
        "a socket's name is shown as text, never as markup"
    );
    let page = https::get(
        tls.clone(),
        addr,
        "/",
        &format!("{cookie}\r\nAccept-Language: fr-FR,fr;q=0.9"),
    )
    .await;
    assert!(page.body.contains("Tableau de bord") && page.body.contains("Disponible"));

    // A state-changing request without the session's CSRF token is refused.
    let forged = https::request(
        tls.clone(),
        addr,
        &format!("POST /api/v1/dashboard HTTP/1.1\r\n{cookie}"),
        b"",
        1 << 16,
    )
    .await;
    assert_eq!(forged.status, 403);
    let json = https::get(tls.clone(), addr, "/api/v1/dashboard", &cookie).await;
    let d: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(d["indicators"]["sockets"], 1);
    assert_eq!(d["sockets"][0]["state"], "Available");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plug_in_reaches_the_live_stream() {
    let sim = sim(false);
    let site = site_with_web(&sim).await;
    site.wait_state("s", "Available").await;
    let addr = site.daemon().web.unwrap().addr;
    let tls = https::client_config(&site.config.state_dir.join("web-cert.pem"));
    let cookie = sign_in(tls.clone(), addr).await;
    let reading = tokio::spawn(https::read_stream_until(
        tls,
        addr,
        "/api/v1/stream",
        cookie.clone(),
        PATIENCE,
        |text| text.contains("\"state\":\"Charging\""),
    ));
    plug_in(&sim, "gw", 1);
    let text = reading.await.unwrap();
    assert!(text.contains("text/event-stream"), "{text}");
    assert!(text.contains("event: sockets"));
    assert!(
        text.contains("\"state\":\"Charging\""),
        "the plug-in streamed: {text}"
    );
    // An open stream does not hold the daemon's shutdown up.
    let _open = tokio::spawn(https::read_stream_until(
        https::client_config(&site.config.state_dir.join("web-cert.pem")),
        addr,
        "/api/v1/stream",
        cookie.clone(),
        PATIENCE,
        |_| false,
    ));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_is_described_by_the_openapi_document() {
    let sim = sim(false);
    let site = site_with_web(&sim).await;
    let addr = site.daemon().web.unwrap().addr;
    let tls = https::client_config(&site.config.state_dir.join("web-cert.pem"));
    // The installer may read every route (some are the installer's only).
    let cookie = web::sign_in(tls.clone(), addr, "installer").await.cookie;
    let doc = https::get(tls.clone(), addr, "/api/v1/openapi.json", &cookie).await;
    let doc: serde_json::Value = serde_json::from_str(&doc.body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in sitegate::web::openapi::PATHS {
        assert!(doc["paths"].get(*path).is_some(), "{path} documented");
        let reply = if *path == "/api/v1/stream" {
            https::read_stream_until(tls.clone(), addr, path, cookie.clone(), PATIENCE, |t| {
                t.contains("event:")
            })
            .await
        } else {
            let r = https::get(tls.clone(), addr, path, &cookie).await;
            format!("{}\r\n\r\n{}", r.head, r.body)
        };
        assert!(reply.starts_with("HTTP/1.1 200"), "{path} answers: {reply}");
    }
    site.stop().await;
}
