//! `central-sim`: central's side of sitegate's MQTT protocol, driven by flags (one-shot pushes)
//! and by JSON-lines commands on stdin (see README.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use central_sim::{AckMode, CentralSim, Options, Signer, Tls};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

#[derive(Parser)]
#[command(
    name = "central-sim",
    about = "A stand-in for sitegate's central server (MQTT protocol v1)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Connect and serve: acknowledge, record, push what the flags and stdin say.
    Run(Box<RunArgs>),
    /// Print a new Ed25519 signing seed and its public key (base64), as JSON.
    Keygen,
    /// Print the public key (base64) of a signing seed file, for the sites' trusted keys.
    Pubkey {
        #[arg(long)]
        signing_key: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 1883)]
    port: u16,
    /// The site served (repeatable; the first is the default for pushes and commands).
    #[arg(long = "site", required = true)]
    sites: Vec<String>,
    /// CA certificate(s), PEM: enables TLS.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// Client certificate chain, PEM (mutual TLS; needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    #[arg(long)]
    username: Option<String>,
    #[arg(long)]
    password: Option<String>,
    #[arg(long)]
    client_id: Option<String>,
    /// immediate, late, lossy or never.
    #[arg(long, default_value = "immediate")]
    ack_mode: String,
    /// immediate: ack at most this long after a record (0: after each record).
    #[arg(long, default_value_t = 50)]
    ack_batch_ms: u64,
    /// late: publish each ack this long after its records.
    #[arg(long, default_value_t = 1000)]
    ack_delay_ms: u64,
    /// lossy: fraction of acks dropped.
    #[arg(long, default_value_t = 0.5)]
    ack_loss: f64,
    /// lossy: RNG seed.
    #[arg(long, default_value_t = 1)]
    ack_seed: u64,
    /// Append every message received and sent, as JSON lines.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Ed25519 seed, base64 (from `central-sim keygen`): signs every down payload.
    #[arg(long, requires = "key_id")]
    signing_key: Option<PathBuf>,
    #[arg(long, requires = "signing_key")]
    key_id: Option<String>,
    /// Seconds until a command sent without `expires_at` expires.
    #[arg(long, default_value_t = 60)]
    command_ttl_s: u64,
    /// Push this full access list once connected.
    #[arg(long)]
    push_access_full: Option<PathBuf>,
    #[arg(long, default_value_t = 5000)]
    chunk_users: usize,
    #[arg(long)]
    push_diff: Option<PathBuf>,
    #[arg(long)]
    push_tariffs: Option<PathBuf>,
    #[arg(long)]
    push_promotions: Option<PathBuf>,
    #[arg(long)]
    push_config: Option<PathBuf>,
    /// A command as JSON, sent once connected (repeatable).
    #[arg(long = "command")]
    commands: Vec<String>,
    /// Exit after this many seconds (default: at the end of stdin or on Ctrl-C).
    #[arg(long)]
    exit_after_s: Option<f64>,
    /// Do not read commands from stdin.
    #[arg(long)]
    no_stdin: bool,
    /// More log lines on stderr (-v: info, -vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Keygen => {
            let (seed, public) = central_sim::keygen();
            println!("{}", json!({"seed": seed, "public_key": public}));
            Ok(())
        }
        Cmd::Pubkey { signing_key } => {
            let seed =
                String::from_utf8(read(&signing_key)?).context("the key file is not text")?;
            println!("{}", Signer::from_seed_b64("k", &seed)?.public_key_b64());
            Ok(())
        }
        Cmd::Run(args) => {
            let level = match args.verbose {
                0 => log::LevelFilter::Warn,
                1 => log::LevelFilter::Info,
                _ => log::LevelFilter::Debug,
            };
            log::set_logger(&StderrLogger).map_err(|e| anyhow::anyhow!("{e}"))?;
            log::set_max_level(level);
            run(*args).await
        }
    }
}

/// Log lines on stderr (stdout carries the control protocol's replies).
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("{} {}: {}", r.level(), r.target(), r.args());
        }
    }
    fn flush(&self) {}
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    serde_json::from_slice(&read(path)?).with_context(|| format!("{} is not JSON", path.display()))
}

async fn run(a: RunArgs) -> anyhow::Result<()> {
    let mut opts = Options::new(&a.host, a.port, &a.sites[0]);
    opts.sites = a.sites.clone();
    opts.client_id = a.client_id.clone();
    opts.username = a.username.clone();
    opts.password = a.password.clone();
    opts.record = a.record.clone();
    opts.command_ttl = Duration::from_secs(a.command_ttl_s);
    opts.ack_mode = AckMode::parse(
        &a.ack_mode,
        Duration::from_millis(a.ack_batch_ms),
        Duration::from_millis(a.ack_delay_ms),
        a.ack_loss,
        a.ack_seed,
    )?;
    if let Some(ca) = &a.tls_ca {
        let client = match (&a.tls_cert, &a.tls_key) {
            (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
            _ => None,
        };
        opts.tls = Some(Tls {
            ca_pem: read(ca)?,
            client,
        });
    } else if a.tls_cert.is_some() {
        bail!("--tls-cert needs --tls-ca");
    }
    if let (Some(key), Some(id)) = (&a.signing_key, &a.key_id) {
        let seed = String::from_utf8(read(key)?).context("the signing key file is not text")?;
        opts.signer = Some(Signer::from_seed_b64(id, &seed)?);
    }
    let sim = CentralSim::start(opts).await?;
    sim.wait_ready(Duration::from_secs(3600)).await?;
    eprintln!("central-sim: connected, serving {}", a.sites.join(", "));

    if let Some(p) = &a.push_access_full {
        let r = sim.push_access_full(&read_json(p)?, a.chunk_users).await?;
        out(
            json!({"pushed": "access_full", "version": r.version, "chunks": r.chunks.len(), "sha256": r.sha256}),
        );
    }
    for (file, what) in [
        (&a.push_diff, "access_diff"),
        (&a.push_tariffs, "tariffs"),
        (&a.push_promotions, "promotions"),
        (&a.push_config, "config"),
    ] {
        if let Some(p) = file {
            let site = sim.site().to_owned();
            push(&sim, &site, what, &read_json(p)?).await?;
            out(json!({"pushed": what}));
        }
    }
    for c in &a.commands {
        let id = sim
            .send_command(serde_json::from_str(c).context("--command is not JSON")?)
            .await?;
        out(json!({"sent_command": id}));
    }

    let deadline = async {
        match a.exit_after_s {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s)).await,
            None => std::future::pending().await,
        }
    };
    let stdin = async {
        if a.no_stdin {
            return std::future::pending().await;
        }
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim().is_empty() {
                continue;
            }
            match control(&sim, &line).await {
                Ok(Some(reply)) => out(reply),
                Ok(None) => return,
                Err(e) => out(json!({"error": format!("{e:#}")})),
            }
        }
    };
    tokio::select! {
        () = deadline => {}
        () = stdin => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    out(
        json!({"stats": sim.sites().iter().filter_map(|s| sim.stats_of(s)).map(|s| s.summary()).collect::<Vec<_>>()}),
    );
    sim.shutdown().await;
    Ok(())
}

fn out(v: Value) {
    println!("{v}");
}

async fn push(sim: &CentralSim, site: &str, what: &str, data: &Value) -> anyhow::Result<()> {
    let rest = match what {
        "access_diff" => "access/diff",
        "tariffs" => "tariffs",
        "promotions" => "promotions",
        "config" => "config",
        other => {
            bail!("unknown push `{other}` (access_full, access_diff, tariffs, promotions, config)")
        }
    };
    sim.publish_down(site, rest, data).await
}

/// One stdin command; `None` means quit.
async fn control(sim: &CentralSim, line: &str) -> anyhow::Result<Option<Value>> {
    let v: Value = serde_json::from_str(line).context("not a JSON line")?;
    let site = v
        .get("site")
        .and_then(Value::as_str)
        .unwrap_or(sim.site())
        .to_owned();
    let data = || -> anyhow::Result<Value> {
        match (v.get("data"), v.get("file").and_then(Value::as_str)) {
            (Some(d), _) => Ok(d.clone()),
            (None, Some(f)) => read_json(Path::new(f)),
            (None, None) => bail!("a push needs `file` or `data`"),
        }
    };
    if let Some(what) = v.get("push").and_then(Value::as_str) {
        let data = data()?;
        if what == "access_full" {
            let n = v.get("chunk_users").and_then(Value::as_u64).unwrap_or(5000);
            let r = sim.push_access_full_to(&site, &data, n as usize).await?;
            return Ok(Some(
                json!({"pushed": what, "site": site, "version": r.version,
                "chunks": r.chunks.len(), "sha256": r.sha256}),
            ));
        }
        push(sim, &site, what, &data).await?;
        return Ok(Some(json!({"pushed": what, "site": site})));
    }
    if let Some(cmd) = v.get("command") {
        let id = sim.send_command_to(&site, cmd.clone()).await?;
        return Ok(Some(json!({"sent_command": id, "site": site})));
    }
    if v.get("ack_mode").is_some() {
        let mode = AckMode::from_json(&v)?;
        sim.set_ack_mode(mode.clone());
        return Ok(Some(json!({"ack_mode": format!("{mode:?}")})));
    }
    if v.get("ack_now").is_some() {
        sim.ack_now().await?;
        return Ok(Some(json!({"acked": true})));
    }
    if let Some(p) = v.get("publish") {
        let rest = p
            .get("topic")
            .and_then(Value::as_str)
            .context("`publish` needs `topic`")?;
        let payload = p.get("payload").context("`publish` needs `payload`")?;
        sim.publish_down(&site, rest, payload).await?;
        return Ok(Some(json!({"published": rest, "site": site})));
    }
    if v.get("stats").is_some() {
        let s = sim.stats_of(&site).context("unknown site")?;
        return Ok(Some(s.summary()));
    }
    if v.get("events").is_some() {
        let s = sim.stats_of(&site).context("unknown site")?;
        return Ok(Some(json!({"events": s.events_in_order()})));
    }
    if v.get("results").is_some() {
        let s = sim.stats_of(&site).context("unknown site")?;
        return Ok(Some(json!({"results": s.results})));
    }
    if v.get("quit").is_some() {
        return Ok(None);
    }
    bail!(
        "unknown control line (push, command, ack_mode, ack_now, publish, stats, events, results, quit)"
    )
}
