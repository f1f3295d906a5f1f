//! The core's loop: the one task that owns `core::Site`. It stamps each event with the clocks,
//! lets the core decide, and carries out the effects by the rule **persist, then act**: the
//! store makes the writes durable (switching off goes first: it is always safe), and only then
//! are the controls routed to the bus owners. It publishes the site's snapshot after each turn
//! and beats the watchdog's heartbeat. Never talks Modbus or MQTT itself.

use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::core::site::{Command, SessionChange};
use crate::core::time::Stamp;
use crate::core::{Control, Effect, Event, Site, SocketChange, SocketSnapshot, SocketState};
use crate::modbus::bus::Desired;
use crate::store::StoreHandle;

/// Where a socket's controls go: its bus owner, and its position among that owner's devices.
#[derive(Clone, Copy)]
pub(super) struct Route {
    pub(super) bus: usize,
    pub(super) device: usize,
}

pub(super) struct CoreTask {
    pub(super) heartbeat: crate::notify::Heartbeat,
    pub(super) site: Site,
    pub(super) clock: Clock,
    pub(super) store: StoreHandle,
    pub(super) routes: Vec<Route>,
    pub(super) desired: Vec<watch::Sender<Vec<Desired>>>,
    pub(super) snapshot: watch::Sender<Vec<SocketSnapshot>>,
    /// Each turn's changes, per socket, for the live publishers. Full-policy: a publisher that
    /// lags loses the oldest and republishes every state (telemetry is latest-value anyway).
    pub(super) changes: broadcast::Sender<SocketChange>,
    pub(super) ids: Vec<String>,
    /// Read-only: the token lookups of badge decisions.
    pub(super) access_db: rusqlite::Connection,
    /// Sockets each reader serves.
    pub(super) reader_sockets: Vec<Vec<usize>>,
    /// Tokens to ask central about. Full-policy: dropped (the user badges again).
    pub(super) questions: mpsc::Sender<(crate::core::access::IdToken, usize)>,
    /// Tokens asked about, with their reader's sockets, until the user gives up waiting.
    pub(super) asked:
        std::collections::HashMap<crate::core::access::IdToken, (Vec<usize>, Instant)>,
    pub(super) connection_timeout: Duration,
}

impl CoreTask {
    pub(super) async fn run(
        mut self,
        mut events: mpsc::Receiver<Event>,
        mut commands: mpsc::Receiver<Command>,
        mut badges: mpsc::Receiver<crate::readers::BadgeRead>,
        cancel: CancellationToken,
    ) {
        let start = self.site.start();
        let now = self.clock.now();
        self.apply(start, now).await;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let event = tokio::select! {
                // Cancel-safe: recv loses nothing when another branch wins.
                Some(e) = events.recv() => e,
                Some(c) = commands.recv() => Event::Command(c),
                // Cancel-safe, as above.
                Some(b) = badges.recv() => match self.badge_event(b) {
                    Some(e) => e,
                    None => continue,
                },
                // Cancel-safe: a timer.
                _ = tick.tick() => Event::Tick,
                _ = cancel.cancelled() => break,
                else => break,
            };
            self.turn(event).await;
        }
        // Stopping (the inputs have stopped first): what is already queued is decided and
        // committed before the core stops, so that a vehicle unplugged just before the stop
        // ends its session as unplugged, not at the next start as a power loss.
        let mut drained = 0usize;
        loop {
            let event = if let Ok(e) = events.try_recv() {
                e
            } else if let Ok(c) = commands.try_recv() {
                Event::Command(c)
            } else if let Ok(b) = badges.try_recv() {
                match self.badge_event(b) {
                    Some(e) => e,
                    None => continue,
                }
            } else {
                break;
            };
            drained += 1;
            self.turn(event).await;
        }
        if drained > 0 {
            log::debug!("core: {drained} queued event(s) decided before stopping");
        }
    }

    /// One turn of the loop: the core decides on `event`, the effects are carried out (persist,
    /// then act), the snapshot is published.
    async fn turn(&mut self, event: Event) {
        self.heartbeat.beat();
        let (socket, sampled) = match &event {
            Event::Polled { socket, .. } => (Some(*socket), true),
            Event::Unreachable { socket, .. } => (Some(*socket), false),
            _ => (None, false),
        };
        let now = self.clock.now();
        let effects = self.site.handle(event, now);
        let mut follow_ups = self.apply(effects, now).await;
        // A badge central has just answered for is decided again, now from the cache.
        while let Some(event) = follow_ups.pop() {
            let effects = self.site.handle(event, now);
            follow_ups.extend(self.apply(effects, now).await);
        }
        // Commands and ticks may touch any socket (sessions, samples); a poll, its own.
        let changed = match socket {
            Some(s) => s..s + 1,
            None => 0..self.ids.len(),
        };
        self.snapshot.send_modify(|snap| {
            for i in changed.clone() {
                if let Some(view) = self.site.view(i) {
                    snap[i].view.clone_from(view);
                }
            }
        });
        // Nobody subscribed (no uplink, no local broker): sending costs nothing and fails.
        for i in changed {
            let _ = self.changes.send(SocketChange::State(i));
        }
        if let (Some(i), true) = (socket, sampled) {
            let _ = self.changes.send(SocketChange::Sample(i));
        }
    }

    /// Persists what must be durable, waits for the commit, then acts: a socket is switched on
    /// only once the session that allows it is on disk.
    /// Returns the events that follow from what was committed (a badge to decide again).
    async fn apply(&mut self, effects: Vec<Effect>, now: Stamp) -> Vec<Event> {
        let mut answered = Vec::new();
        for effect in &effects {
            log_effect(&self.ids, effect);
            match effect {
                Effect::Audit(a) if a.outcome == "ask_central" => {
                    if let Some(&socket) = a.sockets.first() {
                        let _ = self.questions.try_send((a.token.clone(), socket));
                    }
                    // The user waits at the socket about as long as a plug-in would be awaited.
                    let until = now.mono + self.connection_timeout;
                    self.asked
                        .insert(a.token.clone(), (a.sockets.clone(), until));
                }
                Effect::CacheAnswer { token, .. } => {
                    if let Some((sockets, until)) = self.asked.remove(token)
                        && now.mono <= until
                    {
                        answered.push((token.clone(), sockets));
                    }
                }
                _ => {}
            }
        }
        self.asked.retain(|_, (_, until)| now.mono <= *until);
        let controls: Vec<(usize, Control)> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Control { socket, control } => Some((*socket, *control)),
                _ => None,
            })
            .collect();
        let writes = crate::store::writes_for(effects, now);
        // Switching off never waits for the disk: it is always safe, and a crash between the
        // record and the act must not leave a socket on without a session.
        let (off_now, after_commit): (Vec<_>, Vec<_>) = controls
            .into_iter()
            .partition(|(_, c)| *c == Control::Enable(false));
        for (socket, control) in off_now {
            self.send(socket, control);
        }
        let persisted = match self.store.apply(writes).await {
            Ok(()) => true,
            Err(e) => {
                log::error!("cannot record to the database: {e}");
                false
            }
        };
        for (socket, control) in after_commit {
            // Nothing is switched on whose record could not be written.
            if !persisted && control == Control::Enable(true) {
                log::error!(socket = self.ids[socket].as_str(); "socket {}: kept off: its session could not be recorded", self.ids[socket]);
                continue;
            }
            self.send(socket, control);
        }
        // The answer is in the cache now (committed above): decide those badges again.
        answered
            .into_iter()
            .filter_map(|(token, sockets)| self.lookup_badge(token, sockets))
            .collect()
    }

    /// A badge read as the core's event, with what the store knows of the token.
    fn badge_event(&self, read: crate::readers::BadgeRead) -> Option<Event> {
        let sockets = self.reader_sockets.get(read.reader)?.clone();
        self.lookup_badge(read.token, sockets)
    }

    /// A lookup takes microseconds (an indexed read): done here rather than on another thread.
    fn lookup_badge(
        &self,
        token: crate::core::access::IdToken,
        sockets: Vec<usize>,
    ) -> Option<Event> {
        match crate::store::access::lookup(&self.access_db, &token) {
            Ok(found) => Some(Event::Badge {
                sockets,
                token,
                found: Box::new(found),
            }),
            Err(e) => {
                log::error!("badge {token}: cannot read the access list: {e}");
                None
            }
        }
    }

    fn send(&self, socket: usize, control: Control) {
        let route = self.routes[socket];
        self.desired[route.bus].send_modify(|d| match control {
            Control::Enable(on) => d[route.device].enable = Some(on),
            Control::Setpoint(a) => d[route.device].setpoint_a = Some(a),
        });
    }
}

/// One log line per effect worth a line: state changes, session starts and ends, lapses.
fn log_effect(ids: &[String], effect: &Effect) {
    match effect {
        Effect::StateChanged {
            socket,
            from,
            to,
            reason,
        } => {
            let id = ids[*socket].as_str();
            // A vehicle's own course while plugged (charging, pausing) is debug: the session's
            // start and end lines tell it, and a site's journal stays near one line per socket
            // per minute at most (BENCHMARKS.md, "Logs").
            let plugged = |s: &SocketState| {
                matches!(
                    s,
                    SocketState::Occupied | SocketState::Charging | SocketState::SuspendedEV
                )
            };
            let level = match to {
                SocketState::Faulted { .. } | SocketState::NotConnected => log::Level::Warn,
                _ if plugged(from) && plugged(to) => log::Level::Debug,
                _ => log::Level::Info,
            };
            // A fault's code travels as the journal field CODE (`journalctl CODE=...`).
            match to {
                SocketState::Faulted { code } => {
                    log::log!(level, socket = id, code = code.as_str(); "socket {id}: {from} -> {to} ({reason})")
                }
                _ => log::log!(level, socket = id; "socket {id}: {from} -> {to} ({reason})"),
            }
        }
        Effect::Session {
            session, change, ..
        } => {
            let id = ids[session.socket].as_str();
            let session_id = session.id.to_string();
            match change {
                SessionChange::Started => log::info!(
                    socket = id, session_id = session_id.as_str();
                    "socket {id}: session {session_id} started ({})", session.auth.name()
                ),
                SessionChange::Ended => log::info!(
                    socket = id, session_id = session_id.as_str();
                    "socket {id}: session {session_id} ended: {}, {:.3} kWh{}",
                    session.stop_reason.map_or("?", |r| r.name()),
                    session.energy_wh() / 1000.0,
                    session.failed.as_deref().map(|f| format!(", failed: {f}")).unwrap_or_default()
                ),
                _ => {}
            }
        }
        Effect::AuthorizationLapsed { socket, .. } => {
            log::info!(socket = ids[*socket].as_str(); "socket {}: authorization lapsed", ids[*socket]);
        }
        Effect::ControlAudit(a) => {
            let id = ids.get(a.socket).map_or("?", String::as_str);
            let by = a.actor.as_deref().unwrap_or("the core");
            let reason = a.reason.map(|r| format!(" ({r})")).unwrap_or_default();
            log::info!(socket = id; "socket {id}: {} by {by}{reason}", a.action);
        }
        _ => {}
    }
}
