//! Reading the synced access list page by page, for the web page's Access view: users matching
//! a search (a token, a user id or name, a community), with the total count. The list can hold
//! a million users: only one page is ever read, and the unsearched list pages over the primary
//! key. Never writes.

use rusqlite::{Connection, OptionalExtension};

use super::super::StoreError;
use crate::core::access::{IdToken, User};

/// One page of users and how many match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPage {
    pub total: u64,
    pub users: Vec<User>,
}

/// Users matching `query` (case-insensitive: a token exactly, or a piece of the user's id, name
/// or one of its communities), ordered by id: `limit` of them after `offset`. Without a query,
/// every user. A prepaid balance is shown as a decision would see it.
pub fn users(
    conn: &Connection,
    query: Option<&str>,
    limit: u32,
    offset: u64,
) -> Result<UserPage, StoreError> {
    let query = query.map(str::trim).filter(|q| !q.is_empty());
    let (total, ids) = match query {
        None => {
            let total: i64 =
                conn.query_row("SELECT count(*) FROM access_users", [], |r| r.get(0))?;
            let ids = conn
                .prepare("SELECT id FROM access_users ORDER BY id LIMIT ?1 OFFSET ?2")?
                .query_map(rusqlite::params![limit, offset as i64], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            (total, ids)
        }
        Some(q) => {
            // The token's owner comes by its primary key; names and communities have no index
            // (a scan of one narrow table, bounded by the page).
            let owner: Option<String> = match IdToken::new(q) {
                Some(token) => conn
                    .query_row(
                        "SELECT user_id FROM access_tokens WHERE token = ?1",
                        [token.expose()],
                        |r| r.get(0),
                    )
                    .optional()?
                    .flatten(),
                None => None,
            };
            let pattern = format!("%{}%", like_escaped(q));
            let matches = "id = ?1 OR id LIKE ?2 ESCAPE '\\' OR name LIKE ?2 ESCAPE '\\' \
                 OR communities LIKE ?2 ESCAPE '\\'";
            let owner = owner.unwrap_or_default();
            let total: i64 = conn.query_row(
                &format!("SELECT count(*) FROM access_users WHERE {matches}"),
                rusqlite::params![owner, pattern],
                |r| r.get(0),
            )?;
            let ids = conn
                .prepare(&format!(
                    "SELECT id FROM access_users WHERE {matches} ORDER BY id LIMIT ?3 OFFSET ?4"
                ))?
                .query_map(
                    rusqlite::params![owner, pattern, limit, offset as i64],
                    |r| r.get(0),
                )?
                .collect::<Result<Vec<String>, _>>()?;
            (total, ids)
        }
    };
    let mut users = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(user) = super::user(conn, &id)? {
            users.push(user);
        }
    }
    Ok(UserPage {
        total: u64::try_from(total).unwrap_or(0),
        users,
    })
}

/// `text` with LIKE's wildcards taken literally (escape character `\`).
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
