//! The access tables on a real SQLite file, below the writer: the authorization cache's OCPP
//! eviction (the one cache: the core keeps none), and central's policies kept typed, rows
//! written before they were (central's message as sent) still read.

use super::*;
use crate::store::{DB_FILE, open_writer};

fn database() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let (conn, _) = open_writer(&dir.path().join(DB_FILE)).unwrap();
    (dir, conn)
}

fn tok(s: &str) -> IdToken {
    IdToken::new(s).unwrap()
}

fn entry(status: TokenStatus, expiry_ms: Option<i64>) -> TokenEntry {
    TokenEntry {
        user: None,
        status,
        expiry_ms,
        parent: None,
        sockets: vec![],
    }
}

/// Central's answer for `token` at `now_ms`, in a cache of `capacity`.
fn answer(conn: &Connection, token: &str, entry: TokenEntry, now_ms: i64, capacity: usize) {
    let tx = conn.unchecked_transaction().unwrap();
    cache_answer(&tx, &tok(token), &entry, now_ms, capacity).unwrap();
    tx.commit().unwrap();
}

fn cached(conn: &Connection) -> Vec<String> {
    conn.prepare("SELECT token FROM auth_cache ORDER BY token")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn when_the_cache_is_full_invalid_entries_go_first_then_the_oldest() {
    use TokenStatus::{Accepted, Blocked};
    let (_dir, conn) = database();
    answer(&conn, "A1", entry(Accepted, None), 10, 3);
    answer(&conn, "B2", entry(Blocked, None), 20, 3);
    answer(&conn, "C3", entry(Accepted, None), 30, 3);
    answer(&conn, "D4", entry(Accepted, None), 40, 3);
    assert_eq!(
        cached(&conn),
        ["A1", "C3", "D4"],
        "the blocked one, though newer"
    );
    answer(&conn, "E5", entry(Accepted, None), 50, 3);
    assert_eq!(cached(&conn), ["C3", "D4", "E5"], "then the oldest");
    answer(&conn, "C3", entry(Accepted, None), 60, 3);
    assert_eq!(
        cached(&conn),
        ["C3", "D4", "E5"],
        "an update evicts nothing"
    );
    assert_eq!(
        lookup(&conn, &tok("C3"))
            .unwrap()
            .cached
            .map(|c| c.updated_ms),
        Some(60)
    );
    // An accepted answer past its expiry is no longer valid either.
    answer(&conn, "D4", entry(Accepted, Some(70)), 65, 3);
    answer(&conn, "F6", entry(Accepted, None), 70, 3);
    assert_eq!(cached(&conn), ["C3", "E5", "F6"], "the expired one");
}

/// Central's policies as stored, and their version.
fn central_policy(conn: &Connection) -> Option<(u64, Result<PolicyPatch, String>)> {
    central_config_row(conn)
        .unwrap()
        .map(|(version, json)| (version, ConfigDoc::read(&json)))
}

fn store_row(conn: &Connection, version: i64, json: &str) {
    conn.execute(
        "INSERT OR REPLACE INTO central_config (id, version, config) VALUES (1, ?1, ?2)",
        params![version, json],
    )
    .unwrap();
}

#[test]
fn central_policies_stored_as_central_sent_them_still_read() {
    let (_dir, conn) = database();
    for (json, wh) in [
        (
            r#"{"version": 4, "policy": {"local_authorize_offline": false,
               "allow_concurrent_tx": true, "max_energy_on_invalid_id": 500}}"#,
            500.0,
        ),
        (
            r#"{"policy":{"max_energy_on_invalid_id":"1500.25","allow_concurrent_tx":true,
               "local_authorize_offline":false,"local_pre_authorize":null},"version":5}"#,
            1500.25,
        ),
    ] {
        store_row(&conn, 4, json);
        let p = policy_in_force(&conn, OfflinePolicy::default());
        assert!(!p.local_authorize_offline && p.allow_concurrent_tx && p.local_pre_authorize);
        assert_eq!(p.max_energy_on_invalid_id_wh, wh);
    }
}

#[test]
fn central_policies_are_kept_typed_under_the_version_rule() {
    let (_dir, conn) = database();
    let patch = PolicyPatch {
        local_authorize_offline: Some(false),
        allow_concurrent_tx: Some(true),
        max_energy_on_invalid_id_wh: Some(1500.25),
        ..PolicyPatch::default()
    };
    let save = |version, patch: &PolicyPatch| {
        let tx = conn.unchecked_transaction().unwrap();
        save_central_config(&tx, version, patch)?;
        tx.commit().unwrap();
        Ok::<_, StoreError>(())
    };
    save(4, &patch).unwrap();
    assert_eq!(central_policy(&conn), Some((4, Ok(patch))));
    let (_, row) = central_config_row(&conn).unwrap().unwrap();
    assert_eq!(
        row,
        r#"{"policy":{"allow_concurrent_tx":true,"local_authorize_offline":false,"max_energy_on_invalid_id":1500.25},"version":4}"#,
        "central's message, in OCPP's names"
    );
    assert!(matches!(
        save(4, &PolicyPatch::default()),
        Err(StoreError::VersionMismatch {
            current: 4,
            offered: 4
        })
    ));
    assert_eq!(central_policy(&conn), Some((4, Ok(patch))));
    save(5, &PolicyPatch::default()).unwrap();
    let base = OfflinePolicy {
        allow_concurrent_tx: true,
        ..OfflinePolicy::default()
    };
    assert_eq!(policy_in_force(&conn, base), base);
}

#[test]
fn without_a_readable_central_policy_the_config_files_applies() {
    let (_dir, conn) = database();
    let base = OfflinePolicy {
        local_pre_authorize: false,
        ..OfflinePolicy::default()
    };
    assert_eq!(policy_in_force(&conn, base), base, "none received");
    store_row(&conn, 3, r#"{"version":3,"policy":{"allow_all":true}}"#);
    assert!(matches!(central_policy(&conn), Some((3, Err(_)))));
    assert_eq!(policy_in_force(&conn, base), base, "unreadable");
}
