//! The pure core: socket states, sessions, access and pricing. Driven by
//! events that carry their own time, returning effects for the edges to carry out. Never reads a
//! clock, never opens a file or a socket, never logs: the edges do.

pub mod access;
pub mod pricing;
pub mod readings;
pub mod rng;
pub mod session;
pub mod site;
mod snapshot;
pub mod socket_state;
pub mod time;

pub use readings::{Phases, Readings, VehicleState};
pub use site::{Control, Effect, Event, Site, SocketIndex, SocketSetup, SocketView};
pub use snapshot::{SocketChange, SocketSnapshot};
pub use socket_state::{SocketState, StateRules};
