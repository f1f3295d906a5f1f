//! The decision: may this token charge at this socket now, and on which terms. Pure: the list,
//! the cache, the time and the link state come in; a grant, a rejection with OCPP 2.0.1's
//! reason, or "ask central" goes out.

use std::fmt;

use rust_decimal::Decimal;

use super::model::*;

/// OCPP's offline rules, with OCPP's names (config keys of the same names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OfflinePolicy {
    /// Offline, start for tokens the list or cache says are valid.
    pub local_authorize_offline: bool,
    /// Online, start at once for tokens the list or cache says are valid, without asking.
    pub local_pre_authorize: bool,
    /// Offline, accept tokens in neither list nor cache.
    pub allow_offline_tx_for_unknown_id: bool,
    /// A user may run several sessions at once.
    pub allow_concurrent_tx: bool,
    /// Late rejection of a token used on a provisional answer: stop the session (true), or only
    /// withhold energy and keep it open (false).
    pub stop_transaction_on_invalid_id: bool,
    /// Energy a late-rejected token may still receive (Wh).
    pub max_energy_on_invalid_id_wh: f64,
}

impl Default for OfflinePolicy {
    fn default() -> Self {
        OfflinePolicy {
            local_authorize_offline: true,
            local_pre_authorize: true,
            allow_offline_tx_for_unknown_id: false,
            allow_concurrent_tx: false,
            stop_transaction_on_invalid_id: true,
            max_energy_on_invalid_id_wh: 0.0,
        }
    }
}

/// The site policies central sets (its `config` message, kept by the store): `None` leaves a
/// policy as the config file says.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PolicyPatch {
    pub local_authorize_offline: Option<bool>,
    pub local_pre_authorize: Option<bool>,
    pub allow_offline_tx_for_unknown_id: Option<bool>,
    pub allow_concurrent_tx: Option<bool>,
    pub stop_transaction_on_invalid_id: Option<bool>,
    pub max_energy_on_invalid_id_wh: Option<f64>,
}

impl PolicyPatch {
    /// `policy` with this patch's values.
    pub fn apply(&self, mut policy: OfflinePolicy) -> OfflinePolicy {
        let set = |v: Option<bool>, to: &mut bool| {
            if let Some(v) = v {
                *to = v;
            }
        };
        set(
            self.local_authorize_offline,
            &mut policy.local_authorize_offline,
        );
        set(self.local_pre_authorize, &mut policy.local_pre_authorize);
        set(
            self.allow_offline_tx_for_unknown_id,
            &mut policy.allow_offline_tx_for_unknown_id,
        );
        set(self.allow_concurrent_tx, &mut policy.allow_concurrent_tx);
        set(
            self.stop_transaction_on_invalid_id,
            &mut policy.stop_transaction_on_invalid_id,
        );
        if let Some(wh) = self.max_energy_on_invalid_id_wh {
            policy.max_energy_on_invalid_id_wh = wh;
        }
        policy
    }
}

/// Why a token may not charge (OCPP 2.0.1's AuthorizationStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Unknown,
    Blocked,
    Expired,
    NoAccess,
    NotAtThisLocation,
    NotAtThisTime,
    ConcurrentTx,
    NoCredit,
    SocketUnavailable,
}

impl Rejection {
    pub fn name(self) -> &'static str {
        match self {
            Rejection::Unknown => "Unknown",
            Rejection::Blocked => "Blocked",
            Rejection::Expired => "Expired",
            Rejection::NoAccess => "NoAccess",
            Rejection::NotAtThisLocation => "NotAtThisLocation",
            Rejection::NotAtThisTime => "NotAtThisTime",
            Rejection::ConcurrentTx => "ConcurrentTx",
            Rejection::NoCredit => "NoCredit",
            Rejection::SocketUnavailable => "SocketUnavailable",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a grant came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    LocalList,
    Cache,
    /// Offline, in neither list nor cache, and the policy lets it charge: central may reject it
    /// later (late rejection).
    UnknownOffline,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub user: Option<UserId>,
    pub community: Option<CommunityId>,
    pub tariff: Option<TariffId>,
    /// What the user may still spend; `None`: no limit.
    pub credit_left: Option<Decimal>,
    pub parent: Option<String>,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Accepted(Grant),
    Rejected(Rejection),
    /// Online, and the local answer is not enough: central decides.
    AskCentral,
}

/// The moment and place of a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request<'a> {
    pub token: &'a IdToken,
    pub socket: &'a str,
    pub socket_in_service: bool,
    pub now_ms: i64,
    /// Local weekday (0 = Monday) and minute of the day, in the site's time zone.
    pub local_weekday: usize,
    pub local_minute: u16,
    pub online: bool,
    /// Sessions the token's user runs now, and what they cost so far.
    pub user_sessions: usize,
    pub user_spent: Decimal,
}

/// Decides. The list has priority over the cache; listed tokens that are not accepted, or
/// expired, are refused offline whatever the policy.
pub fn authorize(
    list: &SiteRules,
    found: &Lookup,
    policy: &OfflinePolicy,
    req: &Request<'_>,
) -> Decision {
    if !req.socket_in_service {
        return Decision::Rejected(Rejection::SocketUnavailable);
    }
    let (entry, source) = match (&found.listed, &found.cached) {
        (Some(e), _) => (e, Source::LocalList),
        (None, Some(c)) => (&c.entry, Source::Cache),
        (None, None) if req.online => return Decision::AskCentral,
        (None, None) if policy.allow_offline_tx_for_unknown_id => {
            return unknown_offline(list, req);
        }
        (None, None) => return Decision::Rejected(Rejection::Unknown),
    };
    let valid =
        entry.status == TokenStatus::Accepted && entry.expiry_ms.is_none_or(|e| e > req.now_ms);
    if req.online && (!policy.local_pre_authorize || (source == Source::Cache && !valid)) {
        // A cached refusal is asked again while online: central may have changed its mind.
        return Decision::AskCentral;
    }
    if !req.online && !policy.local_authorize_offline {
        return Decision::Rejected(Rejection::Unknown);
    }
    if let Some(r) = status_rejection(entry.status) {
        return Decision::Rejected(r);
    }
    if !valid {
        return Decision::Rejected(Rejection::Expired);
    }
    if !entry.sockets.is_empty() && !entry.sockets.iter().any(|s| s == req.socket) {
        return Decision::Rejected(Rejection::NotAtThisLocation);
    }
    let user = match &entry.user {
        Some(id) => match found.user.as_ref().filter(|u| &u.id == id) {
            Some(u) => Some(u),
            // A cached answer may name a user the list does not carry: central vouched for it.
            None if source == Source::Cache => None,
            None => return Decision::Rejected(Rejection::Unknown),
        },
        None => None,
    };
    match user {
        Some(u) => decide_for_user(list, policy, req, u, entry, source),
        None => Decision::Accepted(Grant {
            user: entry.user.clone(),
            community: list.site.default_community.clone(),
            tariff: tariff_for(list, req.socket, list.site.default_community.as_deref()),
            credit_left: None,
            parent: entry.parent.clone(),
            source,
        }),
    }
}

fn status_rejection(status: TokenStatus) -> Option<Rejection> {
    match status {
        TokenStatus::Accepted => None,
        TokenStatus::Blocked => Some(Rejection::Blocked),
        TokenStatus::Expired => Some(Rejection::Expired),
        TokenStatus::Invalid => Some(Rejection::Unknown),
        TokenStatus::ConcurrentTx => Some(Rejection::ConcurrentTx),
        TokenStatus::NoCredit => Some(Rejection::NoCredit),
        TokenStatus::NotAtThisLocation => Some(Rejection::NotAtThisLocation),
        TokenStatus::NotAtThisTime => Some(Rejection::NotAtThisTime),
    }
}

fn decide_for_user(
    list: &SiteRules,
    policy: &OfflinePolicy,
    req: &Request<'_>,
    user: &User,
    entry: &TokenEntry,
    source: Source,
) -> Decision {
    if user.blocked {
        return Decision::Rejected(Rejection::Blocked);
    }
    if user.active_until_ms.is_some_and(|t| t <= req.now_ms) {
        return Decision::Rejected(Rejection::Expired);
    }
    if !user.socket_access {
        return Decision::Rejected(Rejection::NoAccess);
    }
    let community = match community_for(list, req, user) {
        Ok(c) => c,
        Err(r) => return Decision::Rejected(r),
    };
    if !policy.allow_concurrent_tx && req.user_sessions > 0 {
        return Decision::Rejected(Rejection::ConcurrentTx);
    }
    let credit_left = user.credit.map(|c| c.amount() - req.user_spent);
    if credit_left.is_some_and(|left| left <= Decimal::ZERO) {
        return Decision::Rejected(Rejection::NoCredit);
    }
    Decision::Accepted(Grant {
        user: Some(user.id.clone()),
        tariff: tariff_for(list, req.socket, community.as_deref()),
        community,
        credit_left,
        parent: entry.parent.clone(),
        source,
    })
}

/// The community a user charges under here: among the site's communities, those the user
/// belongs to (or the default one, for a user without any), and public ones; restricted by the
/// socket; open at this hour. The user's own order of preference decides between several.
fn community_for(
    list: &SiteRules,
    req: &Request<'_>,
    user: &User,
) -> Result<Option<CommunityId>, Rejection> {
    if list.site.communities.is_empty() {
        // A site without communities: registered users with access may charge.
        return Ok(None);
    }
    let default = list
        .site
        .default_community
        .iter()
        .cloned()
        .collect::<Vec<_>>();
    let memberships = if user.communities.is_empty() {
        &default
    } else {
        &user.communities
    };
    let public = |c: &str| {
        list.communities
            .get(c)
            .is_some_and(|c| c.kind == CommunityKind::Public)
    };
    let restriction = list
        .sockets
        .get(req.socket)
        .and_then(|s| s.communities.as_ref());
    let mut eligible: Vec<&CommunityId> = list
        .site
        .communities
        .iter()
        .filter(|c| memberships.contains(c) || public(c))
        .collect();
    eligible.sort_by_key(|c| {
        memberships
            .iter()
            .position(|m| m == *c)
            .unwrap_or(usize::MAX)
    });
    if eligible.is_empty() {
        return Err(Rejection::NoAccess);
    }
    let here: Vec<&CommunityId> = eligible
        .into_iter()
        .filter(|c| restriction.is_none_or(|r| r.contains(c)))
        .collect();
    if here.is_empty() {
        return Err(Rejection::NotAtThisLocation);
    }
    let open = |c: &CommunityId| {
        list.communities
            .get(c)
            .and_then(|c| c.hours)
            .is_none_or(|h| h.contains(req.local_weekday, req.local_minute))
    };
    here.into_iter()
        .find(|c| open(c))
        .map(|c| Some(c.clone()))
        .ok_or(Rejection::NotAtThisTime)
}

/// Tariff precedence: the socket's, else the community's, else the site's.
fn tariff_for(list: &SiteRules, socket: &str, community: Option<&str>) -> Option<TariffId> {
    list.sockets
        .get(socket)
        .and_then(|s| s.tariff.clone())
        .or_else(|| {
            community
                .and_then(|c| list.communities.get(c))
                .and_then(|c| c.tariff.clone())
        })
        .or_else(|| list.site.tariff.clone())
}

fn unknown_offline(list: &SiteRules, req: &Request<'_>) -> Decision {
    let community = list.site.default_community.clone();
    Decision::Accepted(Grant {
        user: None,
        tariff: tariff_for(list, req.socket, community.as_deref()),
        community,
        credit_left: None,
        parent: None,
        source: Source::UnknownOffline,
    })
}
