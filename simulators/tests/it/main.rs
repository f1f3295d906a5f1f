//! socket-sim's integration tests, one binary: each model's registers against the vendor
//! documents, the physics, and both transports driven by tokio-modbus's clients.

mod binary;
mod common;
mod models;
mod physics;
mod rtu;
mod tcp;
