//! The `[uplink]` (MQTT to central, `docs/mqtt.md`) and `[broker]` (the embedded local broker)
//! sections: their typed form and their validation. Validation reads the PEM files the uplink
//! names, so that `check-config` reports a missing or empty CA file before the daemon runs; it
//! opens no connection and binds no port.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::raw::{RawBroker, RawUplink};
use super::validate::{check_id, duration_in, int_in};
use crate::problems::{Problems, join};

/// The link to central. Absent from `Config` when the file has no `[uplink]`: the site then runs
/// offline only.
#[derive(Clone)]
pub struct UplinkConfig {
    pub host: String,
    pub port: u16,
    /// `None` only when the file says `tls = false` (to a loopback host, or with
    /// `allow_plaintext = true`). A TLS failure is never answered by falling back to plain TCP.
    pub tls: Option<TlsConfig>,
    /// Username and password.
    pub credentials: Option<(String, String)>,
    pub keep_alive: Duration,
    /// Events published and not yet acknowledged, at most.
    pub window: usize,
    pub telemetry_interval: Duration,
    /// The longest wait between two connection attempts (the back-off's cap).
    pub reconnect_max: Duration,
    pub max_downlink_bytes: usize,
    pub require_signed_downlink: bool,
    /// Key id and Ed25519 public key, in key-id order.
    pub trusted_keys: Vec<(String, [u8; 32])>,
}

/// PEM files, read (and checked to hold what they should) at validation.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// One or more CA certificates (PEM) that central's broker certificate must chain to.
    pub ca_pem: Vec<u8>,
    /// Client certificate chain and private key (PEM) for mutual TLS.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

/// The embedded broker, when `[broker]` is present and enabled.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    pub listen: SocketAddr,
    pub username: String,
    pub password: String,
    pub max_connections: usize,
    pub max_payload_bytes: usize,
}

// Secrets never reach a log line through `{:?}`.
impl fmt::Debug for UplinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UplinkConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(u, _)| (u, "<redacted>")),
            )
            .field("keep_alive", &self.keep_alive)
            .field("window", &self.window)
            .field("telemetry_interval", &self.telemetry_interval)
            .field("reconnect_max", &self.reconnect_max)
            .field("max_downlink_bytes", &self.max_downlink_bytes)
            .field("require_signed_downlink", &self.require_signed_downlink)
            .field(
                "trusted_keys",
                &self
                    .trusted_keys
                    .iter()
                    .map(|(id, _)| id)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("ca_pem", &format_args!("{} bytes", self.ca_pem.len()))
            .field("client", &self.client.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("listen", &self.listen)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("max_connections", &self.max_connections)
            .field("max_payload_bytes", &self.max_payload_bytes)
            .finish()
    }
}

pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);
pub const DEFAULT_WINDOW: usize = 1024;
pub const DEFAULT_TELEMETRY_INTERVAL: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_DOWNLINK_BYTES: usize = 256 * 1024;
pub const DEFAULT_BROKER_LISTEN: &str = "127.0.0.1:1883";
pub const MIN_BROKER_PASSWORD_CHARS: usize = 12;

const P: &str = "uplink";

/// Validates `[uplink]`; relative file paths are taken from `base_dir`.
pub(super) fn uplink(
    u: RawUplink,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<UplinkConfig> {
    let before = problems.len();
    let host = u.host.clone().unwrap_or_default();
    if host.trim().is_empty() {
        problems.push(join(P, "host"), "required: central's broker host name");
    } else if host.contains("://") || host.contains(char::is_whitespace) {
        problems.push(
            join(P, "host"),
            format!("`{host}` must be a host name or address alone (no scheme, no port)"),
        );
    }
    let tls = u.tls.unwrap_or(true);
    let port = int_in::<u16>(
        u.port.unwrap_or(if tls { 8883 } else { 1883 }),
        1..=65535,
        &join(P, "port"),
        problems,
    )
    .unwrap_or(0);
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1");
    if !tls && !loopback && !u.allow_plaintext.unwrap_or(false) {
        problems.push(
            join(P, "tls"),
            format!(
                "plain TCP to `{host}` is refused: only 127.0.0.1, ::1 and localhost take \
                 `tls = false`, unless `allow_plaintext = true` says so explicitly"
            ),
        );
    }
    let tls = if tls {
        tls_files(&u, base_dir, problems)
    } else {
        for (set, key) in [
            (u.ca_file.is_some(), "ca_file"),
            (u.client_cert_file.is_some(), "client_cert_file"),
            (u.client_key_file.is_some(), "client_key_file"),
        ] {
            if set {
                problems.push(join(P, key), "only taken with `tls = true`");
            }
        }
        None
    };
    let credentials = match (u.username, u.password) {
        (None, None) => None,
        (Some(user), Some(password)) => {
            if user.is_empty() {
                problems.push(join(P, "username"), "must not be empty");
            }
            if password.is_empty() {
                problems.push(join(P, "password"), "must not be empty");
            }
            Some((user, password))
        }
        (Some(_), None) => {
            problems.push(
                join(P, "password"),
                "required with `username` (both or neither)",
            );
            None
        }
        (None, Some(_)) => {
            problems.push(
                join(P, "username"),
                "required with `password` (both or neither)",
            );
            None
        }
    };
    let secs = Duration::from_secs;
    let keep_alive = duration_in(
        u.keep_alive.as_deref(),
        DEFAULT_KEEP_ALIVE,
        secs(5)..=secs(300),
        &join(P, "keep_alive"),
        problems,
    );
    let window = int_in::<usize>(
        u.window.unwrap_or(DEFAULT_WINDOW as i64),
        1..=10_000,
        &join(P, "window"),
        problems,
    )
    .unwrap_or(DEFAULT_WINDOW);
    let telemetry_interval = duration_in(
        u.telemetry_interval.as_deref(),
        DEFAULT_TELEMETRY_INTERVAL,
        secs(1)..=secs(3600),
        &join(P, "telemetry_interval"),
        problems,
    );
    let reconnect_max = duration_in(
        u.reconnect_max.as_deref(),
        secs(60),
        secs(1)..=secs(600),
        &join(P, "reconnect_max"),
        problems,
    );
    let max_downlink_bytes = int_in::<usize>(
        u.max_downlink_bytes
            .unwrap_or(DEFAULT_MAX_DOWNLINK_BYTES as i64),
        1024..=16 * 1024 * 1024,
        &join(P, "max_downlink_bytes"),
        problems,
    )
    .unwrap_or(DEFAULT_MAX_DOWNLINK_BYTES);
    let require_signed_downlink = u.require_signed_downlink.unwrap_or(false);
    if require_signed_downlink && u.trusted_keys.is_empty() {
        problems.push(
            join(P, "require_signed_downlink"),
            "is true but [uplink.trusted_keys] names no key: every downlink message would be refused",
        );
    }
    let mut trusted_keys = Vec::new();
    for (id, value) in u.trusted_keys {
        // A key that is not a bare TOML key is shown quoted, as the file has it.
        let bare = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        let path = if bare {
            join(&join(P, "trusted_keys"), &id)
        } else {
            format!("{P}.trusted_keys.{id:?}")
        };
        check_id(&id, &path, problems);
        if let Some(key) = public_key(&value, &path, problems) {
            trusted_keys.push((id, key));
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(UplinkConfig {
        host,
        port,
        tls,
        credentials,
        keep_alive,
        window,
        telemetry_interval,
        reconnect_max,
        max_downlink_bytes,
        require_signed_downlink,
        trusted_keys,
    })
}

/// An Ed25519 public key: 32 bytes in standard base64.
fn public_key(value: &toml::Value, path: &str, problems: &mut Problems) -> Option<[u8; 32]> {
    let Some(text) = value.as_str() else {
        problems.push(path, "expected a text value (a base64 Ed25519 public key)");
        return None;
    };
    match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
        Ok(bytes) => match <[u8; 32]>::try_from(bytes.as_slice()) {
            Ok(key) => Some(key),
            Err(_) => {
                problems.push(
                    path,
                    format!(
                        "decodes to {} bytes; an Ed25519 public key is 32",
                        bytes.len()
                    ),
                );
                None
            }
        },
        Err(e) => {
            problems.push(path, format!("not base64: {e}"));
            None
        }
    }
}

fn tls_files(u: &RawUplink, base_dir: &Path, problems: &mut Problems) -> Option<TlsConfig> {
    let ca_pem = match &u.ca_file {
        None => {
            problems.push(
                join(P, "ca_file"),
                "required with tls: the CA certificate (PEM) that central's broker certificate \
                 must chain to",
            );
            None
        }
        Some(file) => pem_file(file, "ca_file", Pem::Certificates, base_dir, problems),
    };
    let client = match (&u.client_cert_file, &u.client_key_file) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            let cert = pem_file(
                cert,
                "client_cert_file",
                Pem::Certificates,
                base_dir,
                problems,
            );
            let key = pem_file(key, "client_key_file", Pem::PrivateKey, base_dir, problems);
            cert.zip(key)
        }
        (Some(_), None) => {
            problems.push(
                join(P, "client_key_file"),
                "required with `client_cert_file` (both or neither)",
            );
            None
        }
        (None, Some(_)) => {
            problems.push(
                join(P, "client_cert_file"),
                "required with `client_key_file` (both or neither)",
            );
            None
        }
    };
    Some(TlsConfig {
        ca_pem: ca_pem?,
        client,
    })
}

#[derive(Clone, Copy)]
pub(super) enum Pem {
    Certificates,
    PrivateKey,
}

/// Reads a PEM file and checks that it holds at least one certificate, or a private key.
fn pem_file(
    file: &str,
    key: &str,
    kind: Pem,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<Vec<u8>> {
    pem_file_in(P, file, key, kind, base_dir, problems)
}

/// As `pem_file`, for a key of `section`.
pub(super) fn pem_file_in(
    section: &str,
    file: &str,
    key: &str,
    kind: Pem,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<Vec<u8>> {
    let path = base_dir.join(file);
    let at = join(section, key);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            problems.push(at, format!("cannot read {}: {e}", path.display()));
            return None;
        }
    };
    let found = match kind {
        Pem::Certificates => {
            let mut count = 0;
            for item in CertificateDer::pem_slice_iter(&bytes) {
                if let Err(e) = item {
                    problems.push(at, format!("{}: not valid PEM: {e}", path.display()));
                    return None;
                }
                count += 1;
            }
            (count > 0)
                .then_some(())
                .ok_or("no PEM certificate (BEGIN CERTIFICATE)")
        }
        Pem::PrivateKey => match PrivateKeyDer::from_pem_slice(&bytes) {
            Ok(_) => Ok(()),
            Err(rustls_pki_types::pem::Error::NoItemsFound) => {
                Err("no PEM private key (BEGIN PRIVATE KEY, RSA or EC PRIVATE KEY)")
            }
            Err(e) => {
                problems.push(at, format!("{}: not valid PEM: {e}", path.display()));
                return None;
            }
        },
    };
    match found {
        Ok(()) => Some(bytes),
        Err(what) => {
            problems.push(at, format!("{} contains {what}", path.display()));
            None
        }
    }
}

/// Validates `[broker]`: `None` when it is disabled. The values given are checked either way.
pub(super) fn broker(b: RawBroker, problems: &mut Problems) -> Option<BrokerConfig> {
    const P: &str = "broker";
    let before = problems.len();
    let enabled = b.enabled.unwrap_or(true);
    let listen_text = b.listen.as_deref().unwrap_or(DEFAULT_BROKER_LISTEN);
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) if a.port() == 0 => {
            problems.push(
                join(P, "listen"),
                format!("`{listen_text}`: local integrations need a fixed port, not 0"),
            );
            None
        }
        Ok(a) => Some(a),
        Err(_) => {
            problems.push(
                join(P, "listen"),
                format!("`{listen_text}` is not an address and port like 127.0.0.1:1883"),
            );
            None
        }
    };
    let max_connections = int_in::<usize>(
        b.max_connections.unwrap_or(16),
        1..=256,
        &join(P, "max_connections"),
        problems,
    );
    let max_payload_bytes = int_in::<usize>(
        b.max_payload_bytes.unwrap_or(65_536),
        1024..=1024 * 1024,
        &join(P, "max_payload_bytes"),
        problems,
    );
    let username = b.username.unwrap_or_default();
    let password = b.password.unwrap_or_default();
    if enabled {
        if username.is_empty() {
            problems.push(
                join(P, "username"),
                "required when the broker is enabled: a local broker is never open",
            );
        }
        if password.chars().count() < MIN_BROKER_PASSWORD_CHARS {
            problems.push(
                join(P, "password"),
                format!(
                    "required when the broker is enabled, at least {MIN_BROKER_PASSWORD_CHARS} characters"
                ),
            );
        }
    }
    if problems.len() > before || !enabled {
        return None;
    }
    Some(BrokerConfig {
        listen: listen?,
        username,
        password,
        max_connections: max_connections?,
        max_payload_bytes: max_payload_bytes?,
    })
}
