//! The MQTT test infrastructure works: rumqttc reaches Mosquitto in plain TCP, TLS (verifying
//! the test CA), mutual TLS (refused without a client certificate), with a password, and through
//! `SilentProxy`, which loses what is sent while it is silent.

use std::time::Duration;

use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS};

use crate::support::PATIENCE;
use crate::support::mqtt::{Mosquitto, MosquittoOpts, Pki, SilentProxy, Tls};

fn options(id: &str, host: &str, port: u16) -> MqttOptions {
    let mut o = MqttOptions::new(id, host, port);
    o.set_keep_alive(Duration::from_secs(5));
    o
}

/// Polls until the broker accepted the connection.
async fn connected(ev: &mut EventLoop) -> Result<(), ConnectionError> {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Event::Incoming(Packet::ConnAck(_)) = ev.poll().await? {
                return Ok(());
            }
        }
    })
    .await
    .expect("neither connected nor refused in time")
}

/// A client subscribed to `t/#`, its event loop driven in a task; received payloads arrive on
/// the returned channel.
async fn subscriber(
    opts: MqttOptions,
) -> (
    AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    tokio::task::JoinHandle<()>,
) {
    let (client, mut ev) = AsyncClient::new(opts, 16);
    connected(&mut ev).await.unwrap();
    client.subscribe("t/#", QoS::AtLeastOnce).await.unwrap();
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = ev.poll().await.unwrap() {
            break;
        }
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok(e) = ev.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = e {
                let _ = tx.send(p.payload.to_vec());
            }
        }
    });
    (client, rx, task)
}

/// A client that connects, then keeps polling in a task.
async fn publisher(opts: MqttOptions) -> (AsyncClient, tokio::task::JoinHandle<()>) {
    let (client, mut ev) = AsyncClient::new(opts, 16);
    connected(&mut ev).await.unwrap();
    let task = tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    (client, task)
}

async fn round_trip(opts: MqttOptions) {
    let (client, mut rx, task) = subscriber(opts).await;
    client
        .publish("t/x", QoS::AtLeastOnce, false, "hello")
        .await
        .unwrap();
    let got = tokio::time::timeout(PATIENCE, rx.recv()).await.unwrap();
    assert_eq!(got.as_deref(), Some(&b"hello"[..]));
    task.abort();
}

#[tokio::test]
async fn plain_broker_survives_kill_and_restart_on_the_same_port() {
    let mut broker = Mosquitto::start(MosquittoOpts::default()).await;
    round_trip(options("plain-1", "127.0.0.1", broker.port())).await;
    let port = broker.port();
    broker.kill();
    let (_c, mut ev) = AsyncClient::new(options("plain-2", "127.0.0.1", port), 16);
    assert!(connected(&mut ev).await.is_err(), "a killed broker refuses");
    broker.restart().await;
    assert_eq!(broker.port(), port);
    round_trip(options("plain-3", "127.0.0.1", port)).await;
}

#[tokio::test]
async fn tls_verifies_the_broker_against_the_ca() {
    let broker = Mosquitto::start(MosquittoOpts {
        tls: Tls::Server,
        ..Default::default()
    })
    .await;
    let mut o = options("tls-1", "localhost", broker.port());
    o.set_transport(broker.pki().transport(false));
    round_trip(o).await;
    // Another CA does not vouch for this broker.
    let mut o = options("tls-2", "localhost", broker.port());
    o.set_transport(Pki::generate().transport(false));
    let (_c, mut ev) = AsyncClient::new(o, 16);
    assert!(connected(&mut ev).await.is_err());
    // Plain TCP to a TLS listener gets nowhere.
    let (_c, mut ev) = AsyncClient::new(options("tls-3", "127.0.0.1", broker.port()), 16);
    assert!(connected(&mut ev).await.is_err());
}

#[tokio::test]
async fn mutual_tls_needs_a_client_certificate() {
    let broker = Mosquitto::start(MosquittoOpts {
        tls: Tls::Mutual,
        ..Default::default()
    })
    .await;
    let mut o = options("mtls-1", "localhost", broker.port());
    o.set_transport(broker.pki().transport(true));
    round_trip(o).await;
    let mut o = options("mtls-2", "localhost", broker.port());
    o.set_transport(broker.pki().transport(false));
    let (_c, mut ev) = AsyncClient::new(o, 16);
    assert!(
        connected(&mut ev).await.is_err(),
        "refused without a client certificate"
    );
}

#[tokio::test]
async fn a_password_file_refuses_strangers() {
    let broker = Mosquitto::start(MosquittoOpts {
        password: Some(("site".into(), "s3cret".into())),
        ..Default::default()
    })
    .await;
    let mut o = options("pw-1", "127.0.0.1", broker.port());
    o.set_credentials("site", "s3cret");
    round_trip(o).await;
    for creds in [Some("wrong"), None] {
        let mut o = options("pw-2", "127.0.0.1", broker.port());
        if let Some(p) = creds {
            o.set_credentials("site", p);
        }
        let (_c, mut ev) = AsyncClient::new(o, 16);
        assert!(connected(&mut ev).await.is_err(), "{creds:?}");
    }
}

#[tokio::test]
async fn a_silent_proxy_loses_what_is_sent_until_it_resumes() {
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    let proxy = SilentProxy::start(broker.addr()).await;
    // The subscriber is connected directly: it sees what reaches the broker.
    let (_sub, mut rx, sub_task) = subscriber(options("watcher", "127.0.0.1", broker.port())).await;
    let (client, pub_task) = publisher(options("site", "127.0.0.1", proxy.addr().port())).await;
    assert_eq!(proxy.accepted(), 1);

    client
        .publish("t/a", QoS::AtMostOnce, false, "1")
        .await
        .unwrap();
    let got = tokio::time::timeout(PATIENCE, rx.recv()).await.unwrap();
    assert_eq!(got.as_deref(), Some(&b"1"[..]));

    proxy.go_silent();
    client
        .publish("t/a", QoS::AtMostOnce, false, "2")
        .await
        .unwrap();
    // Nothing to wait for but time: the publish must not arrive within a second.
    let lost = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
    assert!(lost.is_err(), "delivered while silent: {lost:?}");

    proxy.resume();
    client
        .publish("t/a", QoS::AtMostOnce, false, "3")
        .await
        .unwrap();
    let got = tokio::time::timeout(PATIENCE, rx.recv()).await.unwrap();
    assert_eq!(got.as_deref(), Some(&b"3"[..]), "the silent one is lost");

    // Cut: the client's connection closes and it connects again, through the proxy.
    proxy.cut();
    pub_task.abort();
    let (client, mut ev) = AsyncClient::new(options("site", "127.0.0.1", proxy.addr().port()), 16);
    connected(&mut ev).await.unwrap();
    assert_eq!(proxy.accepted(), 2);
    client
        .publish("t/a", QoS::AtMostOnce, false, "4")
        .await
        .unwrap();
    let pub_task = tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    let got = tokio::time::timeout(PATIENCE, rx.recv()).await.unwrap();
    assert_eq!(got.as_deref(), Some(&b"4"[..]));
    pub_task.abort();
    sub_task.abort();
}

#[tokio::test]
async fn holding_delivers_late_what_was_sent_while_silent() {
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    let proxy = SilentProxy::start(broker.addr()).await;
    let (_sub, mut rx, sub_task) = subscriber(options("watcher", "127.0.0.1", broker.port())).await;
    let (client, pub_task) = publisher(options("site", "127.0.0.1", proxy.addr().port())).await;
    proxy.go_silent_holding();
    client
        .publish("t/a", QoS::AtMostOnce, false, "held")
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
    assert!(early.is_err(), "delivered while holding: {early:?}");
    proxy.resume();
    let got = tokio::time::timeout(PATIENCE, rx.recv()).await.unwrap();
    assert_eq!(got.as_deref(), Some(&b"held"[..]));
    pub_task.abort();
    sub_task.abort();
}

#[tokio::test]
async fn a_cut_connection_is_seen_by_the_client() {
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    let proxy = SilentProxy::start(broker.addr()).await;
    let (_client, mut ev) = AsyncClient::new(options("site", "127.0.0.1", proxy.addr().port()), 16);
    connected(&mut ev).await.unwrap();
    proxy.cut();
    let r = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Err(e) = ev.poll().await {
                return e;
            }
        }
    })
    .await;
    assert!(r.is_ok(), "the client noticed the cut");
}
