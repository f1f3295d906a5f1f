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
