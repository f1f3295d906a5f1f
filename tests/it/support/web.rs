//! Signing in to the page over real HTTPS and sending what its forms and scripts send (the
//! session cookie, the CSRF token), and the accounts the tests sign in with.

use std::net::SocketAddr;
use std::sync::Arc;

use sitegate::config::Config;
use sitegate::store::roles::Role;
use sitegate::web::auth::password;
use socket_sim::{Model, Sim, UnitSpec};

use super::https::{self, Reply};
use super::{Site, socket, tcp, tcp_bus};

/// Every test account's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// The installer alone.
pub const INSTALLER: &[(&str, Role)] = &[("installer", Role::Installer)];

/// An installer and a manager, each named after their role.
pub const INSTALLER_AND_MANAGER: &[(&str, Role)] =
    &[("installer", Role::Installer), ("manager", Role::Manager)];

/// One account of every role, each named after its role.
pub const EVERY_ROLE: &[(&str, Role)] = &[
    ("installer", Role::Installer),
    ("manager", Role::Manager),
    ("viewer", Role::Viewer),
];

/// Bus `gw` (a simulated TCP device, unit 1 a generic socket) and socket `s` on it, with
/// `extra` in the socket's table.
pub async fn one_socket(sim: &Sim, extra: &str) -> String {
    let addr = tcp(sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    tcp_bus("gw", addr, "") + &socket("s", "gw", 1, "generic-socket", extra)
}

/// Starts the daemon on `tables` with the page listening on a free local port (unless the
/// tables have their own `[web]`) and `accounts` made before it starts.
pub async fn start_site(sim: &Sim, tables: &str, accounts: &[(&str, Role)]) -> Site {
    let accounts: Vec<(String, Role)> = accounts
        .iter()
        .map(|(name, role)| ((*name).to_string(), *role))
        .collect();
    start_site_after(sim, tables, move |config| {
        if !accounts.is_empty() {
            let accounts: Vec<(&str, Role)> =
                accounts.iter().map(|(n, r)| (n.as_str(), *r)).collect();
            add_accounts(config, &accounts);
        }
    })
    .await
}

/// As `start_site`, with `prepare` (accounts, store writes) run before the daemon starts.
pub async fn start_site_after(
    sim: &Sim,
    tables: &str,
    prepare: impl FnOnce(&Config) + Send + 'static,
) -> Site {
    let tables = if tables.contains("[web]") {
        tables.to_string()
    } else {
        format!("[web]\nlisten = \"127.0.0.1:0\"\n{tables}")
    };
    let sim = sim.clone();
    tokio::task::spawn_blocking(move || Site::start_after(sim, &tables, prepare))
        .await
        .unwrap()
}

/// `user` signed in to `site`'s page.
pub async fn signed(site: &Site, user: &str) -> Signed {
    let addr = site.daemon().web.as_ref().expect("the page listens").addr;
    let tls = https::client_config(&site.config.state_dir.join("web-cert.pem"));
    sign_in(tls, addr, user).await
}

/// Applies `writes` (given the moment) to the site's store before the daemon starts
/// (`support::with_store_handle`).
pub fn with_store(
    config: &Config,
    writes: impl FnOnce(sitegate::core::time::Stamp) -> Vec<sitegate::store::Write>,
) {
    super::with_store_handle(config, async |handle, at| {
        handle.apply(writes(at)).await.unwrap();
    });
}

/// Accounts made as `sitegate account add` makes them, each with `PASSWORD`.
pub fn add_accounts(config: &Config, accounts: &[(&str, Role)]) {
    use sitegate::store::Write;
    use sitegate::store::accounts::{AccountAction, AccountChange, NewAccount};
    let hash = password::hash(PASSWORD).unwrap();
    with_store(config, |at| {
        accounts
            .iter()
            .map(|(name, role)| {
                Write::Account(Box::new(AccountChange {
                    actor: "test".into(),
                    at,
                    action: AccountAction::Create(NewAccount {
                        username: (*name).into(),
                        display_name: (*name).into(),
                        role: *role,
                        password_hash: hash.clone(),
                        active_until_ms: None,
                        language: None,
                    }),
                }))
            })
            .collect()
    });
}

/// A signed-in client: the `Cookie:` header line and the session's CSRF token.
#[derive(Clone)]
pub struct Signed {
    pub tls: Arc<rustls::ClientConfig>,
    pub addr: SocketAddr,
    pub cookie: String,
    pub csrf: String,
}

/// Signs `username` in (password `PASSWORD`) and reads the CSRF token off the dashboard.
pub async fn sign_in(tls: Arc<rustls::ClientConfig>, addr: SocketAddr, username: &str) -> Signed {
    let body = format!(
        "username={username}&password={}",
        PASSWORD.replace(' ', "+")
    );
    let reply = https::request(
        tls.clone(),
        addr,
        "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        body.as_bytes(),
        1 << 16,
    )
    .await;
    assert_eq!(reply.status, 303, "signed in: {}", reply.head);
    let set = reply
        .head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("a session cookie");
    assert!(set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict"));
    let cookie = format!("Cookie: {}", set.split(';').next().unwrap());
    let page = https::get(tls.clone(), addr, "/", &cookie).await;
    let csrf = page
        .body
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries the CSRF token")
        .to_string();
    Signed {
        tls,
        addr,
        cookie,
        csrf,
    }
}

impl Signed {
    pub async fn get(&self, path: &str) -> Reply {
        https::get(self.tls.clone(), self.addr, path, &self.cookie).await
    }

    /// A form post as the page sends it: the CSRF field added to `fields` (already encoded).
    pub async fn post_form(&self, path: &str, fields: &str) -> Reply {
        let body = if fields.is_empty() {
            format!("csrf={}", self.csrf)
        } else {
            format!("{fields}&csrf={}", self.csrf)
        };
        self.post_raw(path, "application/x-www-form-urlencoded", body.as_bytes())
            .await
    }

    /// A JSON request as a script sends it, with the `X-CSRF-Token` header.
    pub async fn send_json(&self, method: &str, path: &str, json: &serde_json::Value) -> Reply {
        let head = format!(
            "{method} {path} HTTP/1.1\r\n{}\r\nContent-Type: application/json\r\nX-CSRF-Token: {}",
            self.cookie, self.csrf
        );
        https::request(
            self.tls.clone(),
            self.addr,
            &head,
            json.to_string().as_bytes(),
            1 << 20,
        )
        .await
    }

    /// A post with the session cookie and whatever `body` carries (a forged request leaves the
    /// CSRF field out).
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        let head = format!(
            "POST {path} HTTP/1.1\r\n{}\r\nContent-Type: {content_type}",
            self.cookie
        );
        https::request(self.tls.clone(), self.addr, &head, body, 1 << 20).await
    }
}
