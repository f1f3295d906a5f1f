//! Which tariff prices a session: the most specific one that is valid when it starts, socket
//! over community over site (like Wallbox's prices per charger, sub-group, group). Owns that
//! choice; never stores tariffs nor computes a cost.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::tariff::Tariff;

/// The tariffs a site knows, by scope.
#[derive(Debug, Clone, Default)]
pub struct TariffSet {
    pub site: Option<Tariff>,
    /// By community id.
    pub communities: BTreeMap<String, Tariff>,
    /// By socket id.
    pub sockets: BTreeMap<String, Tariff>,
}

impl TariffSet {
    /// The socket's tariff, else the first of the session's communities (in the order given:
    /// the caller lists the user's communities by its own priority) that has one, else the
    /// site's. A tariff whose `valid_from` is after `started_at` is skipped, and the next less
    /// specific one is used.
    pub fn for_session(
        &self,
        socket: &str,
        communities: &[String],
        started_at: DateTime<Utc>,
    ) -> Option<&Tariff> {
        let valid = |t: &&Tariff| t.valid_from.is_none_or(|v| v <= started_at);
        self.sockets
            .get(socket)
            .filter(valid)
            .or_else(|| {
                communities
                    .iter()
                    .filter_map(|c| self.communities.get(c))
                    .find(valid)
            })
            .or_else(|| self.site.as_ref().filter(valid))
    }
}
