//! The router as a unit test drives it (`routes::router` over `AppState::for_test`: a snapshot,
//! a store on a temporary file, a command channel; no daemon, no TLS, no browser): every route
//! of the OpenAPI document and every page, asked anonymously, as each role, and without or
//! with a wrong CSRF token. The action each route needs is written here once (`ROUTES`), and
//! what each role gets is `store::roles::can`'s table, so a route that forgets its check, or
//! checks the wrong action, fails here. Sign-in puts a session in `Sessions` directly: no
//! password is hashed.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

use super::auth::csrf;
use super::auth::hashing::HashGate;
use super::state::AppState;
use crate::core::SocketSnapshot;
use crate::core::site::{Command, SocketView};
use crate::store::accounts::{AccountAction, AccountChange, NewAccount};
use crate::store::roles::{Action, Role, can};
use crate::store::{StoreHandle, StoreSetup, Write};

/// A route as the router and the OpenAPI document write it, the action it needs, what an
/// allowed account gets from the test site, and the body it is sent with.
struct Route {
    method: &'static str,
    path: &'static str,
    action: Action,
    /// The status an account allowed to do `action` gets here (socket `s` is live and free;
    /// account `nobody`, bus `gw` and editing do not exist).
    allowed: u16,
    /// A form (pages) or JSON (the API) the route reads; `""`: none.
    body: &'static str,
}

const fn route(
    method: &'static str,
    path: &'static str,
    action: Action,
    allowed: u16,
    body: &'static str,
) -> Route {
    Route {
        method,
        path,
        action,
        allowed,
        body,
    }
}

use Action::{
    Backup, ControlSockets, Export, InstallerConfig, ManageAccounts, UplinkSettings, View,
};

const SOCKET_FORM: &str = "id=t&name=t&profile=generic-socket&bus=gw&unit_id=2";
const SOCKET_JSON: &str =
    r#"{"id": "t", "name": "t", "profile": "generic-socket", "bus": "gw", "unit_id": "2"}"#;

/// Every route behind the guard: the pages, then the API (the OpenAPI document's paths, and
/// the document itself).
const ROUTES: &[Route] = &[
    route("GET", "/", View, 200, ""),
    route("GET", "/sockets/{id}", View, 200, ""),
    route("POST", "/sockets/{id}/{action}", ControlSockets, 409, ""),
    route("GET", "/sessions", View, 200, ""),
    route("GET", "/sessions/export.csv", Export, 200, ""),
    route("GET", "/sessions/export.xlsx", Export, 200, ""),
    route("GET", "/sessions/statement", View, 200, ""),
    route("GET", "/access", View, 200, ""),
    route("GET", "/access/explain", View, 200, ""),
    route("GET", "/access/price", View, 200, ""),
    route("GET", "/accounts", ManageAccounts, 200, ""),
    route("POST", "/accounts", ManageAccounts, 422, ""),
    route("GET", "/accounts/{username}", ManageAccounts, 404, ""),
    route("POST", "/accounts/{username}", ManageAccounts, 404, ""),
    route(
        "POST",
        "/accounts/{username}/password",
        ManageAccounts,
        404,
        "",
    ),
    route("GET", "/settings", View, 200, ""),
    route("POST", "/settings", View, 303, "language="),
    route("POST", "/settings/password", View, 422, ""),
    route("GET", "/installer", InstallerConfig, 200, ""),
    route(
        "POST",
        "/installer/sockets",
        InstallerConfig,
        503,
        SOCKET_FORM,
    ),
    route("GET", "/installer/sockets/{id}", InstallerConfig, 404, ""),
    route(
        "POST",
        "/installer/sockets/{id}",
        InstallerConfig,
        503,
        SOCKET_FORM,
    ),
    route(
        "POST",
        "/installer/sockets/{id}/remove",
        InstallerConfig,
        503,
        "",
    ),
    route(
        "POST",
        "/installer/uplink",
        UplinkSettings,
        503,
        "host=h&port=1",
    ),
    route("GET", "/installer/tools", InstallerConfig, 200, ""),
    route("GET", "/installer/tools/registers.js", View, 200, ""),
    route(
        "GET",
        "/installer/tools/sockets/{id}",
        InstallerConfig,
        404,
        "",
    ),
    route(
        "POST",
        "/installer/tools/sockets/{id}/relay-test",
        InstallerConfig,
        404,
        "",
    ),
    route(
        "POST",
        "/installer/tools/buses/{name}/scan",
        InstallerConfig,
        404,
        "",
    ),
    route(
        "POST",
        "/installer/tools/uplink-test",
        UplinkSettings,
        422,
        "",
    ),
    route("GET", "/system", View, 200, ""),
    route("GET", "/system/backup", Backup, 200, ""),
    route("GET", "/metrics", View, 200, ""),
    route("GET", "/api/v1/openapi.json", View, 200, ""),
    route("GET", "/api/v1/dashboard", View, 200, ""),
    route("GET", "/api/v1/sockets", View, 200, ""),
    route("GET", "/api/v1/stream", View, 200, ""),
    route("GET", "/api/v1/system", View, 200, ""),
    route("GET", "/api/v1/installer", InstallerConfig, 200, ""),
    route("GET", "/api/v1/sessions", View, 200, ""),
    route("GET", "/api/v1/sessions/export.csv", Export, 200, ""),
    route("GET", "/api/v1/sessions/export.xlsx", Export, 200, ""),
    route("GET", "/api/v1/sessions/statement", View, 200, ""),
    route("GET", "/api/v1/access/users", View, 200, ""),
    route("GET", "/api/v1/access/communities", View, 200, ""),
    route("GET", "/api/v1/access/tariffs", View, 200, ""),
    route("GET", "/api/v1/access/promotions", View, 200, ""),
    route("GET", "/api/v1/access/explain", View, 200, ""),
    route("GET", "/api/v1/access/price", View, 200, ""),
    route("GET", "/api/v1/settings", View, 200, ""),
    route("POST", "/api/v1/settings", View, 200, r#"{"language": ""}"#),
    route("POST", "/api/v1/settings/password", View, 422, "{}"),
    route("GET", "/api/v1/sockets/{id}", View, 200, ""),
    route(
        "POST",
        "/api/v1/sockets/{id}/{action}",
        ControlSockets,
        409,
        "{}",
    ),
    route("GET", "/api/v1/accounts", ManageAccounts, 200, ""),
    route("POST", "/api/v1/accounts", ManageAccounts, 422, "{}"),
    route(
        "GET",
        "/api/v1/accounts/{username}",
        ManageAccounts,
        404,
        "",
    ),
    route(
        "POST",
        "/api/v1/accounts/{username}",
        ManageAccounts,
        404,
        "{}",
    ),
    route(
        "POST",
        "/api/v1/accounts/{username}/password",
        ManageAccounts,
        404,
        "{}",
    ),
    route(
        "POST",
        "/api/v1/installer/sockets",
        InstallerConfig,
        503,
        SOCKET_JSON,
    ),
    route(
        "PUT",
        "/api/v1/installer/sockets/{id}",
        InstallerConfig,
        503,
        SOCKET_JSON,
    ),
    route(
        "DELETE",
        "/api/v1/installer/sockets/{id}",
        InstallerConfig,
        503,
        "",
    ),
    route(
        "PUT",
        "/api/v1/installer/uplink",
        UplinkSettings,
        503,
        r#"{"host": "h", "port": "1"}"#,
    ),
    route("GET", "/api/v1/installer/tools", InstallerConfig, 200, ""),
    route(
        "GET",
        "/api/v1/installer/tools/sockets/{id}",
        InstallerConfig,
        404,
        "",
    ),
    route(
        "POST",
        "/api/v1/installer/tools/sockets/{id}/relay-test",
        InstallerConfig,
        404,
        "",
    ),
    route(
        "POST",
        "/api/v1/installer/tools/buses/{name}/scan",
        InstallerConfig,
        404,
        "{}",
    ),
    route(
        "POST",
        "/api/v1/installer/tools/uplink-test",
        UplinkSettings,
        422,
        "{}",
    ),
];

impl Route {
    /// The path with its parameters filled in.
    fn uri(&self) -> String {
        self.path
            .replace("{id}", "s")
            .replace("{action}", "stop")
            .replace("{username}", "nobody")
            .replace("{name}", "gw")
    }

    fn api(&self) -> bool {
        self.path.starts_with("/api/")
    }

    fn changes_state(&self) -> bool {
        csrf::required_for(self.method)
    }
}

/// The test site's page: socket `s` (free, available) in the snapshot, an account of each
/// role in the store.
struct Harness {
    app: AppState,
    router: Router,
    _snapshot: watch::Sender<Vec<SocketSnapshot>>,
    _commands: mpsc::Receiver<Command>,
    _dir: tempfile::TempDir,
}

/// A signed-in account: its cookie and CSRF token.
struct Signed {
    cookie: String,
    csrf: String,
}

struct Reply {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

/// A PHC string argon2id checks in microseconds (the policy's hashes take a second on a Pi):
/// only `POST /settings/password` checks it.
fn cheap_hash() -> String {
    use argon2::password_hash::PasswordHasher;
    let params = argon2::Params::new(8, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    argon
        .hash_password(b"not the password")
        .unwrap()
        .to_string()
}

impl Harness {
    async fn new() -> Harness {
        Harness::with_hash_gate(Default::default()).await
    }

    async fn with_hash_gate(gate: HashGate) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join(crate::store::DB_FILE);
        let clock = crate::clock::Clock::new(crate::clock::TrustSource::System);
        let (store, _, _thread) = StoreHandle::start(StoreSetup {
            path: db_path.clone(),
            time_zone: chrono_tz::UTC,
            socket_ids: vec!["s".into()],
            run_id: "test".into(),
            run_start: tokio::time::Instant::now(),
            reserve_bytes: 0,
            max_db_bytes: None,
            updates_cap: crate::store::writer::UPDATES_CAP,
            clock: clock.clone(),
        })
        .unwrap();
        let at = clock.now();
        let accounts = Role::ALL
            .into_iter()
            .map(|role| {
                Write::Account(Box::new(AccountChange {
                    actor: "test".into(),
                    at,
                    action: AccountAction::Create(NewAccount {
                        username: role.as_str().into(),
                        display_name: role.as_str().into(),
                        role,
                        password_hash: cheap_hash(),
                        active_until_ms: None,
                        language: None,
                    }),
                }))
            })
            .collect();
        store.apply(accounts).await.unwrap();
        let socket = SocketSnapshot {
            id: "s".into(),
            name: "S".into(),
            bus: "gw".into(),
            unit_id: 1,
            profile: "generic-socket".into(),
            view: SocketView {
                state: crate::core::socket_state::SocketState::Available,
                read_at: None,
                readings: Default::default(),
                since: tokio::time::Instant::now(),
                out_of_service: false,
                session: None,
            },
        };
        let (snapshot, sockets) = watch::channel(vec![socket]);
        let (commands, commands_rx) = mpsc::channel(8);
        let app = AppState::for_test(sockets, store, db_path, commands).with_hash_gate(gate);
        Harness {
            router: super::routes::router(app.clone()),
            app,
            _snapshot: snapshot,
            _commands: commands_rx,
            _dir: dir,
        }
    }

    /// `role`'s account signed in (its session put in `Sessions`, as a sign-in does).
    async fn sign_in(&self, role: Role) -> Signed {
        let name = role.as_str().to_string();
        let account = self
            .app
            .read(move |conn| crate::store::accounts::by_username(conn, &name))
            .await
            .unwrap()
            .unwrap();
        let opened = self
            .app
            .inner
            .sessions
            .open(
                account.id,
                &account.username,
                role,
                tokio::time::Instant::now(),
            )
            .unwrap();
        Signed {
            cookie: format!("{}={}", super::auth::sessions::COOKIE_NAME, opened.id),
            csrf: opened.session.csrf_token,
        }
    }

    /// `route` as `who` sends it (the CSRF token in its header when `token` says which).
    async fn send(&self, route: &Route, who: Option<&Signed>, token: Option<&str>) -> Reply {
        let mut request = Request::builder().method(route.method).uri(route.uri());
        if let Some(who) = who {
            request = request.header(header::COOKIE, &who.cookie);
        }
        if let Some(token) = token {
            request = request.header(csrf::HEADER, token);
        }
        let body = if route.changes_state() {
            let kind = if route.api() {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            };
            request = request.header(header::CONTENT_TYPE, kind);
            Body::from(route.body)
        } else {
            Body::empty()
        };
        self.call(request.body(body).unwrap()).await
    }

    async fn call(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        // The live stream never ends: only refusals are read.
        let body = if status.is_client_error() {
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            String::new()
        };
        Reply {
            status,
            location,
            body,
        }
    }
}

#[test]
fn every_documented_route_is_in_the_table_and_every_api_route_is_documented() {
    let doc = super::openapi::document();
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    for (method, path) in &documented {
        assert!(
            ROUTES.iter().any(|r| r.method == method && r.path == path),
            "{method} {path} is documented but not checked here"
        );
    }
    for r in ROUTES
        .iter()
        .filter(|r| r.api() && r.path != "/api/v1/openapi.json")
    {
        assert!(
            documented.iter().any(|(m, p)| m == r.method && p == r.path),
            "{} {} answers but is not documented",
            r.method,
            r.path
        );
    }
}

#[tokio::test]
async fn anonymous_requests_go_to_the_sign_in_form_or_get_401() {
    let h = Harness::new().await;
    for route in ROUTES {
        let reply = h.send(route, None, None).await;
        let what = format!("{} {}", route.method, route.path);
        if route.api() || route.path == super::metrics::PATH {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
            assert_eq!(reply.body, "sign in first", "{what}");
        } else {
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{what}");
            assert_eq!(reply.location.as_deref(), Some("/login"), "{what}");
        }
    }
    // The sign-in form and the assets are for everyone; setup only while no account exists.
    for (path, status) in [
        ("/login", 200),
        ("/assets/app.css", 200),
        ("/assets/app.js", 200),
        ("/setup", 303),
    ] {
        let request = Request::get(path).body(Body::empty()).unwrap();
        assert_eq!(h.call(request).await.status.as_u16(), status, "{path}");
    }
}

#[tokio::test]
async fn each_role_gets_exactly_what_its_role_may_do() {
    let h = Harness::new().await;
    let mut cases = 0;
    for role in Role::ALL {
        let who = h.sign_in(role).await;
        for route in ROUTES {
            let what = format!("{} {} as {role}", route.method, route.path);
            let reply = h.send(route, Some(&who), Some(&who.csrf)).await;
            if can(role, route.action) {
                assert_eq!(
                    reply.status.as_u16(),
                    route.allowed,
                    "{what}: {}",
                    reply.body
                );
            } else {
                assert_eq!(reply.status, StatusCode::FORBIDDEN, "{what}");
                let expected = if route.api() {
                    r#"{"error":"your role does not allow this"}"#
                } else {
                    "<p>your role does not allow this</p>"
                };
                assert_eq!(reply.body, expected, "{what}");
            }
            cases += 1;
        }
    }
    assert_eq!(cases, 3 * ROUTES.len());
}

#[tokio::test]
async fn a_change_without_the_sessions_csrf_token_is_refused_before_any_handler() {
    let h = Harness::new().await;
    let installer = h.sign_in(Role::Installer).await;
    let refused = |reply: Reply, what: &str| {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{what}");
        assert_eq!(reply.body, "missing or wrong CSRF token", "{what}");
    };
    for route in ROUTES.iter().filter(|r| r.changes_state()) {
        let what = format!("{} {}", route.method, route.path);
        refused(h.send(route, Some(&installer), None).await, &what);
        refused(h.send(route, Some(&installer), Some("wrong")).await, &what);
        if !route.api() {
            // A page's form carries the token in its `csrf` field.
            let request = Request::builder()
                .method(route.method)
                .uri(route.uri())
                .header(header::COOKIE, &installer.cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "{}=wrong&{}",
                    csrf::FORM_FIELD,
                    route.body
                )))
                .unwrap();
            refused(h.call(request).await, &what);
        }
    }
    // Signing out is a change too; with the token it ends the session.
    let logout = route("POST", "/logout", View, 303, "");
    refused(
        h.send(&logout, Some(&installer), None).await,
        "POST /logout",
    );
    let out = h
        .send(&logout, Some(&installer), Some(&installer.csrf))
        .await;
    assert_eq!(out.location.as_deref(), Some("/login"));
    let after = h.send(&ROUTES[0], Some(&installer), None).await;
    assert_eq!(after.location.as_deref(), Some("/login"), "signed out");
}

#[tokio::test]
async fn a_page_reads_its_form_and_its_api_twin_json_and_each_refuses_the_other_kind() {
    let h = Harness::new().await;
    let installer = h.sign_in(Role::Installer).await;
    let post = |path: &str, kind: Option<&str>, body: &'static str| {
        let mut request = Request::post(path)
            .header(header::COOKIE, &installer.cookie)
            .header(csrf::HEADER, &installer.csrf);
        if let Some(kind) = kind {
            request = request.header(header::CONTENT_TYPE, kind);
        }
        request.body(Body::from(body)).unwrap()
    };
    let form = Some("application/x-www-form-urlencoded");
    let json = Some("application/json");
    // Each kind where it belongs: the account is refused by field, in the route's kind.
    let page = h.call(post("/accounts", form, "username=")).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"username-error\""), "{}", page.body);
    let api = h.call(post("/api/v1/accounts", json, "{}")).await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(api.body.starts_with(r#"{"errors":{"#), "{}", api.body);
    // The other kind is refused as axum's Form and Json refuse it.
    let page = h.call(post("/accounts", json, "{}")).await;
    assert_eq!(page.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let api = h.call(post("/api/v1/accounts", form, "username=")).await;
    assert_eq!(api.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A control's body may be empty, of any kind; malformed JSON is a 400 in JSON.
    let stop = h.call(post("/api/v1/sockets/s/stop", None, " ")).await;
    assert_eq!(stop.status, StatusCode::CONFLICT, "{}", stop.body);
    let bad = h.call(post("/api/v1/sockets/s/start", json, "{")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.starts_with(r#"{"error":"#), "{}", bad.body);
    // A tool's body may be left out: its defaults.
    let scan = h
        .call(post("/api/v1/installer/tools/uplink-test", None, ""))
        .await;
    assert_eq!(scan.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        scan.body.contains(r#""error":"invalid fields""#),
        "{}",
        scan.body
    );
}

/// The sign-in form for `username` and `password`, posted from `ip`.
fn sign_in_form(ip: [u8; 4], username: &str, password: &str) -> Request<Body> {
    let body = format!(
        "username={username}&password={}",
        password.replace(' ', "+")
    );
    let mut request = Request::builder()
        .method("POST")
        .uri("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    request
        .extensions_mut()
        .insert(super::server::ClientAddr((ip, 40000).into()));
    request
}

/// Status, `Retry-After` and body of a whole answer.
async fn answer(router: &Router, request: Request<Body>) -> (StatusCode, Option<String>, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, retry, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn sign_ins_beyond_the_hash_queue_are_answered_busy_at_once_and_are_not_failed_guesses() {
    // One hash at a time and two waiting, as `HashGate::new(1, 2)` says.
    let h = Harness::with_hash_gate(HashGate::new(1, 2)).await;
    let gate = h.app.inner.hashing.clone();
    // A password change holds the one turn (a slow hash on a Pi) until released.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let running = tokio::spawn({
        let gate = gate.clone();
        async move { gate.run(move || held.recv().is_ok()).await }
    });
    // Two people sign in from one address: they wait for their turn.
    let waiting: Vec<_> = (0..2)
        .map(|_| {
            let router = h.router.clone();
            tokio::spawn(async move {
                answer(
                    &router,
                    sign_in_form([192, 0, 2, 1], "viewer", "not the password"),
                )
                .await
            })
        })
        .collect();
    while gate.admitted() < 3 {
        tokio::task::yield_now().await;
    }
    // Someone else tries, more times than the limiter lets an address fail without a delay:
    // each try is answered at once, busy, try again shortly.
    let tries = crate::web::auth::ratelimit::LimitSettings::default().free_failures + 2;
    for _ in 0..tries {
        let (status, retry, page) = answer(
            &h.router,
            sign_in_form([192, 0, 2, 2], "viewer", "a wrong guess"),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("2"));
        assert!(page.contains("try again in a few seconds"), "{page}");
    }
    release.send(()).unwrap();
    assert_eq!(running.await.unwrap(), Ok(true));
    for w in waiting {
        let (status, _, _) = w.await.unwrap();
        assert_eq!(status, StatusCode::SEE_OTHER, "the waiting ones got in");
    }
    // The busy answers were no failed guesses: a wrong password now is told wrong (401), not
    // to wait (429), and the right one gets in.
    let (status, _, _) = answer(
        &h.router,
        sign_in_form([192, 0, 2, 2], "viewer", "a wrong guess"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = answer(
        &h.router,
        sign_in_form([192, 0, 2, 2], "viewer", "not the password"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The refusals are counted for the operator's scrape.
    let mut scrape = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    scrape
        .extensions_mut()
        .insert(super::server::ClientAddr(([127, 0, 0, 1], 40000).into()));
    let (_, _, metrics) = answer(&h.router, scrape).await;
    assert!(
        metrics.contains(&format!("sitegate_password_checks_refused_total {tries}\n")),
        "{metrics}"
    );
}
