//! `docs/asyncapi.yaml` is a valid AsyncAPI 3.0.0 document (against the official JSON Schema,
//! vendored in `tests/asyncapi-3.0.0.schema.json`), and what central-sim sends, and the examples
//! of docs/mqtt.md (copied here, and its JSON blocks as written), match its message schemas
//! (read by `central_sim::contract`, as central-sim reads every message a site sends).

use std::path::Path;
use std::sync::LazyLock;

use central_sim::Contract;
use serde_json::{Value, json};

/// docs/asyncapi.yaml, read once for every test here.
static CONTRACT: LazyLock<Contract> = LazyLock::new(|| Contract::built_in().unwrap());

fn spec() -> Value {
    CONTRACT.document().clone()
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn docs_asyncapi_yaml_is_valid_asyncapi_3_0_0() {
    let schema: Value = serde_json::from_str(include_str!("asyncapi-3.0.0.schema.json")).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let doc = spec();
    assert_eq!(doc["asyncapi"], "3.0.0");
    let errs = errors(&validator, &doc);
    assert!(
        errs.is_empty(),
        "docs/asyncapi.yaml is not valid AsyncAPI 3.0.0:\n{}",
        errs.join("\n")
    );

    // The validator does reject a broken document (the test is not vacuous).
    let mut broken = doc.clone();
    broken["operations"]["publishState"]["action"] = json!("publish");
    assert!(!errors(&validator, &broken).is_empty());
}

/// The problems of `instance` as a `#/components/schemas/{name}` of docs/asyncapi.yaml, as
/// written (the strict check, every field described, is for what the site sends).
fn problems_as(name: &str, instance: &Value) -> Vec<String> {
    CONTRACT.schema(name).unwrap().plain_problems(instance)
}

fn assert_valid(name: &str, instance: &Value) {
    let errs = problems_as(name, instance);
    assert!(
        errs.is_empty(),
        "{instance} is not a valid {name}:\n{}",
        errs.join("\n")
    );
}

fn assert_invalid(name: &str, instance: &Value) {
    assert!(
        !problems_as(name, instance).is_empty(),
        "{instance} should not be a valid {name}"
    );
}

#[test]
fn what_central_sim_sends_matches_the_spec() {
    let list = json!({"version": 13, "rules": {"site": {"home": false, "communities": ["residents"], "default_community": "residents", "tariff": null}, "communities": [{"id": "residents", "public": false, "card_payment": false, "tariff": null, "hours": null}], "sockets": {}},
        "users": [{"id": "u1", "name": "Ada", "role": "individual", "socket_access": true,
            "communities": ["residents"], "active_until": null, "blocked": false,
            "credit": {"kind": "prepaid", "amount": "25.00"}}, {"id": "u2"}],
        "tokens": [{"token": "04A1B2C3", "user": "u1", "status": "Accepted", "expiry": null,
            "parent": "family-7", "sockets": []}]});
    let c = central_sim::chunk_access_list(&list, 1).unwrap();
    for chunk in &c.chunks {
        assert_valid("AccessFullChunk", &serde_json::from_slice(chunk).unwrap());
    }
    assert_valid("AccessCommit", &serde_json::from_slice(&c.commit).unwrap());

    let mut cmd = json!({"command": "remote_start", "socket": "garage-1", "token": "04A1B2C3"});
    central_sim::protocol::fill_command(&mut cmd, 1, std::time::Duration::from_secs(60)).unwrap();
    assert_valid("Command", &cmd);
    assert_invalid(
        "Command",
        &json!({"id": "x", "command": "remote_start", "socket": "s", "token": "t"}),
    );
    assert_invalid(
        "Command",
        &json!({"id": "x", "expires_at": "2026-11-22T10:16:00Z", "command": "remote_stop"}),
    );

    let mut s = central_sim::SiteStats::new("a");
    s.receive("events", &json!({"seq": 1, "id": "x"}));
    assert_valid("Ack", &s.take_ack().unwrap());
}

#[test]
fn the_examples_of_docs_mqtt_md_match_the_spec() {
    let stamp = json!({"utc": "2026-11-22T10:15:02.120Z", "clock_trusted": true});
    let session = json!({"session_id": "0193f1c2", "socket": "garage-1", "identity": "u1",
        "auth_method": "local_list", "started": stamp, "stopped": stamp, "meter_start_wh": 1000.0,
        "meter_stop_wh": 15000.0, "energy_wh": 14000.0, "charging_s": 7200, "idle_s": 3600,
        "stop_reason": "unplugged", "offline": false, "failed": null, "phase": "idle",
        "tariff_id": "sparklin", "cost": {"currency": "EUR", "total_excl_tax": "8.00",
        "total_incl_tax": "9.60", "breakdown": {}}});
    let env = |t: &str, body: Value| {
        json!({"seq": 1042, "id": "0193f1c2-x", "type": t,
        "at": stamp, "offline": false, "body": body})
    };
    assert_valid("Event", &env("session_ended", session.clone()));
    let mut failed = session.clone();
    failed["failed"] = json!("E12");
    assert_valid("Event", &env("session_ended", failed));
    assert_valid("Update", &env("session_updated", session.clone()));
    assert_valid(
        "Event",
        &env(
            "authorization",
            json!({"token": "tok:1a2b3c", "sockets": ["garage-1"],
        "user": null, "outcome": "rejected", "reason": "unknown", "source": null, "at": stamp}),
        ),
    );
    assert_valid(
        "Event",
        &env(
            "fault",
            json!({"fault": "disk_nearly_full", "utc": "2026-11-22T10:15:02.120Z"}),
        ),
    );
    assert_valid(
        "Event",
        &env(
            "socket_availability",
            json!({"socket": "s1", "out_of_service": true, "at": stamp}),
        ),
    );
    assert_valid(
        "Update",
        &env(
            "socket_state",
            json!({"socket": "s1", "state": "charging", "reason": null, "at": stamp}),
        ),
    );
    assert_invalid("Event", &env("session_updated", session.clone()));
    assert_invalid("Event", &env("session_ended", json!({"socket": "s1"})));

    assert_valid("Ack", &json!({"events": 1042, "updates": 877}));
    assert_valid(
        "Result",
        &json!({"ref": "access/diff", "status": "refused", "reason": "version_mismatch",
        "detail": "version 12 is not above the current 12", "at": "2026-11-22T10:15:02.120Z"}),
    );
    assert_valid(
        "Result",
        &json!({"ref": "commands", "command_id": "cmd-8812", "status": "accepted",
        "reason": null, "at": "2026-11-22T10:15:02.120Z"}),
    );
    assert_valid(
        "AccessDiff",
        &json!({"version": 14, "users": [{"id": "u2", "remove": true}, {"id": "u3", "name": "B"}],
        "tokens": [{"token": "04A1B2C3", "remove": true}]}),
    );
    assert_valid(
        "Config",
        &json!({"version": 4, "policy": {"local_authorize_offline": true, "local_pre_authorize": false,
        "allow_offline_tx_for_unknown_id": false, "allow_concurrent_tx": true,
        "stop_transaction_on_invalid_id": true, "max_energy_on_invalid_id": 0}}),
    );
    assert_valid(
        "Authorize",
        &json!({"request_id": "r1", "token_hash": "tok:1a2b3c", "token": "04A1B2C3", "socket": "garage-1"}),
    );
    assert_valid(
        "Tariffs",
        &json!({"version": 5, "tariffs": [{
        "id": "sparklin", "currency": "EUR", "valid_from": "2026-01-01T00:00:00Z",
        "energy": {"prices": [
            {"price_kwh": "0.15", "conditions": {"start_time_of_day": "22:00", "end_time_of_day": "06:00"}},
            {"price_kwh": "0.30"}]},
        "charging_time": {"prices": [{"price_minute": "0.01"}]},
        "idle_time": {"min_idle_minutes": 15, "prices": [{"price_minute": "0.10"}]},
        "fixed_fee": {"prices": [{"price_fixed": "0.50"}]},
        "min_cost": "1.00", "max_cost": "30.00",
        "taxes": [{"name": "VAT", "percent": "20", "stack": 0}]}]}),
    );
    assert_valid(
        "Promotions",
        &json!({"version": 3, "promotions": [{
        "id": "welcome", "first_day": "2026-05-01", "last_day": "2026-05-31",
        "daily_window": {"start": "10:00", "end": "16:00"},
        "sockets": [], "communities": ["staff"], "users": [],
        "action": {"free_kwh": 5}, "limit_per_user": 1, "limit_total": 100}]}),
    );
}

/// Which schemas the JSON blocks under a heading of docs/mqtt.md show (one of them each).
const BLOCKS: [(&str, &[&str]); 7] = [
    ("## Envelope of up messages", &["Event", "Update"]),
    (
        "## Socket state and telemetry",
        &["SocketStatePayload", "Telemetry"],
    ),
    ("## Down messages and their safety", &["Result"]),
    (
        "### `access/full` and `access/commit`",
        &["AccessFullChunk", "AccessCommit"],
    ),
    ("### `access/diff`", &["AccessDiff"]),
    ("### Access-list entries", &["Rules"]),
    ("### `commands`", &["Command"]),
];

#[test]
fn the_json_blocks_of_docs_mqtt_md_match_the_spec() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/mqtt.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut heading, mut block, mut checked, mut problems) = ("", None::<String>, 0, Vec::new());
    for line in text.lines() {
        match &mut block {
            None if line.starts_with('#') => heading = line,
            None if line == "```json" => block = Some(String::new()),
            None => {}
            Some(json) if line == "```" => {
                let json = std::mem::take(json);
                block = None;
                // An illustration with elisions (`…`, `<hex …>`, comments) is not JSON.
                if json.contains('…') || json.contains('<') {
                    continue;
                }
                let Some((_, schemas)) = BLOCKS.iter().find(|(h, _)| *h == heading) else {
                    problems.push(format!(
                        "{heading}: a JSON block under a heading BLOCKS does not name"
                    ));
                    continue;
                };
                let value: Value = match serde_json::from_str(&json) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(format!("{heading}: not JSON ({e}):\n{json}"));
                        continue;
                    }
                };
                let errs: Vec<Vec<String>> =
                    schemas.iter().map(|s| problems_as(s, &value)).collect();
                if errs.iter().all(|e| !e.is_empty()) {
                    let why = schemas
                        .iter()
                        .zip(&errs)
                        .map(|(s, e)| format!("  not a {s}: {}", e.join("; ")));
                    problems.push(format!(
                        "{heading}: {value}\n{}",
                        why.collect::<Vec<_>>().join("\n")
                    ));
                }
                checked += 1;
            }
            Some(json) => {
                json.push_str(line);
                json.push('\n');
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/mqtt.md:\n{}",
        problems.join("\n")
    );
    assert!(
        checked >= 5,
        "only {checked} JSON blocks of docs/mqtt.md checked"
    );
}

#[test]
fn central_sim_uses_the_channels_of_the_spec() {
    let doc = spec();
    let addresses: Vec<&str> = doc["channels"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    let spec_topic = |rest: &str| format!("sitegate/v1/{{site}}/{}", rest.replace('+', "{socket}"));
    for up in central_sim::UP_TOPICS {
        assert!(
            addresses.contains(&spec_topic(up).as_str()),
            "{up} is not a channel"
        );
    }
    for down in central_sim::DOWN_TOPICS {
        assert!(
            addresses.contains(&spec_topic(down).as_str()),
            "{down} is not a channel"
        );
    }
    assert_eq!(
        addresses.len(),
        central_sim::UP_TOPICS.len() + central_sim::DOWN_TOPICS.len()
    );
}
