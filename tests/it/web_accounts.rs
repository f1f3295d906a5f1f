//! The accounts pages and "My settings" over real HTTPS against the real daemon: an installer
//! creates, refuses and deactivates accounts (the deactivated user is signed out and cannot
//! sign in), the last installer stays, and a user's language and password are their own.

use crate::support::web::{self, PASSWORD};
use crate::support::*;

async fn site(sim: &socket_sim::Sim) -> Site {
    let tables = web::one_socket(sim, "").await;
    web::start_site(sim, &tables, web::INSTALLER_AND_MANAGER).await
}

/// The status of a sign-in attempt with `password`.
async fn try_sign_in(site: &Site, user: &str, password: &str) -> u16 {
    let addr = site.daemon().web.as_ref().unwrap().addr;
    let tls = https::client_config(&site.config.state_dir.join("web-cert.pem"));
    let body = format!("username={user}&password={}", password.replace(' ', "+"));
    https::request(
        tls,
        addr,
        "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        body.as_bytes(),
        1 << 16,
    )
    .await
    .status
}

/// (action, username) of the account audit events, oldest first.
fn account_audits(site: &Site) -> Vec<(String, String)> {
    let db = sitegate::store::open_reader(&site.config.state_dir.join(sitegate::store::DB_FILE))
        .unwrap();
    db.prepare("SELECT payload FROM outbox WHERE kind = 'account_audit' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_str(&p.unwrap()).unwrap();
            (
                v["action"].as_str().unwrap().to_string(),
                v["username"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn form_password() -> String {
    PASSWORD.replace(' ', "+")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installer_creates_refuses_and_deactivates_accounts_but_keeps_the_last_installer() {
    let sim = sim(false);
    let site = site(&sim).await;
    let installer = web::signed(&site, "installer").await;
    let manager = web::signed(&site, "manager").await;
    assert_eq!(manager.get("/accounts").await.status, 403);
    assert_eq!(manager.get("/api/v1/accounts").await.status, 403);

    let list = installer.get("/accounts").await;
    assert_eq!(list.status, 200, "{}", list.head);
    assert!(list.body.contains("href=\"/accounts/manager\""));

    // A weak password: refused next to its field, the other values kept.
    let weak = installer
        .post_form(
            "/accounts",
            "username=carol&display_name=Carol+%3Cb%3E&role=manager&password=password123&active_until=&language=fr",
        )
        .await;
    assert_eq!(weak.status, 422);
    assert!(
        weak.body
            .contains("<p class=\"field-error\" id=\"password-error\">")
    );
    assert!(weak.body.contains("aria-describedby=\"password-error\""));
    assert!(weak.body.contains("value=\"carol\"") && weak.body.contains("Carol &lt;b&gt;"));

    let created = installer
        .post_form(
            "/accounts",
            &format!(
                "username=bob&display_name=Bob&role=viewer&password={}&active_until=2099-12-31&language=",
                form_password()
            ),
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let bob = web::signed(&site, "bob").await;
    assert_eq!(bob.get("/").await.status, 200);
    let json = installer.get("/api/v1/accounts/bob").await;
    let account: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(account["role"], "viewer");
    assert_eq!(account["active_until"], "2099-12-31");
    let taken = installer
        .post_form(
            "/accounts",
            &format!("username=BOB&role=viewer&password={}", form_password()),
        )
        .await;
    assert_eq!(taken.status, 422, "usernames are unique whatever the case");
    assert!(taken.body.contains("id=\"username-error\""));

    // Deactivated: bob's open session ends, and bob cannot sign in.
    let off = installer
        .post_form(
            "/accounts/bob",
            "role=viewer&active=false&active_until=2099-12-31",
        )
        .await;
    assert_eq!(off.status, 303, "{}", off.body);
    assert_eq!(bob.get("/").await.status, 303, "sent to the sign-in form");
    assert_eq!(bob.get("/api/v1/dashboard").await.status, 401);
    assert_ne!(try_sign_in(&site, "bob", PASSWORD).await, 303);

    // The last installer can be neither demoted nor deactivated: said next to the field.
    let demote = installer
        .post_form(
            "/accounts/installer",
            "role=manager&active=true&active_until=",
        )
        .await;
    assert_eq!(demote.status, 422);
    assert!(
        demote.body.contains("id=\"role-error\"") && demote.body.contains("last active installer")
    );
    let deactivate = installer
        .send_json(
            "POST",
            "/api/v1/accounts/installer",
            &serde_json::json!({ "active": false }),
        )
        .await;
    assert_eq!(deactivate.status, 422);
    let refusal: serde_json::Value = serde_json::from_str(&deactivate.body).unwrap();
    assert!(
        refusal["errors"]["active"]
            .as_str()
            .unwrap()
            .contains("last active installer")
    );
    assert_eq!(
        installer.get("/accounts").await.status,
        200,
        "still signed in"
    );

    // A reset password: the old one no longer works.
    let reset = installer
        .post_form(
            "/accounts/manager/password",
            "password=a+new+and+long+enough+phrase",
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!(
        manager.get("/").await.status,
        303,
        "the manager was signed out"
    );
    assert_ne!(try_sign_in(&site, "manager", PASSWORD).await, 303);
    assert_eq!(
        try_sign_in(&site, "manager", "a new and long enough phrase").await,
        303
    );

    let audits = account_audits(&site);
    let by_page: Vec<(&str, &str)> = audits
        .iter()
        .skip(2)
        .map(|(a, u)| (a.as_str(), u.as_str()))
        .collect();
    assert_eq!(
        by_page,
        [
            ("create", "bob"),
            ("deactivate", "bob"),
            ("set_password", "manager")
        ]
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_settings_switch_the_page_to_french_and_change_my_password() {
    let sim = sim(false);
    let site = site(&sim).await;
    let manager = web::signed(&site, "manager").await;
    let page = manager.get("/settings").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("My settings") && page.body.contains("<label for=\"language\">"));

    assert_eq!(
        manager.post_form("/settings", "language=fr").await.status,
        303
    );
    let page = manager.get("/settings").await;
    assert!(page.body.contains("Mes réglages") && page.body.contains("lang=\"fr\""));
    assert!(manager.get("/").await.body.contains("Tableau de bord"));
    let json = manager.get("/api/v1/settings").await;
    let settings: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(settings["language"], "fr");
    // Saved on the account: a new session is in French too.
    let again = web::signed(&site, "manager").await;
    assert!(again.get("/").await.body.contains("Tableau de bord"));

    let wrong = manager
        .post_form(
            "/settings/password",
            "current_password=not+it+at+all&new_password=another+fine+long+phrase",
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("id=\"current_password-error\""));
    assert!(wrong.body.contains("Ce n&#39;est pas") || wrong.body.contains("Ce n'est pas"));
    let changed = manager
        .post_form(
            "/settings/password",
            &format!(
                "current_password={}&new_password=another+fine+long+phrase",
                form_password()
            ),
        )
        .await;
    assert_eq!(changed.status, 303);
    assert_eq!(
        manager.get("/").await.status,
        303,
        "signed out after the change"
    );
    assert_eq!(
        try_sign_in(&site, "manager", "another fine long phrase").await,
        303
    );
    site.stop().await;
}
