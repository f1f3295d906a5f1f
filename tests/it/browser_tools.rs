//! The installer's tools in real headless Chromium, against the real daemon and a simulated
//! socket: the installer signs in, sees the buses and their counters, watches a register change
//! live without reloading, tests the relay, and a refused scan field is shown next to its
//! input. Screenshots `tools.png` and `tools-registers.png`; labels and contrast checked.

use std::time::Duration;

use socket_sim::Command;

use crate::support::browser::{Browser, Viewport};
use crate::support::web;
use crate::support::*;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installer_uses_the_tools_in_a_browser() {
    let sim = sim(false);
    let tables = web::one_socket(&sim, "poll_interval = \"200ms\"").await;
    let site = web::start_site(&sim, &tables, web::INSTALLER).await;
    site.wait_state("s", "Available").await;
    let port = site.daemon().web.expect("the page listens").addr.port();
    let url = |path: &str| format!("https://localhost:{port}{path}");

    let mut b = Browser::start().await;
    b.sign_in(&url(""), "installer").await;
    b.wait_for("main h1", WAIT).await;

    b.goto(&url("/installer/tools")).await;
    b.wait_text("main h1", "Installer tools", WAIT).await;
    assert!(b.text("tr[data-socket=s]").await.contains("generic-socket"));
    let labels = b.check_labels().await;
    assert!(labels.is_empty(), "{labels:#?}");
    let contrast = b.check_contrast().await;
    assert!(contrast.is_empty(), "{contrast:#?}");
    b.screenshot_full_page("tools").await;

    // A refused scan field comes back next to its input, the value kept.
    b.fill("#scan-gw-first", "0").await;
    b.click("Scan").await;
    b.wait_text("#scan-gw-first-error", "1 to 247", WAIT).await;
    let kept = b
        .execute("return document.getElementById('scan-gw-first').value;")
        .await;
    assert_eq!(kept, "0");

    // The registers refresh by themselves: the simulator's new energy appears.
    b.goto(&url("/installer/tools/sockets/s")).await;
    b.wait_for("#registers tbody tr", WAIT).await;
    sim.control("gw", 1, Command::SetEnergy { wh: 4242.0 })
        .unwrap();
    b.wait_text("tr[data-register=energy] td.value", "4242 Wh", WAIT)
        .await;
    let labels = b.check_labels().await;
    assert!(labels.is_empty(), "{labels:#?}");
    let contrast = b.check_contrast().await;
    assert!(contrast.is_empty(), "{contrast:#?}");

    b.click("Test the relay").await;
    b.wait_text("#relay-test-result", "Relay on for 3 s", WAIT)
        .await;
    b.screenshot_full_page("tools-registers").await;

    // On a phone the wide table scrolls inside its box; the page's content does not overflow.
    b.set_viewport(Viewport::Phone).await;
    let main_fits = b
        .execute("return document.querySelector('main').scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(main_fits, true, "the tools page is wider than a phone");
    b.screenshot_full_page("tools-registers-phone").await;
    b.close().await;
    site.stop().await;
}
