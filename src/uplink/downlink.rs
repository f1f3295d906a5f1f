//! Down messages from central (docs/mqtt.md, "Down messages and their safety"): one pure
//! function from a topic and a payload to a typed, fully validated `Downlink`, or a `Refusal`
//! with the reason `results` carries. The checks run in a fixed order: size (`too_large`), topic
//! (`unexpected_topic`), signature (`unsigned`, `unknown_key`, `bad_signature`), UTF-8 and JSON
//! syntax (`malformed`), then the whole content (`invalid`, every problem with its JSON path,
//! e.g. `users[3].credit.amount: 25.123 has more than 2 decimals`).
//!
//! Owns the JSON shape of down messages and what makes one valid on its own. Never reads a clock
//! nor the store: what depends on the site's state (versions, acks ahead, command ids already
//! seen, expiry by a trusted clock, the chunks staged so far) is the caller's.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::DateTime;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::signature::TrustedKeys;
use crate::core::access::decide::PolicyPatch;
use crate::core::access::{
    Community, CommunityKind, Credit, Hours, IdToken, Role, SiteAccess, SiteKind, SiteRules,
    SocketAccess, TokenEntry, TokenStatus, User, UserId,
};
use crate::core::pricing::promotion::{Promotion, parse_promotion};
use crate::core::pricing::tariff::Tariff;
use crate::core::pricing::wire::{WireNumber, parse_tariff};
use crate::problems::{Problems, join};

/// Every topic starts with this, then the site id.
pub const PREFIX: &str = "sitegate/v1/";

/// Longest id (user, community, socket, command, key path piece) a message may carry.
pub const MAX_ID_LEN: usize = 128;
/// Largest credit amount accepted.
pub const MAX_CREDIT: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 0);
/// Decimals of a credit amount.
pub const CREDIT_DECIMALS: u32 = 2;
/// Deepest nesting accepted (a valid message nests at most 8 levels: a tariff condition's days).
const MAX_DEPTH: usize = 32;
/// At most this many problems are listed in a refusal's detail.
const MAX_LISTED_PROBLEMS: usize = 20;

/// The down topics, after `sitegate/v1/{site}/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DownTopic {
    Ack,
    AccessFull,
    AccessCommit,
    AccessDiff,
    Tariffs,
    Promotions,
    Config,
    Commands,
}

impl DownTopic {
    pub const ALL: [DownTopic; 8] = [
        DownTopic::Ack,
        DownTopic::AccessFull,
        DownTopic::AccessCommit,
        DownTopic::AccessDiff,
        DownTopic::Tariffs,
        DownTopic::Promotions,
        DownTopic::Config,
        DownTopic::Commands,
    ];

    /// The topic after the prefix: also the `ref` of a refusal on `results`.
    pub fn name(self) -> &'static str {
        match self {
            DownTopic::Ack => "ack",
            DownTopic::AccessFull => "access/full",
            DownTopic::AccessCommit => "access/commit",
            DownTopic::AccessDiff => "access/diff",
            DownTopic::Tariffs => "tariffs",
            DownTopic::Promotions => "promotions",
            DownTopic::Config => "config",
            DownTopic::Commands => "commands",
        }
    }

    /// The full topic for `site` (what the site subscribes to, what signatures cover).
    #[cfg(test)]
    pub fn full(self, site: &str) -> String {
        format!("{PREFIX}{site}/{}", self.name())
    }

    fn from_name(name: &str) -> Option<DownTopic> {
        DownTopic::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Limits of the payloads accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownlinkLimits {
    /// `max_downlink_bytes`: the whole payload, signature line included.
    pub max_bytes: usize,
    /// A command may not expire further ahead than this (its id is remembered until its
    /// expiry); checked only when the caller passes a trusted `now_ms`.
    pub max_command_ttl_ms: i64,
}

impl Default for DownlinkLimits {
    fn default() -> Self {
        DownlinkLimits {
            max_bytes: 256 * 1024,
            max_command_ttl_ms: 7 * 24 * 3600 * 1000,
        }
    }
}

/// Why a down message was refused: `name()` is the `reason` on `results`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// Not one of this site's down topics.
    UnexpectedTopic,
    /// Above `max_downlink_bytes`.
    TooLarge,
    /// Unsigned while signatures are required.
    Unsigned,
    /// Signed by a key the site does not trust.
    UnknownKey,
    /// A signature that does not verify (or a broken signature line).
    BadSignature,
    /// Not UTF-8 JSON.
    Malformed,
    /// JSON whose content is not a valid message.
    Invalid,
    /// The caller's: a version not above the current one.
    VersionMismatch,
    /// The caller's: an ack above what the site sent.
    AckAhead,
    /// The caller's: a chunk out of order, or a commit with nothing of its version staged.
    OutOfOrder,
    /// The caller's: a commit while chunks are missing (or of another version).
    Incomplete,
    /// The caller's: a commit whose checksum does not match the staged chunks.
    ChecksumMismatch,
}

impl RefusalReason {
    pub fn name(self) -> &'static str {
        match self {
            RefusalReason::UnexpectedTopic => "unexpected_topic",
            RefusalReason::TooLarge => "too_large",
            RefusalReason::Unsigned => "unsigned",
            RefusalReason::UnknownKey => "unknown_key",
            RefusalReason::BadSignature => "bad_signature",
            RefusalReason::Malformed => "malformed",
            RefusalReason::Invalid => "invalid",
            RefusalReason::VersionMismatch => "version_mismatch",
            RefusalReason::AckAhead => "ack_ahead",
            RefusalReason::OutOfOrder => "out_of_order",
            RefusalReason::Incomplete => "incomplete",
            RefusalReason::ChecksumMismatch => "checksum_mismatch",
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A refused down message: what `results` says about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Refusal {
    pub reason: RefusalReason,
    pub detail: String,
    /// The topic it came on, when it was one of the site's.
    pub topic: Option<DownTopic>,
    /// A refused command's id, when it could be read (its answer carries it).
    pub command_id: Option<String>,
}

impl Refusal {
    pub fn new(reason: RefusalReason, detail: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            detail: detail.into(),
            topic: None,
            command_id: None,
        }
    }

    fn on(mut self, topic: DownTopic) -> Refusal {
        self.topic = Some(topic);
        self
    }
}

/// A valid down message.
#[derive(Debug, Clone, PartialEq)]
pub enum Downlink {
    Ack {
        events: Option<u64>,
        updates: Option<u64>,
    },
    AccessChunk(AccessChunk),
    AccessCommit {
        version: u64,
        chunks: u32,
        sha256: [u8; 32],
    },
    AccessDiff {
        version: u64,
        rules: Option<SiteRules>,
        /// `None` removes the user (the store's `UserChange`).
        users: Vec<(UserId, Option<User>)>,
        /// `None` removes the token (the store's `TokenChange`).
        tokens: Vec<(IdToken, Option<TokenEntry>)>,
    },
    /// The whole set, each tariff with its JSON as sent (what the store keeps).
    Tariffs {
        version: u64,
        tariffs: Vec<(Tariff, String)>,
    },
    /// The whole set, each promotion with its JSON as sent.
    Promotions {
        version: u64,
        promotions: Vec<(Promotion, String)>,
    },
    Config {
        version: u64,
        policy: PolicyPatch,
    },
    Command(Command),
}

impl Downlink {
    pub fn topic(&self) -> DownTopic {
        match self {
            Downlink::Ack { .. } => DownTopic::Ack,
            Downlink::AccessChunk(_) => DownTopic::AccessFull,
            Downlink::AccessCommit { .. } => DownTopic::AccessCommit,
            Downlink::AccessDiff { .. } => DownTopic::AccessDiff,
            Downlink::Tariffs { .. } => DownTopic::Tariffs,
            Downlink::Promotions { .. } => DownTopic::Promotions,
            Downlink::Config { .. } => DownTopic::Config,
            Downlink::Command(_) => DownTopic::Commands,
        }
    }
}

/// One chunk of a full access list.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessChunk {
    pub version: u64,
    pub chunk: u32,
    pub chunks: u32,
    /// In chunk 0 only (required there), with `version` as its version.
    pub rules: Option<SiteRules>,
    pub users: Vec<User>,
    pub tokens: Vec<(IdToken, TokenEntry)>,
    /// The JSON bytes as sent, without the signature line: the commit's checksum covers them
    /// (feed them to a `ListChecksum` in chunk order).
    pub json: Vec<u8>,
}

/// The SHA-256 of a full list's chunks, in order, as `access/commit` states it.
#[derive(Clone, Default)]
pub struct ListChecksum(Sha256);

impl std::fmt::Debug for ListChecksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListChecksum(..)")
    }
}

impl ListChecksum {
    pub fn new() -> ListChecksum {
        ListChecksum::default()
    }

    pub fn add(&mut self, chunk_json: &[u8]) {
        self.0.update(chunk_json);
    }

    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// One command from central.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub id: String,
    pub expires_at_ms: i64,
    pub kind: CommandKind,
}

impl Command {
    /// Past its expiry at `now_ms` (the caller decides whether its clock is trusted).
    pub fn expired(&self, now_ms: i64) -> bool {
        now_ms > self.expires_at_ms
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommandKind {
    RemoteStart {
        socket: String,
        token: IdToken,
    },
    /// Exactly one of the two is given.
    RemoteStop {
        socket: Option<String>,
        session_id: Option<String>,
    },
    SetAvailability {
        socket: String,
        in_service: bool,
    },
    Reset {
        socket: String,
    },
    ReportState,
    AuthorizeAnswer {
        token: IdToken,
        entry: TokenEntry,
    },
}

impl CommandKind {}

/// Parses and validates one down message received on `topic` (the full topic) for `site`.
/// `now_ms` is the site's wall time when its clock is trusted (`None` otherwise): it only
/// bounds how far ahead a command may expire.
pub fn parse(
    site: &str,
    topic: &str,
    payload: &[u8],
    limits: &DownlinkLimits,
    keys: &TrustedKeys,
    now_ms: Option<i64>,
) -> Result<Downlink, Refusal> {
    let down = topic
        .strip_prefix(PREFIX)
        .and_then(|t| t.strip_prefix(site))
        .and_then(|t| t.strip_prefix('/'))
        .filter(|_| !site.is_empty())
        .and_then(DownTopic::from_name);
    if payload.len() > limits.max_bytes {
        let refusal = Refusal::new(
            RefusalReason::TooLarge,
            format!(
                "{} bytes is above the limit of {}",
                payload.len(),
                limits.max_bytes
            ),
        );
        // Refused before anything is read, but on a down topic the answer still names it
        // (`ref` is the down topic; only `unexpected_topic` gives the topic in full).
        return Err(match down {
            Some(d) => refusal.on(d),
            None => refusal,
        });
    }
    let down = down.ok_or_else(|| {
        Refusal::new(
            RefusalReason::UnexpectedTopic,
            format!("{topic:?} is not a down topic of site {site:?}"),
        )
    })?;
    let verified = keys.verify(topic, payload).map_err(|r| r.on(down))?;
    let json = std::str::from_utf8(verified.json)
        .map_err(|e| Refusal::new(RefusalReason::Malformed, format!("not UTF-8: {e}")).on(down))?;
    // Syntax first (serde_json skips values without recursing), then nesting: no valid
    // message nests deeper than `MAX_DEPTH`.
    serde_json::from_str::<IgnoredAny>(json)
        .map_err(|e| Refusal::new(RefusalReason::Malformed, format!("not JSON: {e}")).on(down))?;
    if depth(json) > MAX_DEPTH {
        return Err(Refusal::new(
            RefusalReason::Malformed,
            format!("nested deeper than {MAX_DEPTH} levels"),
        )
        .on(down));
    }
    let command_id = (down == DownTopic::Commands)
        .then(|| serde_json::from_str::<IdOnly>(json).ok()?.id)
        .flatten();
    let mut p = Problems::new();
    let parsed = match down {
        DownTopic::Ack => top::<WireAck>(json, &mut p).map(|a| Downlink::Ack {
            events: a.events,
            updates: a.updates,
        }),
        DownTopic::AccessFull => access_chunk(json, &mut p).map(Downlink::AccessChunk),
        DownTopic::AccessCommit => access_commit(json, &mut p),
        DownTopic::AccessDiff => access_diff(json, &mut p),
        DownTopic::Tariffs => tariffs(json, &mut p),
        DownTopic::Promotions => promotions(json, &mut p),
        DownTopic::Config => config(json, &mut p),
        DownTopic::Commands => command(json, limits, now_ms, &mut p).map(Downlink::Command),
    };
    match parsed {
        Some(d) if p.is_empty() => Ok(d),
        _ => {
            if p.is_empty() {
                p.push("", "invalid");
            }
            let mut r = Refusal::new(RefusalReason::Invalid, detail(&p)).on(down);
            r.command_id = command_id;
            Err(r)
        }
    }
}

/// The deepest nesting of arrays and objects in syntactically valid JSON.
fn depth(json: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in json.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Every problem on one line, at most `MAX_LISTED_PROBLEMS` of them.
fn detail(p: &Problems) -> String {
    let mut parts: Vec<String> = p
        .iter()
        .take(MAX_LISTED_PROBLEMS)
        .map(|x| x.to_string())
        .collect();
    if p.len() > MAX_LISTED_PROBLEMS {
        parts.push(format!("and {} more", p.len() - MAX_LISTED_PROBLEMS));
    }
    parts.join("; ")
}

// Deserialising with paths.

/// Deserialises `json` as a `T`, recording the first problem at its path under `path`.
/// Every message and element is an object (serde would also read a struct from an array).
fn de_at<T: DeserializeOwned>(json: &str, path: &str, p: &mut Problems) -> Option<T> {
    if !json.trim_start().starts_with('{') {
        p.push(path, "must be a JSON object");
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(json);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => Some(v),
        Err(e) => {
            p.push(join(path, &error_path(e.path())), clean(e.inner()));
            None
        }
    }
}

fn top<T: DeserializeOwned>(json: &str, p: &mut Problems) -> Option<T> {
    de_at(json, "", p)
}

fn error_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => out = join(&out, key),
            Segment::Unknown => {}
        }
    }
    out
}

/// serde_json's message without its position (the path says where).
fn clean(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireAck {
    #[serde(default)]
    events: Option<u64>,
    #[serde(default)]
    updates: Option<u64>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: Option<String>,
}

// Small checks shared by the messages.

fn id(s: &str, path: &str, p: &mut Problems) {
    if s.trim().is_empty() {
        p.push(path, "must not be empty");
    } else if s.len() > MAX_ID_LEN {
        p.push(path, format!("longer than {MAX_ID_LEN} bytes"));
    } else if s.chars().any(char::is_control) {
        p.push(path, "contains control characters");
    }
}

fn ids(list: &[String], path: &str, p: &mut Problems) {
    for (i, s) in list.iter().enumerate() {
        id(s, &format!("{path}[{i}]"), p);
    }
}

fn version(v: u64, p: &mut Problems) {
    if v == 0 {
        p.push("version", "must be above 0");
    }
    if v > i64::MAX as u64 {
        p.push("version", "is too large");
    }
}

fn time_ms(s: &str, path: &str, p: &mut Problems) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| p.push(path, format!("{s:?} is not an RFC 3339 time")))
        .ok()
}

// Access lists.

/// The site rules as sent: the same shape as the store's `RulesDoc` (src/store/access.rs), so
/// a list's rules read the same on the wire and on disk.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRules {
    site: WireSite,
    communities: Vec<WireCommunity>,
    sockets: HashMap<String, WireSocket>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSite {
    home: bool,
    communities: Vec<String>,
    default_community: Option<String>,
    tariff: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCommunity {
    id: String,
    public: bool,
    card_payment: bool,
    tariff: Option<String>,
    /// Days (7 booleans, Monday first), start and end minute of the local day.
    hours: Option<(Vec<bool>, u16, u16)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSocket {
    communities: Option<Vec<String>>,
    tariff: Option<String>,
}

fn rules(raw: &RawValue, version: u64, path: &str, p: &mut Problems) -> Option<SiteRules> {
    let w: WireRules = de_at(raw.get(), path, p)?;
    let before = p.len();
    let mut communities = HashMap::new();
    for (i, c) in w.communities.into_iter().enumerate() {
        let at = format!("{}[{i}]", join(path, "communities"));
        id(&c.id, &join(&at, "id"), p);
        if let Some(t) = &c.tariff {
            id(t, &join(&at, "tariff"), p);
        }
        let hours = c.hours.and_then(|(days, start_min, end_min)| {
            let at = join(&at, "hours");
            let Ok(days) = <[bool; 7]>::try_from(days) else {
                p.push(format!("{at}[0]"), "must list 7 days, Monday first");
                return None;
            };
            if start_min >= 24 * 60 {
                p.push(
                    format!("{at}[1]"),
                    format!("{start_min} is not a minute of the day"),
                );
            }
            if end_min > 24 * 60 {
                p.push(format!("{at}[2]"), format!("{end_min} is after midnight"));
            }
            Some(Hours {
                days,
                start_min,
                end_min,
            })
        });
        let kind = if c.public {
            CommunityKind::Public
        } else {
            CommunityKind::Private
        };
        let community = Community {
            id: c.id.clone(),
            kind,
            card_payment: c.card_payment,
            tariff: c.tariff,
            hours,
        };
        if communities.insert(c.id.clone(), community).is_some() {
            p.push(
                join(&at, "id"),
                format!("community {:?} is listed twice", c.id),
            );
        }
    }
    let known = |list: &[String], at: &str, p: &mut Problems| {
        for (i, c) in list.iter().enumerate() {
            if !communities.contains_key(c) {
                p.push(format!("{at}[{i}]"), format!("unknown community {c:?}"));
            }
        }
    };
    let site_at = join(path, "site");
    known(&w.site.communities, &join(&site_at, "communities"), p);
    if let Some(d) = &w.site.default_community
        && !communities.contains_key(d)
    {
        p.push(
            join(&site_at, "default_community"),
            format!("unknown community {d:?}"),
        );
    }
    if let Some(t) = &w.site.tariff {
        id(t, &join(&site_at, "tariff"), p);
    }
    let mut sockets = HashMap::new();
    let mut names: Vec<&String> = w.sockets.keys().collect();
    names.sort();
    for name in names {
        let s = &w.sockets[name];
        let at = join(&join(path, "sockets"), name);
        id(name, &at, p);
        if let Some(list) = &s.communities {
            known(list, &join(&at, "communities"), p);
        }
        if let Some(t) = &s.tariff {
            id(t, &join(&at, "tariff"), p);
        }
        sockets.insert(
            name.clone(),
            SocketAccess {
                communities: s.communities.clone(),
                tariff: s.tariff.clone(),
            },
        );
    }
    (p.len() == before).then_some(SiteRules {
        version,
        communities,
        site: SiteAccess {
            kind: if w.site.home {
                SiteKind::Home
            } else {
                SiteKind::Shared
            },
            communities: w.site.communities,
            default_community: w.site.default_community,
            tariff: w.site.tariff,
        },
        sockets,
    })
}

fn yes() -> bool {
    true
}

/// A user as sent. Only `id` is required: the rest defaults to `User::new`'s common case.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireUser {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: Option<WireRole>,
    #[serde(default = "yes")]
    socket_access: bool,
    #[serde(default)]
    communities: Vec<String>,
    /// RFC 3339.
    #[serde(default)]
    active_until: Option<String>,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    credit: Option<WireCredit>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireRole {
    Individual,
    Manager,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCredit {
    kind: WireCreditKind,
    amount: WireNumber,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireCreditKind {
    Prepaid,
    Limit,
}

/// OCPP's AuthorizationStatus names.
#[derive(Deserialize)]
enum WireStatus {
    Accepted,
    Blocked,
    Expired,
    Invalid,
    ConcurrentTx,
    NoCredit,
    NotAtThisLocation,
    NotAtThisTime,
}

impl From<WireStatus> for TokenStatus {
    fn from(s: WireStatus) -> TokenStatus {
        match s {
            WireStatus::Accepted => TokenStatus::Accepted,
            WireStatus::Blocked => TokenStatus::Blocked,
            WireStatus::Expired => TokenStatus::Expired,
            WireStatus::Invalid => TokenStatus::Invalid,
            WireStatus::ConcurrentTx => TokenStatus::ConcurrentTx,
            WireStatus::NoCredit => TokenStatus::NoCredit,
            WireStatus::NotAtThisLocation => TokenStatus::NotAtThisLocation,
            WireStatus::NotAtThisTime => TokenStatus::NotAtThisTime,
        }
    }
}

/// A token entry as sent (also the fields of `authorize_answer`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireToken {
    token: String,
    #[serde(default)]
    user: Option<String>,
    status: WireStatus,
    /// RFC 3339.
    #[serde(default)]
    expiry: Option<String>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    sockets: Vec<String>,
}

fn user(raw: &str, path: &str, p: &mut Problems) -> Option<User> {
    let w: WireUser = de_at(raw, path, p)?;
    let before = p.len();
    id(&w.id, &join(path, "id"), p);
    if w.name.len() > 256 {
        p.push(join(path, "name"), "longer than 256 bytes");
    }
    ids(&w.communities, &join(path, "communities"), p);
    let active_until_ms = w
        .active_until
        .as_deref()
        .and_then(|s| time_ms(s, &join(path, "active_until"), p));
    let credit = w.credit.and_then(|c| {
        let at = join(path, "credit.amount");
        let d = c.amount.decimal(&at, p)?;
        if d < Decimal::ZERO {
            p.push(&at, format!("{} is negative", c.amount.text()));
        } else if d > MAX_CREDIT {
            p.push(&at, format!("{} is above {MAX_CREDIT}", c.amount.text()));
        } else if d.scale() > CREDIT_DECIMALS {
            p.push(
                &at,
                format!(
                    "{} has more than {CREDIT_DECIMALS} decimals",
                    c.amount.text()
                ),
            );
        }
        Some(match c.kind {
            WireCreditKind::Prepaid => Credit::Prepaid(d),
            WireCreditKind::Limit => Credit::Limit(d),
        })
    });
    (p.len() == before).then_some(User {
        id: w.id,
        name: w.name,
        role: match w.role {
            Some(WireRole::Manager) => Role::Manager,
            _ => Role::Individual,
        },
        socket_access: w.socket_access,
        communities: w.communities,
        active_until_ms,
        blocked: w.blocked,
        credit,
    })
}

fn id_token(s: &str, path: &str, p: &mut Problems) -> Option<IdToken> {
    let t = IdToken::new(s);
    if t.is_none() {
        p.push(
            path,
            format!(
                "not a token (1..={} printable ASCII characters)",
                IdToken::MAX_LEN
            ),
        );
    }
    t
}

fn token_entry(w: WireToken, path: &str, p: &mut Problems) -> Option<(IdToken, TokenEntry)> {
    let before = p.len();
    let token = id_token(&w.token, &join(path, "token"), p);
    if let Some(u) = &w.user {
        id(u, &join(path, "user"), p);
    }
    if let Some(g) = &w.parent {
        id(g, &join(path, "parent"), p);
    }
    ids(&w.sockets, &join(path, "sockets"), p);
    let expiry_ms = w
        .expiry
        .as_deref()
        .and_then(|s| time_ms(s, &join(path, "expiry"), p));
    let token = token?;
    (p.len() == before).then_some((
        token,
        TokenEntry {
            user: w.user,
            status: w.status.into(),
            expiry_ms,
            parent: w.parent,
            sockets: w.sockets,
        },
    ))
}

fn token(raw: &str, path: &str, p: &mut Problems) -> Option<(IdToken, TokenEntry)> {
    let w: WireToken = de_at(raw, path, p)?;
    token_entry(w, path, p)
}

/// Refuses a user id or a token given twice in one message.
#[derive(Default)]
struct Seen {
    users: HashSet<String>,
    tokens: HashSet<IdToken>,
}

impl Seen {
    fn user(&mut self, id: &str, path: &str, p: &mut Problems) {
        if !self.users.insert(id.to_string()) {
            p.push(join(path, "id"), format!("user {id:?} is listed twice"));
        }
    }

    fn token(&mut self, t: &IdToken, path: &str, p: &mut Problems) {
        if !self.tokens.insert(t.clone()) {
            p.push(join(path, "token"), format!("token {t} is listed twice"));
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireChunk {
    version: u64,
    chunk: u32,
    chunks: u32,
    #[serde(default)]
    rules: Option<Box<RawValue>>,
    #[serde(default)]
    users: Vec<Box<RawValue>>,
    #[serde(default)]
    tokens: Vec<Box<RawValue>>,
}

fn access_chunk(json: &str, p: &mut Problems) -> Option<AccessChunk> {
    let w: WireChunk = top(json, p)?;
    version(w.version, p);
    if w.chunks == 0 {
        p.push("chunks", "must be above 0");
    } else if w.chunk >= w.chunks {
        p.push(
            "chunk",
            format!("{} is not below chunks ({})", w.chunk, w.chunks),
        );
    }
    let rules = match (&w.rules, w.chunk) {
        (Some(r), 0) => rules(r, w.version, "rules", p),
        (None, 0) => {
            p.push("rules", "chunk 0 must carry the rules");
            None
        }
        (Some(_), _) => {
            p.push("rules", "only chunk 0 carries the rules");
            None
        }
        (None, _) => None,
    };
    let mut seen = Seen::default();
    let mut users = Vec::with_capacity(w.users.len());
    for (i, raw) in w.users.iter().enumerate() {
        let at = format!("users[{i}]");
        if let Some(u) = user(raw.get(), &at, p) {
            seen.user(&u.id, &at, p);
            users.push(u);
        }
    }
    let mut tokens = Vec::with_capacity(w.tokens.len());
    for (i, raw) in w.tokens.iter().enumerate() {
        let at = format!("tokens[{i}]");
        if let Some((t, e)) = token(raw.get(), &at, p) {
            seen.token(&t, &at, p);
            tokens.push((t, e));
        }
    }
    Some(AccessChunk {
        version: w.version,
        chunk: w.chunk,
        chunks: w.chunks,
        rules,
        users,
        tokens,
        json: json.as_bytes().to_vec(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCommit {
    version: u64,
    chunks: u32,
    sha256: String,
}

fn access_commit(json: &str, p: &mut Problems) -> Option<Downlink> {
    let w: WireCommit = top(json, p)?;
    version(w.version, p);
    if w.chunks == 0 {
        p.push("chunks", "must be above 0");
    }
    let sha256 = hex32(&w.sha256);
    if sha256.is_none() {
        p.push("sha256", "must be 64 hexadecimal digits");
    }
    Some(Downlink::AccessCommit {
        version: w.version,
        chunks: w.chunks,
        sha256: sha256?,
    })
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDiff {
    version: u64,
    #[serde(default)]
    rules: Option<Box<RawValue>>,
    #[serde(default)]
    users: Vec<Box<RawValue>>,
    #[serde(default)]
    tokens: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRemoveUser {
    id: String,
    remove: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRemoveToken {
    token: String,
    remove: bool,
}

/// Whether a diff element is a removal (it has a `remove` key).
fn is_removal(raw: &str) -> bool {
    serde_json::from_str::<HashMap<String, IgnoredAny>>(raw)
        .map(|m| m.contains_key("remove"))
        .unwrap_or(false)
}

fn access_diff(json: &str, p: &mut Problems) -> Option<Downlink> {
    let w: WireDiff = top(json, p)?;
    version(w.version, p);
    let rules = w
        .rules
        .as_ref()
        .and_then(|r| rules(r, w.version, "rules", p));
    let mut seen = Seen::default();
    let mut users = Vec::with_capacity(w.users.len());
    for (i, raw) in w.users.iter().enumerate() {
        let at = format!("users[{i}]");
        let change = if is_removal(raw.get()) {
            de_at::<WireRemoveUser>(raw.get(), &at, p).map(|r| {
                if !r.remove {
                    p.push(
                        join(&at, "remove"),
                        "must be true (or absent for a full user)",
                    );
                }
                id(&r.id, &join(&at, "id"), p);
                (r.id, None)
            })
        } else {
            user(raw.get(), &at, p).map(|u| (u.id.clone(), Some(u)))
        };
        if let Some((uid, u)) = change {
            seen.user(&uid, &at, p);
            users.push((uid, u));
        }
    }
    let mut tokens = Vec::with_capacity(w.tokens.len());
    for (i, raw) in w.tokens.iter().enumerate() {
        let at = format!("tokens[{i}]");
        let change = if is_removal(raw.get()) {
            de_at::<WireRemoveToken>(raw.get(), &at, p).and_then(|r| {
                if !r.remove {
                    p.push(
                        join(&at, "remove"),
                        "must be true (or absent for a full entry)",
                    );
                }
                Some((id_token(&r.token, &join(&at, "token"), p)?, None))
            })
        } else {
            token(raw.get(), &at, p).map(|(t, e)| (t, Some(e)))
        };
        if let Some((t, e)) = change {
            seen.token(&t, &at, p);
            tokens.push((t, e));
        }
    }
    Some(Downlink::AccessDiff {
        version: w.version,
        rules,
        users,
        tokens,
    })
}

// Tariffs, promotions, config.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTariffs {
    version: u64,
    tariffs: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WirePromotions {
    version: u64,
    promotions: Vec<Box<RawValue>>,
}

/// Runs an existing parser on each element, its problems under `key[i]`; ids must be unique.
fn each<T>(
    list: &[Box<RawValue>],
    key: &str,
    parse: impl Fn(&str) -> Result<T, Problems>,
    id_of: impl Fn(&T) -> &str,
    p: &mut Problems,
) -> Vec<(T, String)> {
    let mut ids = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
        let at = format!("{key}[{i}]");
        match parse(raw.get()) {
            Ok(t) => {
                if !ids.insert(id_of(&t).to_string()) {
                    p.push(join(&at, "id"), format!("{:?} is listed twice", id_of(&t)));
                }
                out.push((t, raw.get().to_string()));
            }
            Err(problems) => {
                for x in problems.iter() {
                    p.push(join(&at, &x.path), x.message.clone());
                }
            }
        }
    }
    out
}

fn tariffs(json: &str, p: &mut Problems) -> Option<Downlink> {
    let w: WireTariffs = top(json, p)?;
    version(w.version, p);
    let tariffs = each(&w.tariffs, "tariffs", parse_tariff, |t| &t.id, p);
    Some(Downlink::Tariffs {
        version: w.version,
        tariffs,
    })
}

fn promotions(json: &str, p: &mut Problems) -> Option<Downlink> {
    let w: WirePromotions = top(json, p)?;
    version(w.version, p);
    let promotions = each(&w.promotions, "promotions", parse_promotion, |x| &x.id, p);
    Some(Downlink::Promotions {
        version: w.version,
        promotions,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireConfig {
    version: u64,
    policy: WirePolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WirePolicy {
    local_authorize_offline: Option<bool>,
    local_pre_authorize: Option<bool>,
    allow_offline_tx_for_unknown_id: Option<bool>,
    allow_concurrent_tx: Option<bool>,
    stop_transaction_on_invalid_id: Option<bool>,
    /// Wh, as OCPP's MaxEnergyOnInvalidId.
    max_energy_on_invalid_id: Option<WireNumber>,
}

fn config(json: &str, p: &mut Problems) -> Option<Downlink> {
    let w: WireConfig = top(json, p)?;
    version(w.version, p);
    let max_energy_on_invalid_id_wh = w.policy.max_energy_on_invalid_id.and_then(|n| {
        let at = "policy.max_energy_on_invalid_id";
        let d = n.decimal(at, p)?;
        if d < Decimal::ZERO || d > Decimal::from(1_000_000_000u32) {
            p.push(at, format!("{d} Wh is outside 0..=1000000000"));
        }
        f64::from_str(&d.to_string()).ok()
    });
    Some(Downlink::Config {
        version: w.version,
        policy: PolicyPatch {
            local_authorize_offline: w.policy.local_authorize_offline,
            local_pre_authorize: w.policy.local_pre_authorize,
            allow_offline_tx_for_unknown_id: w.policy.allow_offline_tx_for_unknown_id,
            allow_concurrent_tx: w.policy.allow_concurrent_tx,
            stop_transaction_on_invalid_id: w.policy.stop_transaction_on_invalid_id,
            max_energy_on_invalid_id_wh,
        },
    })
}

// Commands.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCommand {
    id: String,
    #[serde(default)]
    expires_at: Option<String>,
    command: String,
    #[serde(default)]
    socket: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    in_service: Option<bool>,
    #[serde(default)]
    status: Option<WireStatus>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    expiry: Option<String>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    sockets: Option<Vec<String>>,
}

fn command(
    json: &str,
    limits: &DownlinkLimits,
    now_ms: Option<i64>,
    p: &mut Problems,
) -> Option<Command> {
    let w: WireCommand = top(json, p)?;
    id(&w.id, "id", p);
    let expires_at_ms = match &w.expires_at {
        None => {
            p.push("expires_at", "missing: every command must expire");
            None
        }
        Some(s) => time_ms(s, "expires_at", p),
    };
    if let (Some(exp), Some(now)) = (expires_at_ms, now_ms)
        && exp.saturating_sub(now) > limits.max_command_ttl_ms
    {
        p.push(
            "expires_at",
            format!("more than {} s ahead", limits.max_command_ttl_ms / 1000),
        );
    }
    // Which optional fields each command takes; any other is a problem.
    let present = [
        ("socket", w.socket.is_some()),
        ("token", w.token.is_some()),
        ("session_id", w.session_id.is_some()),
        ("in_service", w.in_service.is_some()),
        ("status", w.status.is_some()),
        ("user", w.user.is_some()),
        ("expiry", w.expiry.is_some()),
        ("parent", w.parent.is_some()),
        ("sockets", w.sockets.is_some()),
    ];
    let allowed: &[&str] = match w.command.as_str() {
        "remote_start" => &["socket", "token"],
        "remote_stop" => &["socket", "session_id"],
        "set_availability" => &["socket", "in_service"],
        "reset" => &["socket"],
        "report_state" => &[],
        "authorize_answer" => &["token", "status", "user", "expiry", "parent", "sockets"],
        other => {
            p.push("command", format!("unknown command {other:?}"));
            return None;
        }
    };
    for (name, there) in present {
        if there && !allowed.contains(&name) {
            p.push(name, format!("is not a field of {}", w.command));
        }
    }
    let need = |v: &Option<String>, key: &str, p: &mut Problems| -> Option<String> {
        match v {
            Some(s) => {
                id(s, key, p);
                Some(s.clone())
            }
            None => {
                p.push(key, format!("missing: {} needs it", w.command));
                None
            }
        }
    };
    let kind = match w.command.as_str() {
        "remote_start" => {
            let socket = need(&w.socket, "socket", p);
            let token = need(&w.token, "token", p).and_then(|t| id_token(&t, "token", p));
            Some(CommandKind::RemoteStart {
                socket: socket?,
                token: token?,
            })
        }
        "remote_stop" => {
            if w.socket.is_some() == w.session_id.is_some() {
                p.push("", "remote_stop needs exactly one of socket and session_id");
            }
            if let Some(s) = &w.socket {
                id(s, "socket", p);
            }
            if let Some(s) = &w.session_id {
                id(s, "session_id", p);
            }
            Some(CommandKind::RemoteStop {
                socket: w.socket.clone(),
                session_id: w.session_id.clone(),
            })
        }
        "set_availability" => {
            let socket = need(&w.socket, "socket", p);
            if w.in_service.is_none() {
                p.push("in_service", "missing: set_availability needs it");
            }
            Some(CommandKind::SetAvailability {
                socket: socket?,
                in_service: w.in_service?,
            })
        }
        "reset" => need(&w.socket, "socket", p).map(|socket| CommandKind::Reset { socket }),
        "report_state" => Some(CommandKind::ReportState),
        _ => {
            // authorize_answer: the fields of a token entry.
            let token = need(&w.token, "token", p);
            if w.status.is_none() {
                p.push("status", "missing: authorize_answer needs it");
            }
            let entry = WireToken {
                token: token?,
                user: w.user,
                status: w.status?,
                expiry: w.expiry,
                parent: w.parent,
                sockets: w.sockets.unwrap_or_default(),
            };
            token_entry(entry, "", p)
                .map(|(token, entry)| CommandKind::AuthorizeAnswer { token, entry })
        }
    };
    Some(Command {
        id: w.id,
        expires_at_ms: expires_at_ms?,
        kind: kind?,
    })
}

#[cfg(test)]
mod tests;
