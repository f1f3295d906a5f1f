//! Proves the browser test infrastructure (support/browser.rs, support/a11y.rs) on fixture
//! pages served by axum over HTTPS with a self-signed certificate: real headless Chromium
//! fills and submits a form, by mouse and by keyboard alone, the page's cookie is seen, every
//! page is screenshotted under `target/screenshots/`, and the accessibility checks pass a good
//! page and catch each fault of a deliberately bad one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use fantoccini::key::Key;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::support::browser::{Browser, Viewport};

const WAIT: Duration = Duration::from_secs(10);

/// An HTTPS server on 127.0.0.1 with a fresh self-signed certificate (for `localhost` and
/// 127.0.0.1), stopped when dropped.
struct HttpsServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl HttpsServer {
    async fn start(app: Router) -> HttpsServer {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .expect("self-signed certificate");
        let cert = CertificateDer::from(certified.cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                        .await;
                });
            }
        });
        HttpsServer { addr, task }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const STYLE: &str = "<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem; color: #1a1a1a; background: #fff; }
  label { display: block; font-weight: 600; }
  input { font: inherit; padding: .4rem; border: 1px solid #555; }
  button { font: inherit; padding: .4rem 1rem; background: #0b5394; color: #fff; border: 0; }
  button:focus-visible, input:focus-visible { outline: 3px solid #e69500; outline-offset: 2px; }
  .hint { color: #595959; }
</style>";

async fn good_page() -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content='width=device-width, initial-scale=1'>\
         <title>Greeter</title>{STYLE}</head><body>\
         <h1>Greeter</h1>\
         <form method=post action=/greet>\
           <label for=name>Your name</label>\
           <input id=name name=name autocomplete=name required>\
           <p class=hint>As printed on your badge.</p>\
           <button type=submit>Send</button>\
         </form></body></html>"
    ))
}

#[derive(Deserialize)]
struct Greet {
    name: String,
}

async fn greet(Form(f): Form<Greet>) -> impl IntoResponse {
    let name = f
        .name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    (
        [(
            header::SET_COOKIE,
            "greeted=yes; Path=/; Secure; HttpOnly; SameSite=Strict",
        )],
        Html(format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>Greeted</title>\
             {STYLE}</head><body><h1>Greeted</h1><p id=result>Hello, {name}!</p>\
             <a href=/>Again</a></body></html>"
        )),
    )
}

/// Every fault the checks must catch: an input with only a placeholder, pale grey text, a
/// button whose focus outline was removed, and a "button" that is a div the keyboard can't
/// reach.
async fn bad_page() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Bad</title><style>\
           body { font: 16px system-ui, sans-serif; background: #fff; color: #000; }\
           .faint { color: #b0b0b0; }\
           button { outline: none; }\
           .fake { display: inline-block; padding: .4rem; background: #ddd; cursor: pointer; }\
         </style></head><body>\
         <h1>Bad page</h1>\
         <p class=faint>Barely readable small print.</p>\
         <input id=code placeholder='Code'>\
         <button id=go>Go</button>\
         <div class=fake role=button onclick=\"this.textContent='clicked'\">Also go</div>\
         </body></html>",
    )
}

fn app() -> Router {
    Router::new()
        .route("/", get(good_page))
        .route("/greet", axum::routing::post(greet))
        .route("/bad", get(bad_page))
}

#[tokio::test]
async fn form_submits_over_https_with_a_self_signed_certificate() {
    let server = HttpsServer::start(app()).await;
    let mut b = Browser::start().await;

    b.goto(&server.url("/")).await;
    assert_eq!(b.title().await, "Greeter");
    b.assert_accessible(&["#name", "button[type=submit]"]).await;
    b.fill("Your name", "Ada <Lovelace>").await;
    b.screenshot("smoke-form").await;

    b.click("Send").await;
    let shown = b.wait_text("#result", "Hello, Ada <Lovelace>!", WAIT).await;
    assert_eq!(shown, "Hello, Ada <Lovelace>!");
    assert!(b.current_url().await.ends_with("/greet"));
    let cookies = b.cookies().await;
    let greeted = cookies
        .iter()
        .find(|c| c.name() == "greeted")
        .unwrap_or_else(|| panic!("the cookie is set: {cookies:?}"));
    assert_eq!(greeted.value(), "yes");
    assert_eq!(greeted.secure(), Some(true));
    assert_eq!(greeted.http_only(), Some(true));
    b.assert_accessible(&["a[href='/']"]).await;
    let shot = b.screenshot_full_page("smoke-result").await;
    assert!(std::fs::metadata(&shot).expect("screenshot written").len() > 1000);

    // The same by keyboard alone: Tab to the field, type, Tab to the button, Enter.
    b.goto(&server.url("/")).await;
    b.press(Key::Tab).await;
    assert!(
        b.focused().await.starts_with("input#name"),
        "{}",
        b.focused().await
    );
    b.client()
        .active_element()
        .await
        .expect("focused element")
        .send_keys("Grace")
        .await
        .expect("typing");
    b.press(Key::Tab).await;
    assert!(
        b.focused().await.starts_with("button"),
        "{}",
        b.focused().await
    );
    b.press(Key::Enter).await;
    b.wait_text("#result", "Hello, Grace!", WAIT).await;

    b.close().await;
}

#[tokio::test]
async fn accessibility_checks_catch_a_bad_page() {
    let server = HttpsServer::start(app()).await;
    let b = Browser::start().await;
    b.goto(&server.url("/bad")).await;
    b.screenshot("smoke-bad").await;

    let labels = b.check_labels().await;
    assert_eq!(labels.len(), 1, "{labels:#?}");
    assert!(labels[0].contains("input#code"), "{labels:#?}");

    let contrast = b.check_contrast().await;
    assert_eq!(contrast.len(), 1, "{contrast:#?}");
    let faint = &contrast[0];
    assert!(faint.element.starts_with("p.faint"), "{faint}");
    assert_eq!(faint.required, 4.5);
    // #b0b0b0 on white: 2.16:1.
    let ratio = faint.ratio.expect("a plain background");
    assert!((ratio - 2.16).abs() < 0.02, "{faint}");
    assert_eq!(faint.foreground, "rgb(176, 176, 176)");
    assert_eq!(faint.background, "rgb(255, 255, 255)");

    let keyboard = b.check_keyboard(&["#code", "#go", ".fake"]).await;
    assert_eq!(keyboard.len(), 2, "{keyboard:#?}");
    assert!(
        keyboard[0].contains("#go") && keyboard[0].contains("no visible focus indicator"),
        "{keyboard:#?}"
    );
    assert!(
        keyboard[1].contains("expected focus on `.fake`"),
        "{keyboard:#?}"
    );

    b.close().await;
}

#[tokio::test]
async fn phone_sized_window() {
    let server = HttpsServer::start(app()).await;
    let b = Browser::start_with(Viewport::Phone).await;
    b.goto(&server.url("/")).await;
    let size = b
        .execute("return [window.innerWidth, window.innerHeight];")
        .await;
    assert_eq!(size, serde_json::json!([390, 844]));
    b.fill("#name", "Linus").await;
    b.screenshot("smoke-phone").await;
    b.close().await;
}
