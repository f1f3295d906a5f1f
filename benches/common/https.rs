//! The benches' HTTPS client of the daemon's web page (`web`, `memory`, `lean`): trust the
//! certificate the daemon made itself, connect without Nagle's delay, sign in with the form.

// Each bench includes this file as its own module and uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub type Conn = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A client that trusts the page's own certificate (the daemon writes it as the page starts,
/// so it exists once the page listens).
pub fn client_config(cert: &Path) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(cert).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// A TLS connection to the page at `addr`.
pub async fn connect(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>) -> Conn {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    tokio_rustls::TlsConnector::from(tls.clone())
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// One sign-in with the form on a connection of its own; the whole answer.
pub async fn sign_in(
    addr: SocketAddr,
    tls: &Arc<rustls::ClientConfig>,
    username: &str,
    password: &str,
) -> String {
    let mut conn = connect(addr, tls).await;
    let body = format!(
        "username={username}&password={}",
        password.replace(' ', "+")
    );
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).await.ok();
    reply
}

/// The answer's status code.
pub fn status(reply: &str) -> u16 {
    reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line")
}

/// The session cookie an answer sets, as a `Cookie:` header line.
pub fn cookie(reply: &str) -> String {
    let cookie = reply
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("not signed in: {reply}"));
    format!("Cookie: {}", cookie.split(';').next().unwrap())
}
