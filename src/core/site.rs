//! The site's sockets as the core sees them: readings and reachability in, state changes and
//! controls out. Pure: time arrives with each event, and effects are returned, never performed.

use tokio::time::Instant;

use super::readings::Readings;
use super::socket_state::{SocketState, StateRules, derive};

/// Sockets are numbered by their position in the configuration.
pub type SocketIndex = usize;

/// What happens to the site, as the edges report it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A poll of the socket's devices succeeded.
    Polled {
        socket: SocketIndex,
        readings: Readings,
        at: Instant,
    },
    /// The socket's device stopped answering (after the bus's `dead_after` failed polls).
    Unreachable {
        socket: SocketIndex,
        reason: String,
        at: Instant,
    },
    /// A manager takes the socket out of service, or returns it.
    SetOutOfService {
        socket: SocketIndex,
        out_of_service: bool,
        at: Instant,
    },
}

/// What the core asks the edges to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Log once; publish.
    StateChanged {
        socket: SocketIndex,
        from: SocketState,
        to: SocketState,
        reason: String,
    },
    /// Send to the socket's bus owner.
    Control {
        socket: SocketIndex,
        control: Control,
    },
    /// Record durably, so the choice survives restarts.
    PersistOutOfService {
        socket: SocketIndex,
        out_of_service: bool,
    },
}

/// A command to a socket's hardware.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    /// Close the relay / enable the EVSE, or open / disable it.
    Enable(bool),
    /// The current the socket may offer (A).
    Setpoint(f64),
}

/// How a socket starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketSetup {
    pub rules: StateRules,
    pub max_current_a: f64,
    pub out_of_service: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SocketView {
    pub state: SocketState,
    pub readings: Readings,
    /// When the current state began.
    pub since: Instant,
    pub out_of_service: bool,
}

#[derive(Debug)]
struct Tracked {
    setup: SocketSetup,
    view: SocketView,
}

#[derive(Debug)]
pub struct Site {
    sockets: Vec<Tracked>,
}

impl Site {
    /// Every socket starts `NotConnected` until its first poll.
    pub fn new(setups: Vec<SocketSetup>, at: Instant) -> Site {
        let sockets = setups
            .into_iter()
            .map(|setup| Tracked {
                view: SocketView {
                    state: SocketState::NotConnected,
                    readings: Readings::default(),
                    since: at,
                    out_of_service: setup.out_of_service,
                },
                setup,
            })
            .collect();
        Site { sockets }
    }

    /// The controls every socket needs at start: until access control decides per session,
    /// a socket in service is free to use at its full current.
    pub fn start(&self) -> Vec<Effect> {
        (0..self.sockets.len())
            .flat_map(|i| self.controls_for(i))
            .collect()
    }

    fn controls_for(&self, socket: SocketIndex) -> Vec<Effect> {
        let s = &self.sockets[socket];
        let enable = !s.view.out_of_service;
        vec![
            Effect::Control {
                socket,
                control: Control::Setpoint(s.setup.max_current_a),
            },
            Effect::Control {
                socket,
                control: Control::Enable(enable),
            },
        ]
    }

    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Polled {
                socket,
                readings,
                at,
            } => {
                let Some(s) = self.sockets.get_mut(socket) else {
                    return vec![];
                };
                let (state, reason) = derive(&readings, s.view.out_of_service, s.setup.rules);
                s.view.readings = readings;
                self.transition(socket, state, reason, at)
            }
            Event::Unreachable { socket, reason, at } => {
                if socket >= self.sockets.len() {
                    return vec![];
                }
                self.transition(socket, SocketState::NotConnected, reason, at)
            }
            Event::SetOutOfService {
                socket,
                out_of_service,
                at,
            } => {
                let Some(s) = self.sockets.get_mut(socket) else {
                    return vec![];
                };
                if s.view.out_of_service == out_of_service {
                    return vec![];
                }
                s.view.out_of_service = out_of_service;
                let mut effects = vec![Effect::PersistOutOfService {
                    socket,
                    out_of_service,
                }];
                effects.extend(self.controls_for(socket));
                if self.sockets[socket].view.state != SocketState::NotConnected {
                    let s = &self.sockets[socket];
                    let (state, reason) = derive(&s.view.readings, out_of_service, s.setup.rules);
                    let reason = if out_of_service {
                        "taken out of service".into()
                    } else {
                        format!("returned to service; {reason}")
                    };
                    effects.extend(self.transition(socket, state, reason, at));
                }
                effects
            }
        }
    }

    fn transition(
        &mut self,
        socket: SocketIndex,
        to: SocketState,
        reason: String,
        at: Instant,
    ) -> Vec<Effect> {
        let view = &mut self.sockets[socket].view;
        if view.state == to {
            return vec![];
        }
        let from = std::mem::replace(&mut view.state, to.clone());
        view.since = at;
        vec![Effect::StateChanged {
            socket,
            from,
            to,
            reason,
        }]
    }

    pub fn view(&self, socket: SocketIndex) -> Option<&SocketView> {
        self.sockets.get(socket).map(|s| &s.view)
    }

    pub fn views(&self) -> impl Iterator<Item = &SocketView> {
        self.sockets.iter().map(|s| &s.view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(out: bool) -> (Site, Instant) {
        let at = Instant::now();
        let setup = SocketSetup {
            rules: StateRules::default(),
            max_current_a: 16.0,
            out_of_service: out,
        };
        (Site::new(vec![setup], at), at)
    }

    fn plugged(power: f64) -> Readings {
        Readings {
            plug: Some(true),
            enabled: Some(true),
            power_w: Some(power),
            ..Readings::default()
        }
    }

    fn changes(effects: &[Effect]) -> Vec<(String, String)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::StateChanged { from, to, .. } => Some((from.to_string(), to.to_string())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_change_is_reported_once_not_per_poll() {
        let (mut site, at) = site(false);
        let first = site.handle(Event::Polled {
            socket: 0,
            readings: plugged(7000.0),
            at,
        });
        assert_eq!(
            changes(&first),
            [("NotConnected".into(), "Charging".into())]
        );
        let again = site.handle(Event::Polled {
            socket: 0,
            readings: plugged(6900.0),
            at,
        });
        assert!(again.is_empty(), "same state, new readings: nothing to log");
        assert_eq!(
            site.view(0).unwrap().readings.power_w,
            Some(6900.0),
            "readings still update"
        );
    }

    #[test]
    fn unreachable_then_back() {
        let (mut site, at) = site(false);
        site.handle(Event::Polled {
            socket: 0,
            readings: plugged(0.0),
            at,
        });
        let lost = site.handle(Event::Unreachable {
            socket: 0,
            reason: "3 timeouts".into(),
            at,
        });
        assert_eq!(
            changes(&lost),
            [("SuspendedEV".into(), "NotConnected".into())]
        );
        let back = site.handle(Event::Polled {
            socket: 0,
            readings: plugged(0.0),
            at,
        });
        assert_eq!(
            changes(&back),
            [("NotConnected".into(), "SuspendedEV".into())]
        );
    }

    #[test]
    fn out_of_service_is_persisted_switches_the_socket_off_and_is_reported() {
        let (mut site, at) = site(false);
        site.handle(Event::Polled {
            socket: 0,
            readings: plugged(3000.0),
            at,
        });
        let effects = site.handle(Event::SetOutOfService {
            socket: 0,
            out_of_service: true,
            at,
        });
        assert!(effects.contains(&Effect::PersistOutOfService {
            socket: 0,
            out_of_service: true
        }));
        assert!(effects.contains(&Effect::Control {
            socket: 0,
            control: Control::Enable(false)
        }));
        assert_eq!(changes(&effects), [("Charging".into(), "Disabled".into())]);
        assert!(
            site.handle(Event::SetOutOfService {
                socket: 0,
                out_of_service: true,
                at
            })
            .is_empty()
        );
    }

    #[test]
    fn a_socket_out_of_service_at_start_stays_switched_off() {
        let (site, _) = site(true);
        assert!(site.start().contains(&Effect::Control {
            socket: 0,
            control: Control::Enable(false)
        }));
    }
}
