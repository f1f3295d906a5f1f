//! The web page's TLS identity: the installer's certificate, or a self-signed one made on first
//! start (rcgen) and kept in the state directory, so that a browser trusted once keeps
//! trusting it. Never serves plain HTTP.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::WebTls;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot keep the self-signed certificate in {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the certificate or key is unusable: {0}")]
    Pem(String),
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
}

const CERT_FILE: &str = "web-cert.pem";
const KEY_FILE: &str = "web-key.pem";

/// The rustls server configuration of the page (HTTP/1.1 and HTTP/2, TLS 1.2 and 1.3, ring).
pub fn server_config(
    tls: &WebTls,
    state_dir: &Path,
    hostname: &str,
) -> Result<Arc<rustls::ServerConfig>, CertError> {
    let (cert_pem, key_pem) = match tls {
        WebTls::Files { cert_pem, key_pem } => (cert_pem.clone(), key_pem.clone()),
        WebTls::SelfSigned => self_signed(state_dir, hostname)?,
    };
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Pem(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| CertError::Pem(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The kept self-signed certificate and key, made on first use.
fn self_signed(state_dir: &Path, hostname: &str) -> Result<(Vec<u8>, Vec<u8>), CertError> {
    let cert_path = state_dir.join(CERT_FILE);
    let key_path = state_dir.join(KEY_FILE);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CertError::Io { path, source }
    };
    if cert_path.exists() && key_path.exists() {
        let cert = std::fs::read(&cert_path).map_err(io(&cert_path))?;
        let key = std::fs::read(&key_path).map_err(io(&key_path))?;
        return Ok((cert, key));
    }
    let names = vec![
        hostname.to_string(),
        format!("{hostname}.local"),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let cert = certified.cert.pem().into_bytes();
    let key = certified.signing_key.serialize_pem().into_bytes();
    std::fs::create_dir_all(state_dir).map_err(io(state_dir))?;
    write_private(&key_path, &key).map_err(io(&key_path))?;
    write_private(&cert_path, &cert).map_err(io(&cert_path))?;
    log::info!(
        "web: made a self-signed certificate for {hostname} (kept in {})",
        cert_path.display()
    );
    Ok((cert, key))
}

/// Writes atomically (temporary file, then rename), readable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_self_signed_certificate_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        server_config(&WebTls::SelfSigned, dir.path(), "garage").unwrap();
        let first = std::fs::read(dir.path().join(CERT_FILE)).unwrap();
        server_config(&WebTls::SelfSigned, dir.path(), "garage").unwrap();
        assert_eq!(std::fs::read(dir.path().join(CERT_FILE)).unwrap(), first);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
