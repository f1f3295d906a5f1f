//! The system page in real headless Chromium, against the real daemon: an installer signs in,
//! opens the page from the menu, sees the figures and the backup button; the page passes the
//! accessibility checks (labels, contrast, keyboard) on a desktop and fits a phone. Screenshot:
//! `target/screenshots/system.png`.

use std::time::Duration;

use crate::support::browser::{Browser, Viewport};
use crate::support::*;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_page_in_a_browser() {
    let sim = sim(false);
    let tables = web::one_socket(&sim, "").await;
    let site = web::start_site(&sim, &tables, web::INSTALLER).await;
    site.wait_state("s", "Available").await;
    let port = site.daemon().web.unwrap().addr.port();
    let url = |path: &str| format!("https://localhost:{port}{path}");
    sitegate::logging::ring().push(
        &log::Record::builder()
            .level(log::Level::Info)
            .args(format_args!("browser-probe line"))
            .build(),
    );

    let mut b = Browser::start().await;
    b.sign_in(&url(""), "installer").await;
    b.wait_for("#sockets", WAIT).await;
    b.click("System").await;
    b.wait_text("h1", "System", WAIT).await;
    assert_eq!(b.text("#version").await, env!("CARGO_PKG_VERSION"));
    assert!(b.text("#disk").await.contains("free of"));
    assert!(b.exists("a[href='/system/backup']").await);
    assert!(b.text("table.log").await.contains("browser-probe line"));
    b.assert_accessible(&[
        "a[href='/']",
        "a[href='/sessions']",
        "a[href='/access']",
        "a[href='/installer']",
        "a[href='/accounts']",
        "a[href='/system']",
        "a[href='/settings']",
        "button[type=submit]",
        "a[href='/system/backup']",
    ])
    .await;
    b.screenshot_full_page("system").await;

    // A phone: nothing wider than the screen but the log table, which scrolls on its own.
    b.set_viewport(Viewport::Phone).await;
    b.goto(&url("/system")).await;
    let overflow = b
        .execute("return document.documentElement.scrollWidth - window.innerWidth;")
        .await;
    let wide = b
        .execute("return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-scroll')).map(e => e.tagName + '.' + e.className + '#' + e.id + ':' + Math.round(e.getBoundingClientRect().right)).join(' ');")
        .await;
    assert!(
        overflow.as_i64().unwrap_or(1) <= 0 && wide == "",
        "page wider than a phone by {overflow}: {wide}"
    );
    b.screenshot_full_page("system-phone").await;
    b.close().await;
    site.stop().await;
}
