//! The embedded broker over real TCP with a real MQTT client (rumqttc): the login is enforced, a
//! retained message reaches a later subscriber, and a cancel closes the port and drops the
//! connected clients. Every wait is a poll under a timeout.

use std::net::SocketAddr;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS,
};
use sitegate::broker::{BrokerError, EmbeddedBroker};
use sitegate::config::BrokerConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const WAIT: Duration = Duration::from_secs(10);
const USER: &str = "local";
const PASSWORD: &str = "a long local password";

/// A port free a moment ago: the broker cannot listen on port 0 (see `sitegate::broker`).
/// Racy in principle; another process would have to take it within microseconds.
fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn config(listen: SocketAddr) -> BrokerConfig {
    BrokerConfig {
        listen,
        username: USER.to_string(),
        password: PASSWORD.to_string(),
        max_connections: 4,
        max_payload_bytes: 4096,
    }
}

struct Running {
    broker: EmbeddedBroker,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Running {
    async fn start() -> Running {
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let broker = EmbeddedBroker::start(&config(free_port()), cancel.clone(), &tracker)
            .await
            .expect("the broker starts");
        Running {
            broker,
            cancel,
            tracker,
        }
    }

    /// Cancels and waits until the broker's task has ended.
    async fn stop(self) -> SocketAddr {
        self.cancel.cancel();
        self.tracker.close();
        tokio::time::timeout(WAIT, self.tracker.wait())
            .await
            .expect("the broker stops");
        self.broker.addr
    }
}

fn client(id: &str, addr: SocketAddr, password: &str) -> (AsyncClient, EventLoop) {
    let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    options.set_credentials(USER, password);
    options.set_keep_alive(Duration::from_secs(5));
    AsyncClient::new(options, 10)
}

/// Polls the event loop until `want` picks something out of an event; fails on a connection
/// error or after `WAIT`.
async fn until<T>(events: &mut EventLoop, mut want: impl FnMut(&Event) -> Option<T>) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.poll().await {
                Ok(event) => {
                    if let Some(t) = want(&event) {
                        return t;
                    }
                }
                Err(e) => panic!("connection error: {e}"),
            }
        }
    })
    .await
    .expect("timed out waiting for an MQTT event")
}

fn connack(event: &Event) -> Option<ConnectReturnCode> {
    match event {
        Event::Incoming(Packet::ConnAck(ack)) => Some(ack.code),
        _ => None,
    }
}

#[tokio::test]
async fn a_retained_message_reaches_a_later_subscriber_with_the_login() {
    let running = Running::start().await;
    let addr = running.broker.addr;
    let topic = "sitegate/v1/s1/sockets/a-03/state";

    let (publisher, mut publisher_events) = client("feed", addr, PASSWORD);
    publisher
        .publish(topic, QoS::AtLeastOnce, true, r#"{"state":"Charging"}"#)
        .await
        .unwrap();
    let code = until(&mut publisher_events, connack).await;
    assert_eq!(code, ConnectReturnCode::Success);
    until(&mut publisher_events, |e| {
        matches!(e, Event::Incoming(Packet::PubAck(_))).then_some(())
    })
    .await;

    // Subscribed only after the broker has the message: it arrives because it is retained.
    let (subscriber, mut subscriber_events) = client("display", addr, PASSWORD);
    subscriber
        .subscribe("sitegate/v1/s1/sockets/+/state", QoS::AtLeastOnce)
        .await
        .unwrap();
    let message = until(&mut subscriber_events, |e| match e {
        Event::Incoming(Packet::Publish(p)) => Some(p.clone()),
        _ => None,
    })
    .await;
    assert_eq!(message.topic, topic);
    assert!(message.retain, "delivered as a retained message");
    assert_eq!(&message.payload[..], br#"{"state":"Charging"}"#);

    running.stop().await;
}

/// rumqttd answers a wrong login by closing the connection, without a CONNACK; a refusal code
/// would do as well. Either way the client never gets `Success`.
async fn assert_refused(mut events: EventLoop) {
    let outcome = tokio::time::timeout(WAIT, events.poll())
        .await
        .expect("the broker answers a login");
    match outcome {
        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
            assert_ne!(ack.code, ConnectReturnCode::Success, "refused")
        }
        Ok(other) => panic!("expected a refusal, got {other:?}"),
        Err(ConnectionError::ConnectionRefused(code)) => {
            assert_ne!(code, ConnectReturnCode::Success)
        }
        Err(ConnectionError::Io(_) | ConnectionError::MqttState(_)) => {} // closed, no CONNACK
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[tokio::test]
async fn a_wrong_or_missing_login_is_refused() {
    let running = Running::start().await;
    let addr = running.broker.addr;

    let (_c, events) = client("intruder", addr, "not the password");
    assert_refused(events).await;
    let mut anonymous = MqttOptions::new("anonymous", addr.ip().to_string(), addr.port());
    anonymous.set_keep_alive(Duration::from_secs(5));
    let (_c, events) = AsyncClient::new(anonymous, 10);
    assert_refused(events).await;

    // The right login still gets in.
    let (_c, mut events) = client("display", addr, PASSWORD);
    assert_eq!(
        until(&mut events, connack).await,
        ConnectReturnCode::Success
    );

    running.stop().await;
}

#[tokio::test]
async fn a_publish_above_the_payload_limit_drops_its_client() {
    let running = Running::start().await;
    let (publisher, mut events) = client("feed", running.broker.addr, PASSWORD);
    assert_eq!(
        until(&mut events, connack).await,
        ConnectReturnCode::Success
    );
    // The limit is 4096 bytes (see `config`).
    publisher
        .publish(
            "sitegate/v1/s1/big",
            QoS::AtLeastOnce,
            false,
            vec![b'x'; 5000],
        )
        .await
        .unwrap();
    let dropped = tokio::time::timeout(WAIT, async {
        loop {
            match events.poll().await {
                Err(_) => return true,
                Ok(Event::Incoming(Packet::PubAck(_))) => return false,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the broker answers");
    assert!(
        dropped,
        "the oversized message was refused, not acknowledged"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_client_beyond_max_connections_is_refused() {
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let cfg = BrokerConfig {
        max_connections: 1,
        ..config(free_port())
    };
    let broker = EmbeddedBroker::start(&cfg, cancel.clone(), &tracker)
        .await
        .unwrap();
    let (_first, mut events) = client("first", broker.addr, PASSWORD);
    assert_eq!(
        until(&mut events, connack).await,
        ConnectReturnCode::Success
    );
    let (_second, events) = client("second", broker.addr, PASSWORD);
    assert_refused(events).await;
    cancel.cancel();
    tracker.close();
    tokio::time::timeout(WAIT, tracker.wait()).await.unwrap();
}

#[tokio::test]
async fn a_cancel_closes_the_port_and_drops_connected_clients() {
    let running = Running::start().await;
    let (_c, mut events) = client("display", running.broker.addr, PASSWORD);
    assert_eq!(
        until(&mut events, connack).await,
        ConnectReturnCode::Success
    );

    let addr = running.stop().await;
    // The server task has ended, so its listener is closed...
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing accepts on {addr} after the stop"
    );
    // ...and the connection of a client that was connected is closed too.
    let dropped = tokio::time::timeout(WAIT, async {
        loop {
            if events.poll().await.is_err() {
                return;
            }
        }
    })
    .await;
    assert!(dropped.is_ok(), "the connected client was disconnected");
}

#[tokio::test]
async fn port_zero_and_a_taken_port_are_errors() {
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let zero = config("127.0.0.1:0".parse().unwrap());
    assert!(matches!(
        EmbeddedBroker::start(&zero, cancel.clone(), &tracker).await,
        Err(BrokerError::PortZero(_))
    ));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = config(taken.local_addr().unwrap());
    let err = EmbeddedBroker::start(&cfg, cancel.clone(), &tracker)
        .await
        .expect_err("the port is taken");
    assert!(matches!(err, BrokerError::Bind { .. }), "{err}");
    assert!(tracker.is_empty(), "nothing was left running");
}
