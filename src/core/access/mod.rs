//! Access control in the pure core: the access list and cache (`model`, `cache`) and the
//! decision (`decide`) that says who may charge where, on which terms, online and offline, with
//! OCPP's rules and reasons. Never reads a clock or a file: time and link state come in.

pub mod cache;
pub mod decide;
pub mod model;

pub use cache::AuthCache;
pub use decide::{Decision, Grant, OfflinePolicy, Rejection, Request, Source, authorize};
pub use model::*;

#[cfg(test)]
mod tests;
