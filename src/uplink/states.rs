//! Retained socket states, published only when they change (or all of them after a
//! connection): shared by the uplink and the local broker's publisher.

use std::collections::HashMap;

use rumqttc::{AsyncClient, QoS};

use super::topics::Topics;
use crate::core::SocketSnapshot;
use crate::wire;

#[derive(Debug, Default)]
pub struct StatePublisher {
    /// The last state published per socket, without its time: only changes go out.
    published: HashMap<String, Vec<u8>>,
}

impl StatePublisher {
    pub fn publish(
        &mut self,
        client: &AsyncClient,
        topics: &Topics,
        sockets: &[SocketSnapshot],
        all: bool,
        now_ms: i64,
    ) {
        for s in sockets {
            let body = wire::socket_state(&s.id, &s.view, 0);
            if !all && self.published.get(&s.id) == Some(&body) {
                continue;
            }
            let stamped = wire::socket_state(&s.id, &s.view, now_ms);
            if client
                .try_publish(topics.socket_state(&s.id), QoS::AtLeastOnce, true, stamped)
                .is_ok()
            {
                self.published.insert(s.id.clone(), body);
            }
        }
    }

    /// Every socket's latest readings, at QoS 0 (never queued).
    pub fn telemetry(
        client: &AsyncClient,
        topics: &Topics,
        sockets: &[SocketSnapshot],
        now_ms: i64,
    ) {
        for s in sockets {
            if s.view.readings == Default::default() {
                continue;
            }
            let _ = client.try_publish(
                topics.telemetry(&s.id),
                QoS::AtMostOnce,
                false,
                wire::telemetry(&s.id, &s.view, now_ms),
            );
        }
    }
}
