//! Badge readers over real PTYs: the simulator presents badges, the reader task delivers
//! normalised tokens. Waits are for the reader's counters, never for a fixed time.

use std::sync::Arc;

use sitegate::readers::{
    AsciiFormat, BadgeRead, Protocol, Reader, ReaderConfig, ReaderCounters, ReaderStats,
};
use socket_sim::{ReaderCommand, ReaderProtocol, Sim};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::support::{self, PATIENCE};

struct Bench {
    sim: Sim,
    rx: mpsc::Receiver<BadgeRead>,
    counters: Arc<ReaderCounters>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn bench(sim_protocol: ReaderProtocol, protocol: Protocol) -> Bench {
    let sim = support::sim(true);
    let path = sim
        .serve_reader_pty("r1", sim_protocol)
        .expect("reader pty");
    let (tx, rx) = mpsc::channel(8);
    let reader = Reader::new(3, ReaderConfig::new("entrance", path, protocol), tx);
    let counters = reader.counters();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(reader.run(cancel.clone()));
    wait(&counters, "the port to open", |s| s.open).await;
    Bench {
        sim,
        rx,
        counters,
        cancel,
        task,
    }
}

/// Waits until the counters satisfy `check`; fails with the last ones.
async fn wait(counters: &ReaderCounters, what: &str, check: impl Fn(&ReaderStats) -> bool) {
    let mut rx = counters.subscribe();
    let outcome = tokio::time::timeout(PATIENCE, async {
        loop {
            if check(&counters.snapshot()) {
                return;
            }
            rx.changed().await.expect("reader counters alive");
        }
    })
    .await;
    if outcome.is_err() {
        panic!("gave up waiting for {what}: {:?}", counters.snapshot());
    }
}

impl Bench {
    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.expect("reader task");
        self.sim.shutdown().await;
    }
}

#[tokio::test]
async fn an_rdm6300_badge_held_in_the_field_is_delivered_once() {
    let mut b = bench(ReaderProtocol::Rdm6300, Protocol::Rdm6300).await;
    b.sim
        .control_reader(
            "r1",
            ReaderCommand::Badge {
                uid: "0102a1b2c3".into(),
                hold_ms: 500,
            },
        )
        .unwrap();
    let read = tokio::time::timeout(PATIENCE, b.rx.recv())
        .await
        .expect("a badge read")
        .expect("reader running");
    assert_eq!(read.reader, 3);
    assert_eq!(read.token.expose(), "0102A1B2C3");

    // Commands go out in order: once the bad frame is counted, all five repeats are in.
    b.sim
        .control_reader(
            "r1",
            ReaderCommand::BadChecksum {
                uid: "0102A1B2C3".into(),
            },
        )
        .unwrap();
    wait(&b.counters, "the bad frame", |s| s.bad_frames == 1).await;
    let stats = b.counters.snapshot();
    assert_eq!((stats.frames, stats.dropped), (5, 0));
    assert!(
        b.rx.try_recv().is_err(),
        "a repeat or a bad frame was delivered"
    );
    b.stop().await;
}

#[tokio::test]
async fn an_ascii_line_reader_delivers_hex_uids_normalised() {
    let mut b = bench(
        ReaderProtocol::Ascii,
        Protocol::AsciiLine {
            format: AsciiFormat::Hex,
        },
    )
    .await;
    // Noise at power-up spoils the first line; the reader is in step again for the next.
    for cmd in [
        ReaderCommand::Garbage { bytes: 7 },
        ReaderCommand::Badge {
            uid: "04:a1:b2:c3".into(),
            hold_ms: 0,
        },
        ReaderCommand::Badge {
            uid: "04 a1 B2 C3".into(),
            hold_ms: 0,
        },
    ] {
        b.sim.control_reader("r1", cmd).unwrap();
    }
    let read = tokio::time::timeout(PATIENCE, b.rx.recv())
        .await
        .expect("a badge read")
        .expect("reader running");
    assert_eq!(read.token.expose(), "04A1B2C3");
    assert!(!format!("{read:?}").contains("04A1B2C3"));
    let stats = b.counters.snapshot();
    assert_eq!((stats.frames, stats.bad_frames), (1, 1));
    b.stop().await;
}
