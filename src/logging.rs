//! Where log records go: the systemd journal when the daemon runs under systemd (structured
//! fields such as SOCKET and BUS travel as journal fields), readable lines on stderr otherwise.
//! The level comes from the config, and `RUST_LOG` (env_logger syntax) overrides it.

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
