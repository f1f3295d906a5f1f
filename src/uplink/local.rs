//! Live socket states and telemetry on the embedded site broker, for local integrations (a
//! display, a home-automation system): the same topics and payloads as the uplink's, plain
//! TCP on loopback with the broker's login. Never carries events, never accepts commands.

use std::net::SocketAddr;
use std::time::Duration;

use rumqttc::{AsyncClient, MqttOptions};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::link::{Backoff, Net, drive, finish};
use super::states::StatePublisher;
use super::topics::Topics;
use crate::core::SocketSnapshot;

/// Publishes until `cancel`.
pub async fn run(
    broker: SocketAddr,
    login: (String, String),
    site_id: String,
    mut sockets: watch::Receiver<Vec<SocketSnapshot>>,
    telemetry_interval: Duration,
    clock: crate::clock::Clock,
    cancel: CancellationToken,
) {
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
    let capacity = 2 * sockets.borrow().len() + 16;
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
    let mut states = StatePublisher::default();
    let mut telemetry = tokio::time::interval(telemetry_interval);
    telemetry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let all = tokio::select! {
            _ = cancel.cancelled() => break,
            Some(msg) = net.recv() => match msg {
                Net::Connected => { connected = true; true }
                Net::Lost(_) | Net::Refused(_) => { connected = false; continue }
                Net::Message { .. } => continue,
            },
            Ok(()) = sockets.changed(), if connected => false,
            _ = telemetry.tick(), if connected => {
                                let now = clock.now().wall_ms;
                StatePublisher::telemetry(&client, &topics, &sockets.borrow(), now);
                continue;
            }
        };
        let now = clock.now().wall_ms;
        let snapshot = sockets.borrow_and_update().clone();
        states.publish(&client, &topics, &snapshot, all, now);
    }
    // Disconnects cleanly when connected (the driver writes it, bounded); else just stops.
    drop(net);
    let goodbye = (connected && client.try_disconnect().is_ok())
        .then(|| tokio::time::Instant::now() + Duration::from_secs(2));
    finish(driver, stop, goodbye).await;
}
