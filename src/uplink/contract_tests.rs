//! What the site sends, against docs/asyncapi.yaml: every kind of body `wire` makes, from
//! realistic values and their edge cases, published as the uplink publishes it (records
//! committed by the store and read back from its outbox, in their envelope; states, telemetry,
//! results and questions as `link` sends them), on its topic, validated against the message
//! schema of the channel with that address.
//!
//! The check is central-sim's (`central_sim::Contract`, the one central-sim applies to every
//! message it receives): the schema as written, and that every field the site sends is
//! described. A failure names the topic, the message, the record's type and the JSON path.

use std::collections::BTreeSet;
use std::time::Duration;

use central_sim::Contract;
use serde_json::Value;
use tokio::time::Instant;

use crate::core::access::IdToken;
use crate::core::pricing::{cost, parse_session, parse_tariff};
use crate::core::session::{AuthMethod, Cost, Phase, Session, StopReason};
use crate::core::site::{Audit, ControlAudit, SessionChange, SocketView};
use crate::core::socket_state::SocketState;
use crate::store::accounts::{AccountAction, AccountChange, Language, NewAccount};
use crate::store::outbox::Stream;
use crate::store::roles::Role;
use crate::store::{self, ConfigAudit, StoreHandle, StoreSetup, Write};
use crate::uplink::topics::Topics;
use crate::wire::tests::{AT_MS, sessions, stamp};
use crate::wire::*;

const SITE: &str = "garage";
const SOCKETS: [&str; 2] = ["garage-1", "garage-2"];
const PARIS: chrono_tz::Tz = chrono_tz::Europe::Paris;
/// Not a real hash: the store only checks argon2id's PHC format.
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

/// One message as it leaves the site: its topic and payload, and what it shows (for the
/// failure message).
struct Sent {
    topic: String,
    what: String,
    payload: Vec<u8>,
}

fn sent(topic: String, what: impl Into<String>, payload: Vec<u8>) -> Sent {
    Sent {
        topic,
        what: what.into(),
        payload,
    }
}

fn session_id(n: u32) -> uuid::Uuid {
    format!("0193f1c2-0000-7000-8000-{n:012}").parse().unwrap()
}

/// A session that delivered nothing: ended by the site as failed, priced at zero.
fn zero_cost(base: &Session) -> Session {
    let tariff = parse_tariff(
        r#"{"id":"sparklin","currency":"EUR",
            "energy":{"prices":[{"price_kwh":"0.25"}]},
            "idle_time":{"min_idle_minutes":15,"prices":[{"price_minute":"0.10"}]},
            "taxes":[{"name":"VAT","percent":20}]}"#,
    )
    .unwrap();
    let input = parse_session(
        r#"{"started_at":"2026-05-04T08:00:00Z","stopped_at":"2026-05-04T08:10:00Z","samples":[
            {"at":"2026-05-04T08:00:00Z","energy_wh":0,"phase":"idle"}]}"#,
        PARIS,
    )
    .unwrap();
    let b = cost(&tariff, &input, &[]).unwrap();
    assert!(b.total_incl_tax.is_zero(), "a zero cost");
    let mut s = base.clone();
    s.id = session_id(3);
    s.meter = crate::core::session::MeterTrack::starting_at(Some(1000.0));
    s.charging = Duration::ZERO;
    s.idle = Duration::from_secs(600);
    s.stop_reason = Some(StopReason::Unplugged);
    s.failed = Some("nothing delivered".into());
    s.offline = false;
    s.promotion_id = None;
    s.stopped = Some(stamp(AT_MS + 600_000, true));
    s.cost = Some(Cost {
        currency: b.currency.clone(),
        total_excl_tax: b.total_excl_tax,
        total_incl_tax: b.total_incl_tax,
        breakdown: b,
        time_zone: PARIS,
    });
    s
}

const AUTH_METHODS: [AuthMethod; 6] = [
    AuthMethod::Free,
    AuthMethod::LocalList,
    AuthMethod::Cache,
    AuthMethod::Central,
    AuthMethod::Remote,
    AuthMethod::Manager,
];
const STOP_REASONS: [StopReason; 10] = [
    StopReason::Unplugged,
    StopReason::Local,
    StopReason::Remote,
    StopReason::CreditExhausted,
    StopReason::DeAuthorized,
    StopReason::SocketLost,
    StopReason::PowerLoss,
    StopReason::Reset,
    StopReason::Fault,
    StopReason::OutOfService,
];
const PHASES: [Phase; 4] = [Phase::Charging, Phase::Suspended, Phase::Idle, Phase::Lost];

/// Every write that makes a record for central: the sessions (started, progress, ended: failed
/// with an untrusted stop, with a promotion's discount, at zero cost, every way to start and
/// stop), socket states and faults, availability, each authorization outcome and each audit
/// action.
fn writes() -> Vec<Vec<Write>> {
    let (ended, running) = sessions();
    // The store keeps a session's meter start (`sessions.meter_start_wh` is NOT NULL).
    let running = Session {
        meter_start_wh: Some(0.0),
        meter: crate::core::session::MeterTrack::starting_at(Some(0.0)),
        ..running
    };
    let session = |s: &Session, change| {
        vec![Write::Session {
            session: Box::new(s.clone()),
            change,
            sample: None,
        }]
    };
    // `ended` as it started: priced only when it ends.
    let started = Session {
        stopped: None,
        meter_start_wh: Some(1000.0),
        meter: crate::core::session::MeterTrack::starting_at(Some(1000.0)),
        charging: Duration::ZERO,
        idle: Duration::ZERO,
        phase: Phase::Charging,
        stop_reason: None,
        failed: None,
        cost: None,
        ..ended.clone()
    };
    let mut w = vec![
        session(&running, SessionChange::Started),
        session(&started, SessionChange::Started),
    ];
    for phase in PHASES {
        let s = Session {
            phase,
            ..running.clone()
        };
        w.push(session(&s, SessionChange::Updated));
    }
    w.push(session(&ended, SessionChange::Ended));
    w.push(session(&zero_cost(&ended), SessionChange::Ended));
    for (n, reason) in STOP_REASONS.iter().enumerate() {
        let s = Session {
            id: session_id(10 + n as u32),
            auth: AUTH_METHODS[n % AUTH_METHODS.len()],
            stop_reason: Some(*reason),
            failed: (*reason == StopReason::Fault).then(|| "E12".into()),
            stopped: Some(stamp(AT_MS + 60_000, n % 2 == 0)),
            cost: None,
            tariff_id: None,
            ..ended.clone()
        };
        w.push(session(&s, SessionChange::Ended));
    }

    let untrusted = stamp(20_000, false);
    for (state, reason, fault, when) in [
        ("Charging", "vehicle charging", false, stamp(AT_MS, true)),
        ("Available", "unplugged", false, untrusted),
        ("Faulted", "E12", true, stamp(AT_MS, true)),
        ("NotConnected", "no answer for 30 s", true, untrusted),
    ] {
        w.push(vec![Write::SocketState {
            socket: 0,
            state: state.into(),
            reason: reason.into(),
            fault,
            at: when,
        }]);
    }
    for out_of_service in [true, false] {
        w.push(vec![Write::OutOfService {
            socket: 1,
            out_of_service,
            at: stamp(AT_MS, out_of_service),
        }]);
    }

    let token = IdToken::new("04A1B2C3").unwrap();
    for (outcome, reason, source, user, sockets) in [
        ("accepted", None, Some("local_list"), Some("u1"), vec![0]),
        ("accepted", None, Some("cache"), Some("u1"), vec![0, 1]),
        ("accepted", None, Some("unknown_offline"), None, vec![1]),
        ("rejected", Some("unknown"), None, None, vec![0, 1]),
        (
            "rejected",
            Some("SocketUnavailable"),
            None,
            Some("u1"),
            vec![0],
        ),
        ("stopped", None, None, Some("u1"), vec![0]),
        ("ask_central", None, None, None, vec![]),
    ] {
        w.push(vec![Write::Audit(Box::new(Audit {
            token: token.clone(),
            sockets,
            user: user.map(Into::into),
            outcome,
            reason,
            source,
            at: stamp(AT_MS, source != Some("unknown_offline")),
        }))]);
    }
    for (action, actor, user, reason) in [
        ("out_of_service", Some("ada"), None, None),
        ("return", Some("ada"), None, None),
        ("stop", Some("ada"), None, None),
        ("start", Some("ada"), Some("u1"), None),
        ("relay_test_on", Some("ada"), None, None),
        ("relay_test_off", None, None, None),
        ("relay_test_refused", Some("ada"), None, Some("session")),
    ] {
        w.push(vec![Write::ControlAudit(Box::new(ControlAudit {
            socket: 0,
            action,
            actor: actor.map(Into::into),
            user: user.map(Into::into),
            reason,
            at: stamp(AT_MS, actor.is_some()),
        }))]);
    }
    for (action, target) in [
        ("socket_added", "garage-3"),
        ("socket_changed", "garage-1"),
        ("socket_removed", "garage-3"),
        ("uplink_changed", "broker.example.com"),
    ] {
        w.push(vec![Write::ConfigAudit(Box::new(ConfigAudit {
            actor: "ada".into(),
            action,
            target: target.into(),
            at: stamp(AT_MS, true),
        }))]);
    }
    let account = |actor: &str, action| {
        vec![Write::Account(Box::new(AccountChange {
            actor: actor.into(),
            at: stamp(AT_MS, actor != "setup"),
            action,
        }))]
    };
    let new = |username: &str, role, active_until_ms| NewAccount {
        username: username.into(),
        display_name: String::new(),
        role,
        password_hash: HASH.into(),
        active_until_ms,
        language: None,
    };
    let bob = || "bob".to_string();
    w.extend([
        account(
            "setup",
            AccountAction::Create(new("ada", Role::Installer, None)),
        ),
        account(
            "cli",
            AccountAction::Create(new("bob", Role::Manager, Some(AT_MS + 86_400_000))),
        ),
        account(
            "ada",
            AccountAction::SetRole {
                username: bob(),
                role: Role::Viewer,
            },
        ),
        account(
            "ada",
            AccountAction::SetActive {
                username: bob(),
                active: false,
            },
        ),
        account(
            "ada",
            AccountAction::SetActive {
                username: bob(),
                active: true,
            },
        ),
        account(
            "ada",
            AccountAction::SetActiveUntil {
                username: bob(),
                until_ms: None,
            },
        ),
        account(
            "ada",
            AccountAction::SetPassword {
                username: bob(),
                password_hash: HASH.into(),
            },
        ),
        account(
            "bob",
            AccountAction::SetLanguage {
                username: bob(),
                language: Some(Language::Fr),
            },
        ),
        account(
            "bob",
            AccountAction::SetDisplayName {
                username: bob(),
                display_name: "Bob".into(),
            },
        ),
    ]);
    w
}

fn setup(dir: &std::path::Path, reserve_bytes: u64) -> StoreSetup {
    StoreSetup {
        path: dir.join(store::DB_FILE),
        time_zone: PARIS,
        socket_ids: SOCKETS.map(String::from).to_vec(),
        run_id: "run-1".into(),
        run_start: Instant::now(),
        reserve_bytes,
        max_db_bytes: None,
        updates_cap: 10_000,
        clock: crate::clock::Clock::detect(),
    }
}

/// What the store commits for `writes`, published as `link` publishes records: each stream
/// from its outbox, each record in its envelope (`uplink::up::record`).
async fn records(reserve_bytes: u64, writes: Vec<Vec<Write>>) -> Vec<Sent> {
    let dir = tempfile::tempdir().unwrap();
    let (handle, _, thread) = StoreHandle::start(setup(dir.path(), reserve_bytes)).unwrap();
    for w in writes {
        handle.apply(w).await.unwrap();
    }
    drop(handle);
    thread.join().unwrap();
    let conn = store::open_reader(&dir.path().join(store::DB_FILE)).unwrap();
    let topics = Topics::new(SITE);
    let mut out = Vec::new();
    for (stream, name) in [(Stream::Events, "events"), (Stream::Updates, "updates")] {
        for r in store::outbox::after(&conn, stream, 0, 10_000).unwrap() {
            out.push(sent(
                topics.up(name),
                format!("{} #{}", r.kind, r.seq),
                crate::uplink::up::record(&r),
            ));
        }
    }
    out
}

fn view(state: SocketState, out_of_service: bool, session: Option<Session>) -> SocketView {
    SocketView {
        state,
        read_at: None,
        readings: crate::core::Readings {
            energy_wh: Some(15000.25),
            power_w: Some(7200.0),
            current_a: [Some(10.5), Some(10.4), Some(10.6)],
            voltage_v: [Some(230.1), Some(229.8), Some(231.0)],
            setpoint_a: Some(16.0),
            ..Default::default()
        },
        since: Instant::now(),
        out_of_service,
        session,
    }
}

/// The retained site and socket states, telemetry, results and questions, made as `link` and
/// `states` make them.
fn messages() -> Vec<Sent> {
    let topics = Topics::new(SITE);
    let (ended, running) = sessions();
    let mut out = vec![
        sent(
            topics.up("state"),
            "birth",
            site_online(SITE, "Garage Sud", AT_MS),
        ),
        sent(topics.up("state"), "last will", site_offline()),
    ];

    // Each state, with the session it may have; the last one also out of service.
    let states = [
        (SocketState::NotConnected, Some(ended.clone())),
        (SocketState::Available, None),
        (SocketState::Occupied, Some(running.clone())),
        (SocketState::Charging, Some(ended.clone())),
        (SocketState::SuspendedEV, Some(running.clone())),
        (
            SocketState::Faulted { code: "E12".into() },
            Some(ended.clone()),
        ),
        (SocketState::Faulted { code: "E12".into() }, None),
        (SocketState::Disabled, None),
    ];
    let last = states.len() - 1;
    for (n, (state, session)) in states.into_iter().enumerate() {
        let v = view(state, n == last, session);
        let name = v.state.name();
        out.push(sent(
            topics.socket_state(SOCKETS[0]),
            format!("state {name}"),
            socket_state(SOCKETS[0], &v, AT_MS),
        ));
        out.push(sent(
            topics.telemetry(SOCKETS[0]),
            format!("telemetry {name}"),
            telemetry(SOCKETS[0], &v, AT_MS),
        ));
    }
    // A single-phase plug that reads no meter, and a NaN (written null).
    let mut v = view(SocketState::Available, false, None);
    v.readings = crate::core::Readings {
        power_w: Some(0.0),
        current_a: [Some(0.0), None, None],
        voltage_v: [Some(f64::NAN), None, None],
        ..Default::default()
    };
    out.push(sent(
        topics.telemetry(SOCKETS[1]),
        "telemetry without meter",
        telemetry(SOCKETS[1], &v, AT_MS),
    ));

    // `link::answer` publishes the value's text.
    let answer =
        |what: &str, v: Value| sent(topics.up("results"), what, v.to_string().into_bytes());
    for down in crate::uplink::topics::DOWN {
        out.push(answer(
            &format!("refused {down}"),
            result(
                down,
                None,
                Status::Refused,
                Some("malformed"),
                Some("expected value at line 1 column 1"),
                AT_MS,
            ),
        ));
    }
    out.push(answer(
        "refused, unexpected topic",
        result(
            &format!("sitegate/v1/{SITE}/oops"),
            None,
            Status::Refused,
            Some("unexpected_topic"),
            Some(&format!(
                "\"sitegate/v1/{SITE}/oops\" is not a down topic of site \"{SITE}\""
            )),
            AT_MS,
        ),
    ));
    for down in [
        "access/commit",
        "access/diff",
        "tariffs",
        "promotions",
        "config",
    ] {
        out.push(answer(
            &format!("accepted {down}"),
            Answer::new(down, None, Status::Accepted, None, None, AT_MS)
                .version(5)
                .into_value(),
        ));
        let mut stale = Answer::new(
            down,
            None,
            Status::Refused,
            Some("version_mismatch"),
            Some("version 5 is not above the current 5"),
            AT_MS,
        )
        .current(5);
        if down.starts_with("access/") {
            stale = stale.want_full_list();
        }
        out.push(answer(&format!("stale {down}"), stale.into_value()));
    }
    out.push(answer(
        "ack ahead",
        result(
            "ack",
            None,
            Status::Refused,
            Some("ack_ahead"),
            Some("ack 12 is above the last sent 10"),
            AT_MS,
        ),
    ));
    for (status, reason, detail) in [
        (Status::Accepted, None, None),
        (
            Status::Rejected,
            Some("socket_unavailable"),
            Some("garage-1 is out of service"),
        ),
        (Status::Expired, None, Some("past its expires_at")),
        (Status::Duplicate, None, None),
        (Status::Refused, Some("invalid"), Some("socket: missing")),
    ] {
        out.push(answer(
            &format!("command {}", status.name()),
            result("commands", Some("cmd-8812"), status, reason, detail, AT_MS),
        ));
    }

    let token = IdToken::new("04a1b2c3").unwrap();
    out.push(sent(
        topics.up("authorize"),
        "question",
        authorize("0193f1c2-0000-7000-8000-0000000000aa", &token, SOCKETS[0]),
    ));
    out
}

/// The record types the spec lists for a schema of `oneOf` branches (`Event`, `Update`).
fn types_of(doc: &Value, schema: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][schema]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["allOf"].as_array().unwrap())
        .filter_map(|p| p["properties"]["type"]["const"].as_str().map(String::from))
        .collect()
}

#[tokio::test]
async fn what_the_site_sends_matches_docs_asyncapi_yaml() {
    let contract = Contract::built_in().unwrap();
    let doc = contract.document();

    let mut all = records(0, writes()).await;
    // A nearly full disk: the site raises its own fault (a reserve larger than any disk).
    let low = records(
        u64::MAX / 2,
        vec![vec![Write::OutOfService {
            socket: 0,
            out_of_service: true,
            at: stamp(AT_MS, true),
        }]],
    )
    .await;
    all.extend(low.into_iter().filter(|r| r.what.starts_with("fault")));
    all.extend(messages());

    // Every record type the spec lists is made, and no other.
    let kinds = |topic: &str| -> BTreeSet<String> {
        all.iter()
            .filter(|s| s.topic.ends_with(topic))
            .map(|s| {
                serde_json::from_slice::<Value>(&s.payload).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        kinds("/events"),
        types_of(doc, "Event"),
        "the types of events"
    );
    assert_eq!(
        kinds("/updates"),
        types_of(doc, "Update"),
        "the types of updates"
    );
    let faults = all.iter().filter(|s| s.what.starts_with("fault")).count();
    assert_eq!(faults, 3, "two socket faults and the site's");

    let problems: Vec<String> = all
        .iter()
        .filter_map(|s| contract.check(&s.topic, &s.payload).err().map(|v| (s, v)))
        .map(|(s, v)| format!("[{}] {v}", s.what))
        .collect();
    assert!(
        problems.is_empty(),
        "{} of {} messages the site sends disagree with docs/asyncapi.yaml:\n{}",
        problems.len(),
        all.len(),
        problems.join("\n")
    );
}
