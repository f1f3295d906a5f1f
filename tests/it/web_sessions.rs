//! The Sessions page over real HTTPS against the real daemon: filters and paging over stored
//! sessions, a running session marked, CSV exports for managers only, a user's statement.

use crate::support::*;
use crate::support::{https, web};

/// 120 completed sessions in October 2026 (UTC), six hours apart: `i % 3` picks alice, bob or
/// anonymous; even ones on socket `s`, odd ones on `t`; session `i` delivered `i + 1` kWh and
/// cost `i.50` EUR.
pub fn store_october(config: &sitegate::config::Config) {
    let conn = rusqlite::Connection::open(config.state_dir.join(sitegate::store::DB_FILE)).unwrap();
    let start = chrono::NaiveDate::from_ymd_opt(2026, 10, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    for i in 0..120i64 {
        let started = start + chrono::Duration::hours(6 * i);
        let stopped = started + chrono::Duration::hours(1);
        let user = match i % 3 {
            0 => Some("alice"),
            1 => Some("bob"),
            _ => None,
        };
        conn.execute(
            "INSERT INTO sessions (id, socket_id, identity, auth_method,
                started_ms, started_trusted, started_run, started_mono_ms, started_local,
                stopped_ms, stopped_trusted, stopped_run, stopped_mono_ms, stopped_local,
                meter_start_wh, meter_stop_wh, energy_wh, charging_ms, idle_ms,
                stop_reason, offline, tariff_id, currency, total_cost)
             VALUES (?1, ?2, ?3, 'local_list', ?4, 1, 'run-a', ?5, ?6, ?7, 1, 'run-a', ?8, ?9,
                0, ?10, ?10, 3000000, 600000, 'ev_disconnected', 0, 'std', 'EUR', ?11)",
            rusqlite::params![
                format!("oct-{i:03}"),
                if i % 2 == 0 { "s" } else { "t" },
                user,
                started.and_utc().timestamp_millis(),
                i * 100_000_000,
                started.format("%Y-%m-%d %H:%M:%S").to_string(),
                stopped.and_utc().timestamp_millis(),
                i * 100_000_000 + 3_600_000,
                stopped.format("%Y-%m-%d %H:%M:%S").to_string(),
                1000.0 * (i + 1) as f64,
                format!("{i}.50"),
            ],
        )
        .unwrap();
    }
}

fn prepare(config: &sitegate::config::Config) {
    web::add_accounts(config, web::EVERY_ROLE);
    store_october(config);
}

async fn site(sim: &socket_sim::Sim) -> Site {
    let tables = web::one_socket(sim, "poll_interval = \"200ms\"").await;
    web::start_site_after(sim, &tables, prepare).await
}

fn json(reply: &https::Reply) -> serde_json::Value {
    assert_eq!(reply.status, 200, "{}\n{}", reply.head, reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

const OCTOBER: &str = "from=2026-10-01&to=2026-10-31";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_filtered_paged_and_running_ones_marked() {
    let sim = sim(false);
    let site = site(&sim).await;
    site.wait_state("s", "Available").await;
    let manager = web::signed(&site, "manager").await;

    let all = json(&manager.get(&format!("/api/v1/sessions?{OCTOBER}")).await);
    assert_eq!(all["total"], 120);
    assert_eq!(all["pages"], 3);
    let first = all["sessions"].as_array().unwrap();
    assert_eq!(first.len(), 50);
    // Newest first: the last session of October opens the list.
    assert_eq!(first[0]["start"], "2026-10-30 18:00:00");
    assert_eq!(first[0]["end"], "2026-10-30 19:00:00");
    assert_eq!(first[0]["energy_kwh"], "120.000");
    assert_eq!(first[0]["cost"], "119.50");
    assert_eq!(first[0]["currency"], "EUR");
    assert_eq!(first[0]["duration"], "1:00:00");
    assert_eq!(first[0]["running"], false);
    let last = json(
        &manager
            .get(&format!("/api/v1/sessions?{OCTOBER}&page=3"))
            .await,
    );
    assert_eq!(last["sessions"].as_array().unwrap().len(), 20);
    assert_eq!(last["sessions"][19]["start"], "2026-10-01 00:00:00");

    let alice = json(
        &manager
            .get(&format!("/api/v1/sessions?{OCTOBER}&user=alice"))
            .await,
    );
    assert_eq!(alice["total"], 40);
    assert!(
        alice["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["user"] == "alice")
    );
    let alice_on_s = json(
        &manager
            .get(&format!("/api/v1/sessions?{OCTOBER}&user=alice&socket=s"))
            .await,
    );
    assert_eq!(alice_on_s["total"], 20);
    let one_week = json(
        &manager
            .get("/api/v1/sessions?from=2026-10-01&to=2026-10-07")
            .await,
    );
    assert_eq!(one_week["total"], 28, "four a day for seven days");

    // The page: the filter kept in the paging links, the columns a manager reads.
    let page = manager.get(&format!("/sessions?{OCTOBER}&socket=s")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>Sessions</h1>"));
    assert!(
        page.body.contains(
            "href=\"/sessions?from=2026-10-01&amp;to=2026-10-31&amp;socket=s&amp;page=2\""
        ),
        "the next page keeps the filter: {}",
        page.body
    );
    assert!(page.body.contains("118.50 EUR") && page.body.contains("119.000"));
    assert!(page.body.contains("Page 1 / 2"));

    // A wrong date comes back with 422, the value kept and the message next to its field.
    let refused = manager.get("/sessions?from=2026-10-41&to=2026-10-31").await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("value=\"2026-10-41\""));
    assert!(refused.body.contains("aria-describedby=\"from-error\""));
    assert!(refused.body.contains("id=\"from-error\""));
    let refused = manager
        .get("/api/v1/sessions?from=2026-10-31&to=2026-10-01")
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("\"to\""), "{}", refused.body);

    // A plug-in starts a session: this month's list shows it, marked running.
    plug_in(&sim, "gw", 1);
    // Charging: the socket was switched on, so the session is committed (persist, then act).
    site.wait_state("s", "Charging").await;
    let now = json(&manager.get("/api/v1/sessions").await);
    assert!(
        now["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["running"] == true && s["socket"] == "s" && s["end"].is_null()),
        "the running session is listed: {now}"
    );
    // Its energy is the live one, not the one stored at its start.
    site.wait_until("energy flows on s", |sockets| {
        sockets
            .iter()
            .filter_map(|s| s.view.session.as_ref())
            .any(|x| x.meter.energy_wh >= 1.0)
    })
    .await;
    let now = json(&manager.get("/api/v1/sessions").await);
    let running = now["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["running"] == true)
        .unwrap();
    assert_ne!(running["energy_kwh"], "0.000", "{running}");
    let page = manager.get("/sessions").await;
    assert!(page.body.contains("class=\"running\""), "{}", page.body);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_for_managers_and_statements_add_up() {
    let sim = sim(false);
    let site = site(&sim).await;
    let addr = site.daemon().web.expect("the page listens").addr;
    let tls = https::client_config(&site.config.state_dir.join("web-cert.pem"));
    let manager = web::sign_in(tls.clone(), addr, "manager").await;
    let viewer = web::sign_in(tls, addr, "viewer").await;

    let csv = manager
        .get(&format!("/sessions/export.csv?{OCTOBER}&user=alice"))
        .await;
    assert_eq!(csv.status, 200, "{}", csv.head);
    assert!(
        csv.head.to_lowercase().contains(
            "content-disposition: attachment; filename=\"sessions-test-2026-10-01-2026-10-31.csv\""
        ),
        "{}",
        csv.head
    );
    let text = csv.body.trim_start_matches('\u{feff}');
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("line,user,start_local,stop_local,"),
        "{}",
        lines[0]
    );
    let sessions: Vec<&&str> = lines.iter().filter(|l| l.starts_with("session,")).collect();
    assert_eq!(sessions.len(), 40);
    assert!(sessions.iter().all(|l| l.starts_with("session,alice,")));
    assert!(
        sessions[0].starts_with("session,alice,2026-10-01 00:00:00,2026-10-01 01:00:00,"),
        "{}",
        sessions[0]
    );
    assert!(
        sessions[0].contains(",1.000,") && sessions[0].contains(",0.50"),
        "{}",
        sessions[0]
    );
    // The API twin is the same file.
    let twin = manager
        .get(&format!("/api/v1/sessions/export.csv?{OCTOBER}&user=alice"))
        .await;
    assert_eq!(twin.body, csv.body);

    // A viewer reads sessions but may not export them.
    assert_eq!(
        viewer
            .get(&format!("/api/v1/sessions?{OCTOBER}"))
            .await
            .status,
        200
    );
    for path in [
        "/sessions/export.csv",
        "/sessions/export.xlsx",
        "/api/v1/sessions/export.csv",
    ] {
        assert_eq!(viewer.get(path).await.status, 403, "{path}");
    }
    let page = viewer.get(&format!("/sessions?{OCTOBER}")).await;
    assert!(
        !page.body.contains("export.csv"),
        "no export button for a viewer"
    );

    // Alice's statement: her 40 sessions, (1 + 4 + … + 118) kWh and (0.50 + 3.50 + … + 117.50) EUR.
    let statement = json(
        &manager
            .get(&format!("/api/v1/sessions/statement?{OCTOBER}&user=alice"))
            .await,
    );
    let s = &statement["statement"];
    let kwh: i64 = (0..40).map(|k| 3 * k + 1).sum();
    let eur: i64 = (0..40).map(|k| 3 * k).sum::<i64>() + 20;
    assert_eq!(s["totals"]["sessions"], 40);
    assert_eq!(s["totals"]["energy_kwh"], format!("{kwh}.000"));
    assert_eq!(s["totals"]["costs"]["EUR"], format!("{eur}.00"), "{s}");
    assert_eq!(
        s["lines"].as_array().unwrap().len(),
        41,
        "sessions and the total"
    );
    let page = manager
        .get(&format!("/sessions/statement?{OCTOBER}&user=alice"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!("{eur}.00 EUR")));
    let french = https::get(
        manager.tls.clone(),
        manager.addr,
        &format!("/sessions/statement?{OCTOBER}&user=alice"),
        &format!("{}\r\nAccept-Language: fr", manager.cookie),
    )
    .await;
    assert!(french.body.contains("<h1>Relevé</h1>") && french.body.contains("Coût cumulé (EUR)"));
    let refused = manager.get(&format!("/sessions/statement?{OCTOBER}")).await;
    assert_eq!(refused.status, 422, "a statement needs a user");
    assert!(refused.body.contains("id=\"user-error\""));
    site.stop().await;
}
