//! Who may charge where, as central describes it (the portals' users, communities, sites and
//! sockets) and as the site keeps it between syncs. Plain data; the decision is in `decide`.

use std::collections::HashMap;
use std::fmt;

use rust_decimal::Decimal;

pub type UserId = String;
pub type CommunityId = String;
pub type TariffId = String;

/// An identification token (RFID/NFC UID as hex, byte 0 first, or an app id), normalised to
/// uppercase as OCPP compares them case-insensitively. Its `Debug` and `Display` never show the
/// value: tokens must not appear in clear in logs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdToken(String);

impl IdToken {
    /// OCPP 2.0.1 allows up to 36 characters.
    pub const MAX_LEN: usize = 36;

    pub fn new(raw: &str) -> Option<IdToken> {
        let t = raw.trim();
        let ok =
            !t.is_empty() && t.len() <= Self::MAX_LEN && t.chars().all(|c| c.is_ascii_graphic());
        ok.then(|| IdToken(t.to_ascii_uppercase()))
    }

    /// The token of a card UID given as bytes, byte 0 first (OCPP's form). `None` when empty.
    pub fn from_bytes(uid: &[u8]) -> Option<IdToken> {
        if uid.is_empty() || uid.len() * 2 > Self::MAX_LEN {
            return None;
        }
        Some(IdToken(uid.iter().map(|b| format!("{b:02X}")).collect()))
    }

    /// The token of a UID written in hex (case, spaces, colons and dashes ignored). `None`
    /// unless an even, non-zero number of hex digits remains.
    pub fn from_hex(text: &str) -> Option<IdToken> {
        let digits: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | ':' | '-'))
            .collect();
        let valid = !digits.is_empty()
            && digits.len() <= Self::MAX_LEN
            && digits.len().is_multiple_of(2)
            && digits.chars().all(|c| c.is_ascii_hexdigit());
        valid.then(|| IdToken(digits.to_ascii_uppercase()))
    }

    /// The value itself, for the few places that must compare or send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A stable, non-reversible tag for logs and audit events.
    pub fn redacted(&self) -> String {
        // FNV-1a: enough to tell tokens apart in a log, too short to brute-force into a card.
        let h = self.0.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        format!("tok:{:06x}", h >> 40)
    }
}

impl fmt::Debug for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Status of a token in the local list or the cache (OCPP's AuthorizationStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Accepted,
    Blocked,
    Expired,
    Invalid,
    ConcurrentTx,
    NoCredit,
    NotAtThisLocation,
    NotAtThisTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenEntry {
    pub user: Option<UserId>,
    pub status: TokenStatus,
    /// Unix ms after which the token is expired.
    pub expiry_ms: Option<i64>,
    /// Group: tokens with the same parent may stop each other's sessions.
    pub parent: Option<String>,
    /// Sockets the token is restricted to; empty: any.
    pub sockets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Individual,
    Manager,
}

/// What a user may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credit {
    /// At most this much in running sessions (a company card's limit).
    Limit(Decimal),
    /// A prepaid wallet's balance at the last sync.
    Prepaid(Decimal),
}

impl Credit {
    pub fn amount(self) -> Decimal {
        match self {
            Credit::Limit(a) | Credit::Prepaid(a) => a,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    /// The manager granted access to the sockets.
    pub socket_access: bool,
    /// Communities the user belongs to, in the user's order of preference. Empty: the site's
    /// default community (a user removed from a community falls back to it).
    pub communities: Vec<CommunityId>,
    /// Unix ms after which the account is inactive.
    pub active_until_ms: Option<i64>,
    pub blocked: bool,
    pub credit: Option<Credit>,
}

impl User {
    /// An individual with access to the sockets, in the site's default community, without an
    /// expiry, a block or a credit limit: the common case, refined with struct update syntax.
    pub fn new(id: &str, name: &str) -> User {
        User {
            id: id.into(),
            name: name.into(),
            role: Role::Individual,
            socket_access: true,
            communities: vec![],
            active_until_ms: None,
            blocked: false,
            credit: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommunityKind {
    /// Registered members only.
    Private,
    /// Open to anyone, including users central starts remotely after payment.
    Public,
}

/// Days and a daily window (minutes after local midnight; `end < start` wraps past midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    /// Monday first.
    pub days: [bool; 7],
    pub start_min: u16,
    pub end_min: u16,
}

impl Hours {
    /// Whether local `weekday` (0 = Monday) and `minute` of the day fall inside.
    pub fn contains(&self, weekday: usize, minute: u16) -> bool {
        if self.start_min <= self.end_min {
            return self.days[weekday % 7] && (self.start_min..self.end_min).contains(&minute);
        }
        // Wraps past midnight: the part after midnight belongs to the previous day's window.
        if minute >= self.start_min {
            self.days[weekday % 7]
        } else {
            minute < self.end_min && self.days[(weekday + 6) % 7]
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Community {
    pub id: CommunityId,
    pub kind: CommunityKind,
    pub card_payment: bool,
    pub tariff: Option<TariffId>,
    /// When members may charge; `None`: always.
    pub hours: Option<Hours>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteKind {
    Shared,
    Home,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SiteAccess {
    pub kind: SiteKind,
    /// Communities whose members (or, public ones, anyone) may charge here.
    pub communities: Vec<CommunityId>,
    pub default_community: Option<CommunityId>,
    pub tariff: Option<TariffId>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SocketAccess {
    /// Restricted to these communities; `None`: the site's.
    pub communities: Option<Vec<CommunityId>>,
    pub tariff: Option<TariffId>,
}

/// The part of central's access list every decision needs, small enough to keep in memory: the
/// site, its communities and its sockets. Users and tokens (up to millions) stay in the store,
/// looked up per decision (`Lookup`). Versioned as OCPP's local list (0: none).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteRules {
    pub version: u64,
    pub communities: HashMap<CommunityId, Community>,
    pub site: SiteAccess,
    pub sockets: HashMap<String, SocketAccess>,
}

impl SiteRules {
    /// No list yet: nobody is known.
    pub fn empty() -> SiteRules {
        SiteRules {
            version: 0,
            communities: HashMap::new(),
            site: SiteAccess {
                kind: SiteKind::Shared,
                communities: vec![],
                default_community: None,
                tariff: None,
            },
            sockets: HashMap::new(),
        }
    }
}

/// What the store found for one token: its list entry, central's cached answer (only for tokens
/// not on the list), and the user either names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lookup {
    pub listed: Option<TokenEntry>,
    pub cached: Option<Cached>,
    pub user: Option<User>,
}

/// Central's answer for a token not on the list (OCPP's authorization cache), as the store
/// keeps it: the store evicts with OCPP's rule (entries no longer valid first, then the least
/// recently updated), so a million answers never live in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    pub entry: TokenEntry,
    /// When central last answered (Unix ms).
    pub updated_ms: i64,
}
