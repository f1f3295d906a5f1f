//! Memory of the real daemon around sign-ins (issue 13; figures for BENCHMARKS.md):
//! `cargo bench --bench memory`.
//!
//! Runs the release `sitegate run` (the binary cargo builds for the benches) with its web page on
//! a loopback port and no device, one installer account made beforehand with
//! `sitegate account add`, and reads the daemon's RSS (`VmRSS`) and peak (`VmHWM`) from
//! `/proc/<pid>/status`: once started, after 10 sign-ins one after the other, and after 16
//! sign-ins sent at once (with how each was answered: 303 signed in, 503 busy). Each sign-in
//! hashes with argon2id's default parameters (19 MiB of working memory). Target: RSS <= 20 MB
//! after the 10 sign-ins.

#[path = "common/https.rs"]
mod https;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery staple";
const SEQUENTIAL: usize = 10;
const SIMULTANEOUS: usize = 16;
/// The allocator gets this long after the last answer before RSS is read (nothing is freed
/// later than the answer; it only keeps the figure clear of the last request's own buffers).
const SETTLE: Duration = Duration::from_millis(500);

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sitegate.toml");
    std::fs::write(
        &config,
        "[site]\nid = \"bench\"\nname = \"Bench\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \"state\"\n[web]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    add_installer(&config);
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_sitegate"))
        .arg("run")
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .env_remove("JOURNAL_STREAM")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = web_address(&mut daemon);
    let tls = https::client_config(&dir.path().join("state/web-cert.pem"));
    let pid = daemon.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::sleep(SETTLE).await;
        report(pid, "started, before any sign-in");
        for _ in 0..SEQUENTIAL {
            assert_eq!(
                https::status(&https::sign_in(addr, &tls, "installer", PASSWORD).await),
                303,
                "signed in"
            );
        }
        tokio::time::sleep(SETTLE).await;
        report(pid, &format!("after {SEQUENTIAL} sequential sign-ins"));
        let at_once: Vec<_> = (0..SIMULTANEOUS)
            .map(|_| {
                let tls = tls.clone();
                tokio::spawn(async move {
                    https::status(&https::sign_in(addr, &tls, "installer", PASSWORD).await)
                })
            })
            .collect();
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        for task in at_once {
            *statuses.entry(task.await.unwrap()).or_default() += 1;
        }
        tokio::time::sleep(SETTLE).await;
        let answers: Vec<String> = statuses.iter().map(|(s, n)| format!("{n}x {s}")).collect();
        report(
            pid,
            &format!(
                "after {SIMULTANEOUS} simultaneous sign-ins ({})",
                answers.join(", ")
            ),
        );
    });
    // SIGTERM: the daemon stops cleanly (its state directory goes with the temporary one).
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    daemon.wait().ok();
}

/// `sitegate account add` for the installer the bench signs in as.
fn add_installer(config: &Path) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sitegate"))
        .args(["account", "add", "--username", "installer", "--role"])
        .arg("installer")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(child.wait().unwrap().success(), "account added");
}

/// The page's address, from the daemon's log line `web page on https://ADDR/`.
fn web_address(daemon: &mut Child) -> SocketAddr {
    let mut lines = BufReader::new(daemon.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the daemon logs its page").unwrap();
        if let Some(rest) = line.split("web page on https://").nth(1) {
            break rest.trim_end_matches('/').parse().unwrap();
        }
    };
    // Keep reading, so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    addr
}

/// `VmRSS` and `VmHWM` of the process, in MB (10^6 bytes).
fn report(pid: u32, label: &str) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |key: &str| -> f64 {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        let n: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        n * 1024.0 / 1e6
    };
    println!(
        "{label}: RSS {:.1} MB (peak so far {:.1} MB)",
        kb("VmRSS:"),
        kb("VmHWM:")
    );
}
