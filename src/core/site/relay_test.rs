//! The installer's relay test: a socket with no session and no vehicle charging is switched on
//! for a few seconds, then the core's ticks switch it back to what the core wants (off, unless
//! a session began meanwhile). Goes through the core so its view of the relay stays right;
//! every test, started, ended or refused, is audited. Pure, like the rest of the core.

use std::time::Duration;

use super::{Effect, Site, SocketView};
use crate::core::time::Stamp;
use crate::core::{Control, SocketIndex, SocketState};

/// Longest a relay test may keep a socket on.
pub const RELAY_TEST_MAX: Duration = Duration::from_secs(30);

/// Why a relay test is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RelayTestRefusal {
    #[error("the socket has a session")]
    Session,
    #[error("a vehicle is charging")]
    Charging,
    #[error("the socket is out of service")]
    OutOfService,
    #[error("the socket does not answer")]
    Unreachable,
    #[error("an authorization is waiting for a plug-in")]
    Pending,
    #[error("a relay test is already running")]
    Running,
    #[error("no such socket")]
    NoSocket,
}

impl RelayTestRefusal {
    /// The reason as the audit record names it.
    pub fn code(self) -> &'static str {
        match self {
            RelayTestRefusal::Session => "session",
            RelayTestRefusal::Charging => "charging",
            RelayTestRefusal::OutOfService => "out_of_service",
            RelayTestRefusal::Unreachable => "unreachable",
            RelayTestRefusal::Pending => "pending",
            RelayTestRefusal::Running => "running",
            RelayTestRefusal::NoSocket => "no_socket",
        }
    }
}

/// What the published view alone tells against a test (the page checks it before asking; the
/// core checks it again, with what only it knows).
pub fn refusal_from_view(view: &SocketView) -> Option<RelayTestRefusal> {
    if view.session.is_some() {
        return Some(RelayTestRefusal::Session);
    }
    match view.state {
        SocketState::Charging => Some(RelayTestRefusal::Charging),
        SocketState::NotConnected => Some(RelayTestRefusal::Unreachable),
        _ if view.out_of_service => Some(RelayTestRefusal::OutOfService),
        _ => None,
    }
}

/// A control action for central's audit trail (the outbox's `control_audit`): the web page's
/// (`out_of_service`, `return`, `stop`, `start`) and the core's relay test (`relay_test_on`,
/// `relay_test_off`, `relay_test_refused`).
#[derive(Debug, Clone, PartialEq)]
pub struct ControlAudit {
    pub socket: SocketIndex,
    pub action: &'static str,
    /// The local account that asked, when a person did.
    pub actor: Option<String>,
    /// Whom a start lets charge.
    pub user: Option<String>,
    pub reason: Option<&'static str>,
    pub at: Stamp,
}

impl Site {
    pub(super) fn relay_test(
        &mut self,
        socket: SocketIndex,
        duration: Duration,
        by: Option<String>,
        now: Stamp,
    ) -> Vec<Effect> {
        let audit = |action, reason| {
            Effect::ControlAudit(Box::new(ControlAudit {
                socket,
                action,
                actor: by.clone(),
                user: None,
                reason,
                at: now,
            }))
        };
        let Some(s) = self.sockets.get_mut(socket) else {
            return vec![audit(
                "relay_test_refused",
                Some(RelayTestRefusal::NoSocket.code()),
            )];
        };
        let refusal = refusal_from_view(&s.view).or(if s.recovering.is_some() {
            Some(RelayTestRefusal::Session)
        } else if s.pending.is_some() {
            Some(RelayTestRefusal::Pending)
        } else if s.relay_test_until.is_some() {
            Some(RelayTestRefusal::Running)
        } else {
            None
        });
        if let Some(r) = refusal {
            return vec![audit("relay_test_refused", Some(r.code()))];
        }
        s.relay_test_until = Some(now.mono + duration.min(RELAY_TEST_MAX));
        s.enabled = Some(true);
        vec![
            audit("relay_test_on", None),
            Effect::Control {
                socket,
                control: Control::Enable(true),
            },
        ]
    }

    /// On each tick: tests that are over hand the relay back to the core's wish.
    pub(super) fn end_relay_tests(&mut self, now: Stamp) -> Vec<Effect> {
        let mut effects = Vec::new();
        for socket in 0..self.sockets.len() {
            let s = &mut self.sockets[socket];
            if s.relay_test_until.is_none_or(|until| now.mono < until) {
                continue;
            }
            s.relay_test_until = None;
            effects.push(Effect::ControlAudit(Box::new(ControlAudit {
                socket,
                action: "relay_test_off",
                actor: None,
                user: None,
                reason: None,
                at: now,
            })));
            effects.extend(self.controls_for(socket, false));
        }
        effects
    }

    /// Whether the socket's relay is on for a test now.
    pub fn relay_testing(&self, socket: SocketIndex) -> bool {
        self.sockets
            .get(socket)
            .is_some_and(|s| s.relay_test_until.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use tokio::time::Instant;

    fn start() -> (Site, Stamp) {
        let now = Stamp {
            mono: Instant::now(),
            wall_ms: 1_795_348_800_000,
            trusted: true,
        };
        let setup = SocketSetup {
            rules: crate::core::socket_state::StateRules::default(),
            max_current_a: 16.0,
            out_of_service: false,
            free: true,
        };
        let site = Site::new(
            vec![setup],
            SessionRules::default(),
            vec![],
            IdGen::new(3),
            now,
        );
        (site, now)
    }

    fn later(now: Stamp, secs: u64) -> Stamp {
        Stamp {
            mono: now.mono + Duration::from_secs(secs),
            wall_ms: now.wall_ms + secs as i64 * 1000,
            trusted: true,
        }
    }

    fn readings(plug: bool, power_w: f64) -> Readings {
        Readings {
            plug: Some(plug),
            enabled: Some(false),
            power_w: Some(power_w),
            energy_wh: Some(1000.0),
            ..Readings::default()
        }
    }

    fn enables(effects: &[Effect]) -> Vec<bool> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Control {
                    control: Control::Enable(on),
                    ..
                } => Some(*on),
                _ => None,
            })
            .collect()
    }

    fn audits(effects: &[Effect]) -> Vec<(&'static str, Option<&'static str>)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::ControlAudit(a) => Some((a.action, a.reason)),
                _ => None,
            })
            .collect()
    }

    fn test(by: &str) -> Event {
        Event::Command(Command::RelayTest {
            socket: 0,
            duration: Duration::from_secs(3),
            by: Some(by.into()),
        })
    }

    #[test]
    fn a_relay_test_switches_on_then_the_ticks_switch_off_and_both_are_audited() {
        let (mut site, now) = start();
        site.handle(
            Event::Polled {
                socket: 0,
                readings: readings(false, 0.0),
                read_at: tokio::time::Instant::now(),
            },
            now,
        );
        let on = site.handle(test("installer"), later(now, 1));
        assert_eq!(enables(&on), vec![true]);
        assert_eq!(audits(&on), vec![("relay_test_on", None)]);
        assert!(site.relay_testing(0));
        let early = site.handle(Event::Tick, later(now, 3));
        assert!(enables(&early).is_empty(), "still within the test");
        let off = site.handle(Event::Tick, later(now, 4));
        assert_eq!(enables(&off), vec![false]);
        assert_eq!(audits(&off), vec![("relay_test_off", None)]);
        assert!(!site.relay_testing(0));
        assert!(enables(&site.handle(Event::Tick, later(now, 5))).is_empty());
    }

    #[test]
    fn a_relay_test_is_refused_while_a_session_runs_or_the_socket_is_unreachable() {
        let (mut site, now) = start();
        let refused = site.handle(test("installer"), now);
        assert_eq!(
            audits(&refused),
            vec![("relay_test_refused", Some("unreachable"))]
        );
        assert!(enables(&refused).is_empty());
        // A free socket: a plug-in starts a session.
        site.handle(
            Event::Polled {
                socket: 0,
                readings: readings(true, 0.0),
                read_at: tokio::time::Instant::now(),
            },
            later(now, 1),
        );
        assert!(site.view(0).unwrap().session.is_some());
        let refused = site.handle(test("installer"), later(now, 2));
        assert_eq!(
            audits(&refused),
            vec![("relay_test_refused", Some("session"))]
        );
        assert!(enables(&refused).is_empty());
        assert_eq!(
            refusal_from_view(site.view(0).unwrap()),
            Some(RelayTestRefusal::Session)
        );
    }
}
