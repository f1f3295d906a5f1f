//! Where log records go: the systemd journal when the daemon runs under systemd (structured
//! fields such as SOCKET and BUS travel as journal fields), readable lines on stderr otherwise.
//! The level comes from the config, and `RUST_LOG` (env_logger syntax; a `/filter` suffix is plain text,
//! not a regular expression) overrides it. Every
//! line that passes the filter is also kept in `ring` (the last lines, for the system page).

pub mod ring;

pub use ring::ring;

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

/// Installs the logger once, at start. Later calls are ignored.
pub fn init(level: LevelFilter) {
    let filter = build_filter(level);
    let max = filter.filter();
    if systemd_journal_logger::connected_to_journal()
        && let Ok(journal) = systemd_journal_logger::JournalLog::new()
    {
        let journal = journal.with_syslog_identifier("sitegate".to_string());
        if log::set_boxed_logger(Box::new(Filtered {
            filter,
            inner: journal,
        }))
        .is_ok()
        {
            log::set_max_level(max);
        }
        return;
    }
    if log::set_boxed_logger(Box::new(Filtered {
        filter,
        inner: Stderr,
    }))
    .is_ok()
    {
        log::set_max_level(max);
    }
}

fn build_filter(level: LevelFilter) -> env_filter::Filter {
    let mut builder = env_filter::Builder::new();
    builder.filter_level(level);
    // Libraries speak at their own levels; only their warnings interest an operator.
    builder.filter_module("tokio_modbus", LevelFilter::Warn.min(level));
    // rumqttd (the embedded broker) logs through `tracing`, whose `log` feature (on, and no
    // tracing subscriber installed) turns its events into `log` records: INFO per connection,
    // ERROR per connection's span, refused login or early close. None of it concerns an
    // operator; `broker` logs its start, stop and failure itself. `tracing::span` carries span
    // lifecycle records (INFO and TRACE).
    builder.filter_module("rumqttd", LevelFilter::Off);
    builder.filter_module("tracing::span", LevelFilter::Off);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse(&spec);
    }
    builder.build()
}

struct Filtered<L> {
    filter: env_filter::Filter,
    inner: L,
}

impl<L: Log> Log for Filtered<L> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if self.filter.matches(record) {
            self.inner.log(record);
            ring().push(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// `LEVEL message` on stderr; the journal adds time and unit itself, a terminal user does not
/// need them.
struct Stderr;

impl Log for Stderr {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let _ = writeln!(
            std::io::stderr().lock(),
            "{:<5} {}",
            record.level(),
            record.args()
        );
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled(filter: &env_filter::Filter, target: &str, level: log::Level) -> bool {
        filter.enabled(&Metadata::builder().target(target).level(level).build())
    }

    #[test]
    fn library_chatter_is_filtered_even_at_trace() {
        // RUST_LOG, when a developer sets it, may say otherwise on purpose.
        if std::env::var_os("RUST_LOG").is_some() {
            return;
        }
        let filter = build_filter(LevelFilter::Trace);
        assert!(!enabled(
            &filter,
            "rumqttd::server::broker",
            log::Level::Error
        ));
        assert!(!enabled(
            &filter,
            "rumqttd::router::routing",
            log::Level::Error
        ));
        assert!(!enabled(&filter, "tracing::span", log::Level::Info));
        assert!(!enabled(&filter, "tokio_modbus::client", log::Level::Info));
        assert!(enabled(&filter, "tokio_modbus::client", log::Level::Warn));
        assert!(enabled(&filter, "sitegate::broker", log::Level::Trace));
    }
}
