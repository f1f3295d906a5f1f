//! The session lifecycle, table by table: what a manager or central would see of each case.

use std::time::Duration;

use super::*;
use crate::core::readings::VehicleState;

struct Clock {
    now: Stamp,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            now: Stamp {
                mono: Instant::now(),
                wall_ms: 1_795_348_800_000,
                trusted: true,
            },
        }
    }

    fn advance(&mut self, secs: u64) -> Stamp {
        self.now.mono += Duration::from_secs(secs);
        self.now.wall_ms += secs as i64 * 1000;
        self.now
    }
}

/// A 16 A socket in service.
fn socket_setup(free: bool) -> SocketSetup {
    SocketSetup {
        rules: StateRules::default(),
        max_current_a: 16.0,
        out_of_service: false,
        free,
    }
}

fn site(free: bool) -> (Site, Clock) {
    let clock = Clock::new();
    let setup = SocketSetup {
        rules: StateRules::default(),
        max_current_a: 16.0,
        out_of_service: false,
        free,
    };
    let site = Site::new(
        vec![setup],
        SessionRules::default(),
        vec![],
        IdGen::new(7),
        clock.now,
    );
    (site, clock)
}

fn socket(plug: bool, power: f64, meter: f64) -> Readings {
    Readings {
        plug: Some(plug),
        enabled: Some(true),
        power_w: Some(power),
        energy_wh: Some(meter),
        ..Readings::default()
    }
}

fn polled(readings: Readings) -> Event {
    Event::Polled {
        socket: 0,
        readings,
        read_at: tokio::time::Instant::now(),
    }
}

fn sessions(effects: &[Effect]) -> Vec<(SessionChange, Session)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Session {
                session, change, ..
            } => Some((*change, (**session).clone())),
            _ => None,
        })
        .collect()
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

#[test]
fn a_free_socket_charges_a_vehicle_from_plug_in_to_unplug() {
    let (mut site, mut clock) = site(true);
    assert_eq!(
        enables(&site.start()),
        [false],
        "no session: the socket stays off"
    );
    site.handle(polled(socket(false, 0.0, 1000.0)), clock.advance(1));

    let effects = site.handle(polled(socket(true, 0.0, 1000.0)), clock.advance(1));
    let started = sessions(&effects);
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].0, SessionChange::Started);
    assert_eq!(
        (started[0].1.auth, started[0].1.identity.clone()),
        (AuthMethod::Free, None)
    );
    assert_eq!(
        enables(&effects),
        [true],
        "switched on after the start is recorded"
    );
    let start_pos = effects
        .iter()
        .position(|e| matches!(e, Effect::Session { .. }))
        .unwrap();
    let on_pos = effects
        .iter()
        .position(|e| matches!(e, Effect::Control { .. }))
        .unwrap();
    assert!(
        start_pos < on_pos,
        "the record comes first: persist, then act"
    );

    let charging = site.handle(polled(socket(true, 7000.0, 1010.0)), clock.advance(10));
    assert_eq!(
        sessions(&charging)[0].0,
        SessionChange::Updated,
        "phase change: idle -> charging"
    );
    site.handle(polled(socket(true, 7000.0, 1500.0)), clock.advance(300));
    site.handle(polled(socket(true, 0.0, 1520.0)), clock.advance(10)); // vehicle full
    let ended = site.handle(polled(socket(false, 0.0, 1520.0)), clock.advance(20));
    let (change, s) = sessions(&ended).pop().unwrap();
    assert_eq!(change, SessionChange::Ended);
    assert_eq!(s.stop_reason, Some(StopReason::Unplugged));
    assert_eq!(s.energy_wh(), 520.0);
    assert_eq!(
        (s.meter_start_wh, s.meter_stop_wh()),
        (Some(1000.0), Some(1520.0))
    );
    assert_eq!(s.charging, Duration::from_secs(310));
    assert_eq!(s.idle, Duration::from_secs(10 + 20));
    assert!(s.failed.is_none());
    assert_eq!(enables(&ended), [false]);
}

#[test]
fn a_socket_that_is_not_free_waits_for_an_authorization_which_lapses() {
    let (mut site, mut clock) = site(false);
    site.start();
    let mut waiting = socket(true, 0.0, 50.0);
    waiting.enabled = Some(false);
    let effects = site.handle(polled(waiting), clock.advance(1));
    assert!(sessions(&effects).is_empty(), "plugged, nobody authorized");
    assert_eq!(site.view(0).unwrap().state, SocketState::Occupied);
    site.handle(polled(socket(false, 0.0, 50.0)), clock.advance(1));

    let auth = Command::Authorize {
        socket: 0,
        identity: Some("user-7".into()),
        method: AuthMethod::LocalList,
    };
    assert!(
        site.handle(Event::Command(auth.clone()), clock.advance(1))
            .is_empty()
    );
    let lapsed = site.handle(Event::Tick, clock.advance(61));
    assert!(lapsed.contains(&Effect::AuthorizationLapsed {
        socket: 0,
        identity: Some("user-7".into())
    }));

    site.handle(Event::Command(auth), clock.advance(1));
    let started = site.handle(polled(socket(true, 0.0, 50.0)), clock.advance(30));
    let (_, s) = sessions(&started).pop().unwrap();
    assert_eq!(
        (s.identity.as_deref(), s.auth),
        (Some("user-7"), AuthMethod::LocalList)
    );
}

#[test]
fn a_session_with_nothing_delivered_is_flagged_failed_and_a_fault_says_why() {
    let (mut site, mut clock) = site(true);
    site.start();
    site.handle(polled(socket(true, 0.0, 10.0)), clock.advance(1));
    let ended = site.handle(polled(socket(false, 0.0, 10.0)), clock.advance(5));
    assert_eq!(
        sessions(&ended)[0].1.failed.as_deref(),
        Some("nothing delivered")
    );

    site.handle(polled(socket(true, 3000.0, 10.0)), clock.advance(1));
    site.handle(polled(socket(true, 3000.0, 60.0)), clock.advance(60));
    let mut faulted = socket(true, 0.0, 60.0);
    faulted.fault = Some("2".into());
    let ended = site.handle(polled(faulted), clock.advance(1));
    let (_, s) = sessions(&ended).pop().unwrap();
    assert_eq!(
        (s.stop_reason, s.failed.as_deref()),
        (Some(StopReason::Fault), Some("fault 2"))
    );
}

#[test]
fn a_socket_lost_longer_than_the_grace_period_ends_its_session() {
    let (mut site, mut clock) = site(true);
    site.start();
    site.handle(polled(socket(true, 3000.0, 0.0)), clock.advance(1));
    site.handle(
        Event::Unreachable {
            socket: 0,
            reason: "3 timeouts".into(),
        },
        clock.advance(5),
    );
    assert!(
        sessions(&site.handle(Event::Tick, clock.advance(60)))
            .iter()
            .all(|(c, _)| *c != SessionChange::Ended)
    );
    let ended = site.handle(Event::Tick, clock.advance(61));
    assert_eq!(
        sessions(&ended).pop().unwrap().1.stop_reason,
        Some(StopReason::SocketLost)
    );
}

#[test]
fn samples_are_taken_for_every_session_on_one_tick() {
    let (mut site, mut clock) = site(true);
    site.start();
    site.handle(polled(socket(true, 3000.0, 0.0)), clock.advance(1));
    let sampled = site.handle(Event::Tick, clock.advance(60));
    let s = sessions(&sampled);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, SessionChange::Sampled);
}

#[test]
fn a_stop_is_never_dated_before_the_start_and_a_late_trusted_clock_dates_the_start() {
    let mut clock = Clock::new();
    clock.now.wall_ms = 3_000; // booted in 1970
    clock.now.trusted = false;
    let setup = socket_setup(true);
    let mut site = Site::new(
        vec![setup],
        SessionRules::default(),
        vec![],
        IdGen::new(1),
        clock.now,
    );
    site.start();
    site.handle(polled(socket(true, 3000.0, 0.0)), clock.advance(10));
    // NTP sets the clock 100 s later.
    clock.advance(100);
    clock.now.wall_ms = 1_795_348_800_000;
    clock.now.trusted = true;
    let effects = site.handle(Event::Tick, clock.now);
    assert!(effects.contains(&Effect::ClockTrusted { at: clock.now }));
    let ended = site.handle(polled(socket(false, 0.0, 10.0)), clock.advance(5));
    let (_, s) = sessions(&ended).pop().unwrap();
    assert!(s.started.trusted);
    assert_eq!(s.started.wall_ms, 1_795_348_800_000 - 100_000);
    assert!(s.stopped.unwrap().wall_ms >= s.started.wall_ms);
}

#[test]
fn after_a_restart_a_session_resumes_if_the_vehicle_is_there_else_closes_with_power_loss() {
    for (plugged, expected) in [(true, None), (false, Some(StopReason::PowerLoss))] {
        let mut clock = Clock::new();
        let mut ids = IdGen::new(3);
        let session = Session {
            id: ids.next(clock.now.wall_ms),
            socket: 0,
            identity: None,
            auth: AuthMethod::Free,
            started: clock.now,
            stopped: None,
            meter_start_wh: Some(100.0),
            meter: MeterTrack {
                last_wh: Some(600.0),
                energy_wh: 500.0,
                anomalies: 0,
            },
            charging: Duration::from_secs(600),
            idle: Duration::ZERO,
            phase: Phase::Charging,
            stop_reason: None,
            offline: true,
            failed: None,
            samples: 4,
            token: None,
            parent: None,
            tariff_id: None,
            promotion_id: None,
            cost: None,
        };
        let last_sample = Some(clock.now);
        let setup = socket_setup(true);
        let mut site = Site::new(
            vec![setup],
            SessionRules::default(),
            vec![Recovered {
                session,
                last_sample,
                cost_samples: vec![],
            }],
            ids,
            clock.now,
        );
        assert_eq!(
            enables(&site.start()),
            [true],
            "a recovered session keeps its socket on"
        );
        // The daemon comes back a minute after the last sample.
        let effects = site.handle(polled(socket(plugged, 0.0, 650.0)), clock.advance(60));
        let ended = sessions(&effects)
            .into_iter()
            .find(|(c, _)| *c == SessionChange::Ended);
        assert_eq!(ended.as_ref().and_then(|(_, s)| s.stop_reason), expected);
        if let Some((_, s)) = ended {
            assert_eq!(s.energy_wh(), 550.0, "the fresh, plausible reading counts");
        } else {
            assert_eq!(
                site.view(0).unwrap().session.as_ref().unwrap().energy_wh(),
                550.0
            );
        }
    }
}

#[test]
fn a_station_pilot_drives_sessions_too() {
    let (mut site, mut clock) = site(true);
    site.start();
    let station = |v: VehicleState, w: f64, wh: f64| Readings {
        vehicle: Some(v),
        power_w: Some(w),
        energy_wh: Some(wh),
        ..Readings::default()
    };
    assert_eq!(
        sessions(&site.handle(
            polled(station(VehicleState::B1, 0.0, 5.0)),
            clock.advance(1)
        ))
        .len(),
        1
    );
    site.handle(
        polled(station(VehicleState::C2, 11_000.0, 5.0)),
        clock.advance(1),
    );
    let ended = site.handle(
        polled(station(VehicleState::A, 0.0, 200.0)),
        clock.advance(60),
    );
    assert_eq!(sessions(&ended).pop().unwrap().1.energy_wh(), 195.0);
}

#[test]
fn out_of_service_stops_the_session_persists_and_switches_off() {
    let (mut site, mut clock) = site(true);
    site.start();
    site.handle(polled(socket(true, 3000.0, 0.0)), clock.advance(1));
    let effects = site.handle(
        Event::Command(Command::SetOutOfService {
            socket: 0,
            out_of_service: true,
        }),
        clock.advance(5),
    );
    assert!(effects.contains(&Effect::PersistOutOfService {
        socket: 0,
        out_of_service: true
    }));
    assert_eq!(
        sessions(&effects).pop().unwrap().1.stop_reason,
        Some(StopReason::OutOfService)
    );
    assert_eq!(enables(&effects), [false]);
    assert_eq!(site.view(0).unwrap().state, SocketState::Disabled);
}

#[test]
fn a_clock_jumping_backward_never_dates_a_stop_before_its_start_and_durations_stay_right() {
    let (mut site, mut clock) = site(true);
    site.start();
    site.handle(polled(socket(true, 3000.0, 0.0)), clock.advance(1));
    site.handle(polled(socket(true, 3000.0, 50.0)), clock.advance(60));
    // NTP steps the clock back an hour.
    clock.now.wall_ms -= 3_600_000;
    let ended = site.handle(polled(socket(false, 0.0, 60.0)), clock.advance(10));
    let (_, s) = sessions(&ended).pop().unwrap();
    assert!(
        s.stopped.unwrap().wall_ms >= s.started.wall_ms,
        "{:?} before {:?}",
        s.stopped,
        s.started
    );
    assert_eq!(
        s.charging + s.idle,
        Duration::from_secs(70),
        "durations come from the monotonic clock"
    );
}

mod badges {
    use super::*;
    use crate::core::access::*;

    fn two_sockets() -> (Site, Clock) {
        let clock = Clock::new();
        let setup = || socket_setup(false);
        let mut site = Site::new(
            vec![setup(), setup()],
            SessionRules::default(),
            vec![],
            IdGen::new(11),
            clock.now,
        );
        let mut rules = SiteRules::empty();
        rules.site.tariff = Some("t-site".into());
        site.set_access(
            vec!["p1".into(), "p2".into()],
            rules,
            OfflinePolicy::default(),
            chrono_tz::Europe::Paris,
        );
        site.start();
        (site, clock)
    }

    fn found(status: TokenStatus, parent: Option<&str>) -> Box<Lookup> {
        let entry = TokenEntry {
            user: Some("alice".into()),
            status,
            expiry_ms: None,
            parent: parent.map(Into::into),
            sockets: vec![],
        };
        let user = User::new("alice", "Alice");
        Box::new(Lookup {
            listed: Some(entry),
            cached: None,
            user: Some(user),
        })
    }

    fn badge(sockets: &[usize], token: &str, found: Box<Lookup>) -> Event {
        Event::Badge {
            sockets: sockets.to_vec(),
            token: IdToken::new(token).unwrap(),
            found,
        }
    }

    fn audits(effects: &[Effect]) -> Vec<(&'static str, Option<&'static str>)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Audit(a) => Some((a.outcome, a.reason)),
                _ => None,
            })
            .collect()
    }

    fn idle(site: &mut Site, clock: &mut Clock) {
        let mut r = socket(false, 0.0, 100.0);
        r.enabled = Some(false);
        site.handle(
            Event::Polled {
                socket: 0,
                readings: r.clone(),
                read_at: tokio::time::Instant::now(),
            },
            clock.advance(1),
        );
        site.handle(
            Event::Polled {
                socket: 1,
                readings: r,
                read_at: tokio::time::Instant::now(),
            },
            clock.now,
        );
    }

    fn plugged(site: &mut Site, clock: &mut Clock, socket: usize) -> Vec<Effect> {
        let mut r = socket_readings(true);
        r.enabled = Some(false);
        site.handle(
            Event::Polled {
                socket,
                readings: r,
                read_at: tokio::time::Instant::now(),
            },
            clock.advance(5),
        )
    }

    fn socket_readings(plug: bool) -> Readings {
        socket(plug, 0.0, 100.0)
    }

    #[test]
    fn an_accepted_badge_starts_the_session_at_plug_in_and_stops_it_when_shown_again() {
        let (mut site, mut clock) = two_sockets();
        idle(&mut site, &mut clock);
        let effects = site.handle(
            badge(&[0], "04A1B2C3", found(TokenStatus::Accepted, None)),
            clock.advance(1),
        );
        assert_eq!(audits(&effects), [("accepted", None)]);
        assert!(
            enables(&effects).is_empty(),
            "nothing switched on before the plug-in"
        );
        let started = plugged(&mut site, &mut clock, 0);
        let (_, s) = sessions(&started).pop().unwrap();
        assert_eq!(
            (s.identity.as_deref(), s.auth, s.tariff_id.as_deref()),
            (Some("alice"), AuthMethod::LocalList, Some("t-site"))
        );
        assert_eq!(enables(&started), [true]);
        let stopped = site.handle(
            badge(&[0], "04a1b2c3", found(TokenStatus::Accepted, None)),
            clock.advance(60),
        );
        assert_eq!(audits(&stopped), [("stopped", None)]);
        assert_eq!(
            sessions(&stopped).pop().unwrap().1.stop_reason,
            Some(StopReason::Local)
        );
    }

    #[test]
    fn a_blocked_badge_is_refused_audited_and_the_socket_stays_off() {
        let (mut site, mut clock) = two_sockets();
        idle(&mut site, &mut clock);
        let effects = site.handle(
            badge(&[0], "04A1B2C3", found(TokenStatus::Blocked, None)),
            clock.advance(1),
        );
        assert_eq!(audits(&effects), [("rejected", Some("Blocked"))]);
        let after = plugged(&mut site, &mut clock, 0);
        assert!(sessions(&after).is_empty());
        assert!(enables(&after).is_empty());
        assert_eq!(site.view(0).unwrap().state, SocketState::Occupied);
    }

    #[test]
    fn a_reader_for_two_sockets_lets_the_first_plug_in_choose() {
        let (mut site, mut clock) = two_sockets();
        idle(&mut site, &mut clock);
        site.handle(
            badge(&[0, 1], "04A1B2C3", found(TokenStatus::Accepted, None)),
            clock.advance(1),
        );
        let started = plugged(&mut site, &mut clock, 1);
        assert_eq!(sessions(&started).pop().unwrap().1.socket, 1);
        assert!(
            sessions(&plugged(&mut site, &mut clock, 0)).is_empty(),
            "one badge, one session"
        );
    }

    #[test]
    fn a_token_of_the_same_group_may_stop_the_session() {
        let (mut site, mut clock) = two_sockets();
        idle(&mut site, &mut clock);
        site.handle(
            badge(
                &[0],
                "AAAA0001",
                found(TokenStatus::Accepted, Some("family")),
            ),
            clock.advance(1),
        );
        plugged(&mut site, &mut clock, 0);
        let stopped = site.handle(
            badge(
                &[0],
                "AAAA0002",
                found(TokenStatus::Accepted, Some("family")),
            ),
            clock.advance(30),
        );
        assert_eq!(audits(&stopped), [("stopped", None)]);
    }
}

mod late_rejection {
    use super::*;
    use crate::core::access::*;

    fn site(policy: OfflinePolicy) -> (Site, Clock) {
        let clock = Clock::new();
        let setup = socket_setup(false);
        let mut site = Site::new(
            vec![setup],
            SessionRules::default(),
            vec![],
            IdGen::new(13),
            clock.now,
        );
        site.set_access(
            vec!["p1".into()],
            SiteRules::empty(),
            policy,
            chrono_tz::UTC,
        );
        site.start();
        (site, clock)
    }

    /// An unknown badge accepted offline starts a session, then central says it is blocked.
    fn rejected_after(site: &mut Site, clock: &mut Clock, wh_before: f64) -> Vec<Effect> {
        site.handle(polled(socket(true, 0.0, 0.0)), clock.advance(1));
        let token = IdToken::new("CAFE0001").unwrap();
        site.handle(
            Event::Badge {
                sockets: vec![0],
                token: token.clone(),
                found: Box::default(),
            },
            clock.advance(1),
        );
        site.handle(polled(socket(true, 7000.0, wh_before)), clock.advance(60));
        let blocked = TokenEntry {
            user: None,
            status: TokenStatus::Blocked,
            expiry_ms: None,
            parent: None,
            sockets: vec![],
        };
        site.handle(
            Event::Command(Command::CentralAnswer {
                token,
                entry: blocked,
            }),
            clock.advance(1),
        )
    }

    #[test]
    fn stop_transaction_on_invalid_id_stops_the_session_deauthorized() {
        let (mut site, mut clock) = site(OfflinePolicy {
            allow_offline_tx_for_unknown_id: true,
            ..OfflinePolicy::default()
        });
        let effects = rejected_after(&mut site, &mut clock, 50.0);
        assert!(
            effects
                .iter()
                .any(|e| matches!(e, Effect::CacheAnswer { .. })),
            "the answer is cached"
        );
        assert_eq!(
            sessions(&effects).pop().unwrap().1.stop_reason,
            Some(StopReason::DeAuthorized)
        );
        assert_eq!(enables(&effects), [false]);
    }

    #[test]
    fn otherwise_energy_stops_after_the_allowance_and_the_session_stays_open() {
        let policy = OfflinePolicy {
            allow_offline_tx_for_unknown_id: true,
            stop_transaction_on_invalid_id: false,
            max_energy_on_invalid_id_wh: 100.0,
            ..OfflinePolicy::default()
        };
        let (mut site, mut clock) = site(policy);
        let effects = rejected_after(&mut site, &mut clock, 50.0);
        assert!(
            enables(&effects).is_empty(),
            "50 Wh of the 100 Wh allowance delivered: still on"
        );
        let effects = site.handle(polled(socket(true, 7000.0, 120.0)), clock.advance(30));
        assert_eq!(
            enables(&effects),
            [false],
            "allowance used up: energy withheld"
        );
        assert!(
            site.view(0).unwrap().session.is_some(),
            "the session stays open (SuspendedEVSE)"
        );
    }
}

#[test]
fn a_session_is_priced_with_the_tariff_in_force_at_its_start() {
    let (mut site, mut clock) = site(true);
    let tariff = crate::core::pricing::parse_tariff(
        r#"{"id":"sparklin","currency":"EUR","energy":{"prices":[{"price_kwh":"0.25"}]},
            "taxes":[{"name":"VAT","percent":20}]}"#,
    )
    .unwrap();
    site.set_tariffs(vec![tariff]);
    let mut rules = crate::core::access::SiteRules::empty();
    rules.site.tariff = Some("sparklin".into());
    site.set_access(
        vec!["p1".into()],
        rules,
        Default::default(),
        chrono_tz::Europe::Paris,
    );
    site.start();
    site.handle(polled(socket(true, 0.0, 1000.0)), clock.advance(1));
    site.handle(polled(socket(true, 7000.0, 1000.0)), clock.advance(1));
    let running = site.handle(Event::Tick, clock.advance(60));
    let (_, s) = sessions(&running).pop().unwrap();
    assert_eq!(s.tariff_id.as_deref(), Some("sparklin"));
    assert!(s.cost.is_some(), "a running cost at each sample");
    site.handle(polled(socket(true, 7000.0, 11_000.0)), clock.advance(3600));
    let ended = site.handle(polled(socket(false, 0.0, 11_000.0)), clock.advance(5));
    let (_, s) = sessions(&ended).pop().unwrap();
    let cost = s.cost.unwrap();
    // 10 kWh at 0.25 = 2.50, plus 20 % VAT.
    assert_eq!(
        (
            cost.currency.as_str(),
            cost.total_incl_tax.to_string().as_str()
        ),
        ("EUR", "3.00")
    );
    assert_eq!(cost.breakdown.tariff_id, "sparklin");
}

#[test]
fn a_session_stops_before_its_running_cost_passes_the_users_credit() {
    use crate::core::access::*;
    let mut clock = Clock::new();
    let setup = socket_setup(false);
    let mut site = Site::new(
        vec![setup],
        SessionRules::default(),
        vec![],
        IdGen::new(17),
        clock.now,
    );
    let mut rules = SiteRules::empty();
    rules.site.tariff = Some("t".into());
    site.set_access(
        vec!["p1".into()],
        rules,
        OfflinePolicy::default(),
        chrono_tz::UTC,
    );
    // 0.25 per kWh + 20 % VAT: 0.30 per kWh; a prepaid balance of 1.00 lasts 3.33 kWh.
    site.set_tariffs(vec![
        crate::core::pricing::parse_tariff(r#"{"id":"t","currency":"EUR","energy":{"prices":[{"price_kwh":"0.25"}]},"taxes":[{"name":"VAT","percent":20}]}"#)
            .unwrap(),
    ]);
    site.start();
    let user = User {
        credit: Some(Credit::Prepaid(rust_decimal::Decimal::new(100, 2))),
        ..User::new("alice", "Alice")
    };
    let entry = TokenEntry {
        user: Some("alice".into()),
        status: TokenStatus::Accepted,
        expiry_ms: None,
        parent: None,
        sockets: vec![],
    };
    let found = Box::new(Lookup {
        listed: Some(entry),
        cached: None,
        user: Some(user),
    });
    site.handle(polled(socket(true, 0.0, 0.0)), clock.advance(1));
    site.handle(
        Event::Badge {
            sockets: vec![0],
            token: IdToken::new("04A1B2C3").unwrap(),
            found,
        },
        clock.advance(1),
    );
    // 11 kW: about 30.6 Wh every 10 s.
    let mut meter = 0.0;
    let mut stopped = None;
    for step in 1..=200 {
        meter += 30.6;
        let mut effects = site.handle(polled(socket(true, 11_000.0, meter)), clock.advance(10));
        if step % 6 == 0 {
            effects.extend(site.handle(Event::Tick, clock.now));
        }
        if let Some((_, s)) = sessions(&effects)
            .into_iter()
            .find(|(c, _)| *c == SessionChange::Ended)
        {
            stopped = Some(s);
            break;
        }
    }
    let s = stopped.expect("the credit runs out within 200 polls");
    assert_eq!(s.stop_reason, Some(StopReason::CreditExhausted));
    let cost = s.cost.unwrap().total_incl_tax;
    assert!(
        cost <= rust_decimal::Decimal::new(100, 2),
        "stopped at {cost}, before passing 1.00"
    );
    assert!(
        cost >= rust_decimal::Decimal::new(90, 2),
        "and not long before: {cost}"
    );
}

/// A free socket priced at 0.25 per kWh + 20 % VAT, with one promotion on offer.
fn priced_site_with_promotion(promotion: &str, uses: PromotionUses) -> (Site, Clock) {
    let (mut site, clock) = site(true);
    site.set_tariffs(vec![
        crate::core::pricing::parse_tariff(
            r#"{"id":"t","currency":"EUR","energy":{"prices":[{"price_kwh":"0.25"}]},
                "taxes":[{"name":"VAT","percent":20}]}"#,
        )
        .unwrap(),
    ]);
    site.set_promotions(
        vec![crate::core::pricing::parse_promotion(promotion).unwrap()],
        uses,
    );
    let mut rules = crate::core::access::SiteRules::empty();
    rules.site.tariff = Some("t".into());
    site.set_access(
        vec!["p1".into()],
        rules,
        Default::default(),
        chrono_tz::Europe::Paris,
    );
    site.start();
    (site, clock)
}

/// Plugs in, delivers `kwh`, unplugs: the ended session.
fn charge(site: &mut Site, clock: &mut Clock, meter: &mut f64, kwh: f64) -> Session {
    site.handle(polled(socket(false, 0.0, *meter)), clock.advance(5));
    site.handle(polled(socket(true, 7000.0, *meter)), clock.advance(5));
    *meter += kwh * 1000.0;
    site.handle(polled(socket(true, 7000.0, *meter)), clock.advance(3600));
    let ended = site.handle(polled(socket(false, 0.0, *meter)), clock.advance(5));
    sessions(&ended)
        .into_iter()
        .find(|(c, _)| *c == SessionChange::Ended)
        .expect("unplugging ends the session")
        .1
}

const FIRST_5_KWH_FREE_ONCE: &str = r#"{"id":"welcome","first_day":"2000-01-01",
    "last_day":"2100-12-31","action":{"free_kwh":5},"limit_total":1}"#;

#[test]
fn a_promotion_applies_at_the_start_within_its_limit_and_shows_in_the_breakdown() {
    let (mut site, mut clock) =
        priced_site_with_promotion(FIRST_5_KWH_FREE_ONCE, PromotionUses::default());
    let mut meter = 1000.0;
    let first = charge(&mut site, &mut clock, &mut meter, 10.0);
    let second = charge(&mut site, &mut clock, &mut meter, 10.0);
    // 10 kWh at 0.25 = 2.50, the first 5 kWh free: 1.25, plus VAT = 1.50. Then the limit of
    // one use site-wide is reached: the second pays 3.00.
    let summary = |s: &Session| {
        (
            s.promotion_id.clone(),
            s.cost.as_ref().unwrap().total_incl_tax.to_string(),
        )
    };
    assert_eq!(summary(&first), (Some("welcome".into()), "1.50".into()));
    assert_eq!(summary(&second), (None, "3.00".into()));
    let breakdown = &first.cost.as_ref().unwrap().breakdown;
    assert_eq!(
        breakdown.discount.as_ref().map(|d| d.promotion_id.as_str()),
        Some("welcome"),
        "{breakdown:?}"
    );
}

#[test]
fn promotion_uses_counted_before_a_restart_still_count() {
    let mut uses = PromotionUses::default();
    uses.total.insert("welcome".into(), 1);
    let (mut site, mut clock) = priced_site_with_promotion(FIRST_5_KWH_FREE_ONCE, uses);
    let mut meter = 1000.0;
    let s = charge(&mut site, &mut clock, &mut meter, 10.0);
    assert_eq!(s.promotion_id, None);
    assert_eq!(s.cost.unwrap().total_incl_tax.to_string(), "3.00");
}

#[test]
fn a_recovered_session_keeps_its_tariff_and_the_energy_priced_before_the_restart() {
    let (mut site, mut clock) =
        priced_site_with_promotion(FIRST_5_KWH_FREE_ONCE, PromotionUses::default());
    let mut meter = 1000.0;
    site.handle(polled(socket(false, 0.0, meter)), clock.advance(5));
    site.handle(polled(socket(true, 7000.0, meter)), clock.advance(5));
    meter += 4000.0;
    let running = site.handle(polled(socket(true, 7000.0, meter)), clock.advance(1800));
    let running = site
        .handle(Event::Tick, clock.advance(60))
        .into_iter()
        .chain(running)
        .collect::<Vec<_>>();
    let (_, before) = sessions(&running).pop().unwrap();
    assert_eq!(before.promotion_id.as_deref(), Some("welcome"));
    // sitegate restarts: the session and its samples come back from the database.
    let samples: Vec<crate::core::pricing::CostSample> = vec![
        crate::core::pricing::CostSample {
            at: chrono::DateTime::from_timestamp_millis(before.started.wall_ms).unwrap(),
            energy_wh: rust_decimal::Decimal::ZERO,
            phase: Phase::Charging,
        },
        crate::core::pricing::CostSample {
            at: chrono::DateTime::from_timestamp_millis(clock.now.wall_ms).unwrap(),
            energy_wh: rust_decimal::Decimal::from(4000),
            phase: Phase::Charging,
        },
    ];
    let mut restarted = Site::new(
        vec![socket_setup(true)],
        SessionRules::default(),
        vec![Recovered {
            session: before,
            last_sample: Some(clock.now),
            cost_samples: samples,
        }],
        IdGen::new(8),
        clock.now,
    );
    restarted.set_tariffs(vec![
        crate::core::pricing::parse_tariff(
            r#"{"id":"t","currency":"EUR","energy":{"prices":[{"price_kwh":"0.25"}]},
                "taxes":[{"name":"VAT","percent":20}]}"#,
        )
        .unwrap(),
    ]);
    // The promotion's only use went to this very session: it keeps it.
    let mut uses = PromotionUses::default();
    uses.total.insert("welcome".into(), 1);
    restarted.set_promotions(
        vec![crate::core::pricing::parse_promotion(FIRST_5_KWH_FREE_ONCE).unwrap()],
        uses,
    );
    restarted.set_access(
        vec!["p1".into()],
        crate::core::access::SiteRules::empty(),
        Default::default(),
        chrono_tz::Europe::Paris,
    );
    restarted.start();
    restarted.handle(polled(socket(true, 7000.0, meter)), clock.advance(5));
    meter += 6000.0;
    restarted.handle(polled(socket(true, 7000.0, meter)), clock.advance(1800));
    let ended = restarted.handle(polled(socket(false, 0.0, meter)), clock.advance(5));
    let (_, s) = sessions(&ended)
        .into_iter()
        .find(|(c, _)| *c == SessionChange::Ended)
        .unwrap();
    // 10 kWh in all, 4 before the restart: 2.50 - 1.25 free = 1.25, + VAT = 1.50.
    assert_eq!(s.cost.unwrap().total_incl_tax.to_string(), "1.50");
}

#[test]
fn a_stopped_vehicle_still_plugged_starts_no_new_free_session_until_it_leaves() {
    let (mut site, mut clock) = site(true);
    site.start();
    site.handle(polled(socket(true, 0.0, 1000.0)), clock.advance(1));
    site.handle(polled(socket(true, 7000.0, 1000.0)), clock.advance(1));
    let stopped = site.handle(
        Event::Command(Command::StopSession {
            socket: 0,
            reason: StopReason::Remote,
        }),
        clock.advance(1),
    );
    assert_eq!(sessions(&stopped).last().unwrap().0, SessionChange::Ended);
    assert_eq!(enables(&stopped), [false]);
    let again = site.handle(polled(socket(true, 0.0, 1100.0)), clock.advance(1));
    assert!(sessions(&again).is_empty(), "held until the vehicle leaves");
    site.handle(polled(socket(false, 0.0, 1100.0)), clock.advance(1));
    let next = site.handle(polled(socket(true, 0.0, 1100.0)), clock.advance(1));
    assert_eq!(
        sessions(&next)[0].0,
        SessionChange::Started,
        "the next plug-in starts one"
    );
}
