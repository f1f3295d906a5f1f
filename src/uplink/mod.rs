//! The MQTT link to central (docs/mqtt.md): `link` owns the client and publishes, `apply` acts
//! on what central sends once `downlink` (and `signature`) verified it, `delivery` keeps the
//! window and the acknowledgements of the two record streams, `assembly` a chunked list,
//! `topics` and `up` the names and payloads, `tls` the rustls client configuration.

mod apply;
pub(crate) mod assembly;
#[cfg(test)]
mod contract_tests;
pub(crate) mod delivery;
pub(crate) mod downlink;
pub(crate) mod link;
pub(crate) mod local;
pub mod probe;
pub(crate) mod signature;
pub(crate) mod states;
pub mod tls;
pub(crate) mod topics;
pub(crate) mod up;

pub use link::{Backoff, Settings, UplinkStatus, Wiring, run};
/// The uplink's settings from `[uplink]`: the TLS configuration is built here, once.
pub fn settings(config: &crate::config::UplinkConfig) -> Result<Settings, tls::TlsError> {
    let tls = match &config.tls {
        Some(t) => Some(tls::client_config(
            &t.ca_pem,
            t.client.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice())),
        )?),
        None => None,
    };
    Ok(Settings {
        host: config.host.clone(),
        port: config.port,
        tls,
        credentials: config.credentials.clone(),
        keep_alive: config.keep_alive,
        window: config.window,
        telemetry_interval: config.telemetry_interval,
        max_downlink_bytes: config.max_downlink_bytes,
        require_signed_downlink: config.require_signed_downlink,
        trusted_keys: config.trusted_keys.clone(),
        backoff: Backoff {
            max: config.reconnect_max,
            ..Backoff::default()
        },
    })
}
