//! Debian's Mosquitto for the benches that need a real broker (`uplink`, `lean`).

// Each bench includes this file as its own module and uses a part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::time::Instant;

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// Debian's Mosquitto on 127.0.0.1 and a free port, without persistence; killed when dropped.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// `extra`: more configuration lines.
    pub async fn start(extra: &str) -> Mosquitto {
        assert!(
            Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} is missing: tests/run --setup-only, or apt-get install mosquitto"
        );
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut conf = String::from("persistence false\nlog_dest none\n");
            // SAFETY: getuid has no preconditions.
            if unsafe { libc::getuid() } == 0 {
                conf.push_str("user root\n");
            }
            conf.push_str(&format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\n{extra}"
            ));
            let path = dir.path().join("mosquitto.conf");
            std::fs::write(&path, conf).unwrap();
            let mut child = Command::new(MOSQUITTO)
                .arg("-c")
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return Mosquitto {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        panic!("mosquitto did not start");
    }

    /// User + system CPU time so far, seconds.
    pub fn cpu_s(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // The fields after the command name (which is in parentheses).
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
