//! The `sitegate` command: the daemon and the installer's tools.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sitegate::config::{self, EXIT_INVALID_CONFIG};
use sitegate::profile::ProfileSet;

/// Blocks of at least this size are mapped for themselves and unmapped when freed.
const MMAP_THRESHOLD: i32 = 1 << 20;

/// Freed large blocks go back to the system. glibc maps blocks from 128 KiB up, but the first
/// time such a block is freed it raises that threshold to the block's size (up to 32 MiB): from
/// then on argon2id's 19 MiB of working memory (each sign-in, `web::auth::hashing`) came from
/// the heap and stayed in the process (16 MB of RSS became 39 MB after one sign-in, and 16
/// simultaneous sign-ins left 334 MB). Setting the threshold turns that adjustment off, once,
/// for every thread's arena. 1 MiB: the hash's block, exports' and backups' buffers are
/// mapped; a connection's buffers (TLS records of 16 KiB, hyper's) stay on the heap, so no
/// request pays a map and an unmap. Chosen over `malloc_trim` after each hash (it walks every
/// arena, each time, and the threshold would still grow) and over hashing into a block of our
/// own (the same allocator underneath); other allocators would add a dependency for what one
/// setting does.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks_when_freed() {
    // SAFETY: `mallopt` only changes the allocator's tuning: it takes no pointer and has no
    // precondition; it runs first in `main`, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_blocks_when_freed() {}

/// Grace period for shutdown: the inputs stop, the core drains, the uplink says goodbye. Below
/// systemd's TimeoutStopSec.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Parser)]
#[command(
    name = "sitegate",
    version,
    about = "Site gateway for EV-charging sockets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Run {
        #[arg(long, default_value = "/etc/sitegate/sitegate.toml")]
        config: PathBuf,
    },
    /// A whole simulated site (TCP and RTU sockets) polled by the real daemon, with a live table.
    /// Only in builds with the `demo` feature (the default; not the Debian package).
    #[cfg(feature = "demo")]
    Demo {
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
        /// Seed of the scenario loop.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Check a configuration file: every problem with its key path; exit code 64 when invalid.
    CheckConfig { path: PathBuf },
    /// Installer's Modbus tools; they open the bus themselves (stop the daemon first if it
    /// holds a serial port).
    Modbus {
        #[command(subcommand)]
        tool: ModbusTool,
    },
    /// Reports for managers as CSV or XLSX: consumption, monthly expense notes, a user's
    /// statement. Reads the database read-only; works while the daemon runs.
    Export(sitegate::cli::export::ExportArgs),
    /// Tariffs: quote a session's cost from JSON files (tariff, promotion, session) with the
    /// daemon's own pricing code.
    Tariff(sitegate::cli::tariff::TariffArgs),
    /// Local accounts of the web page: add one (password on standard input's first line) or
    /// list them. Works while the daemon runs. Exit code 65 when refused.
    Account {
        #[command(subcommand)]
        command: sitegate::web::auth::cli::AccountCommand,
    },
    /// Copy the database while the daemon runs (SQLite's online backup: one consistent
    /// snapshot, WAL included) to a file, or into a directory as
    /// `sitegate-<site>-<UTC time>.sqlite3`.
    Backup(sitegate::cli::backup::BackupArgs),
    /// Replace the database with a backup, the daemon stopped (refused while the database is
    /// in use, or for a file that is not a sound sitegate database); the replaced one is kept
    /// as `<db>.before-restore`. Exit codes: 65 refused file, 75 database in use.
    Restore(sitegate::cli::backup::RestoreArgs),
}

#[derive(Subcommand)]
enum ModbusTool {
    /// Which unit ids answer, and which profile they look like.
    Scan {
        #[command(flatten)]
        bus: BusArgs,
        /// Unit ids to probe, e.g. 1-247 or 5.
        #[arg(long, default_value = "1-247", value_parser = parse_units)]
        units: std::ops::RangeInclusive<u8>,
    },
    /// Every register of a profile decoded with its unit, the socket points and state.
    Read {
        #[command(flatten)]
        bus: BusArgs,
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Switch a socket on or off, or set its current, and read it back.
    Write {
        #[command(flatten)]
        bus: BusArgs,
        #[command(flatten)]
        device: DeviceArgs,
        /// Switch on (relay closed / EVSE enabled).
        #[arg(long, conflicts_with_all = ["disable", "setpoint"])]
        enable: bool,
        /// Switch off.
        #[arg(long, conflicts_with = "setpoint")]
        disable: bool,
        /// Current setpoint in A.
        #[arg(long)]
        setpoint: Option<f64>,
    },
}

/// Which bus: a `[[bus]]` of the configuration, or one given on the command line.
#[derive(clap::Args)]
struct BusArgs {
    /// Configuration file whose buses (and custom profiles) to use.
    #[arg(long, default_value = "/etc/sitegate/sitegate.toml")]
    config: PathBuf,
    /// Name of a [[bus]] in the configuration.
    #[arg(long, conflicts_with_all = ["tcp", "serial"], required_unless_present_any = ["tcp", "serial"])]
    bus: Option<String>,
    /// Modbus TCP device or gateway, HOST:PORT, instead of a configured bus.
    #[arg(long, conflicts_with = "serial")]
    tcp: Option<String>,
    /// Serial device for Modbus RTU, instead of a configured bus.
    #[arg(long)]
    serial: Option<PathBuf>,
    #[arg(long, default_value_t = 9600)]
    baud: u32,
    /// none, even or odd.
    #[arg(long, default_value = "none")]
    parity: String,
    #[arg(long, default_value_t = 1)]
    stop_bits: u8,
    /// Answer timeout, e.g. 100ms (scan defaults to 100ms; read and write to the bus's).
    #[arg(long, value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
}

#[derive(clap::Args)]
struct DeviceArgs {
    #[arg(long)]
    unit: u8,
    #[arg(long)]
    profile: String,
    /// Channel of a relay module.
    #[arg(long, default_value_t = 0)]
    channel: u16,
}

fn parse_units(s: &str) -> Result<std::ops::RangeInclusive<u8>, String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u8 = a
        .trim()
        .parse()
        .map_err(|_| format!("`{a}` is not a unit id"))?;
    let b: u8 = b
        .trim()
        .parse()
        .map_err(|_| format!("`{b}` is not a unit id"))?;
    if a == 0 || b > 247 || a > b {
        return Err("unit ids are 1..=247, low-high".into());
    }
    Ok(a..=b)
}

fn main() -> ExitCode {
    return_large_blocks_when_freed();
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { path } => check_config(&path),
        #[cfg(feature = "demo")]
        Command::Demo { seconds, seed } => {
            sitegate::logging::init(log::LevelFilter::Warn);
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: starting the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(sitegate::app::demo::run(seconds, seed)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Modbus { tool } => {
            sitegate::logging::init(log::LevelFilter::Warn);
            match modbus_tool(tool) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Export(args) => match sitegate::cli::export::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Tariff(args) => match sitegate::cli::tariff::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Account { command } => {
            sitegate::logging::init(log::LevelFilter::Warn);
            let mut input = std::io::stdin().lock();
            match sitegate::web::auth::cli::run(&command, &mut input, &mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Command::Backup(args) => match sitegate::cli::backup::run_backup(&args) {
            Ok(dest) => {
                println!("backup written to {}", dest.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(e.exit_code())
            }
        },
        Command::Restore(args) => match sitegate::cli::backup::run_restore(&args) {
            Ok(message) => {
                println!("{message}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(e.exit_code())
            }
        },
        Command::Run { config } => {
            let path = config;
            let config = match config::load(&path) {
                Ok(c) => c,
                Err(problems) => return report_invalid(&path, &problems),
            };
            sitegate::logging::init(config.log_level);
            match run(path, config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error!("{e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn report_invalid(path: &std::path::Path, problems: &sitegate::problems::Problems) -> ExitCode {
    eprintln!("{}: {} problem(s):", path.display(), problems.len());
    for p in problems.iter() {
        eprintln!("  {p}");
    }
    ExitCode::from(EXIT_INVALID_CONFIG as u8)
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match config::load(path) {
        Ok(c) => {
            let uplink = c.uplink.as_ref().map_or("no uplink".to_string(), |u| {
                let tls = if u.tls.is_some() { "TLS" } else { "plain TCP" };
                format!("uplink to {}:{} ({tls})", u.host, u.port)
            });
            let broker = c
                .broker
                .as_ref()
                .map_or(String::new(), |b| format!(", local broker on {}", b.listen));
            println!(
                "{}: valid: site {} ({}), {} bus(es), {} socket(s), {uplink}{broker}",
                path.display(),
                c.site.id,
                c.site.time_zone,
                c.buses.len(),
                c.sockets.len()
            );
            ExitCode::SUCCESS
        }
        Err(problems) => report_invalid(path, &problems),
    }
}

/// Runs the daemon under the supervisor until SIGTERM or Ctrl-C; SIGHUP and the installer page
/// reload the configuration file (an invalid one, or one that cannot start, is refused and the
/// running one stays).
fn run(path: std::path::PathBuf, config: config::Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        // Before anything starts: a SIGHUP (whose default action ends the process) or a SIGTERM
        // that comes while the daemon starts waits for the loop below. The line logged next
        // says they are in place.
        let mut signals = Signals::install()?;
        log::info!(
            "sitegate {} starting: site {}, {} bus(es), {} socket(s)",
            env!("CARGO_PKG_VERSION"),
            config.site.id,
            config.buses.len(),
            config.sockets.len()
        );
        let notifier = sitegate::notify::Notifier::from_env();
        let mut supervisor =
            sitegate::app::supervisor::Supervisor::start(path, config, SHUTDOWN_DEADLINE)
                .context("opening the database")?;
        // Config valid, database open, polling started: systemd may call us started.
        notifier.ready(&status_line(&supervisor));
        wait_for_stop_signal(&mut supervisor, &notifier, &mut signals).await?;
        notifier.stopping();
        log::info!("stopping");
        if !supervisor.shutdown().await {
            log::warn!("shutdown deadline passed; abandoning what was left");
        }
        Ok(())
    })
}

/// The signals `sitegate run` handles, installed once before the daemon starts.
struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }
}

/// systemd's one-line STATUS: what runs.
fn status_line(supervisor: &sitegate::app::supervisor::Supervisor) -> String {
    let config = supervisor.config();
    let Some(daemon) = supervisor.daemon() else {
        let down = supervisor.down().unwrap_or_default();
        return format!("site {}: {down}", config.site.id);
    };
    let web = daemon.web.as_ref().map_or("no web page".to_string(), |w| {
        format!("web page on {}", w.addr)
    });
    let connected = daemon.uplink.as_ref().map(|u| u.borrow().connected);
    let uplink = match (&config.uplink, connected) {
        (Some(u), Some(true)) => format!("central {}:{} connected", u.host, u.port),
        (Some(u), _) => format!("central {}:{} not connected", u.host, u.port),
        (None, _) => "no uplink".into(),
    };
    format!(
        "site {}: {} socket(s) on {} bus(es), {web}, {uplink}",
        config.site.id,
        config.sockets.len(),
        config.buses.len()
    )
}

/// Waits for SIGTERM or Ctrl-C, reloading on SIGHUP and on the installer page's requests, and
/// keeping systemd's watchdog fed while the core loops. A reload that fails leaves the previous
/// daemon running (the supervisor logs it and the page shows it); when not even the previous
/// configuration can start, the supervisor tries it again on its back-off, and the watchdog is
/// fed meanwhile (this loop is the one alive, and it keeps trying).
async fn wait_for_stop_signal(
    supervisor: &mut sitegate::app::supervisor::Supervisor,
    notifier: &sitegate::notify::Notifier,
    signals: &mut Signals,
) -> anyhow::Result<()> {
    let mut watchdog = notifier.watchdog();
    let mut status = status_line(supervisor);
    // Without a watchdog the tick is never looked at.
    let mut tick = tokio::time::interval(
        watchdog
            .as_ref()
            .map_or(Duration::from_secs(3600), |w| w.interval()),
    );
    loop {
        let retry_at = supervisor.retry_at();
        tokio::select! {
            _ = signals.term.recv() => return Ok(()),
            _ = signals.int.recv() => return Ok(()),
            _ = tick.tick(), if watchdog.is_some() => {
                let beat = match supervisor.daemon() {
                    Some(daemon) => {
                        let beats = daemon.heartbeat.count();
                        watchdog.as_mut().is_some_and(|w| w.alive(beats))
                    }
                    None => true,
                };
                if beat {
                    notifier.send("WATCHDOG=1");
                }
                // `systemctl status` follows the link to central.
                let now = status_line(supervisor);
                if now != status {
                    notifier.status(&now);
                    status = now;
                }
                continue;
            }
            () = sleep_until(retry_at) => {
                supervisor.retry_previous();
                status = status_line(supervisor);
                notifier.status(&status);
                continue;
            }
            _ = signals.hup.recv() => log::info!("SIGHUP: reloading the configuration"),
            () = supervisor.requested() => log::info!("the installer page asks for a reload"),
        }
        notifier.reloading();
        // A refusal is logged by the supervisor and shown on the page; the site runs on.
        let _ = supervisor.reload().await;
        status = status_line(supervisor);
        notifier.ready(&status);
    }
}

/// Sleeps until `at`; never wakes without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The bus and profiles a tool works with.
fn resolve(
    args: &BusArgs,
    default_timeout: Option<Duration>,
) -> anyhow::Result<(config::BusConfig, ProfileSet)> {
    use sitegate::config::serial::{DataBits, Parity, SerialSettings, StopBits};
    use sitegate::config::{BusConfig, LinkConfig};
    let timeout = args.timeout.or(default_timeout);
    let adhoc = |link| BusConfig {
        name: "command-line".into(),
        link,
        request_timeout: timeout.unwrap_or(Duration::from_millis(500)),
        retries: 0,
        inter_request_delay: Duration::ZERO,
        dead_after: 1,
    };
    if let Some(target) = &args.tcp {
        let (host, port) = target.rsplit_once(':').context("--tcp takes HOST:PORT")?;
        let port = port.parse().context("--tcp port")?;
        return Ok((
            adhoc(LinkConfig::Tcp {
                host: host.into(),
                port,
                multiple_connections: false,
            }),
            ProfileSet::builtin(),
        ));
    }
    if let Some(path) = &args.serial {
        let parity = match args.parity.as_str() {
            "none" => Parity::None,
            "even" => Parity::Even,
            "odd" => Parity::Odd,
            other => anyhow::bail!("--parity `{other}` is not none, even or odd"),
        };
        let stop_bits = if args.stop_bits == 2 {
            StopBits::Two
        } else {
            StopBits::One
        };
        let settings = SerialSettings {
            path: path.clone(),
            baud: args.baud,
            data_bits: DataBits::Eight,
            parity,
            stop_bits,
        };
        return Ok((adhoc(LinkConfig::Rtu(settings)), ProfileSet::builtin()));
    }
    let name = args
        .bus
        .as_deref()
        .context("name a --bus, or give --tcp or --serial")?;
    let config = config::load(&args.config)
        .map_err(|p| anyhow::anyhow!("{}:\n{p}", args.config.display()))?;
    let bus = sitegate::tools::bus_from_config(&config, name, timeout)?;
    Ok((bus, config.profiles))
}

fn modbus_tool(tool: ModbusTool) -> anyhow::Result<ExitCode> {
    use sitegate::tools;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut out = std::io::stdout();
    runtime.block_on(async {
        match tool {
            ModbusTool::Scan { bus, units } => {
                let (bus, profiles) = resolve(&bus, Some(Duration::from_millis(100)))?;
                let found = tools::scan(&bus, &profiles, units, &mut out).await?;
                Ok(if found.is_empty() {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                })
            }
            ModbusTool::Read { bus, device } => {
                let (bus, profiles) = resolve(&bus, None)?;
                let profile = tools::profile(&profiles, &device.profile)?;
                tools::read(&bus, profile, device.unit, device.channel, &mut out).await?;
                Ok(ExitCode::SUCCESS)
            }
            ModbusTool::Write {
                bus,
                device,
                enable,
                disable,
                setpoint,
            } => {
                let action = match (enable, disable, setpoint) {
                    (true, _, _) => tools::WriteAction::Enable(true),
                    (_, true, _) => tools::WriteAction::Enable(false),
                    (_, _, Some(a)) => tools::WriteAction::SetpointA(a),
                    _ => anyhow::bail!("say what to write: --enable, --disable or --setpoint A"),
                };
                let (bus, profiles) = resolve(&bus, None)?;
                let profile = tools::profile(&profiles, &device.profile)?;
                let confirmed =
                    tools::write(&bus, profile, device.unit, device.channel, action, &mut out)
                        .await?;
                Ok(if confirmed {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
    })
}
