//! The contract a site is held to: `docs/asyncapi.yaml`, read as central reads it. This module
//! owns loading the document, finding the channel of a topic among the ones the site sends on
//! (the channels of its `send` operations: `{site}` and `{socket}` one topic level each), and
//! validating a payload against the messages of those operations, with each problem named by
//! its JSON path. central-sim checks every up message with it as it arrives; sitegate's
//! `uplink::contract_tests` and this crate's `tests/asyncapi.rs` use it too, so there is one
//! reading of the document.
//!
//! Two checks per payload: the schema as written (JSON Schema draft 7), and that every field
//! the site sends is described (the same schemas with undescribed properties forbidden, see
//! [`strict`]). A payload is valid when it passes both for one of its channel's messages.

use std::fmt;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

/// `docs/asyncapi.yaml` of the workspace this crate was built in (so a `sitegate demo` binary
/// checks against its own contract wherever it runs).
const BUILT_IN: &str = include_str!("../../../docs/asyncapi.yaml");

/// How much of a failing payload a [`Violation`] keeps.
const EXCERPT_CHARS: usize = 600;

/// The document, with validators ready for every message the site sends (compiled once).
pub struct Contract {
    doc: Value,
    /// `doc`'s components with undescribed properties forbidden.
    strict_components: Value,
    /// The channels the site sends on, each with the messages of its `send` operations.
    sent: Vec<Channel>,
}

struct Channel {
    address: String,
    messages: Vec<Message>,
}

struct Message {
    name: String,
    /// `#/components/schemas/...` of its payload.
    schema: String,
    check: Schema,
}

/// One published message the document does not describe.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub topic: String,
    /// The payload's start, as text.
    pub excerpt: String,
    /// `message {name} ({schema}) at {JSON path}: {what}`, or why no message applies.
    pub problems: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.topic, self.excerpt)?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl Contract {
    /// The workspace's `docs/asyncapi.yaml`, as built in.
    pub fn built_in() -> anyhow::Result<Contract> {
        Contract::from_yaml(BUILT_IN).context("docs/asyncapi.yaml (built in)")
    }

    /// The document at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Contract> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Contract::from_yaml(&text).with_context(|| path.display().to_string())
    }

    pub fn from_yaml(text: &str) -> anyhow::Result<Contract> {
        let doc: Value = serde_norway::from_str(text).context("not YAML")?;
        let mut strict_components = doc["components"].clone();
        strict(&mut strict_components);
        let mut contract = Contract {
            doc,
            strict_components,
            sent: Vec::new(),
        };
        contract.sent = contract.sent_channels()?;
        Ok(contract)
    }

    /// The document as a value.
    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// Validators of `#/components/schemas/{name}`.
    pub fn schema(&self, name: &str) -> anyhow::Result<Schema> {
        let pointer = format!("#/components/schemas/{name}");
        resolve(&self.doc, &json!({ "$ref": pointer }))?;
        Schema::new(&self.doc["components"], &self.strict_components, &pointer)
    }

    /// Checks a message the site published on `topic`: valid when its payload is JSON that
    /// fits one of the messages the site sends on the channel of that address.
    pub fn check(&self, topic: &str, payload: &[u8]) -> Result<(), Violation> {
        let violation = |problems| Violation {
            topic: topic.to_owned(),
            excerpt: excerpt(payload),
            problems,
        };
        match serde_json::from_slice(payload) {
            Ok(value) => self.check_value(topic, &value),
            Err(e) => Err(violation(vec![format!("not JSON: {e}")])),
        }
    }

    /// [`Contract::check`] of a payload already parsed.
    pub fn check_value(&self, topic: &str, value: &Value) -> Result<(), Violation> {
        let mut problems = Vec::new();
        let channels = self.sent.iter().filter(|c| matches(&c.address, topic));
        for m in channels.flat_map(|c| &c.messages) {
            let found = m.check.problems(value);
            if found.is_empty() {
                return Ok(());
            }
            problems.extend(
                found
                    .into_iter()
                    .map(|p| format!("message {} ({}) at {p}", m.name, m.schema)),
            );
        }
        if problems.is_empty() {
            problems.push("no channel of docs/asyncapi.yaml the site sends on".into());
        }
        Err(Violation {
            topic: topic.to_owned(),
            excerpt: excerpt(value.to_string().as_bytes()),
            problems,
        })
    }

    /// The channels of the `send` operations, with their messages (two operations on one
    /// channel add up).
    fn sent_channels(&self) -> anyhow::Result<Vec<Channel>> {
        let doc = &self.doc;
        let operations = doc["operations"].as_object().context("no `operations`")?;
        let mut sent: Vec<Channel> = Vec::new();
        for (id, op) in operations.iter().filter(|(_, op)| op["action"] == "send") {
            let channel =
                resolve(doc, &op["channel"]).with_context(|| format!("{id}'s channel"))?;
            let address = channel["address"]
                .as_str()
                .with_context(|| format!("{id}'s channel has no address"))?;
            let mut messages = Vec::new();
            for m in op["messages"].as_array().into_iter().flatten() {
                let m = resolve(doc, m).with_context(|| format!("{id}'s messages"))?;
                let schema = m["payload"]["$ref"]
                    .as_str()
                    .with_context(|| format!("{id}: a message without a payload $ref"))?;
                messages.push(Message {
                    name: m["name"].as_str().unwrap_or("(unnamed)").to_owned(),
                    schema: schema.to_owned(),
                    check: Schema::new(&doc["components"], &self.strict_components, schema)
                        .with_context(|| format!("{id}: {schema}"))?,
                });
            }
            match sent.iter_mut().find(|c| c.address == address) {
                Some(c) => c.messages.extend(messages),
                None => sent.push(Channel {
                    address: address.to_owned(),
                    messages,
                }),
            }
        }
        if sent.is_empty() {
            bail!("no `send` operation");
        }
        Ok(sent)
    }
}

/// Validators of one payload schema: as written (draft 7) and strict (draft 2020-12, for
/// `unevaluatedProperties`).
pub struct Schema {
    plain: jsonschema::Validator,
    strict: jsonschema::Validator,
}

impl Schema {
    fn new(components: &Value, strict_components: &Value, pointer: &str) -> anyhow::Result<Schema> {
        let root =
            |components: &Value| json!({"components": components, "allOf": [{"$ref": pointer}]});
        Ok(Schema {
            plain: jsonschema::draft7::new(&root(components)).map_err(|e| anyhow!("{e}"))?,
            strict: jsonschema::draft202012::new(&root(strict_components))
                .map_err(|e| anyhow!("{e}"))?,
        })
    }

    /// Every problem, `path: what` (none when `instance` fits).
    pub fn problems(&self, instance: &Value) -> Vec<String> {
        // The common case costs one pass of each validator, without collecting errors.
        if self.plain.is_valid(instance) && self.strict.is_valid(instance) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for e in self
            .plain
            .iter_errors(instance)
            .chain(self.strict.iter_errors(instance))
        {
            for p in leaves(&e) {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Problems of the schema as written only (undescribed properties allowed).
    pub fn plain_problems(&self, instance: &Value) -> Vec<String> {
        self.plain
            .iter_errors(instance)
            .flat_map(|e| leaves(&e))
            .collect()
    }
}

/// The value a `$ref` (`#/...`, followed through further `$ref`s) points to, or `node` itself.
fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> anyhow::Result<&'a Value> {
    for _ in 0..16 {
        let Some(reference) = node.get("$ref") else {
            return Ok(node);
        };
        let pointer = reference.as_str().context("a $ref that is not a string")?;
        node = doc
            .pointer(pointer.trim_start_matches('#'))
            .with_context(|| format!("{pointer} does not resolve"))?;
    }
    bail!("a $ref chain longer than 16")
}

/// Whether `topic` is an instance of the channel address `address` (`{site}`, `{socket}`
/// standing for one non-empty level each).
fn matches(address: &str, topic: &str) -> bool {
    let (a, t): (Vec<&str>, Vec<&str>) = (address.split('/').collect(), topic.split('/').collect());
    a.len() == t.len()
        && a.iter()
            .zip(&t)
            .all(|(a, t)| a == t || (a.starts_with('{') && a.ends_with('}') && !t.is_empty()))
}

/// The schemas with undescribed properties forbidden: every `type: object` schema that lists
/// its `properties` evaluates them all (parts of an `allOf`, `if`, `else`..., which only add to
/// a whole, do not say `type: object`). An explicit `additionalProperties: true` is dropped
/// too: a field the site sends is described, or the document is incomplete.
fn strict(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if map.get("type") == Some(&json!("object"))
                && map.get("properties").is_some_and(Value::is_object)
            {
                if map.get("additionalProperties") == Some(&Value::Bool(true)) {
                    map.remove("additionalProperties");
                }
                if !map.contains_key("additionalProperties") {
                    map.insert("unevaluatedProperties".into(), Value::Bool(false));
                }
            }
            map.values_mut().for_each(strict);
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

/// An error as the problems that make it, each with its JSON path: a `oneOf` or `anyOf`
/// none of whose branches fits is shown by the branch meant (the one that is of the right
/// type and whose discriminating `const`, such as a record's `type`, matches), or by all.
fn leaves(e: &jsonschema::ValidationError<'_>) -> Vec<String> {
    use jsonschema::error::ValidationErrorKind as Kind;
    let here = e.instance_path().as_str();
    match e.kind() {
        Kind::OneOfNotValid { context } | Kind::AnyOf { context } => {
            let wrong = |errors: &Vec<jsonschema::ValidationError<'static>>| {
                errors.iter().any(|b| {
                    let at = b.instance_path().as_str();
                    let child = at
                        .strip_prefix(here)
                        .is_some_and(|rest| rest.matches('/').count() == 1);
                    matches!(b.kind(), Kind::Type { .. }) && at == here
                        || matches!(b.kind(), Kind::Constant { .. }) && child
                })
            };
            let meant: Vec<_> = context.iter().filter(|errors| !wrong(errors)).collect();
            let branches: Vec<_> = if meant.len() == 1 {
                meant
            } else {
                context.iter().collect()
            };
            branches.into_iter().flatten().flat_map(leaves).collect()
        }
        Kind::UnevaluatedProperties { unexpected } => unexpected
            .iter()
            .map(|field| format!("{here}/{field}: not described (the site sends it)"))
            .collect(),
        _ => vec![format!("{}: {e}", if here.is_empty() { "/" } else { here })],
    }
}

/// The payload's start as text, cut on a character boundary.
fn excerpt(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_matches_its_channel_one_level_per_parameter() {
        let socket = "sitegate/v1/{site}/sockets/{socket}/state";
        assert!(matches(socket, "sitegate/v1/garage/sockets/g-1/state"));
        assert!(!matches(socket, "sitegate/v1/garage/sockets/a/b/state"));
        assert!(!matches(socket, "sitegate/v1/garage/sockets//state"));
        assert!(!matches(
            "sitegate/v1/{site}/state",
            "sitegate/v1/garage/events"
        ));
    }

    #[test]
    fn a_message_is_checked_against_what_the_site_sends_on_its_channel() {
        let c = Contract::built_in().unwrap();
        let online = br#"{"status":"offline"}"#;
        assert_eq!(c.check("sitegate/v1/garage/state", online), Ok(()));

        // An undescribed field (the schema as written allows it), named with its path and
        // the message.
        let mut telemetry = json!({"socket": "g-1", "at": "2026-11-22T10:15:02.120Z",
            "meter_wh": null, "power_w": 7200.0, "current_a": [10.5, 10.4, 10.6],
            "voltage_v": [230.1, null, null], "setpoint_a": 16.0});
        let topic = "sitegate/v1/garage/sockets/g-1/telemetry";
        assert_eq!(c.check_value(topic, &telemetry), Ok(()));
        telemetry["mood"] = json!("fine");
        let v = c.check_value(topic, &telemetry).unwrap_err();
        assert_eq!(v.topic, topic);
        assert_eq!(
            v.problems,
            [
                "message telemetry (#/components/schemas/Telemetry) at /mood: not described (the site sends it)"
            ]
        );
        // A value the schema refuses, at its path.
        let v = c
            .check("sitegate/v1/garage/state", br#"{"status":"asleep"}"#)
            .unwrap_err();
        assert!(
            v.problems
                .iter()
                .all(|p| p.starts_with("message siteState (#/components/schemas/SiteState) at /")),
            "{v}"
        );
        assert!(v.problems.iter().any(|p| p.contains("/status")), "{v}");
        // Not JSON.
        let v = c.check("sitegate/v1/garage/state", b"offline").unwrap_err();
        assert!(v.problems[0].starts_with("not JSON"), "{v}");
        // What central sends is not something the site sends.
        let v = c
            .check("sitegate/v1/garage/ack", br#"{"events":1}"#)
            .unwrap_err();
        assert_eq!(
            v.problems,
            ["no channel of docs/asyncapi.yaml the site sends on"]
        );
    }

    #[test]
    fn a_long_payload_is_kept_as_an_excerpt() {
        let long = format!("\"{}\"", "é".repeat(2 * EXCERPT_CHARS));
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
    }
}
