//! The MQTT link to central (docs/mqtt.md): `link` owns the client and publishes, `apply` acts
//! on what central sends once `downlink` (and `signature`) verified it, `delivery` keeps the
//! window and the acknowledgements of the two record streams, `assembly` a chunked list,
//! `topics` and `up` the names and payloads, `tls` the rustls client configuration.

mod apply;
pub mod assembly;
pub mod delivery;
pub mod downlink;
pub mod link;
pub mod signature;
pub mod tls;
pub mod topics;
pub mod up;

pub use link::{Backoff, Settings, UplinkStatus, Wiring, run};
