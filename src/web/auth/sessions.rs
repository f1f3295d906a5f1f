//! Login sessions, in memory: a bounded map from a random 256-bit id (the `sg_session`
//! cookie) to the account, its role and the session's CSRF token. Sessions end after an idle
//! time, after an absolute lifetime, at logout, or when their account changes (password, role,
//! deactivation: `end_account`). Owns the cookie's attributes. Never reads a clock (the caller
//! passes `now`), never reads the database; a restart logs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::password::hex;
use crate::store::roles::Role;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "sg_session";

/// Limits of the session store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after login, however used.
    pub absolute: Duration,
    /// Most sessions kept; the least recently used one goes first.
    pub max_sessions: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            max_sessions: 256,
        }
    }
}

/// What a request's session says (a copy; the store keeps the original).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account_id: i64,
    pub username: String,
    pub role: Role,
    /// The token every state-changing request of this session must carry (`csrf::verify`).
    pub csrf_token: String,
    /// The account's language setting (`None`: the browser's Accept-Language decides).
    pub language: Option<crate::store::accounts::Language>,
}

/// A session just opened: `id` goes in the cookie (`set_cookie`), never in a page or a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub id: String,
    pub session: Session,
}

#[derive(Debug, thiserror::Error)]
#[error("no randomness from the operating system: {0}")]
pub struct RandomError(pub(super) String);

/// 256 random bits as 64 hex digits.
pub(super) fn random_token() -> Result<String, RandomError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(hex(&bytes))
}

struct Entry {
    session: Session,
    created: Instant,
    last_used: Instant,
}

pub struct Sessions {
    limits: SessionLimits,
    map: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    pub fn new(limits: SessionLimits) -> Sessions {
        Sessions {
            limits,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves a consistent map: keep using it.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(e.last_used) >= self.limits.idle
            || now.saturating_duration_since(e.created) >= self.limits.absolute
    }

    /// Opens a session after a successful login, evicting expired sessions and, when full, the
    /// least recently used one.
    pub fn open(
        &self,
        account_id: i64,
        username: &str,
        role: Role,
        now: Instant,
    ) -> Result<Opened, RandomError> {
        let id = random_token()?;
        let session = Session {
            account_id,
            username: username.to_string(),
            role,
            csrf_token: random_token()?,
            language: None,
        };
        let mut map = self.map();
        map.retain(|_, e| !self.expired(e, now));
        while map.len() >= self.limits.max_sessions.max(1) {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Entry {
                session: session.clone(),
                created: now,
                last_used: now,
            },
        );
        Ok(Opened { id, session })
    }

    /// The session of cookie value `id`, if it is still valid at `now`; using it restarts
    /// its idle time. An expired session is removed.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.map();
        let entry = map.get_mut(id)?;
        if self.expired(entry, now) {
            map.remove(id);
            return None;
        }
        entry.last_used = now;
        Some(entry.session.clone())
    }

    /// The account's language changed (or is known after login): every session of it shows
    /// pages in `language` from the next request.
    pub fn set_language(
        &self,
        account_id: i64,
        language: Option<crate::store::accounts::Language>,
    ) {
        for e in self.map().values_mut() {
            if e.session.account_id == account_id {
                e.session.language = language;
            }
        }
    }

    /// Logout: the session ends. Returns whether it existed.
    pub fn close(&self, id: &str) -> bool {
        self.map().remove(id).is_some()
    }

    /// Ends every session of the account (call after its password, role or active state
    /// changed, or it was deactivated). Returns how many ended.
    pub fn end_account(&self, account_id: i64) -> usize {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, e| e.session.account_id != account_id);
        before - map.len()
    }

    /// How many sessions are kept (expired ones included until the next `open`).
    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `Set-Cookie` header value that gives the browser session `id`. No `Max-Age`: the
/// cookie lives until the browser closes, the session's lifetime is enforced here.
pub fn set_cookie(id: &str) -> String {
    format!("{COOKIE_NAME}={id}; HttpOnly; Secure; SameSite=Strict; Path=/")
}

/// The `Set-Cookie` header value that removes the session cookie (logout).
pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0")
}

/// The session id in a request's `Cookie` header value, if any.
pub fn from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn sessions(max: usize) -> Sessions {
        Sessions::new(SessionLimits {
            max_sessions: max,
            ..SessionLimits::default()
        })
    }

    #[test]
    fn ids_and_csrf_tokens_are_256_random_bits() {
        let s = sessions(8);
        let now = Instant::now();
        let a = s.open(1, "marie", Role::Manager, now).unwrap();
        let b = s.open(1, "marie", Role::Manager, now).unwrap();
        assert_eq!(a.id.len(), 64);
        assert!(a.id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.id, b.id);
        assert_ne!(a.session.csrf_token, b.session.csrf_token);
        assert_ne!(a.id, a.session.csrf_token);
        assert_eq!(s.get(&a.id, now), Some(a.session));
        assert_eq!(s.get("nope", now), None);
    }

    #[test]
    fn a_session_unused_for_the_idle_time_ends_and_use_keeps_it_alive() {
        let s = sessions(8);
        let t0 = Instant::now();
        let a = s.open(1, "marie", Role::Viewer, t0).unwrap();
        assert!(s.get(&a.id, t0 + 29 * MIN).is_some());
        assert!(s.get(&a.id, t0 + 58 * MIN).is_some(), "used at 29 min");
        assert!(s.get(&a.id, t0 + 88 * MIN).is_none(), "idle 30 min");
        assert!(s.is_empty(), "removed");
    }

    #[test]
    fn a_session_ends_after_its_absolute_lifetime_however_used() {
        let s = sessions(8);
        let t0 = Instant::now();
        let a = s.open(1, "marie", Role::Viewer, t0).unwrap();
        let mut t = t0;
        while t < t0 + 12 * 60 * MIN - 20 * MIN {
            t += 20 * MIN;
            assert!(s.get(&a.id, t).is_some());
        }
        assert!(s.get(&a.id, t0 + 12 * 60 * MIN).is_none());
    }

    #[test]
    fn when_full_the_least_recently_used_session_goes() {
        let s = sessions(2);
        let t0 = Instant::now();
        let a = s.open(1, "a", Role::Viewer, t0).unwrap();
        let b = s.open(2, "b", Role::Viewer, t0 + MIN).unwrap();
        assert!(s.get(&a.id, t0 + 2 * MIN).is_some(), "a used after b");
        let c = s.open(3, "c", Role::Viewer, t0 + 3 * MIN).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.get(&b.id, t0 + 3 * MIN).is_none());
        assert!(s.get(&a.id, t0 + 3 * MIN).is_some());
        assert!(s.get(&c.id, t0 + 3 * MIN).is_some());
    }

    #[test]
    fn logout_and_account_changes_end_sessions() {
        let s = sessions(8);
        let now = Instant::now();
        let a1 = s.open(1, "marie", Role::Manager, now).unwrap();
        let a2 = s.open(1, "marie", Role::Manager, now).unwrap();
        let b = s.open(2, "paul", Role::Viewer, now).unwrap();
        assert!(s.close(&b.id));
        assert!(!s.close(&b.id));
        assert_eq!(s.end_account(1), 2);
        assert!(s.get(&a1.id, now).is_none() && s.get(&a2.id, now).is_none());
    }

    #[test]
    fn the_cookie_is_http_only_secure_and_strict() {
        assert_eq!(
            set_cookie("abc"),
            "sg_session=abc; HttpOnly; Secure; SameSite=Strict; Path=/"
        );
        assert!(clear_cookie().contains("Max-Age=0"));
        assert_eq!(
            from_cookie_header("lang=fr; sg_session=abc ; x=1"),
            Some("abc")
        );
        assert_eq!(from_cookie_header("lang=fr; sg_session="), None);
        assert_eq!(from_cookie_header("sg_sessionx=1"), None);
    }
}
