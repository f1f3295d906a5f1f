//! The `[web]` section: the local web page's listener, its TLS certificate (a configured one,
//! or a self-signed one the server makes on first start) and its login sessions. Validation
//! reads the certificate files it names; it binds no port.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::raw::RawWeb;
use super::uplink::{Pem, pem_file_in};
use super::validate::duration_in;
use crate::problems::{Problems, join};

const P: &str = "web";

/// The local web page. Absent from `Config` when `[web] enabled = false`.
#[derive(Clone, PartialEq)]
pub struct WebConfig {
    pub listen: SocketAddr,
    pub tls: WebTls,
    /// A login session ends after this long without a request...
    pub session_idle: Duration,
    /// ...and after this long in any case.
    pub session_max: Duration,
}

#[derive(Clone, PartialEq)]
pub enum WebTls {
    /// Made on first start (rcgen) and kept in the state directory.
    SelfSigned,
    /// An installer's certificate chain and key (PEM).
    Files { cert_pem: Vec<u8>, key_pem: Vec<u8> },
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tls = match self.tls {
            WebTls::SelfSigned => "self-signed",
            WebTls::Files { .. } => "configured certificate",
        };
        f.debug_struct("WebConfig")
            .field("listen", &self.listen)
            .field("tls", &tls)
            .field("session_idle", &self.session_idle)
            .field("session_max", &self.session_max)
            .finish()
    }
}

pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";

/// Validates `[web]` (or its defaults when the section is absent): `None` when disabled.
pub(super) fn web(w: RawWeb, base_dir: &Path, problems: &mut Problems) -> Option<WebConfig> {
    let before = problems.len();
    let listen = match w.listen.as_deref().unwrap_or(DEFAULT_LISTEN).parse() {
        Ok(a) => Some(a),
        Err(e) => {
            problems.push(
                join(P, "listen"),
                format!("not an address like \"0.0.0.0:8443\": {e}"),
            );
            None
        }
    };
    let tls = match (&w.cert_file, &w.key_file) {
        (None, None) => Some(WebTls::SelfSigned),
        (Some(cert), Some(key)) => {
            let cert = pem_file_in(P, cert, "cert_file", Pem::Certificates, base_dir, problems);
            let key = pem_file_in(P, key, "key_file", Pem::PrivateKey, base_dir, problems);
            cert.zip(key)
                .map(|(cert_pem, key_pem)| WebTls::Files { cert_pem, key_pem })
        }
        (Some(_), None) => {
            problems.push(
                join(P, "key_file"),
                "required with `cert_file` (both or neither)",
            );
            None
        }
        (None, Some(_)) => {
            problems.push(
                join(P, "cert_file"),
                "required with `key_file` (both or neither)",
            );
            None
        }
    };
    let minute = Duration::from_secs(60);
    let session_idle = duration_in(
        w.session_idle.as_deref(),
        30 * minute,
        minute..=24 * 60 * minute,
        &join(P, "session_idle"),
        problems,
    );
    let session_max = duration_in(
        w.session_max.as_deref(),
        12 * 60 * minute,
        minute..=7 * 24 * 60 * minute,
        &join(P, "session_max"),
        problems,
    );
    if session_idle > session_max {
        problems.push(
            join(P, "session_idle"),
            "is longer than `session_max`: sessions would end at `session_max` anyway",
        );
    }
    if !w.enabled.unwrap_or(true) || problems.len() > before {
        return None;
    }
    Some(WebConfig {
        listen: listen?,
        tls: tls?,
        session_idle,
        session_max,
    })
}
