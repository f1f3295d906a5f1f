//! Telemetry as a subscriber of the broker sees it: one message per sample read, stamped with
//! when its registers were read, never repeated, and nothing from a socket that stopped
//! answering.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde_json::Value;
use socket_sim::{Command, Model, UnitSpec};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::support::mqtt::{Mosquitto, MosquittoOpts, Published, subscribe};
use crate::support::*;

const WAIT: Duration = Duration::from_secs(30);

/// The next message that `want` accepts, within `WAIT`; the ones before it are kept in `log`.
async fn next_where(
    rx: &mut UnboundedReceiver<Published>,
    log: &mut Vec<Published>,
    what: &str,
    want: impl Fn(&Published) -> bool,
) -> Published {
    let found = tokio::time::timeout(WAIT, async {
        while let Some(seen) = rx.recv().await {
            if want(&seen) {
                return Some(seen);
            }
            log.push(seen);
        }
        None
    })
    .await;
    match found {
        Ok(Some(seen)) => seen,
        _ => panic!("no {what} within {WAIT:?}"),
    }
}

fn is_telemetry(p: &Published) -> bool {
    p.topic.ends_with("/telemetry")
}

fn read_ms(seen: &Published) -> i64 {
    let at = seen.json["at"].as_str().expect("telemetry has `at`");
    chrono::DateTime::parse_from_rfc3339(at)
        .expect("`at` is RFC 3339")
        .timestamp_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sample_is_published_once_stamped_when_read_and_a_silent_socket_publishes_none() {
    let broker = Mosquitto::start(MosquittoOpts::default()).await;
    let (mut rx, watcher) =
        subscribe(broker.port(), "watcher", "sitegate/v1/test/sockets/s/#").await;
    let sim = sim(false);
    let addr = tcp(&sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let tables = tcp_bus("gw", addr, "request_timeout = \"200ms\"\ndead_after = 2")
        + &socket("s", "gw", 1, "generic-socket", "poll_interval = \"1s\"")
        + &format!(
            "[uplink]\nhost = \"127.0.0.1\"\nport = {}\ntls = false\ntelemetry_interval = \"1s\"\n",
            broker.port()
        );
    let site = tokio::task::spawn_blocking(move || Site::start(sim, &tables))
        .await
        .unwrap();
    let device = site.daemon().bus_stats[0].1.clone();
    let polls = || device.devices[0].polls.load(Relaxed);
    let mut log = Vec::new();

    // Every poll from the first sample on gives exactly one sample: none skipped, none twice.
    let first = next_where(&mut rx, &mut log, "telemetry", is_telemetry).await;
    let polls_before = polls();
    let mut samples = vec![first];
    while samples.len() < 6 {
        samples.push(next_where(&mut rx, &mut log, "telemetry", is_telemetry).await);
    }
    let polled = polls() - polls_before;
    while (samples.len() as u64) <= polled {
        samples.push(next_where(&mut rx, &mut log, "telemetry", is_telemetry).await);
    }
    let times: Vec<i64> = samples.iter().map(read_ms).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "each sample once, in the order read: {times:?}"
    );
    for s in &samples {
        assert!(
            read_ms(s) <= s.arrived_ms,
            "stamped when read, before it arrived: {} > {}",
            read_ms(s),
            s.arrived_ms
        );
        assert_eq!(s.json["socket"], "s");
        assert!(s.json["meter_wh"].is_number(), "{}", s.json);
    }

    // The unit stops answering: its state says so, and no reading follows while it is silent
    // (two more failed polls: the dead unit's retries, a second and two apart).
    site.sim
        .control("gw", 1, Command::Silence { count: None })
        .unwrap();
    site.wait_state("s", "NotConnected").await;
    next_where(&mut rx, &mut log, "the NotConnected state", |s| {
        !is_telemetry(s) && s.json["state"] == "NotConnected"
    })
    .await;
    let failures = || device.devices[0].failures.load(Relaxed);
    let failed = failures();
    site.wait_until("two more failed polls", |_| failures() >= failed + 2)
        .await;
    site.sim
        .control("gw", 1, Command::ClearFaultsInjected)
        .unwrap();
    let mut silent = Vec::new();
    next_where(
        &mut rx,
        &mut silent,
        "the state once it answers again",
        |s| !is_telemetry(s) && s.json["state"] != "NotConnected",
    )
    .await;
    let readings: Vec<&Value> = silent
        .iter()
        .filter(|s| is_telemetry(s))
        .map(|s| &s.json)
        .collect();
    assert!(
        readings.is_empty(),
        "no telemetry while the socket does not answer: {readings:?}"
    );
    next_where(&mut rx, &mut log, "telemetry once it answers again", |s| {
        is_telemetry(s)
    })
    .await;
    site.stop().await;
    watcher.abort();
}
