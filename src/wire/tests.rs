//! Each body central receives, made from fixed domain values, against its documented shape
//! (docs/mqtt.md, docs/asyncapi.yaml) written out in full: field names, nulls, number and time
//! formats, and the alphabetical key order every object keeps.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::*;
use crate::core::access::IdToken;
use crate::core::pricing::{Offer, cost, parse_promotion, parse_tariff};
use crate::core::session::{AuthMethod, Cost, MeterTrack, Phase, Session, StopReason};
use crate::core::site::{Audit, ControlAudit, SocketView};
use crate::core::socket_state::SocketState;
use crate::core::time::Stamp;

/// 2026-11-22T10:15:02.120Z.
pub(crate) const AT_MS: i64 = 1_795_342_502_120;
const PARIS: chrono_tz::Tz = chrono_tz::Europe::Paris;

pub(crate) fn stamp(ms: i64, trusted: bool) -> Stamp {
    Stamp {
        mono: Instant::now(),
        wall_ms: ms,
        trusted,
    }
}

/// Sparklin's tariff with the welcome promotion, for two hours of charging 14 kWh then an
/// hour idle (tests/it/pricing.rs prices the same).
pub(super) fn priced() -> crate::core::pricing::Breakdown {
    let tariff = parse_tariff(
        r#"{"id":"sparklin","currency":"EUR",
            "energy":{"prices":[{"price_kwh":"0.25"}]},
            "idle_time":{"min_idle_minutes":15,"prices":[{"price_minute":"0.10"}]},
            "taxes":[{"name":"VAT","percent":20}]}"#,
    )
    .unwrap();
    let welcome = parse_promotion(
        r#"{"id":"welcome","first_day":"2026-05-01","last_day":"2026-05-31","action":{"free_kwh":5}}"#,
    )
    .unwrap();
    let late = parse_promotion(
        r#"{"id":"late","first_day":"2027-01-01","last_day":"2027-01-31","action":{"free_kwh":1}}"#,
    )
    .unwrap();
    let session = crate::core::pricing::parse_session(
        r#"{"started_at":"2026-05-04T08:00:00Z","stopped_at":"2026-05-04T11:00:00Z","samples":[
            {"at":"2026-05-04T08:00:00Z","energy_wh":0,"phase":"charging"},
            {"at":"2026-05-04T10:00:00Z","energy_wh":14000,"phase":"idle"}]}"#,
        PARIS,
    )
    .unwrap();
    let offers = [&late, &welcome].map(|promotion| Offer {
        promotion,
        used_by_user: 0,
        used_total: 0,
    });
    cost(&tariff, &session, &offers).unwrap()
}

/// An ended session, priced, that failed; and a running one with everything optional empty.
pub(crate) fn sessions() -> (Session, Session) {
    let b = priced();
    let ended = Session {
        id: "0193f1c2-0000-7000-8000-000000000001".parse().unwrap(),
        socket: 0,
        identity: Some("u1".into()),
        auth: AuthMethod::LocalList,
        started: stamp(AT_MS, true),
        stopped: Some(stamp(AT_MS + 3 * 3_600_000, false)),
        meter_start_wh: Some(1000.0),
        meter: MeterTrack {
            last_wh: Some(15000.25),
            energy_wh: 14_000.123_456,
            anomalies: 0,
        },
        charging: Duration::from_millis(7_200_900),
        idle: Duration::from_secs(3600),
        phase: Phase::Idle,
        stop_reason: Some(StopReason::Fault),
        offline: true,
        failed: Some("E12".into()),
        samples: 3,
        token: IdToken::new("04A1B2C3"),
        parent: None,
        tariff_id: Some("sparklin".into()),
        promotion_id: Some("welcome".into()),
        cost: Some(Cost {
            currency: b.currency.clone(),
            total_excl_tax: b.total_excl_tax,
            total_incl_tax: b.total_incl_tax,
            breakdown: b,
            time_zone: PARIS,
        }),
    };
    let running = Session {
        id: "0193f1c2-0000-7000-8000-000000000002".parse().unwrap(),
        identity: None,
        auth: AuthMethod::Free,
        stopped: None,
        meter_start_wh: None,
        meter: MeterTrack::starting_at(None),
        charging: Duration::ZERO,
        idle: Duration::ZERO,
        phase: Phase::Charging,
        stop_reason: None,
        offline: false,
        failed: None,
        token: None,
        tariff_id: None,
        promotion_id: None,
        cost: None,
        ..ended.clone()
    };
    (ended, running)
}

/// `value`'s JSON, checked to have its keys in alphabetical order at every level (as
/// `serde_json::Value` writes them).
fn sorted<T: Serialize>(value: &T) -> String {
    let text = serde_json::to_string(value).unwrap();
    let canonical = serde_json::to_value(value).unwrap().to_string();
    assert_eq!(text, canonical, "keys out of alphabetical order");
    text
}

const STAMP: &str = r#"{"clock_trusted":true,"utc":"2026-11-22T10:15:02.120Z"}"#;

const BREAKDOWN: &str = concat!(
    r#"{"amounts":{"charging_time":"0.00","energy":"3.50","fixed_fee":"0.00","idle_time":"4.50"},"#,
    r#""billed_idle_ms":2700000,"charging_ms":7200000,"currency":"EUR","#,
    r#""discount":{"amount":"1.25","description":"first 5 kWh free","promotion_id":"welcome"},"#,
    r#""energy_wh":"14000","idle_ms":3600000,"min_max_adjustment":"0.00","periods":["#,
    r#"{"billed_idle_ms":2700000,"charging_amount":"0","charging_element":null,"#,
    r#""charging_ms":7200000,"end":"2026-05-04T11:00:00+00:00","energy_amount":"3.50","#,
    r#""energy_element":0,"energy_wh":"14000","idle_amount":"4.5","idle_element":0,"#,
    r#""idle_ms":3600000,"start":"2026-05-04T08:00:00+00:00"}],"#,
    r#""refused_promotions":[{"promotion_id":"late","reason":"outside its dates"}],"#,
    r#""subtotal":"8.00","tariff_id":"sparklin","#,
    r#""taxes":[{"amount":"1.35","base":"6.75","name":"VAT","percent":"20","stack":0}],"#,
    r#""time_zone":"Europe/Paris","total_excl_tax":"6.75","total_incl_tax":"8.10"}"#
);

#[test]
fn a_breakdown_keeps_its_documented_shape() {
    let b = priced();
    let text = sorted(&Breakdown::new(&b, PARIS));
    assert_eq!(text, BREAKDOWN);
    assert_eq!(breakdown_text(&b, PARIS), BREAKDOWN);
    assert_eq!(breakdown_value(&b, PARIS).to_string(), BREAKDOWN);
    let pretty = breakdown_pretty(&b, PARIS);
    assert!(pretty.ends_with("}\n") && pretty.contains("\n  \"amounts\": {\n"));
    let back: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(back.to_string(), BREAKDOWN);
}

#[test]
fn a_session_body_keeps_its_documented_shape() {
    let (ended, running) = sessions();
    let text = sorted(&SessionBody::new(&ended, "garage-1"));
    let expected = format!(
        concat!(
            r#"{{"auth_method":"local_list","charging_s":7200,"#,
            r#""cost":{{"breakdown":{},"currency":"EUR","total_excl_tax":"6.75","total_incl_tax":"8.10"}},"#,
            r#""energy_wh":14000.123,"failed":"E12","identity":"u1","idle_s":3600,"#,
            r#""meter_start_wh":1000.0,"meter_stop_wh":15000.25,"offline":true,"phase":"idle","#,
            r#""session_id":"0193f1c2-0000-7000-8000-000000000001","socket":"garage-1","#,
            r#""started":{},"stop_reason":"fault","#,
            r#""stopped":{{"clock_trusted":false,"utc":"2026-11-22T13:15:02.120Z"}},"#,
            r#""tariff_id":"sparklin"}}"#
        ),
        BREAKDOWN, STAMP
    );
    assert_eq!(text, expected);
    assert_eq!(SessionBody::new(&ended, "garage-1").text(), expected);

    let text = sorted(&SessionBody::new(&running, "garage-1"));
    let expected = format!(
        concat!(
            r#"{{"auth_method":"free","charging_s":0,"cost":null,"energy_wh":0.0,"failed":null,"#,
            r#""identity":null,"idle_s":0,"meter_start_wh":null,"meter_stop_wh":null,"#,
            r#""offline":false,"phase":"charging","#,
            r#""session_id":"0193f1c2-0000-7000-8000-000000000002","socket":"garage-1","#,
            r#""started":{},"stop_reason":null,"stopped":null,"tariff_id":null}}"#
        ),
        STAMP
    );
    assert_eq!(text, expected);
}

#[test]
fn state_fault_and_availability_bodies_keep_their_documented_shape() {
    let at = stamp(AT_MS, true);
    assert_eq!(
        sorted(&SocketStateBody::new(
            "s1",
            "Charging",
            "vehicle charging",
            &at
        )),
        format!(r#"{{"at":{STAMP},"reason":"vehicle charging","socket":"s1","state":"Charging"}}"#)
    );
    assert_eq!(
        sorted(&SiteFaultBody::new("disk_nearly_full", AT_MS)),
        r#"{"fault":"disk_nearly_full","utc":"2026-11-22T10:15:02.120Z"}"#
    );
    assert_eq!(
        sorted(&AvailabilityBody::new("s1", true, &at)),
        format!(r#"{{"at":{STAMP},"out_of_service":true,"socket":"s1"}}"#)
    );
}

#[test]
fn audit_bodies_keep_their_documented_shape() {
    let at = stamp(AT_MS, true);
    let audit = Audit {
        token: IdToken::new("04A1B2C3").unwrap(),
        sockets: vec![0, 1],
        user: None,
        outcome: "rejected",
        reason: Some("unknown"),
        source: None,
        at,
    };
    let token = IdToken::new("04A1B2C3").unwrap().redacted();
    assert_eq!(
        sorted(&AuthorizationBody::new(
            &audit,
            vec!["garage-1", "garage-2"]
        )),
        format!(
            r#"{{"at":{STAMP},"outcome":"rejected","reason":"unknown","sockets":["garage-1","garage-2"],"source":null,"token":"{token}","user":null}}"#
        )
    );
    let control = ControlAudit {
        socket: 0,
        action: "start",
        actor: Some("ada".into()),
        user: Some("u1".into()),
        reason: None,
        at,
    };
    assert_eq!(
        sorted(&ControlAuditBody::new(&control, "garage-1")),
        format!(
            r#"{{"action":"start","actor":"ada","at":{STAMP},"reason":null,"socket":"garage-1","user":"u1"}}"#
        )
    );
    assert_eq!(
        sorted(&ConfigAuditBody::new(
            "ada",
            "socket_added",
            "garage-3",
            &at
        )),
        format!(r#"{{"action":"socket_added","actor":"ada","at":{STAMP},"target":"garage-3"}}"#)
    );
    let account = || AccountAuditBody::new("cli", "create", "ada", "installer", &at);
    assert_eq!(
        sorted(&account()),
        format!(
            r#"{{"action":"create","actor":"cli","at":{STAMP},"role":"installer","username":"ada"}}"#
        )
    );
    assert_eq!(
        sorted(&account().active_until(None)),
        format!(
            r#"{{"action":"create","active_until":null,"actor":"cli","at":{STAMP},"role":"installer","username":"ada"}}"#
        )
    );
    assert_eq!(
        sorted(&account().active_until(Some(AT_MS))),
        format!(
            r#"{{"action":"create","active_until":"2026-11-22T10:15:02.120Z","actor":"cli","at":{STAMP},"role":"installer","username":"ada"}}"#
        )
    );
}

#[test]
fn the_envelope_carries_the_body_as_committed() {
    let (ended, _) = sessions();
    let body = SessionBody::new(&ended, "garage-1").text();
    let parts = RecordParts {
        seq: 1042,
        id: "0193f1c2-x",
        kind: "session_ended",
        at_ms: AT_MS,
        trusted: true,
        offline: false,
        body: &body,
    };
    let bytes = envelope(parts);
    let text = std::str::from_utf8(&bytes).unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"at":{STAMP},"body":{body},"id":"0193f1c2-x","offline":false,"seq":1042,"type":"session_ended"}}"#
        )
    );
    // The same bytes as parsing the body and writing the whole envelope as a value.
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value.to_string(), text);

    // A body that is not JSON (the store never writes one) still travels, as a string.
    let odd = envelope(RecordParts {
        body: "not json",
        ..parts
    });
    let value: serde_json::Value = serde_json::from_slice(&odd).unwrap();
    assert_eq!(value["body"], "not json");
}

fn view(session: Option<Session>) -> SocketView {
    SocketView {
        state: SocketState::Faulted { code: "E12".into() },
        read_at: None,
        readings: crate::core::Readings {
            energy_wh: Some(15000.25),
            power_w: Some(7200.0),
            current_a: [Some(10.5), None, None],
            voltage_v: [Some(230.1), Some(f64::NAN), None],
            setpoint_a: Some(16.0),
            ..Default::default()
        },
        since: Instant::now(),
        out_of_service: false,
        session,
    }
}

#[test]
fn state_and_telemetry_messages_keep_their_documented_shape() {
    let (ended, _) = sessions();
    let text = String::from_utf8(socket_state("garage-1", &view(Some(ended)), AT_MS)).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"at":"2026-11-22T10:15:02.120Z","fault":"E12","out_of_service":false,"#,
            r#""session":{"cost":{"currency":"EUR","total_incl_tax":"8.10"},"energy_wh":14000.123,"#,
            r#""session_id":"0193f1c2-0000-7000-8000-000000000001","#,
            r#""started":"2026-11-22T10:15:02.120Z","user":"u1"},"#,
            r#""socket":"garage-1","state":"Faulted"}"#
        )
    );
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value.to_string(), text);
    assert_eq!(
        String::from_utf8(telemetry("garage-1", &view(None), AT_MS)).unwrap(),
        concat!(
            r#"{"at":"2026-11-22T10:15:02.120Z","current_a":[10.5,null,null],"meter_wh":15000.25,"#,
            r#""power_w":7200.0,"setpoint_a":16.0,"socket":"garage-1","voltage_v":[230.1,null,null]}"#
        )
    );
    assert_eq!(site_offline(), br#"{"status":"offline"}"#);
    let online = String::from_utf8(site_online("site-7", "Garage", AT_MS)).unwrap();
    assert_eq!(
        online,
        format!(
            r#"{{"at":"2026-11-22T10:15:02.120Z","name":"Garage","protocol":1,"site":"site-7","status":"online","version":"{}"}}"#,
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn results_and_questions_keep_their_documented_shape() {
    assert_eq!(
        result(
            "access/diff",
            None,
            Status::Refused,
            Some("version_mismatch"),
            Some("version 12 is not above the current 12"),
            AT_MS
        )
        .to_string(),
        r#"{"at":"2026-11-22T10:15:02.120Z","detail":"version 12 is not above the current 12","reason":"version_mismatch","ref":"access/diff","status":"refused"}"#
    );
    assert_eq!(
        result(
            "commands",
            Some("cmd-8812"),
            Status::Accepted,
            None,
            None,
            AT_MS
        )
        .to_string(),
        r#"{"at":"2026-11-22T10:15:02.120Z","command_id":"cmd-8812","ref":"commands","status":"accepted"}"#
    );
    let stale = Answer::new("access/diff", None, Status::Refused, None, None, AT_MS)
        .current(12)
        .want_full_list();
    assert_eq!(
        sorted(&stale),
        r#"{"at":"2026-11-22T10:15:02.120Z","current":12,"ref":"access/diff","status":"refused","want":"access/full"}"#
    );
    let accepted = Answer::new("tariffs", None, Status::Accepted, None, None, AT_MS).version(5);
    assert_eq!(
        sorted(&accepted),
        r#"{"at":"2026-11-22T10:15:02.120Z","ref":"tariffs","status":"accepted","version":5}"#
    );
    let token = IdToken::new("04a1b2c3").unwrap();
    assert_eq!(
        String::from_utf8(authorize("r1", &token, "garage-1")).unwrap(),
        format!(
            r#"{{"request_id":"r1","socket":"garage-1","token":"04A1B2C3","token_hash":"{}"}}"#,
            token.redacted()
        )
    );
}
