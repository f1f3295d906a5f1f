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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DB_FILE, open_writer};

    fn database(users: u32) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let (conn, _) = open_writer(&dir.path().join(DB_FILE)).unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for i in 0..users {
            tx.execute(
                "INSERT INTO access_users (id, name, role, socket_access, communities, blocked)
                 VALUES (?1, ?2, 'individual', 1, ?3, 0)",
                rusqlite::params![
                    format!("u{i:06}"),
                    format!("Driver {i}"),
                    if i % 100 == 0 { r#"["50%_off"]"# } else { "[]" },
                ],
            )
            .unwrap();
        }
        tx.execute(
            "INSERT INTO access_tokens (token, user_id, status, sockets)
             VALUES ('04A1B2C3', 'u000042', 'Accepted', '[]')",
            [],
        )
        .unwrap();
        tx.commit().unwrap();
        (dir, conn)
    }

    #[test]
    fn pages_searches_and_literal_wildcards() {
        let (_dir, conn) = database(5_000);
        let first = users(&conn, None, 50, 0).unwrap();
        assert_eq!(first.total, 5_000);
        assert_eq!(first.users.len(), 50);
        assert_eq!(first.users[0].id, "u000000");
        let far = users(&conn, None, 50, 4_990).unwrap();
        assert_eq!(far.users.len(), 10);
        assert_eq!(far.users[9].id, "u004999");
        let token = users(&conn, Some(" 04a1b2c3 "), 50, 0).unwrap();
        assert_eq!(token.total, 1);
        assert_eq!(token.users[0].id, "u000042");
        assert_eq!(users(&conn, Some("driver 499"), 50, 0).unwrap().total, 11);
        // `%` and `_` are searched as themselves: only the 50 users of the "50%_off" community.
        assert_eq!(users(&conn, Some("50%_"), 50, 0).unwrap().total, 50);
        assert_eq!(users(&conn, Some("%"), 50, 0).unwrap().total, 50);
    }

    #[test]
    fn the_unsearched_list_pages_over_the_primary_key_without_sorting() {
        let (_dir, conn) = database(10);
        let plan: Vec<String> = conn
            .prepare("EXPLAIN QUERY PLAN SELECT id FROM access_users ORDER BY id LIMIT 50 OFFSET 0")
            .unwrap()
            .query_map([], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");
    }
}
