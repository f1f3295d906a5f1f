//! What the site looks like to its readers (the web page, the uplink, the local broker, the
//! demo's table): each socket's identity and its core view, published by the core task.

use super::site::SocketView;

/// One socket as its readers see it.
#[derive(Debug, Clone)]
pub struct SocketSnapshot {
    pub id: String,
    pub name: String,
    pub bus: String,
    pub unit_id: u8,
    pub profile: String,
    pub view: SocketView,
}

/// What changed in one socket's snapshot, announced by the core task as it happens so that the
/// live publishers (uplink, local broker) look at that socket alone, never at the whole site
/// per poll. Indices are positions in the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketChange {
    /// A turn touched the socket: its state, service or session may differ (the publisher
    /// compares with what it last sent).
    State(usize),
    /// A poll read new values; their time is the view's `read_at`.
    Sample(usize),
}
