//! A minimal HTTPS/1.1 client for the web page's tests: trusts exactly the site's certificate
//! (its self-signed one from the state directory), one request per connection.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

pub fn client_config(cert_pem: &Path) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(cert_pem).expect("the page's certificate");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Sends `request_head` (with `\r\n` line ends, no final blank line) and `body`; reads until
/// the server closes or `limit` bytes arrived.
pub async fn request(
    tls: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    request_head: &str,
    body: &[u8],
    limit: usize,
) -> Reply {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(tls);
    let mut stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the page");
    let head = format!(
        "{request_head}\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while out.len() < limit {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

pub async fn get(
    tls: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    path: &str,
    extra: &str,
) -> Reply {
    let head = if extra.is_empty() {
        format!("GET {path} HTTP/1.1")
    } else {
        format!("GET {path} HTTP/1.1\r\n{extra}")
    };
    request(tls, addr, &head, b"", 1 << 20).await
}

/// Opens `path` and reads its body as it streams until `until` holds (or `limit` passes).
pub async fn read_stream_until(
    tls: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    path: &str,
    extra: String,
    limit: std::time::Duration,
    until: impl Fn(&str) -> bool,
) -> String {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(tls);
    let mut stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 8192];
    let _ = tokio::time::timeout(limit, async {
        while !until(&text) {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    })
    .await;
    text
}
