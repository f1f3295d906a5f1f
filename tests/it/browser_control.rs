//! The socket, accounts and settings pages in real headless Chromium against the real daemon
//! and a simulated socket: a viewer sees no stop button and a forged post is refused, a
//! manager stops a session by clicking (the page follows live), an installer creates an
//! account with the form, a user switches the page to French. Screenshots `socket.png`,
//! `accounts.png` and `settings.png` under `target/screenshots/`, each page checked for labels,
//! contrast and keyboard use.

use std::time::Duration;

use crate::support::browser::{Browser, Viewport};
use crate::support::web::{self, PASSWORD};
use crate::support::*;

const WAIT: Duration = Duration::from_secs(10);

async fn site(sim: &socket_sim::Sim) -> Site {
    let tables = web::one_socket(sim, "poll_interval = \"200ms\"").await;
    web::start_site(sim, &tables, web::EVERY_ROLE).await
}

/// A post as a forged page would send it: the session's cookie, no CSRF token.
const FORGED_STOP: &str = "return fetch('/sockets/s/stop', {method: 'POST', \
     headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'x=1'}) \
     .then(r => r.status);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_watch_managers_stop_installers_create_accounts_in_the_browser() {
    let sim = sim(false);
    let site = site(&sim).await;
    site.wait_state("s", "Available").await;
    let base = format!(
        "https://127.0.0.1:{}",
        site.daemon().web.as_ref().unwrap().addr.port()
    );
    plug_in(&sim, "gw", 1);
    site.wait_until("a session", |s| s[0].view.session.is_some())
        .await;
    let mut b = Browser::start().await;

    // A viewer: the session is shown, no button to stop it, and a forged post is refused.
    b.sign_in(&base, "viewer").await;
    b.goto(&format!("{base}/sockets/s")).await;
    b.wait_for("#session", WAIT).await;
    assert!(
        !b.exists("#action-stop").await,
        "no stop button for a viewer"
    );
    assert_eq!(b.execute(FORGED_STOP).await, serde_json::json!(403));
    b.click("Sign out").await;

    // A manager: a forged post is refused too (no CSRF token); the button works.
    b.sign_in(&base, "manager").await;
    b.click("a[href='/sockets/s']").await;
    b.wait_for("#action-stop", WAIT).await;
    assert_eq!(b.execute(FORGED_STOP).await, serde_json::json!(403));
    assert!(site.daemon().snapshot.borrow()[0].view.session.is_some());
    b.screenshot("socket").await;
    b.assert_accessible(&[
        "header nav a[href='/']",
        "header nav a[href='/sessions']",
        "header nav a[href='/access']",
        "header nav a[href='/system']",
        "a[href='/settings']",
        "header button[type=submit]",
        "main a[href='/']",
        "#action-stop",
    ])
    .await;
    // On a phone: nothing wider than the screen (the history table scrolls inside itself).
    b.set_viewport(Viewport::Phone).await;
    b.screenshot("socket-phone").await;
    assert_eq!(
        b.execute("return document.documentElement.scrollWidth <= window.innerWidth;")
            .await,
        serde_json::json!(true),
        "the socket page fits a phone"
    );
    b.set_viewport(Viewport::Desktop).await;
    b.click("Stop the session").await;
    site.wait_until("the session to end", |s| s[0].view.session.is_none())
        .await;
    b.wait_for("#no-session", WAIT).await;
    b.click("Sign out").await;

    // An installer creates an account with the form; the list shows it.
    b.sign_in(&base, "installer").await;
    b.click("a[href='/accounts']").await;
    b.wait_for("#create-account", WAIT).await;
    b.fill("Username", "dora").await;
    b.fill("Name shown", "Dora <script>").await;
    b.select("Role", "Manager").await;
    b.fill("Password (12 characters or more)", PASSWORD).await;
    b.click("Create the account").await;
    b.wait_text("#accounts", "Dora <script>", WAIT).await;
    b.screenshot("accounts").await;
    b.assert_accessible(&["header nav a[href='/']", "header nav a[href='/sessions']"])
        .await;

    // My settings: French at once.
    b.click("a[href='/settings']").await;
    b.wait_for("#language-form", WAIT).await;
    b.assert_accessible(&["header nav a[href='/']", "header nav a[href='/sessions']"])
        .await;
    b.select("Language of the pages", "Français").await;
    b.click("Save the language").await;
    b.wait_text("h1", "Mes réglages", WAIT).await;
    b.screenshot("settings").await;
    b.close().await;
    site.stop().await;
}
