//! The authorization cache: central's recent answers for tokens that are not on the local list,
//! so a known badge still works offline. Eviction as OCPP says: when full, entries that are no
//! longer valid go first, then the least recently updated.

use std::collections::HashMap;

use super::model::{IdToken, TokenEntry, TokenStatus};

#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    pub entry: TokenEntry,
    /// When central last answered (Unix ms).
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthCache {
    entries: HashMap<IdToken, Cached>,
    capacity: usize,
}

impl AuthCache {
    pub fn new(capacity: usize) -> AuthCache {
        AuthCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn get(&self, token: &IdToken) -> Option<&Cached> {
        self.entries.get(token)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records central's answer. The caller never caches tokens of the local list (the list has
    /// priority). Returns the token evicted to make room, if any.
    pub fn record(&mut self, token: IdToken, entry: TokenEntry, now_ms: i64) -> Option<IdToken> {
        let evicted = if !self.entries.contains_key(&token) && self.entries.len() >= self.capacity {
            self.victim(now_ms)
        } else {
            None
        };
        if let Some(v) = &evicted {
            self.entries.remove(v);
        }
        self.entries.insert(
            token,
            Cached {
                entry,
                updated_ms: now_ms,
            },
        );
        evicted
    }

    pub fn remove(&mut self, token: &IdToken) {
        self.entries.remove(token);
    }

    fn victim(&self, now_ms: i64) -> Option<IdToken> {
        let invalid = |c: &Cached| {
            c.entry.status != TokenStatus::Accepted
                || c.entry.expiry_ms.is_some_and(|e| e <= now_ms)
        };
        self.entries
            .iter()
            .min_by_key(|(t, c)| (!invalid(c), c.updated_ms, (*t).clone()))
            .map(|(t, _)| t.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(status: TokenStatus) -> TokenEntry {
        TokenEntry {
            user: None,
            status,
            expiry_ms: None,
            parent: None,
            sockets: vec![],
        }
    }

    fn tok(s: &str) -> IdToken {
        IdToken::new(s).unwrap()
    }

    #[test]
    fn when_full_invalid_entries_go_first_then_the_oldest() {
        let mut cache = AuthCache::new(3);
        cache.record(tok("A1"), entry(TokenStatus::Accepted), 10);
        cache.record(tok("B2"), entry(TokenStatus::Blocked), 20);
        cache.record(tok("C3"), entry(TokenStatus::Accepted), 30);
        assert_eq!(
            cache.record(tok("D4"), entry(TokenStatus::Accepted), 40),
            Some(tok("B2")),
            "the blocked one, though newer"
        );
        assert_eq!(
            cache.record(tok("E5"), entry(TokenStatus::Accepted), 50),
            Some(tok("A1")),
            "then the oldest"
        );
        assert_eq!(cache.len(), 3);
        assert_eq!(
            cache.record(tok("C3"), entry(TokenStatus::Accepted), 60),
            None,
            "an update evicts nothing"
        );
    }
}
