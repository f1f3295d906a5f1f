//! Local accounts in the store (through the writer, like the web page will change them) and
//! `sitegate account` as an installer runs it.

use std::io::Write as _;
use std::process::{Command, Stdio};

use rusqlite::Connection;
use sitegate::core::time::Stamp;
use sitegate::store::accounts::{self, AccountAction, AccountChange, NewAccount};
use sitegate::store::roles::Role;
use sitegate::store::{self, StoreError, StoreHandle, StoreSetup, Write};
use tokio::time::Instant;

/// Not a real hash: the store only checks that it is argon2id's PHC format (hashing is slow).
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
const NOW_MS: i64 = 1_795_000_000_000;

fn setup(dir: &std::path::Path) -> StoreSetup {
    StoreSetup {
        path: dir.join(store::DB_FILE),
        time_zone: chrono_tz::Europe::Paris,
        socket_ids: vec![],
        run_id: "run-1".into(),
        run_start: Instant::now(),
        reserve_bytes: 0,
        max_db_bytes: None,
        updates_cap: 100,
        clock: sitegate::clock::Clock::detect(),
    }
}

fn at() -> Stamp {
    Stamp {
        mono: Instant::now(),
        wall_ms: NOW_MS,
        trusted: true,
    }
}

fn change(action: AccountAction) -> Vec<Write> {
    vec![Write::Account(Box::new(AccountChange {
        actor: "installer-1".into(),
        at: at(),
        action,
    }))]
}

fn create(username: &str, role: Role) -> Vec<Write> {
    change(AccountAction::Create(NewAccount {
        username: username.into(),
        display_name: String::new(),
        role,
        password_hash: HASH.into(),
        active_until_ms: None,
        language: None,
    }))
}

fn refused(result: Result<(), StoreError>) -> String {
    match result {
        Err(StoreError::Rejected(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn audits(conn: &Connection) -> Vec<serde_json::Value> {
    conn.prepare("SELECT payload FROM outbox WHERE kind = 'account_audit' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|p| serde_json::from_str(&p.unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn the_last_active_installer_can_be_neither_demoted_deactivated_nor_expired() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    let why = refused(h.apply(create("viewer-first", Role::Viewer)).await);
    assert!(why.contains("no active installer"), "{why}");
    h.apply(create("Anna", Role::Installer)).await.unwrap();
    h.apply(create("paul", Role::Manager)).await.unwrap();

    let user = || "anna".to_string();
    for action in [
        AccountAction::SetRole {
            username: user(),
            role: Role::Manager,
        },
        AccountAction::SetActive {
            username: user(),
            active: false,
        },
        AccountAction::SetActiveUntil {
            username: user(),
            until_ms: Some(NOW_MS - 1),
        },
    ] {
        let why = refused(h.apply(change(action)).await);
        assert!(why.contains("`Anna` is the last active installer"), "{why}");
    }
    // An end date in the future is fine; so is demoting once another installer exists.
    h.apply(change(AccountAction::SetActiveUntil {
        username: user(),
        until_ms: Some(NOW_MS + 86_400_000),
    }))
    .await
    .unwrap();
    h.apply(change(AccountAction::SetRole {
        username: "paul".into(),
        role: Role::Installer,
    }))
    .await
    .unwrap();
    h.apply(change(AccountAction::SetActive {
        username: user(),
        active: false,
    }))
    .await
    .unwrap();
    let why = refused(
        h.apply(change(AccountAction::SetRole {
            username: "PAUL".into(),
            role: Role::Viewer,
        }))
        .await,
    );
    assert!(why.contains("`paul` is the last active installer"), "{why}");
    drop(h);
    thread.join().unwrap();

    let conn = store::open_reader(&dir.path().join(store::DB_FILE)).unwrap();
    assert_eq!(accounts::count_installers(&conn, NOW_MS).unwrap(), 1);
    let anna = accounts::by_username(&conn, "ANNA").unwrap().unwrap();
    assert_eq!((anna.role, anna.active), (Role::Installer, false));
    assert!(!anna.may_log_in(NOW_MS));
    let paul = accounts::by_username(&conn, "paul").unwrap().unwrap();
    assert_eq!(
        paul.role,
        Role::Installer,
        "the refused demotion changed nothing"
    );
    assert!(paul.may_log_in(NOW_MS));
}

#[tokio::test]
async fn usernames_are_unique_whatever_their_case_and_must_be_plain() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    h.apply(create("anna", Role::Installer)).await.unwrap();
    let why = refused(h.apply(create("ANNA", Role::Viewer)).await);
    assert_eq!(why, "the username `anna` is taken");
    let why = refused(h.apply(create("anna smith", Role::Viewer)).await);
    assert!(why.contains("must be 1 to 64 letters"), "{why}");
    let why = refused(
        h.apply(change(AccountAction::SetActive {
            username: "nobody".into(),
            active: true,
        }))
        .await,
    );
    assert_eq!(why, "there is no account `nobody`");
    drop(h);
    thread.join().unwrap();
    let conn = store::open_reader(&dir.path().join(store::DB_FILE)).unwrap();
    assert_eq!(accounts::count(&conn).unwrap(), 1);
    let refused_counter: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM counters WHERE name = 'refused_updates'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        refused_counter, 0,
        "central's refused updates are not counted"
    );
}

#[tokio::test]
async fn every_account_change_and_only_those_committed_leaves_an_audit_record() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    h.apply(create("anna", Role::Installer)).await.unwrap();
    h.apply(create("paul", Role::Viewer)).await.unwrap();
    let paul = || "paul".to_string();
    for action in [
        AccountAction::SetRole {
            username: paul(),
            role: Role::Manager,
        },
        AccountAction::SetPassword {
            username: paul(),
            password_hash: HASH.into(),
        },
        AccountAction::SetActive {
            username: paul(),
            active: false,
        },
        AccountAction::SetActiveUntil {
            username: paul(),
            until_ms: Some(NOW_MS),
        },
        AccountAction::SetLanguage {
            username: paul(),
            language: Some(accounts::Language::Fr),
        },
        AccountAction::SetDisplayName {
            username: paul(),
            display_name: "Paul Martin".into(),
        },
    ] {
        h.apply(change(action)).await.unwrap();
    }
    refused(h.apply(create("paul", Role::Viewer)).await);
    drop(h);
    thread.join().unwrap();

    let conn = store::open_reader(&dir.path().join(store::DB_FILE)).unwrap();
    let records = audits(&conn);
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "create",
            "set_role",
            "set_password",
            "deactivate",
            "set_active_until",
            "set_language",
            "set_display_name"
        ]
    );
    assert_eq!(
        records[2],
        serde_json::json!({
            "actor": "installer-1",
            "action": "set_role",
            "username": "paul",
            "role": "manager",
            "at": { "utc": "2026-11-18T11:06:40.000Z", "clock_trusted": true },
        })
    );
    assert_eq!(records[5]["active_until"], "2026-11-18T11:06:40.000Z");
    let all: String = records.iter().map(|r| r.to_string()).collect();
    assert!(!all.contains("argon2"), "no hash leaves the site");
    let paul = accounts::by_username(&conn, "paul").unwrap().unwrap();
    assert_eq!(paul.display_name, "Paul Martin");
    assert_eq!(paul.language, Some(accounts::Language::Fr));
    assert_eq!(
        accounts::list(&conn)
            .unwrap()
            .iter()
            .map(|a| a.username.as_str())
            .collect::<Vec<_>>(),
        ["anna", "paul"]
    );
}

const CONFIG: &str = r#"
[site]
id = "site-test"
name = "Test site"
time_zone = "Europe/Paris"

[state]
directory = "state"

[[bus]]
name = "lan"
kind = "tcp"
host = "127.0.0.1"
"#;

fn account(dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let config = dir.join("sitegate.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sitegate"))
        .arg("account")
        .args(args)
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn the_cli_adds_accounts_while_the_daemons_writer_is_open_and_refuses_bad_ones_with_65() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sitegate.toml"), CONFIG).unwrap();
    // The daemon's writer holds the database, as when sitegate runs.
    let (h, _, thread) = StoreHandle::start(setup(&dir.path().join("state"))).unwrap();

    let out = account(
        dir.path(),
        &[
            "add",
            "--username",
            "anna",
            "--role",
            "installer",
            "--name",
            "Anna Dupont",
        ],
        "Password1234!\n",
    );
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("one of the most common passwords"), "{err}");

    let out = account(
        dir.path(),
        &[
            "add",
            "--username",
            "anna",
            "--role",
            "installer",
            "--name",
            "Anna Dupont",
        ],
        "grapefruit kettle harbour\nignored second line\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "account `anna` created (installer)\n"
    );

    let out = account(
        dir.path(),
        &[
            "add",
            "--username",
            "Anna",
            "--role",
            "viewer",
            "--active-until",
            "2026-12-31",
        ],
        "another quiet harbour\n",
    );
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`anna` is taken"));

    let out = account(
        dir.path(),
        &[
            "add",
            "--username",
            "paul",
            "--role",
            "viewer",
            "--active-until",
            "2026-12-31",
        ],
        "another quiet harbour\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The daemon's writer still commits after the command's.
    h.apply(create("zoe", Role::Manager)).await.unwrap();
    drop(h);
    thread.join().unwrap();

    let out = account(dir.path(), &["list"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains("anna\tinstaller\tactive\t-\tAnna Dupont\n"),
        "{list}"
    );
    assert!(list.contains("paul\tviewer\t"), "{list}");
    assert!(list.contains("until 2026-12-31\tpaul\n"), "{list}");

    let conn = store::open_reader(&dir.path().join("state").join(store::DB_FILE)).unwrap();
    let anna = accounts::by_username(&conn, "anna").unwrap().unwrap();
    assert!(sitegate::web::auth::password::verify(
        "grapefruit kettle harbour",
        &anna.password_hash
    ));
    let paul = accounts::by_username(&conn, "paul").unwrap().unwrap();
    // 2027-01-01T00:00 in Paris.
    assert_eq!(paul.active_until_ms, Some(1_798_758_000_000));
    let actors: Vec<String> = audits(&conn)
        .iter()
        .map(|r| r["actor"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actors, ["cli", "cli", "installer-1"]);
}

#[tokio::test]
async fn a_login_checks_the_limit_the_password_and_the_account_state() {
    use sitegate::web::auth::login::{LoginError, login};
    use sitegate::web::auth::ratelimit::{LimitSettings, LoginLimiter};

    let dir = tempfile::tempdir().unwrap();
    let (h, _, thread) = StoreHandle::start(setup(dir.path())).unwrap();
    let hash = sitegate::web::auth::password::hash("grapefruit kettle harbour").unwrap();
    let mut new = create("anna", Role::Installer);
    if let Write::Account(c) = &mut new[0]
        && let AccountAction::Create(a) = &mut c.action
    {
        a.password_hash = hash.clone();
    }
    h.apply(new).await.unwrap();
    h.apply(create("paul", Role::Installer)).await.unwrap();
    h.apply(change(AccountAction::SetActiveUntil {
        username: "anna".into(),
        until_ms: Some(NOW_MS + 1000),
    }))
    .await
    .unwrap();
    drop(h);
    thread.join().unwrap();

    let conn = store::open_reader(&dir.path().join(store::DB_FILE)).unwrap();
    let limiter = LoginLimiter::new(LimitSettings::default());
    let ip = "192.0.2.1".parse().unwrap();
    let now = Instant::now();
    let ok = login(
        &conn,
        &limiter,
        ip,
        "ANNA",
        "grapefruit kettle harbour",
        now,
        NOW_MS,
    );
    assert_eq!(ok.unwrap().username, "anna");
    assert!(matches!(
        login(
            &conn,
            &limiter,
            ip,
            "anna",
            "grapefruit kettle harbour",
            now,
            NOW_MS + 1000
        ),
        Err(LoginError::Inactive)
    ));
    for (i, user) in ["anna", "nobody", "anna"].into_iter().enumerate() {
        match login(&conn, &limiter, ip, user, "wrong password!", now, NOW_MS) {
            Err(LoginError::Invalid { delay }) => assert_eq!(delay.is_some(), i == 2),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        login(
            &conn,
            &limiter,
            ip,
            "anna",
            "grapefruit kettle harbour",
            now,
            NOW_MS
        ),
        Err(LoginError::Wait(_))
    ));
}
