//! The MQTT link to central (docs/mqtt.md). So far: down messages parsed and validated
//! (`downlink`) and their Ed25519 signatures (`signature`).

pub mod downlink;
pub mod signature;
