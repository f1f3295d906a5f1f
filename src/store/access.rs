//! The access list and authorization cache in SQLite: per-token lookups for decisions, the
//! small site rules loaded at start, and the writes that change them (a full list staged chunk
//! by chunk then swapped atomically; differential updates with OCPP's version rule; central's
//! answers into the cache with OCPP's eviction). Rows are converted to and from the core's
//! types here; the JSON of the site rules is this module's own storage format.

use std::collections::HashMap;
use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub(crate) mod browse;
#[cfg(test)]
mod tests;

use super::StoreError;
use crate::core::access::*;
use crate::core::pricing::wire::WireNumber;

/// One user's change in a differential update: `None` removes the user.
pub type UserChange = (UserId, Option<User>);
/// One token's change in a differential update: `None` removes the token (OCPP: no info).
pub type TokenChange = (IdToken, Option<TokenEntry>);

fn status_name(s: TokenStatus) -> &'static str {
    match s {
        TokenStatus::Accepted => "Accepted",
        TokenStatus::Blocked => "Blocked",
        TokenStatus::Expired => "Expired",
        TokenStatus::Invalid => "Invalid",
        TokenStatus::ConcurrentTx => "ConcurrentTx",
        TokenStatus::NoCredit => "NoCredit",
        TokenStatus::NotAtThisLocation => "NotAtThisLocation",
        TokenStatus::NotAtThisTime => "NotAtThisTime",
    }
}

fn status_from(name: &str) -> TokenStatus {
    match name {
        "Accepted" => TokenStatus::Accepted,
        "Blocked" => TokenStatus::Blocked,
        "Expired" => TokenStatus::Expired,
        "ConcurrentTx" => TokenStatus::ConcurrentTx,
        "NoCredit" => TokenStatus::NoCredit,
        "NotAtThisLocation" => TokenStatus::NotAtThisLocation,
        "NotAtThisTime" => TokenStatus::NotAtThisTime,
        _ => TokenStatus::Invalid,
    }
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn parse_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// What a decision needs to know about `token`. The list has priority: the cache is read only
/// for tokens not on it.
pub fn lookup(conn: &Connection, token: &IdToken) -> Result<Lookup, StoreError> {
    let entry_of = |r: &rusqlite::Row<'_>| -> rusqlite::Result<TokenEntry> {
        Ok(TokenEntry {
            user: r.get(0)?,
            status: status_from(&r.get::<_, String>(1)?),
            expiry_ms: r.get(2)?,
            parent: r.get(3)?,
            sockets: parse_list(&r.get::<_, String>(4)?),
        })
    };
    let listed = conn
        .prepare_cached("SELECT user_id, status, expiry_ms, parent, sockets FROM access_tokens WHERE token = ?1")?
        .query_row([token.expose()], entry_of)
        .optional()?;
    let cached = if listed.is_none() {
        conn.prepare_cached("SELECT user_id, status, expiry_ms, parent, sockets, updated_ms FROM auth_cache WHERE token = ?1")?
            .query_row([token.expose()], |r| Ok(Cached { entry: entry_of(r)?, updated_ms: r.get(5)? }))
            .optional()?
    } else {
        None
    };
    let user_id = listed
        .as_ref()
        .or(cached.as_ref().map(|c| &c.entry))
        .and_then(|e| e.user.clone());
    let user = match user_id {
        Some(id) => user(conn, &id)?,
        None => None,
    };
    Ok(Lookup {
        listed,
        cached,
        user,
    })
}

/// The user as listed; a prepaid balance comes less what the user's sessions that ended here
/// since it was received cost (central's balance cannot include them yet: offline, that is the
/// only way to spend it once).
fn user(conn: &Connection, id: &str) -> Result<Option<User>, StoreError> {
    let found = conn
        .prepare_cached(
            "SELECT id, name, role, socket_access, communities, active_until_ms, blocked, credit_kind, credit_amount, credit_synced_ms
             FROM access_users WHERE id = ?1",
        )?
        .query_row([id], |r| {
            let credit_amount: Option<String> = r.get(8)?;
            let amount = credit_amount.and_then(|a| a.parse::<Decimal>().ok());
            let synced_ms: Option<i64> = r.get(9)?;
            let credit = match (r.get::<_, Option<String>>(7)?.as_deref(), amount) {
                (Some("limit"), Some(a)) => Some(Credit::Limit(a)),
                (Some("prepaid"), Some(a)) => Some(Credit::Prepaid(a)),
                _ => None,
            };
                        let user = User {
                id: r.get(0)?,
                name: r.get(1)?,
                role: if r.get::<_, String>(2)? == "manager" { Role::Manager } else { Role::Individual },
                socket_access: r.get(3)?,
                communities: parse_list(&r.get::<_, String>(4)?),
                active_until_ms: r.get(5)?,
                                blocked: r.get(6)?,
                                credit,
            };
            Ok((user, synced_ms))
        })
        .optional()?;
    let Some((mut user, synced_ms)) = found else {
        return Ok(None);
    };
    if let Some(Credit::Prepaid(balance)) = user.credit {
        let spent = spent_since(conn, &user.id, synced_ms.unwrap_or(i64::MIN))?;
        user.credit = Some(Credit::Prepaid(balance - spent));
    }
    Ok(Some(user))
}

/// What the user's sessions that ended at or after `since_ms` cost, tax included.
pub fn spent_since(conn: &Connection, user: &str, since_ms: i64) -> Result<Decimal, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT total_cost FROM sessions
         WHERE identity = ?1 AND stopped_ms >= ?2 AND total_cost IS NOT NULL",
    )?;
    let costs = stmt.query_map(params![user, since_ms], |r| r.get::<_, String>(0))?;
    let mut spent = Decimal::ZERO;
    for cost in costs {
        spent += cost?.parse::<Decimal>().unwrap_or_default();
    }
    Ok(spent)
}

/// The site rules and the list's version (0 and empty rules when no list was ever received).
pub fn load_rules(conn: &Connection) -> Result<SiteRules, StoreError> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT version, rules FROM access_rules WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match row {
        Some((version, json)) => {
            let doc: RulesDoc = serde_json::from_str(&json)
                .map_err(|e| StoreError::Failed(format!("access rules: {e}")))?;
            doc.into_rules(version as u64)
        }
        None => SiteRules::empty(),
    })
}

pub fn list_version(conn: &Connection) -> Result<u64, StoreError> {
    let v: Option<i64> = conn
        .query_row("SELECT version FROM access_rules WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.unwrap_or(0) as u64)
}

fn insert_user(
    tx: &Transaction<'_>,
    table: &str,
    u: &User,
    synced_ms: i64,
) -> Result<(), StoreError> {
    let (kind, amount) = match u.credit {
        Some(Credit::Limit(a)) => (Some("limit"), Some(a.to_string())),
        Some(Credit::Prepaid(a)) => (Some("prepaid"), Some(a.to_string())),
        None => (None, None),
    };
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {table} (id, name, role, socket_access, communities, active_until_ms, blocked, credit_kind, credit_amount, credit_synced_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?
    .execute(params![
        u.id,
        u.name,
        if u.role == Role::Manager { "manager" } else { "individual" },
        u.socket_access,
        json_list(&u.communities),
        u.active_until_ms,
        u.blocked,
                kind,
        amount,
        synced_ms,
    ])?;
    Ok(())
}

fn insert_token(
    tx: &Transaction<'_>,
    table: &str,
    t: &IdToken,
    e: &TokenEntry,
    or_replace: bool,
) -> Result<(), StoreError> {
    let verb = if or_replace {
        "INSERT OR REPLACE"
    } else {
        "INSERT"
    };
    let result = tx
        .prepare_cached(&format!(
            "{verb} INTO {table} (token, user_id, status, expiry_ms, parent, sockets) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ))?
        .execute(params![t.expose(), e.user, status_name(e.status), e.expiry_ms, e.parent, json_list(&e.sockets)]);
    match result {
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::Rejected(format!(
                "token {t} appears twice in one list"
            )))
        }
        other => other.map(|_| ()).map_err(StoreError::from),
    }
}

/// Starts staging a full list (drops what an interrupted one left).
pub(super) fn stage_begin(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute("DELETE FROM access_users_staging", [])?;
    tx.execute("DELETE FROM access_tokens_staging", [])?;
    Ok(())
}

/// Adds a chunk of a full list to the staging tables. A token twice in the list is refused.
pub(super) fn stage_chunk(
    tx: &Transaction<'_>,
    users: &[User],
    tokens: &[(IdToken, TokenEntry)],
    now_ms: i64,
) -> Result<(), StoreError> {
    for u in users {
        insert_user(tx, "access_users_staging", u, now_ms)?;
    }
    for (t, e) in tokens {
        insert_token(tx, "access_tokens_staging", t, e, false)?;
    }
    Ok(())
}

/// Replaces the list by the staged one, in the caller's transaction: all or nothing.
pub(super) fn stage_commit(
    tx: &Transaction<'_>,
    version: u64,
    rules: &SiteRules,
) -> Result<(), StoreError> {
    if version == 0 {
        return Err(StoreError::Rejected(
            "a pushed list's version must be above 0".into(),
        ));
    }
    // Swapping tables by name is instant whatever the list's size; the emptied old tables
    // become the next staging tables.
    tx.execute_batch(
        "ALTER TABLE access_users RENAME TO access_users_old;
         ALTER TABLE access_users_staging RENAME TO access_users;
         ALTER TABLE access_users_old RENAME TO access_users_staging;
         DELETE FROM access_users_staging;
         ALTER TABLE access_tokens RENAME TO access_tokens_old;
         ALTER TABLE access_tokens_staging RENAME TO access_tokens;
         ALTER TABLE access_tokens_old RENAME TO access_tokens_staging;
         DELETE FROM access_tokens_staging;",
    )?;
    // Listed tokens are never cached: the list has priority.
    tx.execute(
        "DELETE FROM auth_cache WHERE token IN (SELECT token FROM access_tokens)",
        [],
    )?;
    save_rules(tx, version, rules)
}

fn save_rules(tx: &Transaction<'_>, version: u64, rules: &SiteRules) -> Result<(), StoreError> {
    let json = serde_json::to_string(&RulesDoc::from_rules(rules))
        .map_err(|e| StoreError::Failed(e.to_string()))?;
    tx.execute(
        "INSERT OR REPLACE INTO access_rules (id, version, rules) VALUES (1, ?1, ?2)",
        params![version as i64, json],
    )?;
    Ok(())
}

/// A differential update: refused unless its version is above the current one (OCPP's
/// VersionMismatch: central then sends a full list).
pub(super) fn apply_diff(
    tx: &Transaction<'_>,
    version: u64,
    rules: Option<&SiteRules>,
    users: &[UserChange],
    tokens: &[TokenChange],
    now_ms: i64,
) -> Result<(), StoreError> {
    let current = {
        let v: Option<i64> = tx
            .query_row("SELECT version FROM access_rules WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        v.unwrap_or(0) as u64
    };
    if version <= current {
        return Err(StoreError::VersionMismatch {
            current,
            offered: version,
        });
    }
    let mut seen = std::collections::HashSet::new();
    for (t, _) in tokens {
        if !seen.insert(t) {
            return Err(StoreError::Rejected(format!(
                "token {t} appears twice in one update"
            )));
        }
    }
    for (id, u) in users {
        match u {
            Some(u) => insert_user(tx, "access_users", u, now_ms)?,
            None => {
                tx.execute("DELETE FROM access_users WHERE id = ?1", [id])?;
            }
        }
    }
    for (t, e) in tokens {
        match e {
            Some(e) => {
                insert_token(tx, "access_tokens", t, e, true)?;
                tx.execute("DELETE FROM auth_cache WHERE token = ?1", [t.expose()])?;
            }
            None => {
                tx.execute("DELETE FROM access_tokens WHERE token = ?1", [t.expose()])?;
            }
        }
    }
    match rules {
        Some(r) => save_rules(tx, version, r),
        None => {
            tx.execute(
                "UPDATE access_rules SET version = ?1 WHERE id = 1",
                [version as i64],
            )?;
            if tx.changes() == 0 {
                save_rules(tx, version, &SiteRules::empty())?;
            }
            Ok(())
        }
    }
}

/// Records central's answer for a token not on the list, evicting as OCPP says when full.
pub(super) fn cache_answer(
    tx: &Transaction<'_>,
    token: &IdToken,
    entry: &TokenEntry,
    now_ms: i64,
    capacity: usize,
) -> Result<(), StoreError> {
    let listed: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM access_tokens WHERE token = ?1)",
        [token.expose()],
        |r| r.get(0),
    )?;
    if listed {
        return Ok(());
    }
    let known: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM auth_cache WHERE token = ?1)",
        [token.expose()],
        |r| r.get(0),
    )?;
    let size: i64 = tx.query_row("SELECT COUNT(*) FROM auth_cache", [], |r| r.get(0))?;
    if !known && size as usize >= capacity.max(1) {
        // Not valid any more first (refused or expired), then the least recently updated.
        tx.execute(
            "DELETE FROM auth_cache WHERE token = (
                 SELECT token FROM auth_cache
                 ORDER BY (status = 'Accepted' AND (expiry_ms IS NULL OR expiry_ms > ?1)), updated_ms, token
                 LIMIT 1)",
            [now_ms],
        )?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO auth_cache (token, user_id, status, expiry_ms, parent, sockets, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![token.expose(), entry.user, status_name(entry.status), entry.expiry_ms, entry.parent, json_list(&entry.sockets), now_ms],
    )?;
    Ok(())
}

// Storage format of the site rules.

#[derive(Serialize, Deserialize)]
struct RulesDoc {
    site: SiteDoc,
    communities: Vec<CommunityDoc>,
    sockets: HashMap<String, SocketDoc>,
}

#[derive(Serialize, Deserialize)]
struct SiteDoc {
    home: bool,
    communities: Vec<String>,
    default_community: Option<String>,
    tariff: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct CommunityDoc {
    id: String,
    public: bool,
    card_payment: bool,
    tariff: Option<String>,
    hours: Option<(Vec<bool>, u16, u16)>,
}

#[derive(Serialize, Deserialize)]
struct SocketDoc {
    communities: Option<Vec<String>>,
    tariff: Option<String>,
}

impl RulesDoc {
    fn from_rules(r: &SiteRules) -> RulesDoc {
        let mut communities: Vec<CommunityDoc> = r
            .communities
            .values()
            .map(|c| CommunityDoc {
                id: c.id.clone(),
                public: c.kind == CommunityKind::Public,
                card_payment: c.card_payment,
                tariff: c.tariff.clone(),
                hours: c.hours.map(|h| (h.days.to_vec(), h.start_min, h.end_min)),
            })
            .collect();
        communities.sort_by(|a, b| a.id.cmp(&b.id));
        RulesDoc {
            site: SiteDoc {
                home: r.site.kind == SiteKind::Home,
                communities: r.site.communities.clone(),
                default_community: r.site.default_community.clone(),
                tariff: r.site.tariff.clone(),
            },
            communities,
            sockets: r
                .sockets
                .iter()
                .map(|(k, s)| {
                    (
                        k.clone(),
                        SocketDoc {
                            communities: s.communities.clone(),
                            tariff: s.tariff.clone(),
                        },
                    )
                })
                .collect(),
        }
    }

    fn into_rules(self, version: u64) -> SiteRules {
        SiteRules {
            version,
            site: SiteAccess {
                kind: if self.site.home {
                    SiteKind::Home
                } else {
                    SiteKind::Shared
                },
                communities: self.site.communities,
                default_community: self.site.default_community,
                tariff: self.site.tariff,
            },
            communities: self
                .communities
                .into_iter()
                .map(|c| {
                    let hours = c.hours.map(|(days, start_min, end_min)| {
                        let mut d = [false; 7];
                        for (i, on) in days.into_iter().take(7).enumerate() {
                            d[i] = on;
                        }
                        Hours {
                            days: d,
                            start_min,
                            end_min,
                        }
                    });
                    let kind = if c.public {
                        CommunityKind::Public
                    } else {
                        CommunityKind::Private
                    };
                    (
                        c.id.clone(),
                        Community {
                            id: c.id,
                            kind,
                            card_payment: c.card_payment,
                            tariff: c.tariff,
                            hours,
                        },
                    )
                })
                .collect(),
            sockets: self
                .sockets
                .into_iter()
                .map(|(k, s)| {
                    (
                        k,
                        SocketAccess {
                            communities: s.communities,
                            tariff: s.tariff,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// The published tariffs' JSON, by id.
pub fn tariffs(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    Ok(conn
        .prepare("SELECT id, tariff FROM tariffs ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?)
}

/// The version of a published set (`tariffs` or `promotions`); 0 when none was received.
pub fn published_version(conn: &Connection, kind: &str) -> Result<u64, StoreError> {
    let v: Option<i64> = conn
        .query_row(
            "SELECT version FROM published WHERE kind = ?1",
            [kind],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.unwrap_or(0) as u64)
}

/// Replaces a published set (the `tariffs` or `promotions` table, rows in the given order)
/// when `version` is above the current one.
pub(super) fn replace_published(
    tx: &Transaction<'_>,
    kind: &str,
    version: u64,
    rows: &[(String, String)],
) -> Result<(), StoreError> {
    let current = published_version(tx, kind)?;
    if version <= current {
        return Err(StoreError::VersionMismatch {
            current,
            offered: version,
        });
    }
    let (delete, insert) = match kind {
        "tariffs" => (
            "DELETE FROM tariffs",
            "INSERT INTO tariffs (id, tariff) VALUES (?1, ?2)",
        ),
        _ => (
            "DELETE FROM promotions",
            "INSERT INTO promotions (id, promotion) VALUES (?1, ?2)",
        ),
    };
    tx.execute(delete, [])?;
    let mut seen = std::collections::HashSet::new();
    for (id, json) in rows {
        if !seen.insert(id) {
            return Err(StoreError::Rejected(format!(
                "{kind}: id {id} appears twice"
            )));
        }
        tx.execute(insert, params![id, json])?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO published (kind, version) VALUES (?1, ?2)",
        params![kind, version as i64],
    )?;
    Ok(())
}

/// The published promotions' JSON, in central's order (the first that applies is used).
pub fn promotions(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    Ok(conn
        .prepare("SELECT id, promotion FROM promotions ORDER BY position")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?)
}

/// How many sessions got each promotion: (promotion, user or `None`, count).
pub fn promotion_uses(conn: &Connection) -> Result<Vec<(String, Option<String>, u32)>, StoreError> {
    Ok(conn
        .prepare(
            "SELECT promotion_id, identity, count(*) FROM sessions
             WHERE promotion_id IS NOT NULL GROUP BY promotion_id, identity",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?)
}

/// The version of central's site configuration and its row, when one was received.
fn central_config_row(conn: &Connection) -> Result<Option<(u64, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT version, config FROM central_config WHERE id = 1",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
        )
        .optional()?)
}

/// `base` (the config file's policy) patched by central's stored policies: what the core
/// decides with (the web page's explain tool asks the same). A row that cannot be read is
/// logged and leaves `base`.
pub fn policy_in_force(conn: &Connection, base: OfflinePolicy) -> OfflinePolicy {
    let Ok(Some((_, json))) = central_config_row(conn) else {
        return base;
    };
    match ConfigDoc::read(&json) {
        Ok(patch) => patch.apply(base),
        Err(why) => {
            log::error!(
                "central's stored configuration is unreadable ({why}): the config file's policy applies"
            );
            base
        }
    }
}

pub(super) fn save_central_config(
    tx: &Transaction<'_>,
    version: u64,
    policy: &PolicyPatch,
) -> Result<(), StoreError> {
    let current = central_config_row(tx)?.map_or(0, |(v, _)| v);
    if version <= current {
        return Err(StoreError::VersionMismatch {
            current,
            offered: version,
        });
    }
    tx.execute(
        "INSERT OR REPLACE INTO central_config (id, version, config) VALUES (1, ?1, ?2)",
        params![version as i64, ConfigDoc::write(version, policy)],
    )?;
    Ok(())
}

// Storage format of central's site configuration: central's `config` message, `{"version": 4,
// "policy": {...}}` with OCPP's names. Rows written before the policy was kept typed hold the
// message as central sent it (`max_energy_on_invalid_id` a number or a decimal string); new
// rows are written in the same shape, a number.

#[derive(Serialize)]
struct ConfigDoc {
    policy: PolicyDoc,
    version: u64,
}

#[derive(Serialize)]
struct PolicyDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_concurrent_tx: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_offline_tx_for_unknown_id: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_authorize_offline: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_pre_authorize: Option<bool>,
    /// Wh, as OCPP's MaxEnergyOnInvalidId.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_energy_on_invalid_id: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_transaction_on_invalid_id: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredConfig {
    policy: StoredPolicy,
    // Kept in its own column too (the one the version rule reads).
    #[allow(dead_code)]
    version: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredPolicy {
    local_authorize_offline: Option<bool>,
    local_pre_authorize: Option<bool>,
    allow_offline_tx_for_unknown_id: Option<bool>,
    allow_concurrent_tx: Option<bool>,
    stop_transaction_on_invalid_id: Option<bool>,
    max_energy_on_invalid_id: Option<WireNumber>,
}

impl ConfigDoc {
    fn write(version: u64, p: &PolicyPatch) -> String {
        let doc = ConfigDoc {
            policy: PolicyDoc {
                allow_concurrent_tx: p.allow_concurrent_tx,
                allow_offline_tx_for_unknown_id: p.allow_offline_tx_for_unknown_id,
                local_authorize_offline: p.local_authorize_offline,
                local_pre_authorize: p.local_pre_authorize,
                max_energy_on_invalid_id: p.max_energy_on_invalid_id_wh,
                stop_transaction_on_invalid_id: p.stop_transaction_on_invalid_id,
            },
            version,
        };
        serde_json::to_string(&doc).expect("a policy always serializes")
    }

    /// The policies of a stored row, or why it cannot be read.
    fn read(json: &str) -> Result<PolicyPatch, String> {
        let doc: StoredConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let p = doc.policy;
        // Read as `downlink` read it when it arrived: the decimal's text, then a float.
        let max_energy_on_invalid_id_wh = match p.max_energy_on_invalid_id {
            None => None,
            Some(n) => {
                let mut problems = crate::problems::Problems::new();
                let d = n
                    .decimal("policy.max_energy_on_invalid_id", &mut problems)
                    .ok_or_else(|| problems.to_string())?;
                Some(f64::from_str(&d.to_string()).map_err(|e| e.to_string())?)
            }
        };
        Ok(PolicyPatch {
            local_authorize_offline: p.local_authorize_offline,
            local_pre_authorize: p.local_pre_authorize,
            allow_offline_tx_for_unknown_id: p.allow_offline_tx_for_unknown_id,
            allow_concurrent_tx: p.allow_concurrent_tx,
            stop_transaction_on_invalid_id: p.stop_transaction_on_invalid_id,
            max_energy_on_invalid_id_wh,
        })
    }
}
