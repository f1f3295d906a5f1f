//! What changed between two configurations, as a reload reports it: sockets added, removed
//! and changed (by id). Pure; the supervisor logs it and the installer page shows it.

use super::Config;

/// Sockets added, removed and changed by a reload (by id).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl std::fmt::Display for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty() {
            return f.write_str("no socket changed");
        }
        let mut parts = Vec::new();
        for (what, ids) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("changed", &self.changed),
        ] {
            if !ids.is_empty() {
                parts.push(format!("sockets {what}: {}", ids.join(", ")));
            }
        }
        f.write_str(&parts.join("; "))
    }
}

impl Changes {
    pub fn between(old: &Config, new: &Config) -> Changes {
        let key = |c: &Config, i: usize| {
            let s = &c.sockets[i];
            (
                s.name.clone(),
                s.serial_number.clone(),
                s.uid.clone(),
                c.buses[s.bus].clone(),
                s.unit_id,
                s.profile.name.clone(),
                format!("{:?}", (s.max_current_a, s.poll_interval, s.free)),
            )
        };
        let find = |c: &Config, id: &str| c.sockets.iter().position(|s| s.id == id);
        let mut changes = Changes::default();
        for (i, s) in new.sockets.iter().enumerate() {
            match find(old, &s.id) {
                None => changes.added.push(s.id.clone()),
                Some(j) if key(old, j) != key(new, i) => changes.changed.push(s.id.clone()),
                Some(_) => {}
            }
        }
        for s in &old.sockets {
            if find(new, &s.id).is_none() {
                changes.removed.push(s.id.clone());
            }
        }
        changes
    }
}
