//! The JSON central receives (docs/mqtt.md and docs/asyncapi.yaml are the contract): the
//! bodies the store commits to the outbox and to `updates` (`records`), the envelope the
//! uplink publishes them in, the site's and sockets' states, telemetry, results and
//! authorization questions (`messages`), and the cost breakdown of docs/pricing.md
//! (`breakdown`, which the quote tool and the web page's price calculator show too). Typed
//! `Serialize` structs made from the core's types: the only place central's JSON is shaped.
//! Imports the core and serde only; never reads a clock, a file or the database, and never
//! decides what is sent or when.
//!
//! Objects are written with their keys in alphabetical order: the order in which
//! `serde_json::Value` wrote them before the bodies were typed, so that what a site sends did
//! not change by a byte (records already in an outbox and new ones look alike). Every struct
//! here declares its fields in that order; the tests check it.

mod breakdown;
mod messages;
mod records;

pub use breakdown::{Breakdown, breakdown_pretty, breakdown_text, breakdown_value};
pub use messages::{
    Answer, RecordParts, Status, authorize, envelope, result, site_offline, site_online,
    socket_state, telemetry,
};
pub use records::{
    AccountAuditBody, At, AuthorizationBody, AvailabilityBody, Body, ConfigAuditBody,
    ControlAuditBody, SessionBody, SiteFaultBody, SocketStateBody, rfc3339, round3,
};

#[cfg(test)]
pub(crate) mod tests;
