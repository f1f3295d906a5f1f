//! Local accounts of the web page in SQLite (schema v4): reads on any connection, and the
//! changes the writer applies (`Write::Account`), each in a transaction of its own that also
//! puts an `account_audit` record in the outbox for central. Owns the rules that hold whatever
//! the caller: usernames unique whatever their case, and at least one active, unexpired
//! installer once any account exists (the last one can be neither demoted, deactivated nor
//! expired). Never hashes or sees a plain password (`web::auth::password` does) and never
//! decides who may do what (`web::auth::roles`).

use std::fmt;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use crate::core::time::Stamp;
use crate::store::roles::Role;
use crate::wire::{AccountAuditBody, Body};

/// Longest username and display name, in characters.
pub const MAX_USERNAME: usize = 64;
pub const MAX_DISPLAY_NAME: usize = 100;

/// The page's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    En,
    Fr,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
        }
    }

    pub fn parse(s: &str) -> Option<Language> {
        match s {
            "en" => Some(Language::En),
            "fr" => Some(Language::Fr),
            _ => None,
        }
    }
}

/// One account as stored. `Debug` leaves the password hash out.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// argon2id PHC string.
    pub password_hash: String,
    pub active: bool,
    /// Unix ms from which the account no longer works; `None`: no end.
    pub active_until_ms: Option<i64>,
    pub language: Option<Language>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl Account {
    /// Active and not expired at `now_ms`.
    pub fn may_log_in(&self, now_ms: i64) -> bool {
        self.active && self.active_until_ms.is_none_or(|until| now_ms < until)
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("active", &self.active)
            .field("active_until_ms", &self.active_until_ms)
            .field("language", &self.language)
            .finish_non_exhaustive()
    }
}

/// A new account. `display_name` empty: the username is shown.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// argon2id PHC string (`web::auth::password::hash`).
    pub password_hash: String,
    pub active_until_ms: Option<i64>,
    pub language: Option<Language>,
}

impl fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount")
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// What changes, on the account named `username` (any case).
#[derive(Clone, PartialEq, Eq)]
pub enum AccountAction {
    Create(NewAccount),
    SetRole {
        username: String,
        role: Role,
    },
    SetActive {
        username: String,
        active: bool,
    },
    SetActiveUntil {
        username: String,
        until_ms: Option<i64>,
    },
    SetPassword {
        username: String,
        password_hash: String,
    },
    SetLanguage {
        username: String,
        language: Option<Language>,
    },
    SetDisplayName {
        username: String,
        display_name: String,
    },
}

impl fmt::Debug for AccountAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name(), self.username())
    }
}

impl AccountAction {
    /// The action's name in the audit record.
    pub fn name(&self) -> &'static str {
        match self {
            AccountAction::Create(_) => "create",
            AccountAction::SetRole { .. } => "set_role",
            AccountAction::SetActive { active: true, .. } => "activate",
            AccountAction::SetActive { active: false, .. } => "deactivate",
            AccountAction::SetActiveUntil { .. } => "set_active_until",
            AccountAction::SetPassword { .. } => "set_password",
            AccountAction::SetLanguage { .. } => "set_language",
            AccountAction::SetDisplayName { .. } => "set_display_name",
        }
    }

    pub fn username(&self) -> &str {
        match self {
            AccountAction::Create(a) => &a.username,
            AccountAction::SetRole { username, .. }
            | AccountAction::SetActive { username, .. }
            | AccountAction::SetActiveUntil { username, .. }
            | AccountAction::SetPassword { username, .. }
            | AccountAction::SetLanguage { username, .. }
            | AccountAction::SetDisplayName { username, .. } => username,
        }
    }
}

/// One account change: who made it (an account's username, `cli`, `setup`), when, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountChange {
    pub actor: String,
    pub at: Stamp,
    pub action: AccountAction,
}

/// Why a username is refused, if it is: 1 to 64 ASCII letters, digits, `.`, `_`, `-`, `@`.
pub fn username_problem(username: &str) -> Option<String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if username.is_empty() || username.len() > MAX_USERNAME || !username.chars().all(ok) {
        return Some(format!(
            "the username `{username}` must be 1 to {MAX_USERNAME} letters, digits, `.`, `_`, `-` or `@`"
        ));
    }
    None
}

fn display_name_problem(name: &str) -> Option<String> {
    if name.chars().count() > MAX_DISPLAY_NAME || name.chars().any(char::is_control) {
        return Some(format!(
            "the name must be at most {MAX_DISPLAY_NAME} characters, without control characters"
        ));
    }
    None
}

fn hash_problem(hash: &str) -> Option<String> {
    (!hash.starts_with("$argon2id$")).then(|| "the password hash is not argon2id".to_string())
}

const COLUMNS: &str = "id, username, display_name, role, password, active, active_until_ms, \
                       language, created_ms, updated_ms";

fn account_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    let role: String = r.get(3)?;
    let language: Option<String> = r.get(7)?;
    Ok(Account {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        // The CHECK constraint keeps other names out.
        role: role.parse().unwrap_or(Role::Viewer),
        password_hash: r.get(4)?,
        active: r.get(5)?,
        active_until_ms: r.get(6)?,
        language: language.as_deref().and_then(Language::parse),
        created_ms: r.get(8)?,
        updated_ms: r.get(9)?,
    })
}

/// Every account, by username.
pub fn list(conn: &Connection) -> Result<Vec<Account>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM accounts ORDER BY username"))?;
    let rows = stmt.query_map([], account_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The account named `username`, whatever the case.
pub fn by_username(conn: &Connection, username: &str) -> Result<Option<Account>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM accounts WHERE username = ?1"
        ))?
        .query_row([username], account_of)
        .optional()?)
}

/// How many accounts exist (none: the first start's setup code is offered).
pub fn count(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get::<_, i64>(0))? as u64)
}

/// How many installers are active and not expired at `now_ms`.
pub fn count_installers(conn: &Connection, now_ms: i64) -> Result<u64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM accounts WHERE role = 'installer' AND active = 1
             AND (active_until_ms IS NULL OR active_until_ms > ?1)",
        [now_ms],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

/// Applies `change` in the writer's transaction; returns the audit record's body. Refused
/// (`Rejected`, nothing changed) for a taken or invalid username, an unknown account, or a
/// change that would leave no active installer.
pub(super) fn apply(tx: &Transaction<'_>, change: &AccountChange) -> Result<String, StoreError> {
    let now = change.at.wall_ms;
    let before = count_installers(tx, now)?;
    let action = &change.action;
    let username = action.username();
    let existing = by_username(tx, username)?;
    let reject = |why: String| Err(StoreError::Rejected(why));
    let target = match (action, &existing) {
        (AccountAction::Create(new), None) => {
            if let Some(p) = username_problem(&new.username)
                .or_else(|| display_name_problem(&new.display_name))
                .or_else(|| hash_problem(&new.password_hash))
            {
                return reject(p);
            }
            let name = if new.display_name.trim().is_empty() {
                &new.username
            } else {
                new.display_name.trim()
            };
            tx.execute(
                "INSERT INTO accounts (username, display_name, role, password, active,
                     active_until_ms, language, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?7)",
                params![
                    new.username,
                    name,
                    new.role.as_str(),
                    new.password_hash,
                    new.active_until_ms,
                    new.language.map(Language::as_str),
                    now,
                ],
            )?;
            new.username.clone()
        }
        (AccountAction::Create(_), Some(a)) => {
            return reject(format!("the username `{}` is taken", a.username));
        }
        (_, None) => return reject(format!("there is no account `{username}`")),
        (_, Some(a)) => {
            let (column, value): (&str, rusqlite::types::Value) = match action {
                AccountAction::Create(_) => unreachable!("matched above"),
                AccountAction::SetRole { role, .. } => ("role", role.as_str().to_string().into()),
                AccountAction::SetActive { active, .. } => ("active", i64::from(*active).into()),
                AccountAction::SetActiveUntil { until_ms, .. } => {
                    ("active_until_ms", (*until_ms).into())
                }
                AccountAction::SetPassword { password_hash, .. } => {
                    if let Some(p) = hash_problem(password_hash) {
                        return reject(p);
                    }
                    ("password", password_hash.clone().into())
                }
                AccountAction::SetLanguage { language, .. } => {
                    ("language", language.map(|l| l.as_str().to_string()).into())
                }
                AccountAction::SetDisplayName { display_name, .. } => {
                    if let Some(p) = display_name_problem(display_name) {
                        return reject(p);
                    }
                    let name = match display_name.trim() {
                        "" => a.username.clone(),
                        n => n.to_string(),
                    };
                    ("display_name", name.into())
                }
            };
            tx.execute(
                &format!("UPDATE accounts SET {column} = ?1, updated_ms = ?2 WHERE id = ?3"),
                params![value, now, a.id],
            )?;
            a.username.clone()
        }
    };
    let after = count_installers(tx, now)?;
    if after == 0 && before > 0 {
        return reject(format!(
            "`{target}` is the last active installer: it can be neither demoted, deactivated \
             nor expired (make another installer first)"
        ));
    }
    if after == 0 && matches!(action, AccountAction::Create(_)) {
        return reject("there is no active installer: create one first".into());
    }
    let account = by_username(tx, &target)?.ok_or_else(|| {
        StoreError::Failed(format!(
            "the account `{target}` vanished in its transaction"
        ))
    })?;
    let body = AccountAuditBody::new(
        &change.actor,
        action.name(),
        &account.username,
        account.role.as_str(),
        &change.at,
    );
    let body = match action {
        AccountAction::SetActiveUntil { until_ms, .. } => body.active_until(*until_ms),
        AccountAction::Create(new) => body.active_until(new.active_until_ms),
        _ => body,
    };
    Ok(body.text())
}
