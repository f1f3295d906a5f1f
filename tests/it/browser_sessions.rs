//! The Sessions and Access pages in real headless Chromium against the real daemon: a manager
//! signs in, opens Sessions, clicks "XLSX" and the file it links to opens as a spreadsheet
//! with the sessions in it; the statement, Access, explain and price pages render, pass the
//! label and contrast checks, and are screenshotted under `target/screenshots/`.

use std::io::Cursor;
use std::time::Duration;

use base64::Engine as _;
use calamine::{Data, Reader, Xlsx};

use crate::support::browser::{Browser, Viewport};
use crate::support::web;
use crate::support::*;

const WAIT: Duration = Duration::from_secs(10);

fn prepare(config: &sitegate::config::Config) {
    web::add_accounts(config, web::INSTALLER_AND_MANAGER);
    crate::web_sessions::store_october(config);
    crate::web_access::write_access(config);
}

/// Labels and contrast hold on the page shown.
async fn assert_readable(b: &Browser, page: &str) {
    let labels = b.check_labels().await;
    assert!(
        labels.is_empty(),
        "{page}: controls without a label: {labels:?}"
    );
    let contrast = b.check_contrast().await;
    assert!(contrast.is_empty(), "{page}: low contrast: {contrast:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_exports_xlsx_and_reads_the_access_tools() {
    let sim = sim(false);
    let tables = web::one_socket(&sim, "poll_interval = \"200ms\"").await;
    let site = web::start_site_after(&sim, &tables, prepare).await;
    site.wait_state("s", "Available").await;
    let port = site.daemon().web.expect("the page listens").addr.port();
    let url = |path: &str| format!("https://localhost:{port}{path}");

    let b = Browser::start().await;
    b.sign_in(&url(""), "manager").await;
    b.wait_for("h1", WAIT).await;

    b.goto(&url("/sessions?from=2026-10-01&to=2026-10-31"))
        .await;
    b.wait_text("h1", "Sessions", WAIT).await;
    assert_readable(&b, "sessions").await;
    b.screenshot("sessions").await;

    // The XLSX button: clicked as a user would, then the file it links to fetched with the
    // browser's own session and opened.
    b.click("XLSX").await;
    let file = b
        .execute(
            "const href = document.getElementById('export-xlsx').href;
             return fetch(href).then(r => r.arrayBuffer()).then(buf => {
                 let s = ''; const bytes = new Uint8Array(buf);
                 for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
                 return btoa(s);
             });",
        )
        .await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(file.as_str().expect("the file, base64"))
        .unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("an XLSX file");
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let text = |c: &Data| match c {
        Data::String(s) => s.clone(),
        other => other.to_string(),
    };
    let first_column: Vec<String> = range.rows().map(|r| text(&r[0])).collect();
    assert!(
        first_column[0].contains("expense notes, 2026-10-01 to 2026-10-31"),
        "{first_column:?}"
    );
    let per_user = |u: &str| range.rows().filter(|r| text(&r[0]) == u).count();
    // 40 sessions and the total line for each of alice and bob.
    assert_eq!(per_user("alice"), 41, "{first_column:?}");
    assert_eq!(per_user("bob"), 41);

    b.goto(&url(
        "/sessions/statement?from=2026-10-01&to=2026-10-31&user=alice",
    ))
    .await;
    b.wait_text("#total-sessions", "40", WAIT).await;
    assert_readable(&b, "statement").await;
    b.screenshot("statement").await;

    b.goto(&url("/access")).await;
    b.wait_text("h1", "Access", WAIT).await;
    assert_readable(&b, "access").await;
    let hostile = b.text("table.users").await;
    assert!(
        hostile.contains(crate::web_access::SCRIPT_NAME),
        "a hostile name reads as text: {hostile}"
    );
    b.screenshot("access").await;

    b.goto(&url("/access/explain")).await;
    b.fill("Token", crate::web_access::MALLORY).await;
    b.select("Socket", "s (s)").await;
    b.click("Explain").await;
    b.wait_text("#outcome", "Refused (Blocked)", WAIT).await;
    assert_readable(&b, "explain").await;
    b.screenshot("explain").await;

    b.goto(&url(
        "/access/price?tariff=day-night&energy_kwh=14&start=2026-06-10T21%3A00&duration=120",
    ))
    .await;
    b.wait_text("#total", "5.22 EUR", WAIT).await;
    assert_readable(&b, "price").await;
    b.screenshot("price").await;

    // On a phone the wide table scrolls in its own box: the page itself never scrolls sideways.
    let mut b = b;
    b.set_viewport(Viewport::Phone).await;
    b.goto(&url("/sessions?from=2026-10-01&to=2026-10-31"))
        .await;
    b.wait_text("h1", "Sessions", WAIT).await;
    let overflow = b
        .execute("return document.documentElement.scrollWidth - window.innerWidth;")
        .await;
    assert!(
        overflow.as_i64().unwrap_or(1) <= 0,
        "sideways by {overflow}px"
    );
    b.screenshot("sessions-phone").await;

    b.close().await;
    site.stop().await;
}
