//! The embedded site broker (rumqttd 0.20, MQTT 3.1.1, plain TCP) for local integrations: a
//! display, a home-automation system (`docs/mqtt.md`, "Local broker").
//!
//! Owns one rumqttd router thread and one thread running a current-thread runtime that serves
//! the listener and every client connection. It never listens without the configured username
//! and password, never serves TLS or websockets (rumqttd is built without those features), never
//! persists anything (its logs live in memory, bounded below) and never decides what is
//! published: the daemon publishes into it like any other client.
//!
//! Stopping: when `cancel` fires the listener closes and every client connection is dropped
//! (their runtime is shut down with them). The router thread cannot be stopped (rumqttd has no
//! shutdown API, upstream issue #771: the router holds a sender to its own channel, so it never
//! sees the channel close): after a stop it stays parked for the life of the process, holding
//! at most its bounded logs. Start the broker once per process.
//!
//! Why a runtime of its own: rumqttd's `Server::start` spawns each client connection with
//! `tokio::spawn` on whatever runtime runs it, untracked; on the daemon's runtime they would
//! outlive a stop. Shutting down the broker's own runtime drops them all.
//!
//! Why port 0 is refused: `Server::start` binds inside and reports neither the address nor
//! readiness, so an ephemeral port could not be learnt. The listener is known to be up when a
//! connection to it succeeds (polled, bounded by [`READY_TIMEOUT`]). Tests pick a free port by
//! binding port 0 and dropping the listener, which is racy in principle (another process may
//! take the port in between) and fine on a test machine.
//!
//! Refusals: rumqttd answers a wrong or missing login, and a client beyond `max_connections`,
//! by closing the connection without a CONNACK (clients see "connection closed", not a return
//! code). Registering a connection with the router is a blocking channel receive inside
//! rumqttd's connection task: each CONNECT holds the broker's runtime until the router answers
//! (microseconds), another reason it does not run on the daemon's runtime.
//!
//! Logging: rumqttd logs through `tracing`; rumqttd turns on tracing's `log` feature and we
//! install no tracing subscriber, so its events do reach our `log` logger, as records with
//! targets `rumqttd::…` (checked: INFO per accepted connection, ERROR for each connection's span,
//! for a refused login and for a client closing before its CONNECT, such as our readiness
//! probe), and span lifecycle records under `tracing::span`. `logging::build_filter` turns both
//! off; `RUST_LOG=rumqttd=debug` brings them back. This module logs the start, stop and failure.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use rumqttd::{ConnectionSettings, LinkType, Router, RouterConfig, Server, ServerSettings};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::BrokerConfig;

/// How long the listener may take to accept a first connection after the start.
pub const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// Memory: rumqttd keeps one in-memory log per distinct published topic and per subscription
/// filter, each at most `SEGMENT_BYTES × SEGMENT_COUNT` plus one payload (the last message may
/// overflow a segment). 64 KiB × 2 = 128 KiB per log: a site of 64 sockets publishing state and
/// telemetry (about 130 topics) stays under about 17 MiB in the worst case; a subscriber that
/// falls further behind than that loses the oldest messages (state and telemetry are
/// latest-value, and retained messages are kept apart, one per topic). Any client with the
/// login may create topics: the bound relies on the local login being trusted.
const SEGMENT_BYTES: usize = 64 * 1024;
const SEGMENT_COUNT: usize = 2;
/// rumqttd's own ceiling for unacknowledged QoS 1/2 messages per connection.
const MAX_INFLIGHT: usize = 100;
/// Messages handed to a QoS 0 subscriber per read of a log.
const MAX_OUTGOING_PACKETS: u64 = 200;
/// A connection that sends no CONNECT within this time is dropped (a slot is not held open).
const CONNECT_TIMEOUT_MS: u16 = 5_000;
/// Pause after each accepted connection: a flood of connections cannot starve the router.
const NEXT_CONNECTION_DELAY_MS: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker.listen {0}: port 0 is not supported (rumqttd cannot report the port it bound)")]
    PortZero(SocketAddr),
    #[error("broker.listen {addr}: cannot listen: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the broker's thread: {0}")]
    Thread(std::io::Error),
    #[error("the broker stopped while starting: {0}")]
    Stopped(String),
    #[error("the broker did not accept connections on {addr} within {waited:?}")]
    NotReady { addr: SocketAddr, waited: Duration },
}

/// A running embedded broker. It stops when the `cancel` token given to [`EmbeddedBroker::start`]
/// fires; the task that `tracker` tracks ends once its listener and connections are closed.
#[derive(Debug)]
pub struct EmbeddedBroker {
    /// Where it listens (the configured address).
    pub addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts the broker and returns once it accepts connections on `cfg.listen`.
    pub async fn start(
        cfg: &BrokerConfig,
        cancel: CancellationToken,
        tracker: &TaskTracker,
    ) -> Result<EmbeddedBroker, BrokerError> {
        let addr = cfg.listen;
        if addr.port() == 0 {
            return Err(BrokerError::PortZero(addr));
        }
        // A port another process already holds would answer the readiness probe below: check
        // it is free first, for a clear error (the window until rumqttd binds is small).
        drop(
            std::net::TcpListener::bind(addr)
                .map_err(|source| BrokerError::Bind { addr, source })?,
        );

        let router_tx = Router::new(0, router_config(cfg)).spawn();
        let mut server = Server::new(server_settings(cfg), router_tx, rumqttd::protocol::v4::V4);
        // A child token: a failed start stops the thread without cancelling the caller's token.
        let stop = cancel.child_token();
        let thread_stop = stop.clone();
        let (done_tx, mut done_rx) = oneshot::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name("mqtt-broker".to_string())
            .spawn(move || {
                let result = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => {
                        let result = runtime.block_on(async {
                            tokio::select! {
                                // It returns only with an error (bind, then nothing else).
                                r = server.start(LinkType::Remote) => {
                                    r.map_err(|e| e.to_string())
                                }
                                () = thread_stop.cancelled() => Ok(()),
                            }
                        });
                        // Drops the listener's and every connection's task.
                        drop(runtime);
                        result
                    }
                    Err(e) => Err(format!("cannot build its runtime: {e}")),
                };
                let _ = done_tx.send(result);
            })
            .map_err(BrokerError::Thread)?;

        if let Err(e) = wait_until_listening(addr, &mut done_rx).await {
            stop.cancel();
            return Err(e);
        }
        log::info!(
            "local MQTT broker listening on {addr} (at most {} clients)",
            cfg.max_connections
        );
        tracker.spawn(async move {
            match done_rx.await {
                Ok(Ok(())) => log::info!("local MQTT broker on {addr} stopped"),
                Ok(Err(e)) => log::error!("local MQTT broker on {addr} failed: {e}"),
                Err(_) => log::error!("local MQTT broker on {addr}: its thread ended abruptly"),
            }
        });
        Ok(EmbeddedBroker { addr })
    }
}

/// Polls the listener until a TCP connection succeeds, or the server ends, or the deadline.
async fn wait_until_listening(
    addr: SocketAddr,
    done: &mut oneshot::Receiver<Result<(), String>>,
) -> Result<(), BrokerError> {
    let target = connectable(addr);
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(target),
        );
        tokio::select! {
            r = &mut *done => {
                return Err(BrokerError::Stopped(match r {
                    Ok(Ok(())) => "stopped".to_string(),
                    Ok(Err(e)) => e,
                    Err(_) => "its thread ended abruptly".to_string(),
                }));
            }
            r = attempt => if let Ok(Ok(_stream)) = r {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BrokerError::NotReady {
                addr,
                waited: READY_TIMEOUT,
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An address a client can connect to: an unspecified listen address means loopback.
fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// rumqttd's defaults are unusable (segment size 0 panics, 0 connections refuses everyone):
/// every value is set.
fn router_config(cfg: &BrokerConfig) -> RouterConfig {
    RouterConfig {
        max_connections: cfg.max_connections,
        max_outgoing_packet_count: MAX_OUTGOING_PACKETS,
        max_segment_size: SEGMENT_BYTES,
        max_segment_count: SEGMENT_COUNT,
        custom_segment: None,
        initialized_filters: None,
        shared_subscriptions_strategy: Default::default(),
    }
}

fn server_settings(cfg: &BrokerConfig) -> ServerSettings {
    ServerSettings {
        name: "sitegate-local".to_string(),
        listen: cfg.listen,
        tls: None,
        next_connection_delay_ms: NEXT_CONNECTION_DELAY_MS,
        connections: ConnectionSettings {
            connection_timeout_ms: CONNECT_TIMEOUT_MS,
            max_payload_size: cfg.max_payload_bytes,
            max_inflight_count: MAX_INFLIGHT,
            // One static login, compared in constant time by rumqttd. A client without a
            // login, or with another, is dropped before any CONNACK.
            auth: Some(HashMap::from([(
                cfg.username.clone(),
                cfg.password.clone(),
            )])),
            external_auth: None,
            // Without dynamic filters rumqttd disconnects a client that publishes to a topic
            // nobody has subscribed to yet: the daemon publishes whether or not anyone listens.
            dynamic_filters: true,
        },
    }
}
