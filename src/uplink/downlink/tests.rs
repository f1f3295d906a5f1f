use ed25519_dalek::SigningKey;
use serde_json::json;

use super::*;
use crate::core::access::OfflinePolicy;
use crate::uplink::signature::sign;

const SITE: &str = "site-a";

fn topic(t: &str) -> String {
    format!("sitegate/v1/{SITE}/{t}")
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn keys(require: bool) -> TrustedKeys {
    TrustedKeys::new(
        vec![("central-1".into(), key(1).verifying_key().to_bytes())],
        require,
    )
    .unwrap()
}

fn run(t: &str, payload: &[u8]) -> Result<Downlink, Refusal> {
    parse(
        SITE,
        &topic(t),
        payload,
        &DownlinkLimits::default(),
        &keys(false),
        Some(1_800_000_000_000),
    )
}

fn ok(t: &str, v: serde_json::Value) -> Downlink {
    run(t, v.to_string().as_bytes()).unwrap_or_else(|r| panic!("{r}"))
}

fn refused(t: &str, v: serde_json::Value) -> Refusal {
    match run(t, v.to_string().as_bytes()) {
        Ok(d) => panic!("accepted: {d:?}"),
        Err(r) => r,
    }
}

fn rules_json() -> serde_json::Value {
    json!({
        "site": {"home": false, "communities": ["residents", "public"],
                 "default_community": "residents", "tariff": "t-site"},
        "communities": [
            {"id": "residents", "public": false, "card_payment": false, "tariff": null,
             "hours": [[true, true, true, true, true, false, false], 420, 1320]},
            {"id": "public", "public": true, "card_payment": true, "tariff": "t-public"}
        ],
        "sockets": {"garage-1": {"communities": ["residents"], "tariff": null}}
    })
}

fn full_user() -> serde_json::Value {
    json!({"id": "u1", "name": "Ada", "role": "individual", "socket_access": true,
           "communities": ["residents"], "active_until": null, "blocked": false,
           "credit": {"kind": "prepaid", "amount": "25.00"}})
}

fn full_token() -> serde_json::Value {
    json!({"token": "04a1b2c3", "user": "u1", "status": "Accepted", "expiry": null,
           "parent": "family-7", "sockets": []})
}

#[test]
fn ack() {
    assert_eq!(
        ok("ack", json!({"events": 1042, "updates": 877})),
        Downlink::Ack {
            events: Some(1042),
            updates: Some(877)
        }
    );
    assert_eq!(
        ok("ack", json!({"updates": 3})),
        Downlink::Ack {
            events: None,
            updates: Some(3)
        }
    );
    let r = refused("ack", json!({"events": -1}));
    assert_eq!(r.reason, RefusalReason::Invalid);
    assert!(r.detail.starts_with("events:"), "{r}");
}

#[test]
fn a_full_list_chunk_with_rules_users_and_tokens() {
    let v = json!({"version": 13, "chunk": 0, "chunks": 3, "rules": rules_json(),
                   "users": [full_user(), {"id": "u2"}], "tokens": [full_token()]});
    let text = v.to_string();
    let Downlink::AccessChunk(c) = ok("access/full", v) else {
        panic!()
    };
    assert_eq!((c.version, c.chunk, c.chunks), (13, 0, 3));
    let rules = c.rules.unwrap();
    assert_eq!(rules.version, 13);
    assert_eq!(rules.site.default_community.as_deref(), Some("residents"));
    assert_eq!(rules.communities["public"].kind, CommunityKind::Public);
    let hours = rules.communities["residents"].hours.unwrap();
    assert_eq!((hours.start_min, hours.end_min), (420, 1320));
    assert!(!hours.days[5]);
    assert_eq!(
        rules.sockets["garage-1"].communities.as_deref(),
        Some(&["residents".to_string()][..])
    );
    assert_eq!(
        c.users[0].credit,
        Some(Credit::Prepaid(Decimal::new(25, 0)))
    );
    assert_eq!(c.users[1], User::new("u2", ""));
    let (t, e) = &c.tokens[0];
    assert_eq!(t.expose(), "04A1B2C3");
    assert_eq!(e.status, TokenStatus::Accepted);
    assert_eq!(e.parent.as_deref(), Some("family-7"));
    assert_eq!(c.json, text.as_bytes());
}

#[test]
fn the_commit_checksum_covers_the_chunks_json_in_order() {
    let chunks: Vec<String> = (0..2)
        .map(|i| {
            let mut v = json!({"version": 7, "chunk": i, "chunks": 2,
                               "users": [{"id": format!("u{i}")}]});
            if i == 0 {
                v["rules"] = rules_json();
            }
            v.to_string()
        })
        .collect();
    let mut sum = ListChecksum::new();
    for c in &chunks {
        let Downlink::AccessChunk(c) = run("access/full", c.as_bytes()).unwrap() else {
            panic!()
        };
        sum.add(&c.json);
    }
    let expected: [u8; 32] = Sha256::digest(chunks.concat().as_bytes()).into();
    let hex: String = expected.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sum.finish(), expected);
    assert_eq!(
        ok(
            "access/commit",
            json!({"version": 7, "chunks": 2, "sha256": hex})
        ),
        Downlink::AccessCommit {
            version: 7,
            chunks: 2,
            sha256: expected
        }
    );
    let r = refused(
        "access/commit",
        json!({"version": 7, "chunks": 2, "sha256": "abc"}),
    );
    assert_eq!(r.detail, "sha256: must be 64 hexadecimal digits");
}

#[test]
fn every_problem_of_a_list_is_named_with_its_path() {
    let mut bad_user = full_user();
    bad_user["credit"]["amount"] = json!("25.123");
    let r = refused(
        "access/full",
        json!({"version": 0, "chunk": 3, "chunks": 3, "rules": rules_json(),
               "users": [full_user(), {"id": "u9", "credit": {"kind": "limit", "amount": -5}},
                         {"id": "u7", "role": "boss"}, bad_user, {"id": ""}, {"id": "u1"}],
               "tokens": [full_token(), full_token(), {"token": "", "status": "Accepted"},
                          {"token": "AA", "status": "Maybe"}]}),
    );
    assert_eq!(r.reason, RefusalReason::Invalid);
    assert_eq!(r.topic, Some(DownTopic::AccessFull));
    for expected in [
        "version: must be above 0",
        "chunk: 3 is not below chunks (3)",
        "rules: only chunk 0 carries the rules",
        "users[1].credit.amount: -5 is negative",
        "users[2].role: unknown variant `boss`",
        "users[3].credit.amount: 25.123 has more than 2 decimals",
        "users[5].id: user \"u1\" is listed twice",
        "users[4].id: must not be empty",
        "tokens[1].token: token tok:",
        "tokens[2].token: not a token",
        "tokens[3].status: unknown variant `Maybe`",
    ] {
        assert!(
            r.detail.contains(expected),
            "{expected:?} not in {}",
            r.detail
        );
    }
}

#[test]
fn chunk_zero_needs_rules_and_rules_must_be_consistent() {
    let r = refused(
        "access/full",
        json!({"version": 1, "chunk": 0, "chunks": 1}),
    );
    assert_eq!(r.detail, "rules: chunk 0 must carry the rules");
    let mut rules = rules_json();
    rules["site"]["default_community"] = json!("nobody");
    rules["sockets"]["garage-1"]["communities"] = json!(["ghosts"]);
    rules["communities"][0]["hours"] = json!([[true], 0, 1500]);
    rules["communities"][1]["id"] = json!("residents");
    let r = refused(
        "access/full",
        json!({"version": 1, "chunk": 0, "chunks": 1, "rules": rules}),
    );
    for expected in [
        "rules.site.default_community: unknown community \"nobody\"",
        "rules.sockets.garage-1.communities[0]: unknown community \"ghosts\"",
        "rules.communities[0].hours[0]: must list 7 days",
        "rules.communities[1].id: community \"residents\" is listed twice",
        "rules.site.communities[1]: unknown community \"public\"",
    ] {
        assert!(
            r.detail.contains(expected),
            "{expected:?} not in {}",
            r.detail
        );
    }
    let mut rules = rules_json();
    rules["communities"][0]["colour"] = json!("red");
    let r = refused(
        "access/full",
        json!({"version": 1, "chunk": 0, "chunks": 1, "rules": rules}),
    );
    assert!(r.detail.starts_with("rules.communities[0]"), "{r}");
    assert!(r.detail.contains("unknown field `colour`"), "{r}");
}

#[test]
fn a_diff_with_removals_and_additions() {
    let d = ok(
        "access/diff",
        json!({"version": 14,
               "users": [{"id": "u2", "remove": true}, full_user()],
               "tokens": [{"token": "04a1b2c3", "remove": true},
                          {"token": "AABB", "status": "Blocked"}]}),
    );
    let Downlink::AccessDiff {
        version,
        rules,
        users,
        tokens,
    } = d
    else {
        panic!()
    };
    assert_eq!(version, 14);
    assert!(rules.is_none());
    assert_eq!(users[0], ("u2".to_string(), None));
    assert_eq!(users[1].1.as_ref().unwrap().name, "Ada");
    assert_eq!(tokens[0], (IdToken::new("04A1B2C3").unwrap(), None));
    assert_eq!(tokens[1].1.as_ref().unwrap().status, TokenStatus::Blocked);

    let d = ok("access/diff", json!({"version": 15, "rules": rules_json()}));
    let Downlink::AccessDiff { rules, .. } = d else {
        panic!()
    };
    assert_eq!(rules.unwrap().version, 15);

    let r = refused(
        "access/diff",
        json!({"version": 16,
               "users": [{"id": "u2", "remove": false}, {"id": "u3", "remove": true, "name": "x"}],
               "tokens": [{"token": "AA", "remove": true}, {"token": "aa", "status": "Accepted"}]}),
    );
    for expected in [
        "users[0].remove: must be true",
        "users[1].name: unknown field `name`",
        "tokens[1].token: token tok:",
    ] {
        assert!(
            r.detail.contains(expected),
            "{expected:?} not in {}",
            r.detail
        );
    }
}

fn tariff(id: &str) -> serde_json::Value {
    json!({"id": id, "currency": "EUR", "energy": {"prices": [{"price_kwh": "0.25"}]}})
}

#[test]
fn tariffs_use_the_pricing_parser_and_keep_their_json() {
    let d = ok(
        "tariffs",
        json!({"version": 5, "tariffs": [tariff("t-site"), tariff("t-public")]}),
    );
    let Downlink::Tariffs { version, tariffs } = d else {
        panic!()
    };
    assert_eq!(version, 5);
    assert_eq!(tariffs[1].0.id, "t-public");
    assert_eq!(parse_tariff(&tariffs[1].1).unwrap(), tariffs[1].0);

    let mut bad = tariff("t-bad");
    bad["energy"]["prices"][0]["price_kwh"] = json!("0.123456");
    let r = refused(
        "tariffs",
        json!({"version": 6, "tariffs": [tariff("a"), tariff("a"), bad, {"id": 3}]}),
    );
    for expected in [
        "tariffs[1].id: \"a\" is listed twice",
        "tariffs[2].energy.prices[0].price_kwh:",
        "tariffs[3]: not a tariff",
    ] {
        assert!(
            r.detail.contains(expected),
            "{expected:?} not in {}",
            r.detail
        );
    }
}

#[test]
fn promotions_use_the_pricing_parser() {
    let promo = json!({"id": "p1", "first_day": "2026-11-01", "last_day": "2026-11-30",
                       "action": {"percent_off_energy": "10"}});
    let Downlink::Promotions {
        version,
        promotions,
    } = ok("promotions", json!({"version": 3, "promotions": [promo]}))
    else {
        panic!()
    };
    assert_eq!((version, promotions[0].0.id.as_str()), (3, "p1"));
    let r = refused(
        "promotions",
        json!({"version": 3, "promotions": [{"id": "p2", "first_day": "2026-13-01",
                "last_day": "2026-11-30", "action": {"free_kwh": 5}}]}),
    );
    assert!(r.detail.contains("promotions[0].first_day"), "{r}");
}

#[test]
fn config_patches_the_offline_policy() {
    let Downlink::Config { version, policy } = ok(
        "config",
        json!({"version": 4, "policy": {"local_authorize_offline": false,
               "allow_concurrent_tx": true, "max_energy_on_invalid_id": 500}}),
    ) else {
        panic!()
    };
    assert_eq!(version, 4);
    let p = policy.apply(OfflinePolicy::default());
    assert!(!p.local_authorize_offline && p.allow_concurrent_tx && p.local_pre_authorize);
    assert_eq!(p.max_energy_on_invalid_id_wh, 500.0);
    let r = refused(
        "config",
        json!({"version": 4, "policy": {"max_energy_on_invalid_id": -1, "allow_all": true}}),
    );
    assert!(r.detail.contains("policy.allow_all"), "{r}");
}

fn cmd(extra: serde_json::Value) -> serde_json::Value {
    let mut v = json!({"id": "cmd-1", "expires_at": "2027-01-15T08:00:00Z"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn commands() {
    let Downlink::Command(c) = ok(
        "commands",
        cmd(json!({"command": "remote_start", "socket": "garage-1", "token": "04a1b2c3"})),
    ) else {
        panic!()
    };
    assert_eq!(c.id, "cmd-1");
    assert_eq!(
        c.kind,
        CommandKind::RemoteStart {
            socket: "garage-1".into(),
            token: IdToken::new("04A1B2C3").unwrap()
        }
    );
    assert!(!c.expired(c.expires_at_ms));
    assert!(c.expired(c.expires_at_ms + 1));

    let kinds = [
        (
            json!({"command": "remote_stop", "session_id": "s1"}),
            CommandKind::RemoteStop {
                socket: None,
                session_id: Some("s1".into()),
            },
        ),
        (
            json!({"command": "set_availability", "socket": "g", "in_service": false}),
            CommandKind::SetAvailability {
                socket: "g".into(),
                in_service: false,
            },
        ),
        (
            json!({"command": "reset", "socket": "g"}),
            CommandKind::Reset { socket: "g".into() },
        ),
        (json!({"command": "report_state"}), CommandKind::ReportState),
        (
            json!({"command": "authorize_answer", "token": "AB12", "status": "Accepted",
                   "user": "u1", "expiry": "2027-01-01T00:00:00Z"}),
            CommandKind::AuthorizeAnswer {
                token: IdToken::new("AB12").unwrap(),
                entry: TokenEntry {
                    user: Some("u1".into()),
                    status: TokenStatus::Accepted,
                    expiry_ms: Some(1_798_761_600_000),
                    parent: None,
                    sockets: vec![],
                },
            },
        ),
    ];
    for (extra, kind) in kinds {
        let Downlink::Command(c) = ok("commands", cmd(extra)) else {
            panic!()
        };
        assert_eq!(c.kind, kind);
    }
}

#[test]
fn bad_commands_are_refused_with_their_id() {
    let r = refused(
        "commands",
        json!({"id": "cmd-2", "command": "report_state"}),
    );
    assert_eq!(r.reason, RefusalReason::Invalid);
    assert_eq!(r.command_id.as_deref(), Some("cmd-2"));
    assert!(r.detail.starts_with("expires_at: missing"), "{r}");
    for (extra, expected) in [
        (
            json!({"command": "remote_stop"}),
            "exactly one of socket and session_id",
        ),
        (
            json!({"command": "remote_stop", "socket": "a", "session_id": "b"}),
            "exactly one of socket and session_id",
        ),
        (
            json!({"command": "reset", "token": "AA"}),
            "token: is not a field of reset",
        ),
        (json!({"command": "reset"}), "socket: missing"),
        (
            json!({"command": "launch"}),
            "command: unknown command \"launch\"",
        ),
        (
            json!({"command": "set_availability", "socket": "g"}),
            "in_service: missing",
        ),
        (
            json!({"command": "authorize_answer", "token": "AA"}),
            "status: missing",
        ),
        (
            json!({"command": "report_state", "expires_at": "2099-01-01T00:00:00Z"}),
            "expires_at: more than",
        ),
        (
            json!({"command": "report_state", "expires_at": "tomorrow"}),
            "expires_at: \"tomorrow\" is not an RFC 3339 time",
        ),
    ] {
        let r = refused("commands", cmd(extra));
        assert!(
            r.detail.contains(expected),
            "{expected:?} not in {}",
            r.detail
        );
    }
}

#[test]
fn wrong_topics_are_refused() {
    for t in [
        "sitegate/v1/site-b/ack",
        "sitegate/v1/site-a/state",
        "sitegate/v1/site-a/ack/extra",
        "sitegate/v2/site-a/ack",
        "sitegate/v1/site-a",
        "",
    ] {
        let r = parse(
            SITE,
            t,
            b"{}",
            &DownlinkLimits::default(),
            &keys(false),
            None,
        )
        .unwrap_err();
        assert_eq!(r.reason, RefusalReason::UnexpectedTopic, "{t}");
        assert_eq!(r.topic, None);
    }
}

#[test]
fn oversize_is_refused_before_anything_else() {
    let limits = DownlinkLimits {
        max_bytes: 16,
        ..DownlinkLimits::default()
    };
    // Not even a valid topic, signature or JSON: the size is checked first.
    let r = parse(SITE, "nowhere", &[0xff; 17], &limits, &keys(true), None).unwrap_err();
    assert_eq!((r.reason, r.topic), (RefusalReason::TooLarge, None));
    // On a down topic, the refusal names it (the answer's `ref`).
    let r = parse(
        SITE,
        &topic("tariffs"),
        &[b' '; 17],
        &limits,
        &keys(true),
        None,
    )
    .unwrap_err();
    assert_eq!(
        (r.reason, r.topic),
        (RefusalReason::TooLarge, Some(DownTopic::Tariffs))
    );
    assert!(
        parse(
            SITE,
            &topic("ack"),
            b"{\"events\": 1}",
            &limits,
            &keys(false),
            None
        )
        .is_ok()
    );
}

#[test]
fn signatures_are_checked_before_the_content() {
    let json = br#"{"events": 5}"#;
    let signed = sign(&topic("ack"), json, "central-1", &key(1));
    let limits = DownlinkLimits::default();
    assert_eq!(
        parse(SITE, &topic("ack"), &signed, &limits, &keys(true), None).unwrap(),
        Downlink::Ack {
            events: Some(5),
            updates: None
        }
    );
    // The same signature on another topic or for another site.
    let r = parse(SITE, &topic("config"), &signed, &limits, &keys(true), None).unwrap_err();
    assert_eq!(r.reason, RefusalReason::BadSignature);
    let r = parse(
        "site-b",
        "sitegate/v1/site-b/ack",
        &signed,
        &limits,
        &keys(true),
        None,
    )
    .unwrap_err();
    assert_eq!(r.reason, RefusalReason::BadSignature);
    let r = parse(SITE, &topic("ack"), json, &limits, &keys(true), None).unwrap_err();
    assert_eq!(
        (r.reason, r.topic),
        (RefusalReason::Unsigned, Some(DownTopic::Ack))
    );
    assert!(parse(SITE, &topic("ack"), json, &limits, &keys(false), None).is_ok());
    let other = sign(&topic("ack"), json, "central-9", &key(9));
    let r = parse(SITE, &topic("ack"), &other, &limits, &keys(false), None).unwrap_err();
    assert_eq!(r.reason, RefusalReason::UnknownKey);
    // A signed payload that is not JSON is malformed (after its signature verified).
    let garbage = sign(&topic("ack"), b"{oops", "central-1", &key(1));
    let r = parse(SITE, &topic("ack"), &garbage, &limits, &keys(true), None).unwrap_err();
    assert_eq!(r.reason, RefusalReason::Malformed);
}

#[test]
fn hostile_json_is_refused_cleanly() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let limits = DownlinkLimits {
        max_bytes: 1 << 20,
        ..DownlinkLimits::default()
    };
    let r = parse(
        SITE,
        &topic("ack"),
        deep.as_bytes(),
        &limits,
        &keys(false),
        None,
    )
    .unwrap_err();
    assert_eq!(r.reason, RefusalReason::Malformed);
    let deep_inside = format!(
        r#"{{"version": 1, "tariffs": [{}{}]}}"#,
        "{\"a\":".repeat(40),
        "1}".repeat(40)
    );
    let r = run("tariffs", deep_inside.as_bytes()).unwrap_err();
    assert_eq!(r.reason, RefusalReason::Malformed);
    for (t, payload) in [
        ("ack", r#"{"events": 1e999}"#.to_string()),
        (
            "ack",
            r#"{"events": 123456789012345678901234567890}"#.to_string(),
        ),
        (
            "access/diff",
            format!(
                r#"{{"version": 2, "users": [{{"id": "u", "credit": {{"kind": "limit", "amount": {}}}}}]}}"#,
                "9".repeat(400)
            ),
        ),
        (
            "config",
            r#"{"version": 1, "policy": {"max_energy_on_invalid_id": 1e308}}"#.into(),
        ),
    ] {
        let r = run(t, payload.as_bytes()).unwrap_err();
        assert!(
            matches!(r.reason, RefusalReason::Invalid | RefusalReason::Malformed),
            "{t}: {r}"
        );
    }
    let r = run("ack", b"\xff\xfe").unwrap_err();
    assert_eq!(r.reason, RefusalReason::Malformed);
    let r = run("ack", b"").unwrap_err();
    assert_eq!(r.reason, RefusalReason::Malformed);
    let r = run("ack", b"[1, 2]").unwrap_err();
    assert_eq!(r.reason, RefusalReason::Invalid);
}

#[test]
fn long_refusals_list_a_bounded_number_of_problems() {
    let users: Vec<_> = (0..50).map(|_| json!({"id": ""})).collect();
    let r = refused("access/diff", json!({"version": 2, "users": users}));
    assert!(r.detail.ends_with("and 30 more"), "{}", r.detail);
}

#[test]
fn reason_names_follow_the_protocol() {
    let names: Vec<&str> = [
        RefusalReason::UnexpectedTopic,
        RefusalReason::TooLarge,
        RefusalReason::Unsigned,
        RefusalReason::UnknownKey,
        RefusalReason::BadSignature,
        RefusalReason::Malformed,
        RefusalReason::Invalid,
        RefusalReason::VersionMismatch,
        RefusalReason::AckAhead,
    ]
    .iter()
    .map(|r| r.name())
    .collect();
    assert_eq!(
        names,
        [
            "unexpected_topic",
            "too_large",
            "unsigned",
            "unknown_key",
            "bad_signature",
            "malformed",
            "invalid",
            "version_mismatch",
            "ack_ahead"
        ]
    );
    let r = Refusal::new(RefusalReason::TooLarge, "300000 bytes");
    assert_eq!(r.to_string(), "too_large: 300000 bytes");
    assert_eq!(
        DownTopic::AccessDiff.full("s1"),
        "sitegate/v1/s1/access/diff"
    );
}

#[test]
fn messages_and_elements_are_objects() {
    let r = refused("ack", json!([1, 2]));
    assert_eq!(r.detail, "must be a JSON object");
    let r = refused(
        "access/diff",
        json!({"version": 3, "users": [["u1", "Ada"]]}),
    );
    assert_eq!(r.detail, "users[0]: must be a JSON object");
}
