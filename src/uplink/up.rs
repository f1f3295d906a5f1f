//! What the uplink publishes, made by `crate::wire` (the only place central's JSON is shaped):
//! this module hands `link` the builders it calls and turns a store record into the envelope's
//! parts. Owns no JSON of its own.

pub use crate::wire::{Status, authorize, result, site_offline, site_online};

use crate::store::outbox::Record;

/// An `events` or `updates` record with its envelope, its body as committed.
pub fn record(r: &Record) -> Vec<u8> {
    crate::wire::envelope(crate::wire::RecordParts {
        seq: r.seq,
        id: &r.id,
        kind: &r.kind,
        at_ms: r.at_ms,
        trusted: r.trusted,
        offline: r.offline,
        body: &r.payload,
    })
}
