//! Live socket states and telemetry, one socket at a time as the core announces its changes:
//! shared by the uplink and the local broker's publisher. Retained states go out only when
//! they change (or all of them after a connection); telemetry goes out once per sample read,
//! stamped with the time it was read, at most one per socket per `telemetry_interval`, and
//! never for a socket that does not answer. Never looks at the whole site per poll.

use std::time::Duration;

use rumqttc::{AsyncClient, QoS};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::topics::Topics;
use crate::core::{SocketChange, SocketSnapshot, SocketState};
use crate::wire;

/// A sample read this much earlier than the interval still counts as on time: the polls that
/// feed telemetry run on the same period a few milliseconds late or early, so an interval equal
/// to the poll period publishes every sample, not every other one.
const EARLY_TOLERANCE: f64 = 0.1;

/// One socket's topics and what was last published on them.
#[derive(Debug)]
struct Published {
    state_topic: String,
    telemetry_topic: String,
    /// The last state body published, without its time: only changes go out.
    state: Option<Vec<u8>>,
    /// When the last published sample was read (the bus owner's clock).
    sample: Option<Instant>,
}

#[derive(Debug)]
pub struct LivePublisher {
    sockets: Vec<Published>,
    /// Samples read less than this after the last published one are skipped (never zero: the
    /// sample last published is not published again).
    min_gap: Duration,
    /// Samples not published because the client's queue was full (QoS 0: never queued).
    pub dropped: u64,
}

/// What to do after the core's announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Change(SocketChange),
    /// Announcements were lost (the publisher lagged): republish every state.
    Resync,
    /// The core stopped.
    Closed,
}

/// The next announcement, or what to do when there is none to be had.
pub fn next(received: Result<SocketChange, RecvError>) -> Next {
    match received {
        Ok(change) => Next::Change(change),
        Err(RecvError::Lagged(_)) => Next::Resync,
        Err(RecvError::Closed) => Next::Closed,
    }
}

impl LivePublisher {
    pub fn new(topics: &Topics, socket_ids: &[String], telemetry_interval: Duration) -> Self {
        LivePublisher {
            sockets: socket_ids
                .iter()
                .map(|id| Published {
                    state_topic: topics.socket_state(id),
                    telemetry_topic: topics.telemetry(id),
                    state: None,
                    sample: None,
                })
                .collect(),
            min_gap: telemetry_interval
                .mul_f64(1.0 - EARLY_TOLERANCE)
                .max(Duration::from_nanos(1)),
            dropped: 0,
        }
    }

    /// Carries out one announcement against the current snapshot.
    pub fn on_change(
        &mut self,
        client: &AsyncClient,
        snapshot: &[SocketSnapshot],
        change: SocketChange,
        now_ms: i64,
    ) {
        match change {
            SocketChange::State(i) => self.state(client, snapshot, i, false, now_ms),
            SocketChange::Sample(i) => self.sample(client, snapshot, i),
        }
    }

    /// Every socket's state, changed or not (after a connection, or lost announcements).
    pub fn all_states(&mut self, client: &AsyncClient, snapshot: &[SocketSnapshot], now_ms: i64) {
        for i in 0..snapshot.len() {
            self.state(client, snapshot, i, true, now_ms);
        }
    }

    fn state(
        &mut self,
        client: &AsyncClient,
        snapshot: &[SocketSnapshot],
        i: usize,
        always: bool,
        now_ms: i64,
    ) {
        let (Some(s), Some(p)) = (snapshot.get(i), self.sockets.get_mut(i)) else {
            return;
        };
        let body = wire::socket_state(&s.id, &s.view, 0);
        if !always && p.state.as_ref() == Some(&body) {
            return;
        }
        let stamped = wire::socket_state(&s.id, &s.view, now_ms);
        if client
            .try_publish(p.state_topic.as_str(), QoS::AtLeastOnce, true, stamped)
            .is_ok()
        {
            p.state = Some(body);
        }
    }

    /// The socket's newest sample, unless it was published already, came too soon after the
    /// last one, or the socket does not answer.
    fn sample(&mut self, client: &AsyncClient, snapshot: &[SocketSnapshot], i: usize) {
        let (Some(s), Some(p)) = (snapshot.get(i), self.sockets.get_mut(i)) else {
            return;
        };
        let Some(read) = s.view.read_at else {
            return;
        };
        if s.view.state == SocketState::NotConnected {
            return;
        }
        if let Some(last) = p.sample
            && read.mono.saturating_duration_since(last) < self.min_gap
        {
            return;
        }
        let body = wire::telemetry(&s.id, &s.view, read.wall_ms);
        match client.try_publish(p.telemetry_topic.as_str(), QoS::AtMostOnce, false, body) {
            Ok(()) => p.sample = Some(read.mono),
            Err(_) => self.dropped += 1,
        }
    }
}
