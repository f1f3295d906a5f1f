//! The system page, its database backup download and `/metrics`, over real HTTPS against the
//! real daemon with a charging session: what an installer, a manager and a local Prometheus
//! receive.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::support::*;
use crate::support::{https, web};

async fn site_with_web(sim: &socket_sim::Sim) -> Site {
    let tables = web::one_socket(sim, "poll_interval = \"200ms\"").await;
    web::start_site(sim, &tables, web::EVERY_ROLE).await
}

async fn charging(sim: &socket_sim::Sim, site: &Site) {
    site.wait_state("s", "Available").await;
    plug_in(sim, "gw", 1);
    site.wait_until("a session runs", |s| {
        s.iter().any(|x| x.view.session.is_some())
    })
    .await;
}

/// A GET whose body is binary: the status, the head, and the body's bytes.
async fn get_bytes(
    tls: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    path: &str,
    cookie: &str,
) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut stream = tokio_rustls::TlsConnector::from(tls)
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let head =
        format!("GET {path} HTTP/1.1\r\n{cookie}\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, out[split + 4..].to_vec())
}

fn session_ids(conn: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = conn.prepare("SELECT id FROM sessions ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_page_shows_the_figures_and_recent_log_lines_escaped() {
    let sim = sim(false);
    let site = site_with_web(&sim).await;
    site.wait_state("s", "Available").await;
    let addr = site.daemon().web.expect("the page listens").addr;
    let tls = https::client_config(&site.config.state_dir.join("web-cert.pem"));

    // No logger is installed in tests: the line goes to the ring as the logger would send it.
    let fields: [(&str, &str); 1] = [("socket", "s")];
    sitegate::logging::ring().push(
        &log::Record::builder()
            .level(log::Level::Warn)
            .args(format_args!("system-probe <script>alert(1)</script>"))
            .key_values(&fields)
            .build(),
    );

    let viewer = web::sign_in(tls.clone(), addr, "viewer").await;
    let page = viewer.get("/system").await;
    assert_eq!(page.status, 200, "{}", page.head);
    assert!(page.body.contains(env!("CARGO_PKG_VERSION")));
    for shown in ["Database", "Disk", "Clock", "Recent log lines"] {
        assert!(page.body.contains(shown), "{shown} on the page");
    }
    assert!(
        page.body
            .contains("system-probe &lt;script&gt;alert(1)&lt;/script&gt;")
            && !page.body.contains("<script>alert"),
        "a log line is shown as text"
    );
    assert!(page.body.contains("SOCKET=s"), "its fields are shown");
    assert!(
        !page.body.contains("/system/backup"),
        "no backup button for a viewer"
    );

    let json = viewer.get("/api/v1/system").await;
    let s: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(s["site"], "test");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert!(s["database_bytes"].as_i64().unwrap() > 0);
    assert!(
        s["disk"]["total_bytes"].as_u64().unwrap() >= s["disk"]["free_bytes"].as_u64().unwrap()
    );
    assert!(s["time_sync"]["synchronized"].is_boolean());
    let log = s["log"].as_array().unwrap();
    assert!(log.len() <= 100);
    let probe = log
        .iter()
        .find(|l| l["message"].as_str().unwrap().starts_with("system-probe"))
        .expect("the line in the API");
    assert_eq!(probe["level"], "WARN");

    let french = https::get(
        tls.clone(),
        addr,
        "/system",
        &format!("{}\r\nAccept-Language: fr", viewer.cookie),
    )
    .await;
    assert!(french.body.contains("Dernières lignes du journal"));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installer_downloads_a_consistent_backup_others_are_refused() {
    let sim = sim(false);
    let site = site_with_web(&sim).await;
    charging(&sim, &site).await;
    let addr = site.daemon().web.unwrap().addr;
    let tls = https::client_config(&site.config.state_dir.join("web-cert.pem"));

    for who in ["manager", "viewer"] {
        let signed = web::sign_in(tls.clone(), addr, who).await;
        assert_eq!(signed.get("/system/backup").await.status, 403, "{who}");
    }
    let installer = web::sign_in(tls.clone(), addr, "installer").await;
    assert!(
        installer
            .get("/system")
            .await
            .body
            .contains("href=\"/system/backup\"")
    );
    let (status, head, body) =
        get_bytes(tls.clone(), addr, "/system/backup", &installer.cookie).await;
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("filename=\"sitegate-test-") && head.contains(".sqlite3\""),
        "{head}"
    );
    assert!(body.starts_with(b"SQLite format 3\0"));

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("backup.sqlite3");
    std::fs::write(&copy, &body).unwrap();
    let backup = rusqlite::Connection::open(&copy).unwrap();
    let ok: String = backup
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let live = sitegate::store::open_reader(&site.config.state_dir.join(sitegate::store::DB_FILE))
        .unwrap();
    let in_backup = session_ids(&backup);
    assert_eq!(in_backup.len(), 1, "the running session is in the copy");
    assert_eq!(in_backup, session_ids(&live));

    // The temporary copy is gone from the state directory.
    let leftovers: Vec<_> = std::fs::read_dir(&site.config.state_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".download-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_with_every_family() {
    let sim = sim(false);
    let site = site_with_web(&sim).await;
    charging(&sim, &site).await;
    let addr = site.daemon().web.unwrap().addr;
    let tls = https::client_config(&site.config.state_dir.join("web-cert.pem"));

    // The test client is on loopback: no login needed (the refusal of other addresses is the
    // decision function's unit test).
    let reply = https::get(tls.clone(), addr, "/metrics", "").await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert!(reply.head.contains("text/plain; version=0.0.4"));
    let mut families = std::collections::BTreeSet::new();
    let mut samples = std::collections::BTreeMap::new();
    for line in reply.body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            families.insert(parts.next().unwrap().to_string());
            assert!(
                matches!(parts.next(), Some("gauge" | "counter" | "histogram")),
                "{line}"
            );
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(value.parse::<f64>().is_ok(), "a number: {line}");
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line}");
            for pair in series[name_end + 1..series.len() - 1].split("\",") {
                let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                assert!(!k.is_empty() && !v.contains('\n'), "{line}");
            }
        }
        samples.insert(series.to_string(), value.parse::<f64>().unwrap());
    }
    for family in [
        "sitegate_bus_poll_duration_seconds",
        "sitegate_bus_errors_total",
        "sitegate_socket_state",
        "sitegate_sessions_active",
        "sitegate_outbox_events",
        "sitegate_outbox_oldest_event_age_seconds",
        "sitegate_uplink_connected",
        "sitegate_uplink_last_sync_age_seconds",
        "sitegate_database_bytes",
        "sitegate_disk_free_bytes",
    ] {
        assert!(families.contains(family), "{family} in {families:?}");
    }
    assert_eq!(samples["sitegate_sessions_active"], 1.0);
    assert!(
        samples["sitegate_outbox_events"] >= 1.0,
        "the session start waits"
    );
    let state = |s: &str| samples[&format!("sitegate_socket_state{{socket=\"s\",state=\"{s}\"}}")];
    assert_eq!(state("Available"), 0.0);
    assert_eq!(
        state("Charging") + state("SuspendedEV") + state("Occupied"),
        1.0
    );
    let polls_timed: f64 = samples
        .iter()
        .filter(|(k, _)| k.starts_with("sitegate_bus_poll_duration_seconds_count{bus=\"gw"))
        .map(|(_, v)| v)
        .sum();
    assert!(polls_timed >= 1.0, "polls are timed");
    site.stop().await;
}
