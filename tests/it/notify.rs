//! systemd's notify protocol against the real binary: a unix datagram socket stands in for
//! systemd (`NOTIFY_SOCKET`), as under `Type=notify` with `WatchdogSec=`.

use std::os::unix::net::UnixDatagram;

use crate::support::PATIENCE;

/// Datagrams until one starts with `prefix`; returns it (fails with what came instead).
fn until(socket: &UnixDatagram, prefix: &str, seen: &mut Vec<String>) -> String {
    let mut buf = [0u8; 4096];
    loop {
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no `{prefix}` ({e}); got: {seen:?}"));
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        seen.push(text.clone());
        if text.starts_with(prefix) {
            return text;
        }
    }
}

#[test]
fn the_daemon_says_ready_feeds_the_watchdog_and_says_reloading_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sitegate.toml");
    std::fs::write(
        &config,
        "[site]\nid = \"notify-test\"\nname = \"N\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \"state\"\n[web]\nlisten = \"127.0.0.1:0\"\n",
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
    let mut seen = Vec::new();
    let ready = until(&systemd, "READY=1", &mut seen);
    assert!(
        ready.contains("STATUS=site notify-test: 0 socket(s) on 0 bus(es), web page on 127.0.0.1:"),
        "{ready}"
    );
    until(&systemd, "WATCHDOG=1", &mut seen);
    until(&systemd, "WATCHDOG=1", &mut seen);

    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let reloading = until(&systemd, "RELOADING=1", &mut seen);
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    until(&systemd, "READY=1", &mut seen);
    // The reloaded daemon's core is watched too.
    until(&systemd, "WATCHDOG=1", &mut seen);

    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    until(&systemd, "STOPPING=1", &mut seen);
    assert!(child.wait().unwrap().success());
}
