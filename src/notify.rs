//! systemd's notify protocol (`Type=notify`, `WatchdogSec=`): READY, STATUS, RELOADING,
//! STOPPING and WATCHDOG datagrams to `$NOTIFY_SOCKET`. Owns the socket and the watchdog's
//! keep-alive task; never decides when the daemon is ready or alive (the daemon says ready, the
//! core's loop beats a `Heartbeat`). Without `$NOTIFY_SOCKET` (not under systemd, tests) every
//! call does nothing.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where systemd listens, read from the environment once.
#[derive(Debug, Clone)]
pub struct Notifier {
    target: Option<Target>,
    /// `WATCHDOG_USEC` when it is meant for this process (`WATCHDOG_PID` unset or ours).
    watchdog: Option<Duration>,
}

#[derive(Debug, Clone)]
enum Target {
    Path(PathBuf),
    /// Linux abstract namespace (`@name` in the variable).
    Abstract(Vec<u8>),
}

impl Notifier {
    /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`.
    pub fn from_env() -> Notifier {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let target = var("NOTIFY_SOCKET").map(|s| match s.strip_prefix('@') {
            Some(name) => Target::Abstract(name.as_bytes().to_vec()),
            None => Target::Path(PathBuf::from(s)),
        });
        let ours = var("WATCHDOG_PID")
            .is_none_or(|pid| pid.parse::<u32>().ok() == Some(std::process::id()));
        let watchdog = var("WATCHDOG_USEC")
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && ours)
            .map(Duration::from_micros);
        Notifier { target, watchdog }
    }

    /// A notifier that sends nothing.
    pub fn none() -> Notifier {
        Notifier {
            target: None,
            watchdog: None,
        }
    }

    /// Whether systemd is listening.
    pub fn is_active(&self) -> bool {
        self.target.is_some()
    }

    /// Sends `state` (newline-separated `KEY=value` lines). A lost datagram is only logged:
    /// systemd's own timeouts then tell the operator.
    pub fn send(&self, state: &str) {
        let Some(target) = &self.target else {
            return;
        };
        let sent = UnixDatagram::unbound().and_then(|socket| match target {
            Target::Path(p) => socket.send_to(state.as_bytes(), p),
            Target::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                socket.send_to_addr(state.as_bytes(), &addr)
            }
        });
        if let Err(e) = sent {
            log::warn!("cannot notify systemd ({state:?}): {e}");
        }
    }

    /// `READY=1` with a one-line status.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    /// A reload starts (`Type=notify-reload` wants the monotonic time with it).
    pub fn reloading(&self) {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let usec = ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000;
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// The watchdog's keep-alive decisions, when systemd set one for this process.
    pub fn watchdog(&self) -> Option<Watchdog> {
        self.watchdog.map(Watchdog::new)
    }
}

/// Decides, every half watchdog period, whether the service is alive: only when the core's
/// heartbeat advanced since the last look is `WATCHDOG=1` sent. A core stuck for a whole
/// period gets no keep-alive, and systemd restarts the service.
#[derive(Debug)]
pub struct Watchdog {
    period: Duration,
    last_seen: Option<u64>,
    stale: Duration,
}

impl Watchdog {
    pub fn new(period: Duration) -> Watchdog {
        Watchdog {
            period,
            last_seen: None,
            stale: Duration::ZERO,
        }
    }

    /// How often to look (half the period: one late look still keeps systemd content).
    pub fn interval(&self) -> Duration {
        self.period / 2
    }

    /// Looks at the heartbeat's `count`; true when a keep-alive is due. Logs once when the
    /// core has been stuck for a whole period.
    pub fn alive(&mut self, count: u64) -> bool {
        if self.last_seen != Some(count) {
            self.last_seen = Some(count);
            self.stale = Duration::ZERO;
            return true;
        }
        let was = self.stale;
        self.stale += self.interval();
        if was < self.period && self.stale >= self.period {
            log::error!(
                "the core has not looped for {:?}: no keep-alive, systemd will restart the service",
                self.stale
            );
        }
        false
    }
}

/// Beaten by the core's loop on every turn; read by the watchdog task.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat(Arc<AtomicU64>);

impl Heartbeat {
    pub fn beat(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening() -> (tempfile::TempDir, UnixDatagram, Notifier) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier {
            target: Some(Target::Path(path)),
            watchdog: Some(Duration::from_millis(200)),
        };
        (dir, socket, notifier)
    }

    fn recv(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    }

    #[test]
    fn ready_carries_a_one_line_status() {
        let (_dir, socket, n) = listening();
        n.ready("12 sockets\npolling");
        assert_eq!(recv(&socket), "READY=1\nSTATUS=12 sockets polling");
        n.reloading();
        assert!(recv(&socket).starts_with("RELOADING=1\nMONOTONIC_USEC="));
    }

    #[test]
    fn without_a_socket_nothing_is_sent() {
        let n = Notifier::none();
        assert!(!n.is_active());
        n.ready("x");
    }

    #[test]
    fn keep_alives_stop_when_the_heartbeat_stops() {
        let mut w = Watchdog::new(Duration::from_secs(30));
        assert_eq!(w.interval(), Duration::from_secs(15));
        let heartbeat = Heartbeat::default();
        for _ in 0..3 {
            heartbeat.beat();
            assert!(w.alive(heartbeat.count()), "the core loops: keep-alive");
        }
        // The core is stuck: no beat, no keep-alive, however long.
        assert!(!w.alive(heartbeat.count()));
        assert!(!w.alive(heartbeat.count()));
        assert!(!w.alive(heartbeat.count()));
        heartbeat.beat();
        assert!(w.alive(heartbeat.count()), "it loops again");
    }
}
