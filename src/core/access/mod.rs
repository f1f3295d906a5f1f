//! Access control in the pure core: the access list's and cache's entries (`model`) and the
//! decision (`decide`) that says who may charge where, on which terms, online and offline, with
//! OCPP's rules and reasons, and the policies central sets (`PolicyPatch`). Never reads a clock
//! or a file: time, link state and what the store found for a token come in. Never holds the
//! list or the cache: the store does (`store::access`, with the cache's eviction).

pub(crate) mod decide;
pub(crate) mod model;

pub use decide::{
    Decision, Grant, OfflinePolicy, PolicyPatch, Rejection, Request, Source, authorize,
};
pub use model::*;

#[cfg(test)]
mod tests;
