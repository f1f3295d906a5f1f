//! The access list and cache on a real SQLite file: a full list replaces the old one only once
//! complete, a bad list changes nothing, differentials follow OCPP's version rule, the cache
//! never shadows the list.

use std::collections::HashMap;

use rusqlite::Connection;
use sitegate::core::access::*;
use sitegate::store::{self, StoreError, StoreHandle, StoreSetup, Write};
use tokio::time::Instant;

fn setup(dir: &std::path::Path) -> StoreSetup {
    StoreSetup {
        path: dir.join(store::DB_FILE),
        time_zone: chrono_tz::Europe::Paris,
        socket_ids: vec!["p1".into()],
        run_id: "run".into(),
        run_start: Instant::now(),
        reserve_bytes: 0,
        updates_cap: 100,
        clock: sitegate::clock::Clock::detect(),
        max_db_bytes: None,
    }
}

fn tok(s: &str) -> IdToken {
    IdToken::new(s).unwrap()
}

fn user(id: &str) -> User {
    User {
        communities: vec!["residents".into()],
        credit: Some(Credit::Prepaid(rust_decimal::Decimal::new(1250, 2))),
        ..User::new(id, id)
    }
}

fn entry(user: &str) -> TokenEntry {
    TokenEntry {
        user: Some(user.into()),
        status: TokenStatus::Accepted,
        expiry_ms: None,
        parent: Some("family".into()),
        sockets: vec![],
    }
}

fn rules() -> SiteRules {
    let mut r = SiteRules::empty();
    r.site.communities = vec!["residents".into()];
    r.site.default_community = Some("residents".into());
    let c = Community {
        id: "residents".into(),
        kind: CommunityKind::Private,
        card_payment: true,
        tariff: Some("t1".into()),
        hours: None,
    };
    r.communities = HashMap::from([(c.id.clone(), c)]);
    r
}

fn reader(dir: &std::path::Path) -> Connection {
    store::open_reader(&dir.join(store::DB_FILE)).unwrap()
}

async fn full_list(handle: &StoreHandle, version: u64, users: &[&str]) -> Result<(), StoreError> {
    handle.apply(vec![Write::AccessListBegin]).await?;
    for chunk in users.chunks(2) {
        let users: Vec<User> = chunk.iter().map(|u| user(u)).collect();
        let tokens = chunk
            .iter()
            .map(|u| (tok(&format!("{u}-card")), entry(u)))
            .collect();
        handle
            .apply(vec![Write::AccessListChunk { users, tokens }])
            .await?;
    }
    handle
        .apply(vec![Write::AccessListCommit {
            version,
            rules: Box::new(rules()),
        }])
        .await
}

#[tokio::test]
async fn a_full_list_replaces_the_old_one_only_once_complete() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    full_list(&handle, 1, &["ann", "ben", "cat"]).await.unwrap();
    let conn = reader(dir.path());
    let found = store::access::lookup(&conn, &tok("BEN-CARD")).unwrap();
    assert_eq!(
        found.listed,
        Some(entry("ben")),
        "tokens are case-insensitive"
    );
    assert_eq!(found.user, Some(user("ben")));
    assert_eq!(
        store::access::load_rules(&conn).unwrap(),
        SiteRules {
            version: 1,
            ..rules()
        }
    );

    // A new list half-staged does not show; once committed, the old users are gone.
    handle.apply(vec![Write::AccessListBegin]).await.unwrap();
    handle
        .apply(vec![Write::AccessListChunk {
            users: vec![user("dan")],
            tokens: vec![(tok("dan-card"), entry("dan"))],
        }])
        .await
        .unwrap();
    assert!(
        store::access::lookup(&conn, &tok("dan-card"))
            .unwrap()
            .listed
            .is_none()
    );
    assert!(
        store::access::lookup(&conn, &tok("ann-card"))
            .unwrap()
            .listed
            .is_some()
    );
    handle
        .apply(vec![Write::AccessListCommit {
            version: 2,
            rules: Box::new(rules()),
        }])
        .await
        .unwrap();
    assert!(
        store::access::lookup(&conn, &tok("dan-card"))
            .unwrap()
            .listed
            .is_some()
    );
    assert_eq!(
        store::access::lookup(&conn, &tok("ann-card")).unwrap(),
        Lookup::default()
    );
    drop(handle);
    thread.join().unwrap();
}

#[tokio::test]
async fn a_list_with_a_duplicate_token_is_refused_and_the_previous_one_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    full_list(&handle, 1, &["ann"]).await.unwrap();
    handle.apply(vec![Write::AccessListBegin]).await.unwrap();
    let twice = vec![(tok("x-card"), entry("ann")), (tok("X-CARD"), entry("ann"))];
    let err = handle
        .apply(vec![Write::AccessListChunk {
            users: vec![],
            tokens: twice,
        }])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Rejected(_)), "{err}");
    let conn = reader(dir.path());
    assert_eq!(store::access::list_version(&conn).unwrap(), 1);
    assert!(
        store::access::lookup(&conn, &tok("ann-card"))
            .unwrap()
            .listed
            .is_some()
    );
    drop(handle);
    thread.join().unwrap();
}

#[tokio::test]
async fn differential_updates_follow_the_version_rule() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    full_list(&handle, 5, &["ann", "ben"]).await.unwrap();
    let stale = Write::AccessListDiff {
        version: 5,
        rules: None,
        users: vec![],
        tokens: vec![(tok("ann-card"), None)],
    };
    let err = handle.apply(vec![stale]).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::VersionMismatch {
                current: 5,
                offered: 5
            }
        ),
        "{err}"
    );
    let diff = Write::AccessListDiff {
        version: 6,
        rules: None,
        users: vec![("eve".into(), Some(user("eve")))],
        tokens: vec![
            (tok("ann-card"), None),
            (tok("eve-card"), Some(entry("eve"))),
        ],
    };
    handle.apply(vec![diff]).await.unwrap();
    let conn = reader(dir.path());
    assert!(
        store::access::lookup(&conn, &tok("ann-card"))
            .unwrap()
            .listed
            .is_none(),
        "an entry without info is deleted"
    );
    assert_eq!(
        store::access::lookup(&conn, &tok("eve-card")).unwrap().user,
        Some(user("eve"))
    );
    assert_eq!(store::access::list_version(&conn).unwrap(), 6);
    drop(handle);
    thread.join().unwrap();
}

#[tokio::test]
async fn the_cache_keeps_central_answers_but_never_for_listed_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    full_list(&handle, 1, &["ann"]).await.unwrap();
    let visitor = entry("guest");
    handle
        .apply(vec![Write::CacheAnswer {
            token: tok("guest-card"),
            entry: visitor.clone(),
            at_ms: 100,
        }])
        .await
        .unwrap();
    handle
        .apply(vec![Write::CacheAnswer {
            token: tok("ann-card"),
            entry: visitor.clone(),
            at_ms: 100,
        }])
        .await
        .unwrap();
    let conn = reader(dir.path());
    let guest = store::access::lookup(&conn, &tok("guest-card")).unwrap();
    assert_eq!(
        guest.cached.map(|c| (c.entry, c.updated_ms)),
        Some((visitor, 100))
    );
    assert!(
        store::access::lookup(&conn, &tok("ann-card"))
            .unwrap()
            .cached
            .is_none(),
        "the list has priority"
    );
    drop(handle);
    thread.join().unwrap();
}

/// A session of `user` that ended at `stopped_ms` and cost `cost`, as the writer leaves it.
fn ended_session(conn: &Connection, id: &str, user: &str, stopped_ms: i64, cost: &str) {
    conn.execute(
        "INSERT INTO sessions (id, socket_id, identity, auth_method, started_ms, started_trusted,
             started_run, started_mono_ms, started_local, stopped_ms, meter_start_wh, offline,
             total_cost)
         VALUES (?1, 'p1', ?2, 'local_list', ?3, 1, 'run', 0, '2026-11-22 10:00:00', ?4, 0, 1, ?5)",
        rusqlite::params![id, user, stopped_ms - 3_600_000, stopped_ms, cost],
    )
    .unwrap();
}

fn prepaid_left(dir: &std::path::Path, token: &str) -> Option<Credit> {
    store::access::lookup(&reader(dir), &tok(token))
        .unwrap()
        .user
        .and_then(|u| u.credit)
}

#[tokio::test]
async fn offline_a_prepaid_balance_is_the_synced_one_less_what_ended_here_since() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    full_list(&handle, 1, &["ann", "ben"]).await.unwrap();
    let synced = chrono::Utc::now().timestamp_millis();
    let writable = store::open_writer(&dir.path().join(store::DB_FILE))
        .unwrap()
        .0;
    // Before the balance was synced: central counted it already.
    ended_session(&writable, "s-old", "ann", synced - 60_000, "5.00");
    // Since: spent at the site, unknown to central's balance.
    ended_session(&writable, "s-1", "ann", synced + 60_000, "4.20");
    ended_session(&writable, "s-2", "ben", synced + 60_000, "1.00");
    let d = |cents| Some(Credit::Prepaid(rust_decimal::Decimal::new(cents, 2)));
    assert_eq!(prepaid_left(dir.path(), "ann-card"), d(830), "12.50 - 4.20");
    assert_eq!(prepaid_left(dir.path(), "ben-card"), d(1150));
    // Central's next balance includes that session: nothing is subtracted twice.
    let ann = User {
        credit: Some(Credit::Prepaid(rust_decimal::Decimal::new(830, 2))),
        ..user("ann")
    };
    // (The session ended before the new balance was made.)
    writable
        .execute(
            "UPDATE sessions SET stopped_ms = ?1 WHERE id = 's-1'",
            [synced - 1],
        )
        .unwrap();
    handle
        .apply(vec![Write::AccessListDiff {
            version: 2,
            rules: None,
            users: vec![("ann".into(), Some(ann))],
            tokens: vec![],
        }])
        .await
        .unwrap();
    assert_eq!(prepaid_left(dir.path(), "ann-card"), d(830));
    drop(handle);
    thread.join().unwrap();
}

#[tokio::test]
async fn tariffs_and_promotions_keep_their_version_order_and_refusals_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    let promotions = |version| Write::Promotions {
        version,
        promotions: vec![("zeta".into(), "{}".into()), ("alpha".into(), "{}".into())],
    };
    handle.apply(vec![promotions(3)]).await.unwrap();
    let stale = handle.apply(vec![promotions(3)]).await.unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::VersionMismatch {
                current: 3,
                offered: 3
            }
        ),
        "{stale}"
    );
    let twice = Write::Tariffs {
        version: 1,
        tariffs: vec![("t".into(), "{}".into()), ("t".into(), "{}".into())],
    };
    assert!(matches!(
        handle.apply(vec![twice]).await,
        Err(StoreError::Rejected(_))
    ));
    let conn = reader(dir.path());
    let order: Vec<String> = store::access::promotions(&conn)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        order,
        ["zeta", "alpha"],
        "central's order: the first that applies wins"
    );
    assert_eq!(
        store::access::published_version(&conn, "promotions").unwrap(),
        3
    );
    assert_eq!(
        store::access::published_version(&conn, "tariffs").unwrap(),
        0
    );
    let counters = store::reports::counters(&conn).unwrap();
    assert!(
        counters.contains(&("refused_updates".into(), 2)),
        "{counters:?}"
    );
    drop(handle);
    thread.join().unwrap();
}
