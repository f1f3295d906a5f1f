//! What central has received from one site, and what it may acknowledge.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::{Value, json};

use crate::contract::Violation;

/// How many violations of the contract a site's stats keep in full (all are counted): enough
/// to see what is wrong, bounded when a site gets every message wrong.
pub const VIOLATIONS_KEPT: usize = 100;

/// One stream (`events` or `updates`): records deduplicated by `id`, kept by `seq`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stream {
    /// Deduplicated records by `seq`.
    pub records: BTreeMap<u64, Value>,
    #[serde(skip)]
    ids: HashSet<String>,
    /// Copies of a record already received (same `id`).
    pub duplicates: u64,
    /// Every new record arrived with a `seq` above all the ones before it.
    pub in_order: bool,
    /// The highest `seq` acknowledged so far (sent or due), 0 for none.
    pub acked: u64,
    /// Start of the contiguous run that may be acknowledged (the first record central knows of).
    base: Option<u64>,
    /// Records received that had no `seq` or no `id`.
    pub malformed: u64,
    /// Update sequence numbers skipped because the site resent from above them (dropped).
    pub skipped: u64,
    /// Set by the site's birth: the next record starts a resend from the site's oldest.
    #[serde(skip)]
    resend_starts: bool,
}

impl Stream {
    fn new() -> Self {
        Stream {
            in_order: true,
            ..Default::default()
        }
    }

    /// Adds a record; returns whether it was new.
    pub fn add(&mut self, record: &Value, gaps_allowed: bool) -> bool {
        let (Some(seq), Some(id)) = (
            record.get("seq").and_then(Value::as_u64),
            record.get("id").and_then(Value::as_str),
        ) else {
            self.malformed += 1;
            return false;
        };
        let resend_start = std::mem::take(&mut self.resend_starts);
        // Updates may have gaps (the site drops its oldest updates when its disk fills): the
        // first record of a resend is the site's oldest unacknowledged one (even when central
        // already has it), so anything missing below it is gone for good.
        if gaps_allowed && resend_start && self.base.is_some() {
            let end = self.contiguous_end();
            if seq > end + 1 {
                self.skipped += (end + 1..seq)
                    .filter(|s| !self.records.contains_key(s))
                    .count() as u64;
                self.acked = self.acked.max(end);
                self.base = Some(seq);
            }
        }
        if !self.ids.insert(id.to_owned()) || self.records.contains_key(&seq) {
            self.duplicates += 1;
            return false;
        }
        if self
            .records
            .last_key_value()
            .is_some_and(|(&last, _)| seq < last)
        {
            self.in_order = false;
        }
        match self.base {
            // The first record central knows of starts the run (the site resends from its
            // oldest unacknowledged record, which may be above 1 when another central acked).
            None => self.base = Some(seq),
            Some(b) if seq < b && seq > self.acked => self.base = Some(seq),
            Some(_) => {}
        }
        self.records.insert(seq, record.clone());
        true
    }

    /// The last `seq` of the run of consecutive records from the base (0 when none).
    pub fn contiguous_end(&self) -> u64 {
        let Some(base) = self.base else { return 0 };
        let mut end = base.saturating_sub(1);
        for &s in self.records.range(base..).map(|(s, _)| s) {
            if s == end + 1 {
                end = s;
            } else {
                break;
            }
        }
        end
    }

    /// What may be acknowledged: the contiguous run's end, never below a previous ack.
    pub fn ackable(&self) -> u64 {
        self.acked.max(self.contiguous_end())
    }

    pub fn ids_len(&self) -> usize {
        self.ids.len()
    }

    fn birth(&mut self) {
        self.resend_starts = true;
    }
}

/// Everything received from one site.
#[derive(Debug, Clone, Serialize)]
pub struct SiteStats {
    pub site: String,
    pub events: Stream,
    pub updates: Stream,
    /// The retained site state (birth or last will), latest.
    pub state: Option<Value>,
    /// Every site state received, in order.
    pub state_history: Vec<Value>,
    /// Latest state per socket.
    pub socket_states: BTreeMap<String, Value>,
    /// Latest telemetry per socket.
    pub telemetry: BTreeMap<String, Value>,
    pub telemetry_count: u64,
    pub results: Vec<Value>,
    pub authorize: Vec<Value>,
    /// Messages whose payload was not JSON, or on an unknown topic.
    pub unparsed: u64,
    /// Acks published (after any loss).
    pub acks_sent: u64,
    /// Acks dropped by the `lossy` mode.
    pub acks_dropped: u64,
    /// The last ack published.
    pub last_ack: Option<Value>,
    /// Messages received checked against docs/asyncapi.yaml.
    pub contract_checked: u64,
    /// Of those, the ones it does not describe.
    pub contract_violations: u64,
    /// The first [`VIOLATIONS_KEPT`] of them: topic, payload excerpt, problems.
    pub violations: Vec<String>,
}

impl SiteStats {
    pub fn new(site: &str) -> Self {
        SiteStats {
            site: site.to_owned(),
            events: Stream::new(),
            updates: Stream::new(),
            state: None,
            state_history: Vec::new(),
            socket_states: BTreeMap::new(),
            telemetry: BTreeMap::new(),
            telemetry_count: 0,
            results: Vec::new(),
            authorize: Vec::new(),
            unparsed: 0,
            acks_sent: 0,
            acks_dropped: 0,
            last_ack: None,
            contract_checked: 0,
            contract_violations: 0,
            violations: Vec::new(),
        }
    }

    /// Counts a message checked against the contract, and keeps what is wrong with it.
    pub fn checked(&mut self, verdict: Result<(), Violation>) {
        self.contract_checked += 1;
        if let Err(v) = verdict {
            self.contract_violations += 1;
            if self.violations.len() < VIOLATIONS_KEPT {
                self.violations.push(v.to_string());
            }
        }
    }

    /// Takes in one up message (topic after the site prefix). Returns true when it was an event
    /// or an update (new or duplicate: either way an ack is due, a duplicate meaning the site
    /// has not seen the last one).
    pub fn receive(&mut self, rest: &str, payload: &Value) -> bool {
        match rest {
            "events" => {
                self.events.add(payload, false);
                true
            }
            "updates" => {
                self.updates.add(payload, true);
                true
            }
            "state" => {
                if payload.get("status").and_then(Value::as_str) == Some("online") {
                    self.events.birth();
                    self.updates.birth();
                }
                self.state = Some(payload.clone());
                self.state_history.push(payload.clone());
                false
            }
            "results" => {
                self.results.push(payload.clone());
                false
            }
            "authorize" => {
                self.authorize.push(payload.clone());
                false
            }
            _ => {
                if let Some(socket) = rest.strip_prefix("sockets/") {
                    if let Some(s) = socket.strip_suffix("/state") {
                        self.socket_states.insert(s.to_owned(), payload.clone());
                        return false;
                    }
                    if let Some(s) = socket.strip_suffix("/telemetry") {
                        self.telemetry.insert(s.to_owned(), payload.clone());
                        self.telemetry_count += 1;
                        return false;
                    }
                }
                self.unparsed += 1;
                false
            }
        }
    }

    /// The cumulative ack as of now (`None` before anything was received); marks it as acked.
    pub fn take_ack(&mut self) -> Option<Value> {
        let (e, u) = (self.events.ackable(), self.updates.ackable());
        self.events.acked = e;
        self.updates.acked = u;
        let mut m = serde_json::Map::new();
        if e > 0 {
            m.insert("events".into(), json!(e));
        }
        if u > 0 {
            m.insert("updates".into(), json!(u));
        }
        (!m.is_empty()).then_some(Value::Object(m))
    }

    /// Deduplicated events in `seq` order.
    pub fn events_in_order(&self) -> Vec<Value> {
        self.events.records.values().cloned().collect()
    }

    /// A compact summary (for the stdin `stats` command).
    pub fn summary(&self) -> Value {
        json!({
            "site": self.site,
            "events": self.events.records.len(),
            "events_first": self.events.records.keys().next(),
            "events_last": self.events.records.keys().next_back(),
            "events_acked": self.events.acked,
            "events_duplicates": self.events.duplicates,
            "events_in_order": self.events.in_order,
            "updates": self.updates.records.len(),
            "updates_acked": self.updates.acked,
            "updates_duplicates": self.updates.duplicates,
            "updates_skipped": self.updates.skipped,
            "updates_in_order": self.updates.in_order,
            "state": self.state,
            "sockets": self.socket_states,
            "telemetry_count": self.telemetry_count,
            "results": self.results.len(),
            "authorize": self.authorize.len(),
            "acks_sent": self.acks_sent,
            "acks_dropped": self.acks_dropped,
            "last_ack": self.last_ack,
            "contract_checked": self.contract_checked,
            "contract_violations": self.contract_violations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64, id: &str) -> Value {
        json!({"seq": seq, "id": id, "type": "fault", "body": {}})
    }

    #[test]
    fn acks_only_the_contiguous_prefix_and_counts_duplicates() {
        let mut s = SiteStats::new("a");
        for (seq, id) in [(1, "a"), (2, "b"), (3, "c"), (3, "c"), (5, "e")] {
            assert!(s.receive("events", &rec(seq, id)));
        }
        assert_eq!(s.events.duplicates, 1);
        assert_eq!(s.take_ack(), Some(json!({"events": 3})));
        s.receive("events", &rec(4, "d"));
        assert!(!s.events.in_order);
        assert_eq!(s.take_ack(), Some(json!({"events": 5})));
    }

    #[test]
    fn the_run_starts_at_the_first_record_known() {
        let mut s = SiteStats::new("a");
        s.receive("events", &rec(41, "x"));
        s.receive("events", &rec(42, "y"));
        assert_eq!(s.take_ack(), Some(json!({"events": 42})));
    }

    #[test]
    fn an_update_gap_is_skipped_only_when_a_resend_starts_above_it() {
        let mut s = SiteStats::new("a");
        s.receive("updates", &rec(1, "a"));
        s.receive("updates", &rec(3, "c"));
        assert_eq!(s.take_ack(), Some(json!({"updates": 1})));
        // The site reconnects and resends from its oldest: 3. Update 2 was dropped.
        s.receive("state", &json!({"status": "online"}));
        s.receive("updates", &rec(3, "c"));
        s.receive("updates", &rec(4, "d"));
        assert_eq!(s.updates.skipped, 1);
        assert_eq!(s.take_ack(), Some(json!({"updates": 4})));
        // Without a birth, a gap is never skipped.
        s.receive("updates", &rec(6, "f"));
        assert_eq!(s.take_ack(), Some(json!({"updates": 4})));
        s.receive("state", &json!({"status": "online"}));
        s.receive("updates", &rec(6, "f"));
        assert_eq!(s.updates.skipped, 2);
        assert_eq!(s.take_ack(), Some(json!({"updates": 6})));
        // Events never skip.
        s.receive("events", &rec(1, "e1"));
        s.receive("state", &json!({"status": "online"}));
        s.receive("events", &rec(3, "e3"));
        assert_eq!(s.take_ack(), Some(json!({"events": 1, "updates": 6})));
    }
}
