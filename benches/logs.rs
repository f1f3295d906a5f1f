//! Steady-state log volume (issue 7; figures in BENCHMARKS.md): `cargo bench --bench logs`.
//! The real daemon polls 12 simulated sockets over Modbus TCP every second; a counting logger
//! (info and above, as the journal gets them by default) is installed in place of journald.
//! First a quiet phase with nothing plugged in, then the simulator's scenario plugs vehicles in
//! and out (a busier day than most sites have) for `LOGS_BENCH_MINUTES` minutes (default 5).
//! Prints lines per socket per minute for each phase and the commonest lines (target: at most
//! 1 on average).

#[path = "common/site.rs"]
mod sim_site;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

const SOCKETS: u8 = 12;
const QUIET: Duration = Duration::from_secs(60);

struct Counter {
    lines: Mutex<HashMap<String, u64>>,
}

impl log::Log for Counter {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Lines are grouped by their text with digits blanked: one key per kind of line.
        let text: String = format!("{} {}", record.level(), record.args())
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .take(90)
            .collect();
        *self.lines.lock().unwrap().entry(text).or_default() += 1;
    }

    fn flush(&self) {}
}

static COUNTER: std::sync::OnceLock<&'static Counter> = std::sync::OnceLock::new();

fn take() -> HashMap<String, u64> {
    std::mem::take(&mut *COUNTER.get().unwrap().lines.lock().unwrap())
}

fn report(phase: &str, lines: &HashMap<String, u64>, for_: Duration) {
    let total: u64 = lines.values().sum();
    let minutes = for_.as_secs_f64() / 60.0;
    println!(
        "{phase}: {total} lines in {minutes:.1} min for {SOCKETS} sockets: {:.3} lines per socket per minute",
        total as f64 / SOCKETS as f64 / minutes
    );
    let mut top: Vec<_> = lines.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1));
    for (text, n) in top.into_iter().take(8) {
        println!("  {n:6}  {text}");
    }
}

fn main() {
    let counter: &'static Counter = Box::leak(Box::new(Counter {
        lines: Mutex::new(HashMap::new()),
    }));
    COUNTER.set(counter).ok();
    log::set_logger(counter).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    let busy_for = Duration::from_secs(
        std::env::var("LOGS_BENCH_MINUTES")
            .ok()
            .and_then(|m| m.parse::<u64>().ok())
            .unwrap_or(5)
            * 60,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (sim, config) = sim_site::start(
            dir.path(),
            SOCKETS,
            Duration::from_secs(1),
            "enabled = false",
        )
        .await;
        let daemon = sitegate::app::daemon::Daemon::start(&config).unwrap();
        // Start-up lines are not the steady state.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let startup = take();
        println!("start-up: {} lines", startup.values().sum::<u64>());
        tokio::time::sleep(QUIET).await;
        report("quiet (nothing plugged in)", &take(), QUIET);
        sim.run_scenario(3);
        tokio::time::sleep(busy_for).await;
        report(
            "busy (the scenario plugs vehicles in and out)",
            &take(),
            busy_for,
        );
        daemon.shutdown(Duration::from_secs(10)).await;
        sim.shutdown().await;
    });
}
