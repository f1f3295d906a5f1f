//! The exposition `/metrics` serves: Prometheus's text format 0.0.4 (families with HELP and
//! TYPE, escaped label values, cumulative histograms), from the bus owners' atomic counters,
//! the live snapshot and one read-only query.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use crate::modbus::stats::{BusStats, LATENCY_BUCKETS_MS};
use crate::web::state::AppState;

/// Every state a socket can be in (one gauge each, 1 for the current one).
const STATES: [&str; 7] = [
    "NotConnected",
    "Available",
    "Occupied",
    "Charging",
    "SuspendedEV",
    "Faulted",
    "Disabled",
];

/// The text exposition being written: families with HELP and TYPE, then their samples.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// Label values escape backslash, double quote and line feed (the format's rule).
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Each bus owner's families, by its label.
fn bus_families(out: &mut Exposition, buses: &[(&str, &BusStats)]) {
    let h = "sitegate_bus_poll_duration_seconds";
    out.family(
        h,
        "histogram",
        "Time to poll one device (all its reads, retries included).",
    );
    for &(bus, st) in buses {
        let mut cumulative = 0u64;
        for (i, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
            cumulative += st.latency[i].load(Relaxed);
            let le = format!("{}", *bound as f64 / 1000.0);
            out.sample(
                &format!("{h}_bucket"),
                &[("bus", bus), ("le", &le)],
                cumulative,
            );
        }
        cumulative += st.latency[LATENCY_BUCKETS_MS.len()].load(Relaxed);
        out.sample(
            &format!("{h}_bucket"),
            &[("bus", bus), ("le", "+Inf")],
            cumulative,
        );
        let sum = st.latency_sum_us.load(Relaxed) as f64 / 1e6;
        out.sample(&format!("{h}_sum"), &[("bus", bus)], sum);
        out.sample(&format!("{h}_count"), &[("bus", bus)], cumulative);
    }
    out.family(
        "sitegate_bus_polls_total",
        "counter",
        "Device polls started.",
    );
    for &(bus, st) in buses {
        out.sample(
            "sitegate_bus_polls_total",
            &[("bus", bus)],
            st.polls.load(Relaxed),
        );
    }
    out.family(
        "sitegate_bus_errors_total",
        "counter",
        "Failed Modbus requests by kind.",
    );
    for &(bus, st) in buses {
        for (kind, counter) in [
            ("timeout", &st.timeouts),
            ("framing", &st.framing_errors),
            ("exception", &st.exceptions),
            ("io", &st.io_errors),
            ("write", &st.write_failures),
        ] {
            out.sample(
                "sitegate_bus_errors_total",
                &[("bus", bus), ("kind", kind)],
                counter.load(Relaxed),
            );
        }
    }
    out.family(
        "sitegate_bus_reconnects_total",
        "counter",
        "Links reopened after an error.",
    );
    for &(bus, st) in buses {
        out.sample(
            "sitegate_bus_reconnects_total",
            &[("bus", bus)],
            st.reconnects.load(Relaxed),
        );
    }
}

/// What the database says: outbox depth and its oldest event's time.
struct Stored {
    database_bytes: i64,
    outbox_events: u64,
    oldest_event_ms: Option<i64>,
}

/// The whole exposition.
pub async fn render(app: &AppState) -> Result<String, crate::web::state::DbError> {
    let stored = app
        .read(|conn| {
            let page_count: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let (outbox_events, oldest_event_ms) =
                crate::store::outbox::depth(conn, crate::store::outbox::Stream::Events)?;
            Ok(Stored {
                database_bytes: page_count * page_size,
                outbox_events,
                oldest_event_ms,
            })
        })
        .await?;
    let now_ms = app.inner.clock.now().wall_ms;
    let age = |ms: i64| (now_ms - ms).max(0) as f64 / 1000.0;
    let mut out = Exposition(String::with_capacity(8 * 1024));

    out.family(
        "sitegate_build_info",
        "gauge",
        "The running version (value 1).",
    );
    out.sample(
        "sitegate_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );
    out.family(
        "sitegate_uptime_seconds",
        "gauge",
        "Seconds since the web server started with the daemon.",
    );
    out.sample(
        "sitegate_uptime_seconds",
        &[],
        app.inner.started.elapsed().as_secs(),
    );

    let buses: Vec<(&str, &BusStats)> = app
        .inner
        .installer_tools
        .buses
        .iter()
        .map(|b| (b.label.as_str(), &*b.stats))
        .collect();
    bus_families(&mut out, &buses);

    let sockets = app.inner.sockets.borrow().clone();
    out.family(
        "sitegate_socket_state",
        "gauge",
        "1 for the state each socket is in, 0 for the others.",
    );
    for s in &sockets {
        let current = s.view.state.name();
        for state in STATES {
            out.sample(
                "sitegate_socket_state",
                &[("socket", &s.id), ("state", state)],
                u8::from(current == state),
            );
        }
    }
    out.family(
        "sitegate_sessions_active",
        "gauge",
        "Charging sessions running now.",
    );
    out.sample(
        "sitegate_sessions_active",
        &[],
        sockets.iter().filter(|s| s.view.session.is_some()).count(),
    );

    out.family(
        "sitegate_outbox_events",
        "gauge",
        "Events central has not acknowledged yet.",
    );
    out.sample("sitegate_outbox_events", &[], stored.outbox_events);
    out.family(
        "sitegate_outbox_oldest_event_age_seconds",
        "gauge",
        "Age of the oldest unacknowledged event (0 when none waits).",
    );
    out.sample(
        "sitegate_outbox_oldest_event_age_seconds",
        &[],
        stored.oldest_event_ms.map_or(0.0, age),
    );

    let uplink = app.inner.uplink.as_ref().map(|u| u.borrow().clone());
    out.family(
        "sitegate_uplink_connected",
        "gauge",
        "1 while the link to central is up (0 too without an uplink).",
    );
    out.sample(
        "sitegate_uplink_connected",
        &[],
        u8::from(uplink.as_ref().is_some_and(|u| u.connected)),
    );
    out.family(
        "sitegate_uplink_last_sync_age_seconds",
        "gauge",
        "Seconds since the last message from central (absent before the first).",
    );
    if let Some(ms) = uplink.as_ref().and_then(|u| u.last_sync_ms) {
        out.sample("sitegate_uplink_last_sync_age_seconds", &[], age(ms));
    }

    out.family(
        "sitegate_password_checks_refused_total",
        "counter",
        "Sign-ins and password changes answered busy (too many password hashes at once).",
    );
    out.sample(
        "sitegate_password_checks_refused_total",
        &[],
        app.inner.hashing.refused(),
    );

    let db = app.db_path();
    out.family(
        "sitegate_database_bytes",
        "gauge",
        "Size of the database file's pages and of its write-ahead log.",
    );
    out.sample(
        "sitegate_database_bytes",
        &[("file", "main")],
        stored.database_bytes,
    );
    out.sample(
        "sitegate_database_bytes",
        &[("file", "wal")],
        crate::web::system::view::wal_bytes(db),
    );
    if let Some(disk) = db.parent().and_then(crate::web::system::view::disk_usage) {
        out.family(
            "sitegate_disk_free_bytes",
            "gauge",
            "Free bytes on the state directory's filesystem.",
        );
        out.sample("sitegate_disk_free_bytes", &[], disk.free_bytes);
        out.family(
            "sitegate_disk_total_bytes",
            "gauge",
            "Size of the state directory's filesystem.",
        );
        out.sample("sitegate_disk_total_bytes", &[], disk.total_bytes);
    }
    Ok(out.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_histograms_are_cumulative() {
        let mut out = Exposition(String::new());
        out.sample("m", &[("bus", "a\"b\\c\nd")], 1);
        assert_eq!(out.0, "m{bus=\"a\\\"b\\\\c\\nd\"} 1\n");
        let st = std::sync::Arc::new(BusStats::new(0));
        st.record_latency(std::time::Duration::from_millis(3));
        st.record_latency(std::time::Duration::from_millis(30));
        st.record_latency(std::time::Duration::from_secs(9));
        let mut out = Exposition(String::new());
        bus_families(&mut out, &[("rtu", &st)]);
        assert!(out.0.contains("bucket{bus=\"rtu\",le=\"0.005\"} 1\n"));
        assert!(out.0.contains("bucket{bus=\"rtu\",le=\"0.05\"} 2\n"));
        assert!(out.0.contains("bucket{bus=\"rtu\",le=\"5\"} 2\n"));
        assert!(out.0.contains("bucket{bus=\"rtu\",le=\"+Inf\"} 3\n"));
        assert!(out.0.contains("_count{bus=\"rtu\"} 3\n"));
    }
}
