//! The `sitegate` command: the daemon and the installer's tools.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sitegate::config::{self, EXIT_INVALID_CONFIG};
use sitegate::daemon::Daemon;

/// Grace period for shutdown: bus owners stop, the core drains. Below systemd's TimeoutStopSec.
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
    /// Check a configuration file: every problem with its key path; exit code 64 when invalid.
    CheckConfig { path: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { path } => check_config(&path),
        Command::Run { config } => {
            let config = match config::load(&config) {
                Ok(c) => c,
                Err(problems) => return report_invalid(&config, &problems),
            };
            sitegate::logging::init(config.log_level);
            match run(config) {
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
            println!(
                "{}: valid: site {} ({}), {} bus(es), {} socket(s)",
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

fn run(config: config::Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        log::info!(
            "sitegate {} starting: site {}, {} bus(es), {} socket(s)",
            env!("CARGO_PKG_VERSION"),
            config.site.id,
            config.buses.len(),
            config.sockets.len()
        );
        let daemon = Daemon::start(&config);
        wait_for_stop_signal().await?;
        log::info!("stopping");
        if !daemon.shutdown(SHUTDOWN_DEADLINE).await {
            log::warn!("shutdown deadline passed; abandoning what was left");
        }
        Ok(())
    })
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
    }
    Ok(())
}
