//! Live socket states and telemetry on the embedded site broker, for local integrations (a
//! display, a home-automation system): the same topics and payloads as the uplink's, plain
//! TCP on loopback with the broker's login. Never carries events, never accepts commands.

use std::net::SocketAddr;
use std::time::Duration;

use rumqttc::{AsyncClient, MqttOptions};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::link::{Backoff, Net, drive, finish};
use super::states::{LivePublisher, Next, next};
use super::topics::Topics;
use crate::core::{SocketChange, SocketSnapshot};

/// What the local publisher reads of the site.
pub struct LocalWiring {
    pub broker: SocketAddr,
    pub login: (String, String),
    pub site_id: String,
    pub socket_ids: Vec<String>,
    pub sockets: watch::Receiver<Vec<SocketSnapshot>>,
    pub changes: broadcast::Receiver<SocketChange>,
    pub telemetry_interval: Duration,
    pub clock: crate::clock::Clock,
}

/// Publishes until `cancel`.
pub async fn run(w: LocalWiring, cancel: CancellationToken) {
    let LocalWiring {
        broker,
        login,
        site_id,
        socket_ids,
        sockets,
        mut changes,
        telemetry_interval,
        clock,
    } = w;
    let topics = Topics::new(&site_id);
    let mut options = MqttOptions::new(
        format!("{site_id}-local"),
        broker.ip().to_string(),
        broker.port(),
    );
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_credentials(login.0, login.1)
        .set_clean_session(true);
    let capacity = 2 * socket_ids.len() + 16;
    let (client, eventloop) = AsyncClient::new(options, capacity);
    let (net_tx, mut net) = mpsc::channel(16);
    let backoff = Backoff {
        min: Duration::from_millis(200),
        max: Duration::from_secs(10),
        stable: Duration::from_secs(60),
    };
    let stop = CancellationToken::new();
    let driver = tokio::spawn(drive(eventloop, net_tx, backoff, stop.clone()));
    let mut connected = false;
    let mut core_running = true;
    let mut live = LivePublisher::new(&topics, &socket_ids, telemetry_interval);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(msg) = net.recv() => match msg {
                Net::Connected => {
                    connected = true;
                    live.all_states(&client, &sockets.borrow(), clock.now().wall_ms);
                }
                Net::Lost(_) | Net::Refused(_) => connected = false,
                Net::Message { .. } => {}
            },
            received = changes.recv(), if core_running => match next(received) {
                Next::Change(change) if connected => {
                    live.on_change(&client, &sockets.borrow(), change, clock.now().wall_ms);
                }
                Next::Resync if connected => {
                    live.all_states(&client, &sockets.borrow(), clock.now().wall_ms);
                }
                Next::Closed => core_running = false,
                Next::Change(_) | Next::Resync => {}
            },
        }
    }
    // Disconnects cleanly when connected (the driver writes it, bounded); else just stops.
    drop(net);
    let goodbye = (connected && client.try_disconnect().is_ok())
        .then(|| tokio::time::Instant::now() + Duration::from_secs(2));
    finish(driver, stop, goodbye).await;
}
