//! A store record as the uplink publishes it: the record's parts in `wire`'s envelope (the only
//! place central's JSON is shaped), its body as committed. Owns no JSON of its own.

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
