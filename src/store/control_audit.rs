//! The audit record of a control action taken on the local web page (a socket taken out of
//! service or returned, a session stopped or started for a user): who, what, which socket,
//! when. The writer puts it in the outbox as a `control_audit` event for central
//! (`Write::ControlAudit`). Never decides whether the action was allowed (`web::auth::roles`)
//! and never sends the command itself (the page sends it to the core).

use serde_json::{Value, json};

use super::payload;
use crate::core::time::Stamp;

/// One control action, as central's audit trail receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlAudit {
    /// The account's username.
    pub actor: String,
    /// `out_of_service`, `return`, `stop` or `start`.
    pub action: &'static str,
    /// The socket's id (as in the configuration).
    pub socket: String,
    /// Whom a start lets charge.
    pub user: Option<String>,
    pub at: Stamp,
}

impl ControlAudit {
    /// The outbox payload.
    pub fn body(&self) -> Value {
        json!({
            "actor": self.actor,
            "action": self.action,
            "socket": self.socket,
            "user": self.user,
            "at": payload::time(&self.at),
        })
    }
}
