//! The installer page in real headless Chromium: an installer signs in, a bad unit id is refused
//! next to its field, a socket is added through the form, the page says it is applying and then
//! what changed, and the new socket is polled on the dashboard. Screenshots `installer.png` and
//! `installer-socket.png`; labels, contrast and keyboard checked.

use std::time::Duration;

use crate::reload::{is, site_file, supervise_with_accounts, two_sockets, wait_snapshot};
use crate::support::browser::{Browser, Viewport};
use crate::support::web;
use crate::support::*;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installer_adds_a_socket_in_the_browser_and_sees_it_polled() {
    let sim = sim(false);
    let bus = two_sockets(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let tables = "[web]\nlisten = \"127.0.0.1:0\"\n".to_string()
        + &tcp_bus("gw", bus, "")
        + &socket("a", "gw", 1, "generic-socket", "poll_interval = \"200ms\"");
    let path = site_file(dir.path(), &tables);
    let mut supervisor = supervise_with_accounts(&path, web::INSTALLER).await;
    let addr = supervisor
        .daemon()
        .unwrap()
        .web
        .expect("the page listens")
        .addr;
    let url = |p: &str| format!("https://localhost:{}{p}", addr.port());
    wait_snapshot(supervisor.daemon().unwrap().snapshot.clone(), "a", |x| {
        is(x, "a", "Available")
    })
    .await;

    let mut b = Browser::start().await;
    // The sign-in form sent with Enter from the password field, not the button.
    b.goto(&url("/login")).await;
    b.fill("#username", "installer").await;
    b.fill("#password", web::PASSWORD).await;
    b.press(fantoccini::key::Key::Enter).await;
    b.wait_for("nav", WAIT).await;
    b.goto(&url("/installer")).await;
    b.wait_text("#installer-socket-a .state", "Available", WAIT)
        .await;
    b.assert_accessible(&[
        "nav a[href='/']",
        "nav a[href='/sessions']",
        "nav a[href='/access']",
        "nav a[href='/installer']",
        "nav a[href='/accounts']",
        "nav a[href='/system']",
        "a[href='/settings']",
        "form[action='/logout'] button",
        "a[href='/installer/tools']",
        "a[href='/installer/sockets/a']",
        "form[action='/installer/sockets/a/remove'] button",
        "#id",
        "#name",
    ])
    .await;
    b.screenshot_full_page("installer").await;

    // A unit id out of range: refused next to the field, the values kept.
    b.fill("#id", "b").await;
    b.fill("#name", "Bay 2").await;
    b.fill("#serial_number", "SN-0002").await;
    b.fill("#uid", "UID-2").await;
    b.select("#profile", "generic-socket").await;
    b.fill("#unit_id", "300").await;
    b.click("Add the socket").await;
    let shown = b.wait_text("#unit_id-error", "300 is outside", WAIT).await;
    assert!(shown.contains("1..=247"), "{shown}");
    assert!(b.check_labels().await.is_empty());
    b.screenshot_full_page("installer-refused").await;

    b.fill("#unit_id", "2").await;
    b.click("Add the socket").await;
    b.wait_text("#reload-status", "Applying", WAIT).await;
    tokio::time::timeout(PATIENCE, supervisor.requested())
        .await
        .expect("the page asked for a reload");
    supervisor.reload().await.expect("reloaded");
    // The page refreshes itself until the new generation runs.
    b.wait_text("#last-reload", "sockets added: b", PATIENCE)
        .await;
    b.wait_text("#installer-socket-b .state", "", WAIT).await;

    b.goto(&url("/installer/sockets/b")).await;
    b.wait_for("#unit_id", WAIT).await;
    b.assert_accessible(&["nav a[href='/']"]).await;
    b.screenshot_full_page("installer-socket").await;

    // Polled: the dashboard shows it available, live.
    b.goto(&url("/")).await;
    b.wait_text("#socket-b .state", "Available", PATIENCE).await;

    // On a phone, the page's content fits the screen's width (the table scrolls inside its
    // box). The shared header is the layout's business, not this page's.
    b.set_viewport(Viewport::Phone).await;
    b.goto(&url("/installer")).await;
    b.wait_for("#installer-socket-b", WAIT).await;
    let fits = b
        .execute("return document.querySelector('main').scrollWidth <= window.innerWidth;")
        .await;
    b.screenshot_full_page("installer-phone").await;
    assert_eq!(
        fits,
        serde_json::json!(true),
        "no sideways scrolling on a phone"
    );
    b.close().await;
    assert!(supervisor.shutdown().await);
    sim.shutdown().await;
}
