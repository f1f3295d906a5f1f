//! The TLS client configuration of the uplink: the broker verified against the configured CA
//! (and its host name, by rustls), an optional client certificate, TLS 1.2 or 1.3 only, the
//! `ring` provider. There is no plaintext fallback: a failure here is an error.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the CA file holds no usable certificate: {0}")]
    Ca(String),
    #[error("the client certificate or key is unusable: {0}")]
    Client(String),
    #[error("TLS setup: {0}")]
    Setup(#[from] rustls::Error),
}

/// A rustls client configuration from PEM bytes (read and checked by config validation).
pub fn client_config(
    ca_pem: &[u8],
    client: Option<(&[u8], &[u8])>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| TlsError::Ca(e.to_string()))?;
        roots.add(cert).map_err(|e| TlsError::Ca(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(TlsError::Ca("no certificate found".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots);
    let config = match client {
        Some((cert_pem, key_pem)) => {
            let certs = CertificateDer::pem_slice_iter(cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TlsError::Client(e.to_string()))?;
            let key = PrivateKeyDer::from_pem_slice(key_pem)
                .map_err(|e| TlsError::Client(e.to_string()))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| TlsError::Client(e.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
