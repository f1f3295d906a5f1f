//! The last log lines, kept in memory for the system page: a bounded ring (the oldest line
//! goes when it is full), filled by the installed logger and readable by anyone. Owns only the
//! copy of the lines; never writes them anywhere (the journal or stderr does that).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use log::kv::{Key, Value, VisitSource};
use log::{Level, Record};

/// How many lines the ring keeps (what the system page shows).
pub const CAPACITY: usize = 100;

/// One remembered line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    /// UTC, RFC 3339 with milliseconds.
    pub time: String,
    /// `ERROR`, `WARN` or `INFO`.
    pub level: String,
    pub message: String,
    /// The record's key-values (`socket`, `session_id`, `bus`, `code`), as the journal gets them.
    pub fields: Vec<(String, String)>,
}

pub struct Ring {
    lines: Mutex<VecDeque<Line>>,
}

/// The process's ring (the logger fills it; the web page reads it).
pub fn ring() -> &'static Ring {
    static RING: OnceLock<Ring> = OnceLock::new();
    RING.get_or_init(|| Ring {
        lines: Mutex::new(VecDeque::with_capacity(CAPACITY)),
    })
}

impl Ring {
    /// Keeps `record` when it is info or more severe (debug lines would push the useful ones
    /// out within seconds).
    pub fn push(&self, record: &Record<'_>) {
        if record.level() > Level::Info {
            return;
        }
        let mut fields = Fields(Vec::new());
        let _ = record.key_values().visit(&mut fields);
        let line = Line {
            time: crate::clock::wall_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            level: record.level().as_str().to_string(),
            message: record.args().to_string(),
            fields: fields.0,
        };
        // A poisoned lock (a panic while pushing) still holds valid lines.
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == CAPACITY {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// Up to `n` lines, newest first.
    pub fn recent(&self, n: usize) -> Vec<Line> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().rev().take(n).cloned().collect()
    }
}

struct Fields(Vec<(String, String)>);

impl<'kvs> VisitSource<'kvs> for Fields {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let mut text = String::new();
        let _ = write!(text, "{value}");
        self.0.push((key.as_str().to_string(), text));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ring: &Ring, level: Level, message: &str) {
        let kvs: [(&str, &str); 1] = [("socket", "s1")];
        ring.push(
            &Record::builder()
                .level(level)
                .args(format_args!("{message}"))
                .key_values(&kvs)
                .build(),
        );
    }

    #[test]
    fn the_ring_keeps_the_newest_lines_first_with_their_fields_and_drops_debug() {
        let ring = Ring {
            lines: Mutex::new(VecDeque::new()),
        };
        for i in 0..CAPACITY + 5 {
            record(&ring, Level::Info, &format!("line {i}"));
        }
        record(&ring, Level::Debug, "chatter");
        let recent = ring.recent(CAPACITY + 10);
        assert_eq!(recent.len(), CAPACITY);
        assert_eq!(recent[0].message, format!("line {}", CAPACITY + 4));
        assert_eq!(recent[CAPACITY - 1].message, "line 5");
        assert_eq!(recent[0].fields, [("socket".to_string(), "s1".to_string())]);
        assert_eq!(recent[0].level, "INFO");
    }
}
