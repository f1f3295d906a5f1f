//! The site's sockets and their sessions as the core sees them: readings, reachability, ticks
//! and commands in; state changes, session records, samples and controls out. Pure: time
//! arrives with each call (`now`), identifiers come from a seeded generator, and effects are
//! returned, never performed.
//!
//! Session lifecycle: an authorization (or a free socket) waits for a plug-in within the
//! connection timeout; the plug-in starts the session and switches the socket on; charging,
//! suspended and idle periods accrue; the session stops when the vehicle leaves, a fault ends
//! it, the socket is lost longer than the grace period, a command stops it, or (after a restart)
//! the vehicle turned out gone: `PowerLoss`. A socket delivers energy only inside a session,
//! except plain sockets that cannot sense a plug (they start a session when energy flows).

use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::access::{Credit, Decision, IdToken, Lookup, OfflinePolicy, Request, SiteRules, Source};
use super::readings::Readings;
use super::rng::SplitMix64;
use super::session::{AuthMethod, MeterTrack, Phase, Sample, Session, StopReason, max_energy_wh};
use super::socket_state::{SocketState, StateRules, derive, presence, senses_plug};
use super::time::Stamp;
use crate::core::pricing::{Offer, Party, Promotion};

/// Sockets are numbered by their position in the configuration.
pub type SocketIndex = usize;

/// What happens to the site, as the edges report it. Time is passed alongside (`handle`).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A poll of the socket's devices succeeded.
    Polled {
        socket: SocketIndex,
        readings: Readings,
        /// When the device answered (the bus owner's clock), which the readings' time says.
        read_at: Instant,
    },
    /// The socket's device stopped answering (after the bus's `dead_after` failed polls).
    Unreachable {
        socket: SocketIndex,
        reason: String,
    },
    /// A second passed: timeouts and periodic samples.
    Tick,
    Command(Command),
    /// The link to central came up or went down (sessions started offline are flagged).
    Uplink {
        connected: bool,
    },
    /// A badge at a reader bound to `sockets`, with what the store knows of the token.
    Badge {
        sockets: Vec<SocketIndex>,
        token: IdToken,
        found: Box<Lookup>,
    },
    /// The access list's site rules changed (a new list, or at start).
    AccessRules(Box<SiteRules>),
    /// Central published new tariffs: sessions starting from now use them.
    Tariffs(Vec<crate::core::pricing::Tariff>),
    /// Central published new promotions: offered to sessions starting from now (uses counted
    /// so far are kept).
    Promotions(Vec<Promotion>),
    /// Central changed the OCPP offline policy.
    Policy(OfflinePolicy),
}

/// What managers, central and (later) badge readers ask of the site.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Take a socket out of service, or return it.
    SetOutOfService {
        socket: SocketIndex,
        out_of_service: bool,
    },
    /// Let `identity` charge at `socket`: the session starts at plug-in, within the connection
    /// timeout (or at once when a vehicle is already plugged).
    Authorize {
        socket: SocketIndex,
        identity: Option<String>,
        method: AuthMethod,
    },
    /// Stop the socket's session.
    StopSession {
        socket: SocketIndex,
        reason: StopReason,
    },
    /// The site is being reset: every session stops.
    Reset,
    /// Central's verdict on a token (answering an authorization, or late for a token used
    /// offline): cached, and applied to sessions the token started on a provisional answer.
    CentralAnswer {
        token: IdToken,
        entry: crate::core::access::TokenEntry,
    },
    /// The installer's relay test: on for `duration` (at most `RELAY_TEST_MAX`), then back to
    /// what the core wants; refused while the socket has a session or a vehicle charges.
    RelayTest {
        socket: SocketIndex,
        duration: Duration,
        by: Option<String>,
    },
}

/// How a session record changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionChange {
    Started,
    /// Phase changed (charging, suspended, idle, lost).
    Updated,
    /// Periodic sample: only the sample is new.
    Sampled,
    Ended,
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
    /// Send to the socket's bus owner, after the effects before it are durable.
    Control {
        socket: SocketIndex,
        control: Control,
    },
    /// Record durably, so the choice survives restarts.
    PersistOutOfService {
        socket: SocketIndex,
        out_of_service: bool,
    },
    /// Record the session (and its sample) durably, with its outbox event.
    Session {
        session: Box<Session>,
        change: SessionChange,
        sample: Option<Sample>,
    },
    /// An authorization lapsed: no plug-in within the connection timeout.
    AuthorizationLapsed {
        socket: SocketIndex,
        identity: Option<String>,
    },
    /// The wall clock became trustworthy at `at`: earlier stamps of this run can be corrected.
    ClockTrusted { at: Stamp },
    /// Every authorization decision, for central's audit trail.
    Audit(Box<Audit>),
    /// Central answered for a token: the store caches it (unless the token is listed).
    CacheAnswer {
        token: IdToken,
        entry: crate::core::access::TokenEntry,
        at: Stamp,
    },
    /// A control action (relay test) for central's audit trail (never dropped).
    ControlAudit(Box<ControlAudit>),
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
    /// A plug-in starts an anonymous session (until access control decides).
    pub free: bool,
}

/// Site-wide session rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionRules {
    /// Between authorization and plug-in (OCPP ConnectionTimeOut).
    pub connection_timeout: Duration,
    /// How long a socket may be unreachable before its session stops.
    pub lost_grace: Duration,
    pub sample_interval: Duration,
}

impl Default for SessionRules {
    fn default() -> Self {
        SessionRules {
            connection_timeout: Duration::from_secs(60),
            lost_grace: Duration::from_secs(120),
            sample_interval: Duration::from_secs(60),
        }
    }
}

/// A session found open in the database at start, with its last sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    pub session: Session,
    pub last_sample: Option<Stamp>,
    /// The samples its cost is computed from, so the cost goes on where it was.
    pub cost_samples: Vec<crate::core::pricing::CostSample>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SocketView {
    pub state: SocketState,
    pub readings: Readings,
    /// When `readings` were read; `None` before the first answer.
    pub read_at: Option<Stamp>,
    /// When the current state began.
    pub since: Instant,
    pub out_of_service: bool,
    pub session: Option<Session>,
}

impl SocketView {
    /// Whether a badge may be decided here: in service, free, reachable.
    pub fn takes_a_badge(&self) -> bool {
        !self.out_of_service && self.session.is_none() && self.state != SocketState::NotConnected
    }

    /// Whether `token` badged here stops the running session: it started it, or shares its
    /// group (OCPP parentIdTag) as the list or cache says (`found`).
    pub fn stopped_by(&self, token: &IdToken, found: &Lookup) -> bool {
        let group = found
            .listed
            .as_ref()
            .or(found.cached.as_ref().map(|c| &c.entry))
            .and_then(|e| e.parent.clone());
        self.session.as_ref().is_some_and(|s| {
            s.token.as_ref() == Some(token) || (group.is_some() && s.parent == group)
        })
    }
}

/// A user's running sessions among `views` and what they cost so far: what a badge decision
/// weighs against concurrency and credit. Nobody (`None`) runs nothing.
pub fn user_running<'a>(
    views: impl IntoIterator<Item = &'a SocketView>,
    user: Option<&str>,
) -> (usize, rust_decimal::Decimal) {
    let Some(user) = user else {
        return (0, rust_decimal::Decimal::ZERO);
    };
    views
        .into_iter()
        .filter_map(|v| v.session.as_ref())
        .filter(|x| x.identity.as_deref() == Some(user))
        .fold((0, rust_decimal::Decimal::ZERO), |(n, spent), x| {
            (
                n + 1,
                spent
                    + x.cost
                        .as_ref()
                        .map_or(rust_decimal::Decimal::ZERO, |c| c.total_incl_tax),
            )
        })
}

/// A badge's question as the core asks it at each socket the token is presented for: the
/// moment (wall time, and the site's local weekday and minute for community hours), whether
/// central is reachable, and what the token's user already runs (concurrency, credit).
/// `Site::badge` asks it of every bound socket; the web page's explain tool asks it too.
pub struct BadgeQuestion<'a> {
    token: &'a IdToken,
    found: &'a Lookup,
    now_ms: i64,
    local_weekday: usize,
    local_minute: u16,
    online: bool,
    user_sessions: usize,
    user_spent: rust_decimal::Decimal,
}

impl<'a> BadgeQuestion<'a> {
    /// `views`: every socket's view (the user's running sessions are counted in them).
    pub fn new(
        token: &'a IdToken,
        found: &'a Lookup,
        views: impl IntoIterator<Item = &'a SocketView>,
        time_zone: chrono_tz::Tz,
        now_ms: i64,
        online: bool,
    ) -> BadgeQuestion<'a> {
        let (local_weekday, local_minute) = local_weekday_minute(time_zone, now_ms);
        let user = found.user.as_ref().map(|u| u.id.as_str());
        let (user_sessions, user_spent) = user_running(views, user);
        BadgeQuestion {
            token,
            found,
            now_ms,
            local_weekday,
            local_minute,
            online,
            user_sessions,
            user_spent,
        }
    }

    /// The decision at socket `name` (`view`: its view; `None`, a socket the site no longer
    /// has, takes no badge) under the access rules and offline policy in force.
    pub fn decide(
        &self,
        rules: &SiteRules,
        policy: &OfflinePolicy,
        name: &str,
        view: Option<&SocketView>,
    ) -> Decision {
        let req = Request {
            token: self.token,
            socket: name,
            socket_in_service: view.is_some_and(SocketView::takes_a_badge),
            now_ms: self.now_ms,
            local_weekday: self.local_weekday,
            local_minute: self.local_minute,
            online: self.online,
            user_sessions: self.user_sessions,
            user_spent: self.user_spent,
        };
        crate::core::access::authorize(rules, self.found, policy, &req)
    }
}

/// The command that lets someone charge at `socket` on their behalf (a manager on the web
/// page, central's RemoteStart): the access list's user of the token they named (`found`),
/// else `named`. `None` while the socket is out of service or has a session; the core checks
/// again when the command arrives.
pub fn start_for(
    socket: SocketIndex,
    view: &SocketView,
    found: Option<&Lookup>,
    named: String,
    method: AuthMethod,
) -> Option<Command> {
    if view.out_of_service || view.session.is_some() {
        return None;
    }
    let listed = found.and_then(|f| f.user.as_ref()).map(|u| u.id.clone());
    Some(Command::Authorize {
        socket,
        identity: Some(listed.unwrap_or(named)),
        method,
    })
}

#[derive(Debug, Clone)]
struct Pending {
    identity: Option<String>,
    method: AuthMethod,
    until: Instant,
    token: Option<IdToken>,
    parent: Option<String>,
    tariff: Option<String>,
    /// The user's credit (limit or prepaid balance) at the decision.
    credit: Option<Credit>,
    /// The listed user and the community the decision charged under (promotion targets).
    user: Option<String>,
    community: Option<String>,
}

#[derive(Debug)]
struct Tracked {
    setup: SocketSetup,
    view: SocketView,
    pending: Option<Pending>,
    /// The session found open at start, until the socket shows whether the vehicle is still there.
    recovering: Option<Recovered>,
    /// Since when the current phase accrues.
    phase_since: Instant,
    last_poll: Option<Instant>,
    /// The meter at the previous poll: where a session detected by energy flow began.
    previous_meter_wh: Option<f64>,
    unreachable_since: Option<Instant>,
    /// Whether the hardware senses a plug (pilot or sensor); learnt from readings.
    senses_plug: Option<bool>,
    enabled: Option<bool>,
    /// Central rejected the token of this socket's session after it started: energy stops
    /// once `max_energy_on_invalid_id` is delivered (suspended, or the session stopped).
    rejected_late: bool,
    /// Energy is withheld (OCPP SuspendedEVSE) while the session stays open.
    suspended: bool,
    /// A session was stopped with the vehicle still plugged (remotely, by a manager, out of
    /// credit): a free socket starts no new session until the vehicle leaves. Only for
    /// sockets that sense the plug (others cannot tell when it leaves).
    held: bool,
    /// The session's tariff and the samples its cost is computed from.
    tariff: Option<std::sync::Arc<crate::core::pricing::Tariff>>,
    cost_samples: Vec<crate::core::pricing::CostSample>,
    /// The session user's credit, and how fast the session spends it (per second, from the
    /// last two costs), to stop before the credit is exceeded rather than after.
    credit: Option<Credit>,
    spend: Option<(Instant, rust_decimal::Decimal, rust_decimal::Decimal)>,
    /// The promotions on offer at the session's start, with their uses then: the cost sees
    /// exactly what the start decided, however long the session runs.
    offers: Vec<Offered>,
    /// Who charges here, as the session's promotions target it.
    party: Party,
    /// A relay test keeps the socket on until then.
    relay_test_until: Option<Instant>,
}

/// A promotion with its uses before a session started (that session not included).
#[derive(Debug, Clone)]
struct Offered {
    promotion: std::sync::Arc<Promotion>,
    used_by_user: u32,
    used_total: u32,
}

/// How many sessions got each promotion, site-wide and per user: what the limits count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromotionUses {
    pub total: std::collections::HashMap<String, u32>,
    /// By (promotion id, user id).
    pub by_user: std::collections::HashMap<(String, String), u32>,
}

/// UUIDv7 from the wall clock and a seeded generator (the edge seeds it from the OS).
#[derive(Debug, Clone)]
pub struct IdGen(SplitMix64);

impl IdGen {
    pub fn new(seed: u64) -> Self {
        IdGen(SplitMix64::new(seed))
    }

    pub fn next(&mut self, wall_ms: i64) -> Uuid {
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&self.0.next_u64().to_le_bytes());
        random[8..].copy_from_slice(&self.0.next_u64().to_le_bytes()[..2]);
        uuid::Builder::from_unix_timestamp_millis(wall_ms.max(0) as u64, &random).into_uuid()
    }
}

#[derive(Debug)]
pub struct Site {
    sockets: Vec<Tracked>,
    rules: SessionRules,
    ids: IdGen,
    online: bool,
    clock_trusted: bool,
    next_sample: Instant,
    access: SiteRules,
    policy: OfflinePolicy,
    time_zone: chrono_tz::Tz,
    /// Socket ids, as access rules name them.
    socket_names: Vec<String>,
    /// Tariffs by id, as central publishes them.
    tariffs: std::collections::HashMap<String, std::sync::Arc<crate::core::pricing::Tariff>>,
    /// Promotions in the order central ranks them (the first that applies is used).
    promotions: Vec<std::sync::Arc<Promotion>>,
    promotion_uses: PromotionUses,
}

/// An authorization decision, as central's audit trail records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    pub token: IdToken,
    pub sockets: Vec<SocketIndex>,
    pub user: Option<String>,
    /// `accepted`, `rejected`, `stopped` (the badge ended its session), `ask_central`.
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
    pub source: Option<&'static str>,
    pub at: Stamp,
}

fn phase_of(state: &SocketState) -> Phase {
    match state {
        SocketState::Charging => Phase::Charging,
        SocketState::SuspendedEV => Phase::Suspended,
        SocketState::NotConnected => Phase::Lost,
        _ => Phase::Idle,
    }
}

impl Site {
    /// Every socket starts `NotConnected` until its first poll; `recovered` are the sessions
    /// found open in the database.
    pub fn new(
        setups: Vec<SocketSetup>,
        rules: SessionRules,
        recovered: Vec<Recovered>,
        ids: IdGen,
        now: Stamp,
    ) -> Site {
        let mut sockets: Vec<Tracked> = setups
            .into_iter()
            .map(|setup| Tracked {
                view: SocketView {
                    state: SocketState::NotConnected,
                    readings: Readings::default(),
                    read_at: None,
                    since: now.mono,
                    out_of_service: setup.out_of_service,
                    session: None,
                },
                setup,
                pending: None,
                recovering: None,
                phase_since: now.mono,
                last_poll: None,
                previous_meter_wh: None,
                unreachable_since: Some(now.mono),
                senses_plug: None,
                enabled: None,
                rejected_late: false,
                suspended: false,
                held: false,
                tariff: None,
                cost_samples: Vec::new(),
                credit: None,
                spend: None,
                offers: Vec::new(),
                party: Party::default(),
                relay_test_until: None,
            })
            .collect();
        for r in recovered {
            if let Some(s) = sockets.get_mut(r.session.socket) {
                s.recovering = Some(r);
            }
        }
        Site {
            sockets,
            rules,
            ids,
            online: false,
            clock_trusted: now.trusted,
            next_sample: now.mono + rules.sample_interval,
            access: SiteRules::empty(),
            policy: OfflinePolicy::default(),
            time_zone: chrono_tz::UTC,
            socket_names: Vec::new(),
            tariffs: std::collections::HashMap::new(),
            promotions: Vec::new(),
            promotion_uses: PromotionUses::default(),
        }
    }

    /// The promotions sessions starting from now are offered, and how often each was used
    /// (a session keeps what its start decided).
    pub fn set_promotions(&mut self, promotions: Vec<Promotion>, uses: PromotionUses) {
        self.promotions = promotions.into_iter().map(std::sync::Arc::new).collect();
        self.promotion_uses = uses;
    }

    /// The tariffs sessions are priced with (a session keeps the one in force at its start).
    pub fn set_tariffs(&mut self, tariffs: Vec<crate::core::pricing::Tariff>) {
        self.tariffs = tariffs
            .into_iter()
            .map(|t| (t.id.clone(), std::sync::Arc::new(t)))
            .collect();
    }

    /// The access rules, OCPP offline policy and time zone decisions use.
    pub fn set_access(
        &mut self,
        socket_names: Vec<String>,
        rules: SiteRules,
        policy: OfflinePolicy,
        time_zone: chrono_tz::Tz,
    ) {
        self.socket_names = socket_names;
        self.access = rules;
        self.policy = policy;
        self.time_zone = time_zone;
    }

    /// The controls every socket needs at start: its current, and off until a session (or a
    /// recovered one) needs it on.
    pub fn start(&mut self) -> Vec<Effect> {
        (0..self.sockets.len())
            .flat_map(|i| self.controls_for(i, true))
            .collect()
    }

    /// Setpoint and enable for `socket`, when they change (or all of them with `force`).
    fn controls_for(&mut self, socket: SocketIndex, force: bool) -> Vec<Effect> {
        let s = &mut self.sockets[socket];
        let has_session = s.view.session.is_some() || s.recovering.is_some();
        let free_unsensed = s.setup.free && s.senses_plug == Some(false);
        let testing = s.relay_test_until.is_some();
        let on =
            !s.view.out_of_service && !s.suspended && (has_session || free_unsensed || testing);
        let mut effects = Vec::new();
        if force {
            effects.push(Effect::Control {
                socket,
                control: Control::Setpoint(s.setup.max_current_a),
            });
        }
        if force || s.enabled != Some(on) {
            s.enabled = Some(on);
            effects.push(Effect::Control {
                socket,
                control: Control::Enable(on),
            });
        }
        effects
    }

    pub fn handle(&mut self, event: Event, now: Stamp) -> Vec<Effect> {
        let mut effects = self.observe_clock(now);
        match event {
            Event::Polled {
                socket,
                readings,
                read_at,
            } if socket < self.sockets.len() => {
                let read = Stamp {
                    mono: read_at,
                    ..now
                };
                self.sockets[socket].view.read_at = Some(Stamp {
                    wall_ms: now.wall_of(&read),
                    ..read
                });
                effects.extend(self.polled(socket, readings, now));
            }
            Event::Unreachable { socket, reason } if socket < self.sockets.len() => {
                let s = &mut self.sockets[socket];
                s.unreachable_since.get_or_insert(now.mono);
                effects.extend(self.transition(socket, SocketState::NotConnected, reason, now));
                effects.extend(self.phase_change(socket, Phase::Lost, now));
            }
            Event::Tick => effects.extend(self.tick(now)),
            Event::Command(c) => effects.extend(self.command(c, now)),
            Event::Uplink { connected } => self.online = connected,
            Event::Badge {
                sockets,
                token,
                found,
            } => effects.extend(self.badge(&sockets, token, &found, now)),
            Event::AccessRules(rules) => self.access = *rules,
            Event::Tariffs(tariffs) => self.set_tariffs(tariffs),
            Event::Promotions(promotions) => {
                let uses = std::mem::take(&mut self.promotion_uses);
                self.set_promotions(promotions, uses);
            }
            Event::Policy(policy) => self.policy = policy,
            _ => {}
        }
        effects
    }

    /// When the clock becomes trustworthy, stamps taken before are corrected, here and (by the
    /// store, on `ClockTrusted`) in the database.
    fn observe_clock(&mut self, now: Stamp) -> Vec<Effect> {
        if !now.trusted || self.clock_trusted {
            return vec![];
        }
        self.clock_trusted = true;
        for s in &mut self.sockets {
            if let Some(session) = &mut s.view.session {
                session.started = now.correct(&session.started);
            }
        }
        vec![Effect::ClockTrusted { at: now }]
    }

    fn polled(&mut self, socket: SocketIndex, readings: Readings, now: Stamp) -> Vec<Effect> {
        let mut effects = Vec::new();
        let s = &mut self.sockets[socket];
        let (state, reason) = derive(&readings, s.view.out_of_service, s.setup.rules);
        let presence = presence(&readings, s.setup.rules);
        let elapsed = s.last_poll.map_or(Duration::from_secs(1), |t| {
            now.mono.saturating_duration_since(t)
        });
        s.last_poll = Some(now.mono);
        s.unreachable_since = None;
        let learnt = senses_plug(&readings);
        let sensing_changed = s.senses_plug != Some(learnt);
        s.senses_plug = Some(learnt);
        let previous_meter = std::mem::replace(&mut s.previous_meter_wh, readings.energy_wh);
        if let Some(session) = &mut s.view.session {
            session.meter.update(
                readings.energy_wh,
                max_energy_wh(s.setup.max_current_a, elapsed),
            );
        }
        s.view.readings = readings;

        if let Some(r) = s.recovering.take() {
            effects.extend(self.recover(socket, r, presence.plugged, now));
        }
        effects.extend(self.transition(socket, state.clone(), reason, now));

        if !presence.plugged {
            self.sockets[socket].held = false;
        }
        let s = &self.sockets[socket];
        let ended = match (&s.view.session, &state) {
            (Some(_), SocketState::Faulted { code }) => {
                Some((StopReason::Fault, Some(format!("fault {code}"))))
            }
            (Some(_), _) if !presence.plugged => Some((StopReason::Unplugged, None)),
            _ => None,
        };
        if let Some((reason, failure)) = ended {
            effects.extend(self.stop(socket, reason, failure, now));
        } else if s.view.session.is_some() {
            effects.extend(self.phase_change(socket, phase_of(&state), now));
        } else if presence.plugged
            && !s.view.out_of_service
            && !matches!(state, SocketState::Faulted { .. })
        {
            if s.pending.is_some() {
                effects.extend(self.start_pending(socket, now));
            } else if s.setup.free && !s.held {
                // A plain socket saw the vehicle only once energy flowed: count from the poll before.
                let meter_start = if learnt {
                    self.sockets[socket].view.readings.energy_wh
                } else {
                    previous_meter
                };
                effects.extend(self.begin(
                    socket,
                    None,
                    AuthMethod::Free,
                    meter_start,
                    phase_of(&state),
                    now,
                ));
            }
        }
        if sensing_changed {
            effects.extend(self.controls_for(socket, false));
        }
        effects.extend(self.enforce_late_rejection(socket, now));
        effects.extend(self.enforce_credit(socket, now));
        effects
    }

    /// The first poll after a restart decides an open session's fate.
    fn recover(
        &mut self,
        socket: SocketIndex,
        r: Recovered,
        plugged: bool,
        now: Stamp,
    ) -> Vec<Effect> {
        let s = &mut self.sockets[socket];
        let mut session = r.session;
        // How much the socket could have delivered while nobody watched: since the last sample
        // by the wall clock when both are trusted, else a day.
        let since = match r.last_sample {
            Some(at) if at.trusted && now.trusted => {
                Duration::from_millis((now.wall_ms - at.wall_ms).max(0) as u64)
            }
            _ => Duration::from_secs(24 * 3600),
        };
        session.meter.update(
            s.view.readings.energy_wh,
            max_energy_wh(s.setup.max_current_a, since),
        );
        s.phase_since = now.mono;
        // Its cost goes on from the samples stored, under the tariff and promotion it had.
        s.cost_samples = r.cost_samples;
        s.tariff = session
            .tariff_id
            .as_ref()
            .and_then(|t| self.tariffs.get(t).cloned());
        s.offers = session
            .promotion_id
            .as_ref()
            .and_then(|id| self.promotions.iter().find(|p| p.id == *id))
            .map(|p| Offered {
                // It passed its limits at the start: uses since then do not take it away.
                promotion: p.clone(),
                used_by_user: 0,
                used_total: 0,
            })
            .into_iter()
            .collect();
        s.party = Party {
            socket: self.socket_names.get(socket).cloned().unwrap_or_default(),
            communities: vec![],
            user: session.identity.clone(),
        };
        if plugged {
            s.view.session = Some(session);
            return vec![];
        }
        // The vehicle left while sitegate was down: close at the last moment it was known there.
        let stopped_at = r.last_sample.unwrap_or(session.started);
        s.view.session = Some(session);
        self.stop_at(socket, StopReason::PowerLoss, None, stopped_at, now)
    }

    fn begin(
        &mut self,
        socket: SocketIndex,
        identity: Option<String>,
        method: AuthMethod,
        meter_start_wh: Option<f64>,
        phase: Phase,
        now: Stamp,
    ) -> Vec<Effect> {
        let id = self.ids.next(now.wall_ms);
        let site_tariff = self.access.site.tariff.clone();
        let s = &mut self.sockets[socket];
        // What the authorization carried: the token, its group, the tariff it grants.
        let pending = s.pending.take();
        s.credit = pending.as_ref().and_then(|p| p.credit);
        s.spend = None;
        let user = pending.as_ref().and_then(|p| p.user.clone());
        let community = pending.as_ref().and_then(|p| p.community.clone());
        let (token, parent) = pending
            .as_ref()
            .map_or((None, None), |p| (p.token.clone(), p.parent.clone()));
        let tariff_id = pending.and_then(|p| p.tariff).or(site_tariff);
        s.tariff = tariff_id
            .as_ref()
            .and_then(|t| self.tariffs.get(t).cloned());
        s.cost_samples.clear();
        s.phase_since = now.mono;
        let promotion_id = self.offer_promotions(socket, user, community, now);
        let s = &mut self.sockets[socket];
        let session = Session {
            id,
            socket,
            identity,
            auth: method,
            started: now,
            stopped: None,
            meter_start_wh,
            meter: MeterTrack::starting_at(meter_start_wh),
            charging: Duration::ZERO,
            idle: Duration::ZERO,
            phase,
            stop_reason: None,
            offline: !self.online,
            failed: None,
            samples: 0,
            token,
            parent,
            tariff_id,
            promotion_id,
            cost: None,
        };
        s.view.session = Some(session);
        let mut effects = vec![self.record(socket, SessionChange::Started, now)];
        effects.extend(self.controls_for(socket, false));
        effects
    }

    /// Snapshots the promotions on offer for the session starting on `socket` and counts a
    /// use of the first that applies, whose id is returned.
    fn offer_promotions(
        &mut self,
        socket: SocketIndex,
        user: Option<String>,
        community: Option<String>,
        now: Stamp,
    ) -> Option<String> {
        let party = Party {
            socket: self.socket_names.get(socket).cloned().unwrap_or_default(),
            communities: community.into_iter().collect(),
            user: user.clone(),
        };
        let local_start = chrono::DateTime::from_timestamp_millis(now.wall_ms)?
            .with_timezone(&self.time_zone)
            .naive_local();
        let uses = &self.promotion_uses;
        let offers: Vec<Offered> = self
            .promotions
            .iter()
            .map(|p| Offered {
                promotion: p.clone(),
                used_by_user: user.as_ref().map_or(0, |u| {
                    uses.by_user
                        .get(&(p.id.clone(), u.clone()))
                        .copied()
                        .unwrap_or(0)
                }),
                used_total: uses.total.get(&p.id).copied().unwrap_or(0),
            })
            .collect();
        let applied = offers
            .iter()
            .find(|o| o.offer().refusal(&party, local_start).is_none())
            .map(|o| o.promotion.id.clone());
        self.sockets[socket].offers = offers;
        self.sockets[socket].party = party;
        if let Some(id) = &applied {
            *self.promotion_uses.total.entry(id.clone()).or_default() += 1;
            if let Some(u) = user {
                *self
                    .promotion_uses
                    .by_user
                    .entry((id.clone(), u))
                    .or_default() += 1;
            }
        }
        applied
    }

    /// The session's record with a new sample, after accruing the current phase. The socket
    /// must have a session.
    fn record(&mut self, socket: SocketIndex, change: SessionChange, now: Stamp) -> Effect {
        let s = &mut self.sockets[socket];
        let since = std::mem::replace(&mut s.phase_since, now.mono);
        let power_w = s.view.readings.power_w;
        let session = s
            .view
            .session
            .as_mut()
            .expect("record is called for sockets with a session");
        session.accrue(now.mono.saturating_duration_since(since));
        let sample = Sample {
            session: session.id,
            seq: session.samples,
            at: now,
            meter_wh: session.meter.last_wh,
            energy_wh: session.meter.energy_wh,
            power_w,
            phase: session.phase,
        };
        session.samples += 1;
        price(s, now, self.time_zone);
        let session = s.view.session.as_ref().expect("still there");
        if let Some(cost) = session.cost.as_ref().map(|c| c.total_incl_tax) {
            let rate = match s.spend {
                Some((t, before, _)) if now.mono > t => {
                    let secs = rust_decimal::Decimal::from_f64_retain(
                        now.mono.duration_since(t).as_secs_f64(),
                    )
                    .unwrap_or_default();
                    if secs.is_zero() {
                        rust_decimal::Decimal::ZERO
                    } else {
                        (cost - before).max(rust_decimal::Decimal::ZERO) / secs
                    }
                }
                _ => rust_decimal::Decimal::ZERO,
            };
            s.spend = Some((now.mono, cost, rate));
        }
        Effect::Session {
            session: Box::new(session.clone()),
            change,
            sample: Some(sample),
        }
    }

    fn phase_change(&mut self, socket: SocketIndex, phase: Phase, now: Stamp) -> Vec<Effect> {
        let s = &mut self.sockets[socket];
        let Some(session) = s.view.session.as_mut() else {
            return vec![];
        };
        if session.phase == phase {
            return vec![];
        }
        let since = std::mem::replace(&mut s.phase_since, now.mono);
        session.accrue(now.mono.saturating_duration_since(since));
        session.phase = phase;
        vec![self.record(socket, SessionChange::Updated, now)]
    }

    fn stop(
        &mut self,
        socket: SocketIndex,
        reason: StopReason,
        failure: Option<String>,
        now: Stamp,
    ) -> Vec<Effect> {
        self.stop_at(socket, reason, failure, now, now)
    }

    /// Ends the socket's session at `at` (the last moment it is known to have run).
    fn stop_at(
        &mut self,
        socket: SocketIndex,
        reason: StopReason,
        failure: Option<String>,
        at: Stamp,
        now: Stamp,
    ) -> Vec<Effect> {
        if self.sockets[socket].view.session.is_none() {
            return vec![];
        }
        let Effect::Session {
            mut session,
            sample,
            ..
        } = self.record(socket, SessionChange::Ended, now)
        else {
            unreachable!("record returns a session effect")
        };
        session.stopped = Some(stop_stamp(&session.started, at));
        if !session.started.trusted && at.trusted && session.started.mono <= at.mono {
            session.started = at.correct(&session.started);
        }
        session.stop_reason = Some(reason);
        session.failed = failure
            .or_else(|| (session.meter.energy_wh < 1.0).then(|| "nothing delivered".to_string()));
        let s = &mut self.sockets[socket];
        s.view.session = None;
        s.rejected_late = false;
        s.suspended = false;
        s.held = reason != StopReason::Unplugged && s.senses_plug == Some(true);
        let credit = s.credit.take();
        s.spend = None;
        s.offers.clear();
        // A prepaid balance is spent for good: the user's other running sessions have less
        // left. (A credit limit bounds running sessions only: it comes back.)
        if let (Some(Credit::Prepaid(_)), Some(cost)) = (credit, session.cost.as_ref()) {
            for other in &mut self.sockets {
                let same_user = other
                    .view
                    .session
                    .as_ref()
                    .is_some_and(|x| x.identity == session.identity);
                if let (true, Some(Credit::Prepaid(left))) = (same_user, other.credit.as_mut()) {
                    *left -= cost.total_incl_tax;
                }
            }
        }
        let mut effects = vec![Effect::Session {
            session,
            change: SessionChange::Ended,
            sample,
        }];
        effects.extend(self.controls_for(socket, false));
        effects
    }

    fn tick(&mut self, now: Stamp) -> Vec<Effect> {
        let mut effects = self.end_relay_tests(now);
        for socket in 0..self.sockets.len() {
            let s = &mut self.sockets[socket];
            if s.pending.as_ref().is_some_and(|p| now.mono >= p.until) {
                let p = s.pending.take().expect("checked");
                effects.push(Effect::AuthorizationLapsed {
                    socket,
                    identity: p.identity,
                });
            }
            let lost_too_long = s
                .unreachable_since
                .is_some_and(|t| now.mono.saturating_duration_since(t) >= self.rules.lost_grace);
            if lost_too_long && let Some(r) = s.recovering.take() {
                // Never answered since the restart: close from the last sample.
                let at = r.last_sample.unwrap_or(r.session.started);
                s.view.session = Some(r.session);
                effects.extend(self.stop_at(socket, StopReason::PowerLoss, None, at, now));
            } else if lost_too_long && s.view.session.is_some() {
                effects.extend(self.stop(socket, StopReason::SocketLost, None, now));
            }
        }
        if now.mono >= self.next_sample {
            self.next_sample += self.rules.sample_interval;
            if self.next_sample <= now.mono {
                self.next_sample = now.mono + self.rules.sample_interval;
            }
            for socket in 0..self.sockets.len() {
                if self.sockets[socket].view.session.is_some() {
                    effects.push(self.record(socket, SessionChange::Sampled, now));
                }
            }
        }
        effects
    }

    fn command(&mut self, command: Command, now: Stamp) -> Vec<Effect> {
        match command {
            Command::SetOutOfService {
                socket,
                out_of_service,
            } => self.set_out_of_service(socket, out_of_service, now),
            Command::Authorize {
                socket,
                identity,
                method,
            } => {
                let Some(s) = self.sockets.get_mut(socket) else {
                    return vec![];
                };
                if s.view.session.is_some() || s.view.out_of_service {
                    return vec![];
                }
                s.pending = Some(Pending {
                    identity,
                    method,
                    until: now.mono + self.rules.connection_timeout,
                    token: None,
                    parent: None,
                    tariff: None,
                    credit: None,
                    user: None,
                    community: None,
                });
                // A vehicle already plugged starts at once.
                if presence(&s.view.readings, s.setup.rules).plugged && s.last_poll.is_some() {
                    return self.start_pending(socket, now);
                }
                vec![]
            }
            Command::StopSession { socket, reason } if socket < self.sockets.len() => {
                self.stop(socket, reason, None, now)
            }
            Command::Reset => (0..self.sockets.len())
                .flat_map(|i| self.stop(i, StopReason::Reset, None, now))
                .collect(),
            Command::CentralAnswer { token, entry } => self.central_answer(token, entry, now),
            Command::RelayTest {
                socket,
                duration,
                by,
            } => self.relay_test(socket, duration, by, now),
            _ => vec![],
        }
    }

    /// A badge: the same token (or one of its group) at a socket with its session stops it;
    /// otherwise each bound socket is decided, and the authorization waits for a plug-in on
    /// every socket that accepted it (the first plug-in wins the choice).
    fn badge(
        &mut self,
        sockets: &[SocketIndex],
        token: IdToken,
        found: &Lookup,
        now: Stamp,
    ) -> Vec<Effect> {
        let sockets: Vec<SocketIndex> = sockets
            .iter()
            .copied()
            .filter(|&s| s < self.sockets.len())
            .collect();
        let audit = |outcome, reason, source, user: Option<String>| {
            Effect::Audit(Box::new(Audit {
                token: token.clone(),
                sockets: sockets.clone(),
                user,
                outcome,
                reason,
                source,
                at: now,
            }))
        };
        let own = sockets
            .iter()
            .copied()
            .find(|&i| self.sockets[i].view.stopped_by(&token, found));
        if let Some(socket) = own {
            let user = self.sockets[socket]
                .view
                .session
                .as_ref()
                .and_then(|s| s.identity.clone());
            let mut effects = vec![audit("stopped", None, None, user)];
            effects.extend(self.stop(socket, StopReason::Local, None, now));
            return effects;
        }
        let user_id = found.user.as_ref().map(|u| u.id.clone());
        let question = BadgeQuestion::new(
            &token,
            found,
            self.sockets.iter().map(|s| &s.view),
            self.time_zone,
            now.wall_ms,
            self.online,
        );
        let mut granted = Vec::new();
        let mut last = None;
        for &socket in &sockets {
            let view = &self.sockets[socket].view;
            let name = self.socket_names.get(socket).map_or("", String::as_str);
            match question.decide(&self.access, &self.policy, name, Some(view)) {
                Decision::Accepted(g) => granted.push((socket, g)),
                other => last = Some(other),
            }
        }
        if granted.is_empty() {
            return match last {
                Some(Decision::Rejected(r)) => {
                    vec![audit("rejected", Some(r.name()), None, user_id)]
                }
                Some(Decision::AskCentral) => vec![audit("ask_central", None, None, user_id)],
                _ => vec![audit("rejected", Some("SocketUnavailable"), None, user_id)],
            };
        }
        let source = match granted[0].1.source {
            Source::LocalList => "local_list",
            Source::Cache => "cache",
            Source::UnknownOffline => "unknown_offline",
        };
        let mut effects = vec![audit(
            "accepted",
            None,
            Some(source),
            granted[0].1.user.clone(),
        )];
        for (socket, grant) in granted {
            let method = match grant.source {
                Source::LocalList => AuthMethod::LocalList,
                Source::Cache | Source::UnknownOffline => AuthMethod::Cache,
            };
            let s = &mut self.sockets[socket];
            s.pending = Some(Pending {
                identity: grant.user.clone().or_else(|| Some(token.redacted())),
                method,
                until: now.mono + self.rules.connection_timeout,
                token: Some(token.clone()),
                parent: grant.parent.clone(),
                tariff: grant.tariff.clone(),
                credit: found.user.as_ref().and_then(|u| u.credit),
                user: grant.user.clone(),
                community: grant.community.clone(),
            });
            // A vehicle already plugged here takes the authorization at once.
            if presence(&s.view.readings, s.setup.rules).plugged && s.last_poll.is_some() {
                effects.extend(self.start_pending(socket, now));
                break;
            }
        }
        effects
    }

    /// Starts the session a pending authorization allows, and withdraws the same authorization
    /// from the other sockets it was offered to (one badge, one session).
    fn start_pending(&mut self, socket: SocketIndex, now: Stamp) -> Vec<Effect> {
        let Some(p) = self.sockets[socket].pending.clone() else {
            return vec![];
        };
        if let Some(token) = &p.token {
            for (i, s) in self.sockets.iter_mut().enumerate() {
                if i != socket
                    && s.pending
                        .as_ref()
                        .is_some_and(|o| o.token.as_ref() == Some(token))
                {
                    s.pending = None;
                }
            }
        }
        let s = &self.sockets[socket];
        let meter = s.view.readings.energy_wh;
        let phase = phase_of(&s.view.state);
        self.begin(socket, p.identity.clone(), p.method, meter, phase, now)
    }

    /// Central's verdict: cached, and a rejection of a token whose session started on a
    /// provisional answer (cache, or unknown while offline) ends its energy: at once, or after
    /// `max_energy_on_invalid_id` (OCPP's late rejection).
    fn central_answer(
        &mut self,
        token: IdToken,
        entry: crate::core::access::TokenEntry,
        now: Stamp,
    ) -> Vec<Effect> {
        let rejected = entry.status != crate::core::access::TokenStatus::Accepted
            || entry.expiry_ms.is_some_and(|e| e <= now.wall_ms);
        let mut effects = vec![Effect::CacheAnswer {
            token: token.clone(),
            entry,
            at: now,
        }];
        if !rejected {
            return effects;
        }
        for socket in 0..self.sockets.len() {
            let provisional = self.sockets[socket].view.session.as_ref().is_some_and(|s| {
                s.token.as_ref() == Some(&token) && s.auth != AuthMethod::LocalList
            });
            if provisional {
                self.sockets[socket].rejected_late = true;
                effects.extend(self.enforce_late_rejection(socket, now));
            }
        }
        effects
    }

    /// Stops the user's sessions before their running cost passes the credit: the cost at the
    /// last sample, plus what the sessions spend until the next poll, at their recent rate.
    fn enforce_credit(&mut self, socket: SocketIndex, now: Stamp) -> Vec<Effect> {
        let s = &self.sockets[socket];
        let (Some(credit), Some(session)) = (s.credit, s.view.session.as_ref()) else {
            return vec![];
        };
        let user = session.identity.clone();
        let horizon = rust_decimal::Decimal::from(2); // seconds: this poll to the next, and the write
        let projected: rust_decimal::Decimal = self
            .sockets
            .iter()
            .filter(|t| t.view.session.as_ref().is_some_and(|x| x.identity == user))
            .filter_map(|t| {
                t.spend.map(|(at, cost, rate)| {
                    let since = rust_decimal::Decimal::from_f64_retain(
                        now.mono.saturating_duration_since(at).as_secs_f64(),
                    )
                    .unwrap_or_default();
                    cost + rate * (since + horizon)
                })
            })
            .sum();
        if projected < credit.amount() {
            return vec![];
        }
        let mine: Vec<SocketIndex> = (0..self.sockets.len())
            .filter(|&i| {
                self.sockets[i]
                    .view
                    .session
                    .as_ref()
                    .is_some_and(|x| x.identity == user)
            })
            .collect();
        mine.into_iter()
            .flat_map(|i| self.stop(i, StopReason::CreditExhausted, None, now))
            .collect()
    }

    fn enforce_late_rejection(&mut self, socket: SocketIndex, now: Stamp) -> Vec<Effect> {
        let s = &self.sockets[socket];
        let energy = s.view.session.as_ref().map_or(0.0, |x| x.energy_wh());
        if !s.rejected_late || energy < self.policy.max_energy_on_invalid_id_wh {
            return vec![];
        }
        self.sockets[socket].rejected_late = false;
        if self.policy.stop_transaction_on_invalid_id {
            return self.stop(socket, StopReason::DeAuthorized, None, now);
        }
        self.sockets[socket].suspended = true;
        self.controls_for(socket, false)
    }

    fn set_out_of_service(
        &mut self,
        socket: SocketIndex,
        out_of_service: bool,
        now: Stamp,
    ) -> Vec<Effect> {
        let Some(s) = self.sockets.get_mut(socket) else {
            return vec![];
        };
        if s.view.out_of_service == out_of_service {
            return vec![];
        }
        s.view.out_of_service = out_of_service;
        s.pending = None;
        let mut effects = vec![Effect::PersistOutOfService {
            socket,
            out_of_service,
        }];
        if out_of_service {
            effects.extend(self.stop(socket, StopReason::OutOfService, None, now));
        }
        effects.extend(self.controls_for(socket, false));
        if self.sockets[socket].view.state != SocketState::NotConnected {
            let s = &self.sockets[socket];
            let (state, reason) = derive(&s.view.readings, out_of_service, s.setup.rules);
            let reason = if out_of_service {
                "taken out of service".into()
            } else {
                format!("returned to service; {reason}")
            };
            effects.extend(self.transition(socket, state, reason, now));
        }
        effects
    }

    fn transition(
        &mut self,
        socket: SocketIndex,
        to: SocketState,
        reason: String,
        now: Stamp,
    ) -> Vec<Effect> {
        let view = &mut self.sockets[socket].view;
        if view.state == to {
            return vec![];
        }
        let from = std::mem::replace(&mut view.state, to.clone());
        view.since = now.mono;
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

/// The stop stamp of a session started at `start`, never before it: within one run the
/// monotonic clock links the two, so a trusted end also dates an untrusted start and the other
/// way round.
fn stop_stamp(start: &Stamp, at: Stamp) -> Stamp {
    let elapsed = at.mono.saturating_duration_since(start.mono).as_millis() as i64;
    if start.trusted && !at.trusted {
        return Stamp {
            mono: at.mono,
            wall_ms: start.wall_ms + elapsed,
            trusted: true,
        };
    }
    Stamp {
        wall_ms: at.wall_ms.max(start.wall_ms),
        ..at
    }
}

mod relay_test;
pub use relay_test::{ControlAudit, RELAY_TEST_MAX, RelayTestRefusal, refusal_from_view};

#[cfg(test)]
mod tests;

/// Local weekday (0 = Monday) and minute of the day of `wall_ms` in `tz` (what a badge
/// decision is asked at; the web page's explain tool asks the same).
pub fn local_weekday_minute(tz: chrono_tz::Tz, wall_ms: i64) -> (usize, u16) {
    use chrono::{Datelike, Timelike};
    chrono::DateTime::from_timestamp_millis(wall_ms)
        .map(|t| t.with_timezone(&tz))
        .map_or((0, 0), |t| {
            (
                t.weekday().num_days_from_monday() as usize,
                (t.hour() * 60 + t.minute()) as u16,
            )
        })
}

/// Recomputes the running cost of `s`'s session after a new sample (a pure function of the
/// tariff and the samples: the same code as `sitegate tariff quote`).
fn price(s: &mut Tracked, now: Stamp, tz: chrono_tz::Tz) {
    let Some(session) = s.view.session.as_mut() else {
        return;
    };
    let Some(tariff) = s.tariff.clone() else {
        return;
    };
    let Some(at) = chrono::DateTime::from_timestamp_millis(now.wall_ms) else {
        return;
    };
    let energy = rust_decimal::Decimal::from_f64_retain(session.meter.energy_wh)
        .unwrap_or_default()
        .round_dp(3);
    // Samples must not go backwards in time (a clock stepped back): keep the last one's time.
    let at = s.cost_samples.last().map_or(at, |last| at.max(last.at));
    s.cost_samples.push(crate::core::pricing::CostSample {
        at,
        energy_wh: energy,
        phase: session.phase,
    });
    let Some(started) = chrono::DateTime::from_timestamp_millis(session.started.wall_ms) else {
        return;
    };
    let input = crate::core::pricing::CostInput {
        time_zone: tz,
        started_at: started.min(s.cost_samples[0].at),
        samples: s.cost_samples.clone(),
        stopped_at: session
            .stopped
            .and_then(|t| chrono::DateTime::from_timestamp_millis(t.wall_ms))
            .map(|t| t.max(at)),
        party: s.party.clone(),
    };
    let offers: Vec<Offer<'_>> = s.offers.iter().map(Offered::offer).collect();
    if let Ok(b) = crate::core::pricing::cost(&tariff, &input, &offers) {
        session.cost = Some(crate::core::session::Cost {
            currency: b.currency.clone(),
            total_excl_tax: b.total_excl_tax,
            total_incl_tax: b.total_incl_tax,
            breakdown: b,
            time_zone: tz,
        });
    }
}

impl Offered {
    fn offer(&self) -> Offer<'_> {
        Offer {
            promotion: &self.promotion,
            used_by_user: self.used_by_user,
            used_total: self.used_total,
        }
    }
}
