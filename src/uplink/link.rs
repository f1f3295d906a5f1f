//! The uplink's owner task: the one holder of the MQTT client to central. It publishes the
//! site's state, socket states, telemetry and the two record streams (in order, within the
//! window, removed from the database only on central's acknowledgement), and applies what
//! central sends after `downlink` has verified it. A helper task drives rumqttc's event loop
//! (it must be polled without pause) and hands the owner what matters; it never publishes.
//! Never decides who may charge (the core does), never writes SQLite but through the store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS,
};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::delivery::Delivery;
use super::downlink::RefusalReason;
use super::states::Next;
use super::topics::Topics;
use super::up;
use crate::core::site::{Event, SocketView};
use crate::store::outbox::{self, Stream};
use crate::store::{StoreError, StoreHandle};
use crate::wire;

/// Records in flight this long without any acknowledgement are sent again.
const RESEND_AFTER: Duration = Duration::from_secs(30);

/// Largest MQTT packet taken from the broker. Well above `max_downlink_bytes`: an oversized
/// message must be received to be refused (and answered); a packet over rumqttc's limit would
/// instead drop the connection, which a hostile publisher could then do at will.
const MAX_PACKET_BYTES: usize = 32 * 1024 * 1024;

/// Longest a clean stop waits for the last messages and the DISCONNECT to be written (the
/// daemon's shutdown deadline bounds it too). A link that cannot take them by then is dropped,
/// and the broker publishes the last will.
const GOODBYE_WITHIN: Duration = Duration::from_secs(2);

/// How the uplink connects and behaves (from `[uplink]`, see `config::UplinkConfig`).
#[derive(Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// `None` only when the config explicitly allows plaintext.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub credentials: Option<(String, String)>,
    pub keep_alive: Duration,
    pub window: usize,
    pub telemetry_interval: Duration,
    pub max_downlink_bytes: usize,
    pub require_signed_downlink: bool,
    pub trusted_keys: Vec<(String, [u8; 32])>,
    /// Reconnect back-off: from `min` doubling to `max`, with jitter; reset after a connection
    /// stayed up `stable`.
    pub backoff: Backoff,
}

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
    pub stable: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
            stable: Duration::from_secs(60),
        }
    }
}

/// What the uplink needs of the rest of the daemon.
pub struct Wiring {
    pub site_id: String,
    pub site_name: String,
    pub socket_ids: Vec<String>,
    pub db_path: PathBuf,
    pub store: StoreHandle,
    /// To the core: link state, new rules, tariffs, promotions, policies and commands.
    /// Full-policy: the uplink waits (the core drains it every loop).
    pub core: mpsc::Sender<Event>,
    pub sockets: watch::Receiver<Vec<crate::core::SocketSnapshot>>,
    /// The core's per-socket announcements (see `core::SocketChange`).
    pub changes: tokio::sync::broadcast::Receiver<crate::core::SocketChange>,
    /// Tokens the core could not decide alone, to ask central about. Full-policy: dropped
    /// (the user badges again).
    pub questions: mpsc::Receiver<(crate::core::access::IdToken, usize)>,
    pub status: watch::Sender<UplinkStatus>,
    /// The offline policy in force at start.
    pub policy: crate::core::access::OfflinePolicy,
    /// The daemon's clock: command expiries and sync times are judged as the core judges.
    pub clock: crate::clock::Clock,
}

/// What the status page and metrics show of the uplink.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UplinkStatus {
    pub connected: bool,
    /// Wall ms of the last message from central (an ack, a list, a command).
    pub last_sync_ms: Option<i64>,
    pub events_acked: u64,
    pub updates_acked: u64,
    /// Events published and not yet acknowledged.
    pub in_flight: u64,
    pub connections: u64,
    /// Connection attempts that failed, and the last reason (a TLS or login failure shows).
    pub failed_attempts: u64,
    pub last_error: Option<String>,
    /// Down messages refused (invalid, unsigned, stale...).
    pub refused: u64,
    pub last_refusal: Option<String>,
}

/// What the driver hands the owner.
#[derive(Debug)]
pub(super) enum Net {
    Connected,
    Refused(ConnectReturnCode),
    Message {
        topic: String,
        payload: bytes::Bytes,
    },
    Lost(String),
}

/// Runs until `cancel`: connects, reconnects with back-off, publishes and applies. At `cancel`
/// it publishes what is committed and not yet sent, then `offline` (retained) itself, and
/// disconnects cleanly, so the broker does not publish the last will; all within
/// `GOODBYE_WITHIN`.
pub async fn run(settings: Settings, wiring: Wiring, cancel: CancellationToken) {
    let topics = Topics::new(&wiring.site_id);
    let mut options =
        MqttOptions::new(wiring.site_id.clone(), settings.host.clone(), settings.port);
    options
        .set_keep_alive(settings.keep_alive)
        // Durability is ours: the database resends what central has not acknowledged.
        .set_clean_session(true)
        .set_inflight(settings.window.clamp(1, u16::MAX as usize) as u16)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES)
        .set_last_will(LastWill::new(
            topics.up("state"),
            wire::site_offline(),
            QoS::AtLeastOnce,
            true,
        ));
    if let Some((user, password)) = &settings.credentials {
        options.set_credentials(user.clone(), password.clone());
    }
    if let Some(tls) = &settings.tls {
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls.clone()),
        ));
    }
    // Room for a full window of records, every socket's state twice, and answers.
    let capacity = settings.window + 2 * wiring.socket_ids.len() + 64;
    let (client, mut eventloop) = AsyncClient::new(options, capacity);
    // Records go out as soon as an ack opens the window: Nagle's delay would wait for the
    // broker's delayed ACK (~40 ms) on every window.
    let mut network = eventloop.network_options();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    // Small: a message waiting here is a whole downlink message (up to max_downlink_bytes);
    // when the owner is busy, the driver waits and TCP pushes back on the broker.
    let (net_tx, net_rx) = mpsc::channel(8);
    let stop = CancellationToken::new();
    let driver = tokio::spawn(drive(eventloop, net_tx, settings.backoff, stop.clone()));
    let owner = match Owner::new(settings, wiring, topics, client) {
        Ok(owner) => owner,
        Err(e) => {
            log::error!("uplink: cannot read the database: {e}; no sync with central");
            cancel.cancelled().await;
            finish(driver, stop, None).await;
            return;
        }
    };
    let goodbye = owner.run(net_rx, cancel).await;
    finish(driver, stop, goodbye).await;
}

/// Ends the driver: after a goodbye (messages and a DISCONNECT queued, to be written by
/// `until`), once it has written the DISCONNECT; without one, or at `until`, at once.
pub(super) async fn finish(
    mut driver: tokio::task::JoinHandle<()>,
    stop: CancellationToken,
    goodbye: Option<Instant>,
) {
    if let Some(until) = goodbye {
        if tokio::time::timeout_at(until, &mut driver).await.is_ok() {
            return;
        }
        log::warn!("mqtt: the DISCONNECT could not be written in time; the link is dropped");
    }
    stop.cancel();
    let _ = driver.await;
}

/// Polls the event loop without pause (rumqttc needs it), reconnecting with back-off, until
/// `stop`, or until it has written a DISCONNECT (the owner's goodbye: a poll is never cut in
/// the middle of it), or until the link fails once the owner has stopped.
pub(super) async fn drive(
    mut eventloop: EventLoop,
    net: mpsc::Sender<Net>,
    backoff: Backoff,
    stop: CancellationToken,
) {
    let mut delays = backoff_delays(backoff);
    let mut up_since: Option<Instant> = None;
    loop {
        let polled = tokio::select! {
            _ = stop.cancelled() => break,
            // Not cancel-safe mid-write, which only matters when we stop anyway.
            p = eventloop.poll() => p,
        };
        let to_owner = match polled {
            Ok(rumqttc::Event::Incoming(Packet::ConnAck(ack))) => {
                if ack.code == ConnectReturnCode::Success {
                    up_since = Some(Instant::now());
                    Some(Net::Connected)
                } else {
                    Some(Net::Refused(ack.code))
                }
            }
            Ok(rumqttc::Event::Incoming(Packet::Publish(p))) => Some(Net::Message {
                topic: p.topic,
                payload: p.payload,
            }),
            // The goodbye is out: the broker will not publish the last will.
            Ok(rumqttc::Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => None,
            // The owner has stopped: no reconnection.
            Err(_) if net.is_closed() => break,
            Err(e) => {
                if up_since.is_some_and(|t| t.elapsed() >= backoff.stable) {
                    delays = backoff_delays(backoff);
                }
                up_since = None;
                if net.send(Net::Lost(e.to_string())).await.is_err() {
                    break;
                }
                let delay = delays.next().unwrap_or(backoff.max);
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
                None
            }
        };
        // Once the owner has stopped, what comes is dropped while its goodbye goes out.
        if let Some(msg) = to_owner {
            let _ = net.send(msg).await;
        }
    }
}

fn backoff_delays(b: Backoff) -> impl Iterator<Item = Duration> {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(b.min)
        .with_max_delay(b.max)
        .with_jitter()
        .without_max_times()
        .build()
}

pub(super) struct Owner {
    pub(super) settings: Settings,
    pub(super) wiring: Wiring,
    topics: Topics,
    client: AsyncClient,
    /// Read-only: the outbox, and the access list after a differential.
    pub(super) db: rusqlite::Connection,
    pub(super) events: Delivery,
    pub(super) updates: Delivery,
    connected: bool,
    live: super::states::LivePublisher,
    pub(super) assembly: super::assembly::ListAssembly,
    pub(super) clock: crate::clock::Clock,
    pub(super) status: UplinkStatus,
    pub(super) keys: super::signature::TrustedKeys,
    /// The offline policy in force (the config file's, then central's patches).
    pub(super) policy: crate::core::access::OfflinePolicy,
    /// Set when the request queue was full: publishing resumes on the next wake.
    backlogged: bool,
    /// The acknowledged positions of both streams, and since when they have not moved.
    last_progress: ((u64, u64), Instant),
}

impl Owner {
    fn new(
        settings: Settings,
        wiring: Wiring,
        topics: Topics,
        client: AsyncClient,
    ) -> Result<Owner, StoreError> {
        let db = crate::store::open_reader(&wiring.db_path)?;
        let keys = super::signature::TrustedKeys::new(
            settings.trusted_keys.clone(),
            settings.require_signed_downlink,
        )
        .map_err(StoreError::Failed)?;
        let policy = wiring.policy;
        let clock = wiring.clock.clone();
        let live = super::states::LivePublisher::new(
            &topics,
            &wiring.socket_ids,
            settings.telemetry_interval,
        );
        let events = Delivery::new(outbox::acknowledged(&db, Stream::Events)?, settings.window);
        let updates = Delivery::new(outbox::acknowledged(&db, Stream::Updates)?, settings.window);
        Ok(Owner {
            settings,
            wiring,
            topics,
            client,
            db,
            events,
            updates,
            connected: false,
            live,
            assembly: Default::default(),
            clock,
            status: UplinkStatus::default(),
            keys,
            policy,
            backlogged: false,
            last_progress: ((0, 0), Instant::now()),
        })
    }

    /// Runs until `cancel`. Connected, it then queues its goodbye (what is committed and not
    /// yet sent, `offline`, DISCONNECT) and returns by when the driver must have written it.
    async fn run(
        mut self,
        mut net: mpsc::Receiver<Net>,
        cancel: CancellationToken,
    ) -> Option<Instant> {
        let mut commits = self.wiring.store.commits();
        // The wiring's receiver stays unread; this one starts at the first turn after now.
        let mut changes = self.wiring.changes.resubscribe();
        let mut core_running = true;
        let mut retry = tokio::time::interval(Duration::from_millis(50));
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut stall_check = tokio::time::interval(RESEND_AFTER / 2);
        stall_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                // Cancel-safe: recv loses nothing when another branch wins.
                Some(msg) = net.recv() => self.on_net(msg).await,
                // Cancel-safe: watch receivers.
                Ok(()) = commits.changed(), if self.connected => self.pump(),
                // Cancel-safe: a lost announcement is never lost silently (`Lagged`).
                received = changes.recv(), if core_running => match super::states::next(received) {
                    Next::Change(change) if self.connected => self.publish_change(change),
                    Next::Change(_) => {}
                    Next::Resync if self.connected => self.publish_states(),
                    Next::Resync => {}
                    // The core stopped first (shutdown): records still go out until `cancel`.
                    Next::Closed => core_running = false,
                },
                _ = retry.tick(), if self.connected && self.backlogged => self.pump(),
                _ = stall_check.tick(), if self.connected => self.resend_if_stalled(),
                Some((token, socket)) = self.wiring.questions.recv() => self.ask(&token, socket),
            }
            self.report();
        }
        if !self.connected {
            return None;
        }
        let until = Instant::now() + GOODBYE_WITHIN;
        // What the core committed while it drained goes out first (within the window).
        self.pump();
        // A clean stop says so itself: the broker sends the will only on a lost link. The
        // request queue may be full of records: wait for room, as long as the goodbye may take.
        let client = self.client.clone();
        let state = self.topics.up("state");
        let goodbye = async move {
            client
                .publish(state, QoS::AtLeastOnce, true, wire::site_offline())
                .await?;
            client.disconnect().await
        };
        match tokio::time::timeout_at(until, goodbye).await {
            Ok(Ok(())) => {
                log::info!("uplink: stopping: offline published, disconnecting");
                Some(until)
            }
            _ => {
                log::warn!("uplink: stopping without a goodbye: the link does not take it");
                None
            }
        }
    }

    fn now_ms(&mut self) -> i64 {
        self.clock.now().wall_ms
    }

    fn report(&mut self) {
        self.status.connected = self.connected;
        self.status.events_acked = self.events.acked();
        self.status.updates_acked = self.updates.acked();
        self.status.in_flight = self.events.in_flight();
        self.wiring.status.send_if_modified(|s| {
            let changed = *s != self.status;
            if changed {
                *s = self.status.clone();
            }
            changed
        });
    }

    async fn on_net(&mut self, msg: Net) {
        match msg {
            Net::Connected => {
                self.connected = true;
                self.status.connections += 1;
                log::info!(
                    "uplink: connected to {}:{}",
                    self.settings.host,
                    self.settings.port
                );
                let filters = self
                    .topics
                    .subscriptions()
                    .into_iter()
                    .map(|t| rumqttc::SubscribeFilter::new(t, QoS::AtLeastOnce));
                let _ = self.client.try_subscribe_many(filters);
                self.report_state();
                self.events.reconnected();
                self.updates.reconnected();
                self.pump();
                let _ = self
                    .wiring
                    .core
                    .send(Event::Uplink { connected: true })
                    .await;
            }
            Net::Refused(code) => {
                self.status.failed_attempts += 1;
                self.status.last_error = Some(format!("refused: {code:?}"));
                log::error!("uplink: the broker refused the connection: {code:?}");
            }
            Net::Lost(why) => {
                if self.connected {
                    log::warn!(
                        "uplink: connection lost: {why}; sessions are recorded and sent later"
                    );
                    self.connected = false;
                    let _ = self
                        .wiring
                        .core
                        .send(Event::Uplink { connected: false })
                        .await;
                } else {
                    self.status.failed_attempts += 1;
                    log::debug!("uplink: cannot connect: {why}");
                }
                self.status.last_error = Some(why);
            }
            Net::Message { topic, payload } => self.on_message(&topic, &payload).await,
        }
    }

    /// Records in flight with no acknowledgement for `RESEND_AFTER` on a live connection were
    /// lost on the way (a broker dropping messages when central's queue is full): send them
    /// again, from the oldest. Central deduplicates by id.
    fn resend_if_stalled(&mut self) {
        let now = Instant::now();
        let progress = (self.events.acked(), self.updates.acked());
        if self.events.in_flight() + self.updates.in_flight() == 0
            || progress != self.last_progress.0
        {
            self.last_progress = (progress, now);
            return;
        }
        if now.duration_since(self.last_progress.1) >= RESEND_AFTER {
            log::warn!(
                "uplink: no acknowledgement for {}s with records in flight: sending them again",
                RESEND_AFTER.as_secs()
            );
            self.events.reconnected();
            self.updates.reconnected();
            self.last_progress.1 = now;
            self.pump();
        }
    }

    /// Central asked for everything again: the site's state and every socket's.
    pub(super) fn report_state(&mut self) {
        let now = self.now_ms();
        let birth = wire::site_online(&self.wiring.site_id, &self.wiring.site_name, now);
        let _ = self
            .client
            .try_publish(self.topics.up("state"), QoS::AtLeastOnce, true, birth);
        self.publish_states();
    }

    /// Publishes records of both streams while the window has room.
    pub(super) fn pump(&mut self) {
        self.backlogged = false;
        for stream in [Stream::Events, Stream::Updates] {
            loop {
                let delivery = match stream {
                    Stream::Events => &mut self.events,
                    Stream::Updates => &mut self.updates,
                };
                let room = delivery.room().min(256);
                if room == 0 {
                    break;
                }
                let records = match outbox::after(&self.db, stream, delivery.next_after(), room) {
                    Ok(r) => r,
                    Err(e) => {
                        log::error!("uplink: cannot read the outbox: {e}");
                        return;
                    }
                };
                if records.is_empty() {
                    break;
                }
                let topic = self.topics.up(match stream {
                    Stream::Events => "events",
                    Stream::Updates => "updates",
                });
                for r in &records {
                    match self.client.try_publish(
                        topic.clone(),
                        QoS::AtLeastOnce,
                        false,
                        up::record(r),
                    ) {
                        Ok(()) => delivery.published(r.seq),
                        Err(_) => {
                            // The request queue is full: the event loop catches up first.
                            self.backlogged = true;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Publishes every socket's state (after a connection, or when announcements were lost).
    fn publish_states(&mut self) {
        let now = self.now_ms();
        let snapshot = self.wiring.sockets.borrow();
        self.live.all_states(&self.client, &snapshot, now);
    }

    /// Publishes what one socket's change calls for: its state if it differs, its new sample.
    fn publish_change(&mut self, change: crate::core::SocketChange) {
        let now = self.now_ms();
        let snapshot = self.wiring.sockets.borrow();
        self.live.on_change(&self.client, &snapshot, change, now);
    }

    fn ask(&mut self, token: &crate::core::access::IdToken, socket: usize) {
        if !self.connected {
            return;
        }
        let Some(socket_id) = self.wiring.socket_ids.get(socket) else {
            return;
        };
        let request = uuid::Uuid::now_v7().to_string();
        let _ = self.client.try_publish(
            self.topics.up("authorize"),
            QoS::AtLeastOnce,
            false,
            wire::authorize(&request, token, socket_id),
        );
    }

    pub(super) fn answer(&mut self, result: serde_json::Value) {
        let _ = self.client.try_publish(
            self.topics.up("results"),
            QoS::AtLeastOnce,
            false,
            result.to_string().into_bytes(),
        );
    }

    pub(super) fn refuse(&mut self, reference: &str, reason: RefusalReason, detail: &str) {
        let reason = reason.name();
        self.status.refused += 1;
        self.status.last_refusal = Some(format!("{reference}: {reason}: {detail}"));
        // The reason travels as the journal field CODE (`journalctl CODE=...`).
        log::warn!(code = reason; "uplink: refused a message on {reference}: {reason}: {detail}");
        let now = self.now_ms();
        self.answer(wire::result(
            reference,
            None,
            wire::Status::Refused,
            Some(reason),
            Some(detail),
            now,
        ));
    }

    pub(super) fn view(&self, socket: usize) -> Option<SocketView> {
        self.wiring
            .sockets
            .borrow()
            .get(socket)
            .map(|s| s.view.clone())
    }

    async fn on_message(&mut self, topic: &str, payload: &[u8]) {
        super::apply::apply(self, topic, payload).await;
    }
}
