//! systemd's notify protocol against the real binary: a unix datagram socket stands in for
//! systemd (`NOTIFY_SOCKET`), as under `Type=notify` with `WatchdogSec=`; Debian's Mosquitto
//! stands in for central, so STATUS can follow the link.

use std::os::unix::net::UnixDatagram;

use crate::support::PATIENCE;
use crate::support::mqtt::{Mosquitto, MosquittoOpts};

/// Datagrams until one satisfies `wanted`; returns it (fails with what came instead).
fn until(
    socket: &UnixDatagram,
    what: &str,
    wanted: impl Fn(&str) -> bool,
    seen: &mut Vec<String>,
) -> String {
    let mut buf = [0u8; 4096];
    // Keep-alives arrive all the time: the wait is bounded as a whole, not per datagram.
    let deadline = std::time::SystemTime::now() + PATIENCE;
    loop {
        assert!(
            std::time::SystemTime::now() < deadline,
            "no {what} within {PATIENCE:?}; got: {seen:?}"
        );
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {what} ({e}); got: {seen:?}"));
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        seen.push(text.clone());
        if wanted(&text) {
            return text;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_says_ready_feeds_the_watchdog_follows_central_and_says_reloading_and_stopping()
{
    let mut broker = Mosquitto::start(MosquittoOpts::default()).await;
    let port = broker.port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sitegate.toml");
    std::fs::write(
        &config,
        format!(
            "[site]\nid = \"notify-test\"\nname = \"N\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \"state\"\n[web]\nlisten = \"127.0.0.1:0\"\n[uplink]\nhost = \"127.0.0.1\"\nport = {port}\ntls = false\nkeep_alive = \"5s\"\nreconnect_max = \"2s\"\n"
        ),
    )
    .unwrap();
    let path = dir.path().join("notify");
    let systemd = UnixDatagram::bind(&path).unwrap();
    systemd.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sitegate"))
        .args(["run", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &path)
        // One second: a keep-alive at least every half second while the core loops.
        .env("WATCHDOG_USEC", "1000000")
        .env_remove("WATCHDOG_PID")
        .env_remove("JOURNAL_STREAM")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let connected = format!("central 127.0.0.1:{port} connected");
    let disconnected = format!("central 127.0.0.1:{port} not connected");
    tokio::task::block_in_place(|| {
        let mut seen = Vec::new();
        let ready = until(&systemd, "READY", |t| t.starts_with("READY=1"), &mut seen);
        assert!(
            ready.contains(
                "STATUS=site notify-test: 0 socket(s) on 0 bus(es), web page on 127.0.0.1:"
            ),
            "{ready}"
        );
        until(&systemd, "a keep-alive", |t| t == "WATCHDOG=1", &mut seen);
        until(&systemd, "a keep-alive", |t| t == "WATCHDOG=1", &mut seen);
        // STATUS follows the link to central (`systemctl status` shows it): connected (at once,
        // or soon after), then not when the broker goes.
        // It may have come with READY or among the keep-alives already read.
        if !seen.iter().any(|t| t.contains(&connected)) {
            until(&systemd, "connected", |t| t.contains(&connected), &mut seen);
        }
        broker.kill();
        until(
            &systemd,
            "not connected",
            |t| t.contains(&disconnected),
            &mut seen,
        );

        assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
        let reloading = until(
            &systemd,
            "RELOADING",
            |t| t.starts_with("RELOADING=1"),
            &mut seen,
        );
        assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
        until(&systemd, "READY", |t| t.starts_with("READY=1"), &mut seen);
        // The reloaded daemon's core is watched too.
        until(&systemd, "a keep-alive", |t| t == "WATCHDOG=1", &mut seen);

        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        until(&systemd, "STOPPING", |t| t == "STOPPING=1", &mut seen);
        assert!(child.wait().unwrap().success());
    });
}
