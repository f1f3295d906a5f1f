//! A stand-in for the central server: central's side of sitegate's MQTT protocol, version 1
//! (`docs/mqtt.md`). It is a second implementation of that contract, independent of the
//! `sitegate` crate, for sitegate's integration tests, benchmarks and demo. Every message a
//! site publishes is checked against `docs/asyncapi.yaml` as it arrives ([`contract`]); what
//! the document does not describe is kept ([`CentralSim::contract_violations`]).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use central_sim::{CentralSim, Options};
//! let sim = CentralSim::start(Options::new("127.0.0.1", 1883, "site-a")).await?;
//! sim.wait_ready(std::time::Duration::from_secs(5)).await?;
//! let id = sim.send_command(serde_json::json!({"command": "report_state"})).await?;
//! let result = sim.wait_for_result(&id, std::time::Duration::from_secs(5)).await?;
//! # let _ = result; sim.shutdown().await; Ok(()) }
//! ```

pub mod contract;
pub mod protocol;
pub mod stats;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use backon::BackoffBuilder;
use rand::{Rng, SeedableRng};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeFilter, Transport};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use contract::{Contract, Violation};
pub use protocol::{ChunkedList, Signer, chunk_access_list, keygen, topic};
pub use stats::{SiteStats, Stream};

/// The up topics central subscribes to, after `sitegate/v1/{site}/`.
pub const UP_TOPICS: [&str; 7] = [
    "state",
    "sockets/+/state",
    "sockets/+/telemetry",
    "events",
    "updates",
    "results",
    "authorize",
];

/// The down topics central publishes, after `sitegate/v1/{site}/`.
pub const DOWN_TOPICS: [&str; 8] = [
    "ack",
    "access/full",
    "access/commit",
    "access/diff",
    "tariffs",
    "promotions",
    "config",
    "commands",
];

/// How central acknowledges events and updates (always cumulatively, only contiguous runs).
#[derive(Debug, Clone, PartialEq)]
pub enum AckMode {
    /// After each record (`batch` zero) or at most `batch` after the first unacknowledged one.
    Immediate { batch: Duration },
    /// Each ack is published `delay` after the records it covers arrived.
    Late { delay: Duration },
    /// Like `Immediate` with a 50 ms batch, but a fraction `p` of acks is dropped (seeded).
    Lossy { p: f64, seed: u64 },
    /// Never acknowledges.
    Never,
}

impl Default for AckMode {
    fn default() -> Self {
        AckMode::Immediate {
            batch: DEFAULT_BATCH,
        }
    }
}

const DEFAULT_BATCH: Duration = Duration::from_millis(50);

impl AckMode {
    /// From the stdin control form: `{"ack_mode": "immediate", "batch_ms": 50}`,
    /// `{"ack_mode": "late", "delay_ms": 2000}`, `{"ack_mode": "lossy", "p": 0.3, "seed": 7}`,
    /// `{"ack_mode": "never"}`.
    pub fn from_json(v: &Value) -> anyhow::Result<Self> {
        let ms = |k: &str, default: u64| {
            v.get(k)
                .map(|x| {
                    x.as_u64()
                        .ok_or_else(|| anyhow!("`{k}` must be a whole number of ms"))
                })
                .transpose()
                .map(|x| Duration::from_millis(x.unwrap_or(default)))
        };
        let mode = v
            .get("ack_mode")
            .and_then(Value::as_str)
            .context("`ack_mode` must be a string")?;
        Self::parse(
            mode,
            ms("batch_ms", 50)?,
            ms("delay_ms", 1000)?,
            v.get("p").and_then(Value::as_f64).unwrap_or(0.5),
            v.get("seed").and_then(Value::as_u64).unwrap_or(1),
        )
    }

    pub fn parse(
        mode: &str,
        batch: Duration,
        delay: Duration,
        p: f64,
        seed: u64,
    ) -> anyhow::Result<Self> {
        Ok(match mode {
            "immediate" => AckMode::Immediate { batch },
            "late" => AckMode::Late { delay },
            "lossy" => {
                if !(0.0..=1.0).contains(&p) {
                    bail!("the loss fraction must be within 0..=1");
                }
                AckMode::Lossy { p, seed }
            }
            "never" => AckMode::Never,
            other => bail!("unknown ack mode `{other}` (immediate, late, lossy, never)"),
        })
    }
}

/// TLS to the broker: the broker's certificate is verified against `ca_pem` and the host name.
#[derive(Debug, Clone)]
pub struct Tls {
    /// PEM, one or more CA certificates.
    pub ca_pem: Vec<u8>,
    /// PEM certificate chain and PEM private key, for mutual TLS.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

/// How to start a [`CentralSim`].
#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub tls: Option<Tls>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sites served (at least one); the first is the default for the convenience methods.
    pub sites: Vec<String>,
    /// Default `central-sim-{first site}`.
    pub client_id: Option<String>,
    pub keep_alive: Duration,
    pub ack_mode: AckMode,
    /// JSON lines of every message received and sent.
    pub record: Option<PathBuf>,
    /// Signs every down payload when set.
    pub signer: Option<Signer>,
    /// `expires_at` of commands sent without one: now + this.
    pub command_ttl: Duration,
    /// Largest packet in either direction.
    pub max_packet_bytes: usize,
    /// The AsyncAPI document every up message is checked against; `None`: the workspace's
    /// `docs/asyncapi.yaml`, built in.
    pub contract: Option<PathBuf>,
}

impl Options {
    pub fn new(host: &str, port: u16, site: &str) -> Self {
        Options {
            host: host.to_owned(),
            port,
            tls: None,
            username: None,
            password: None,
            sites: vec![site.to_owned()],
            client_id: None,
            keep_alive: Duration::from_secs(15),
            ack_mode: AckMode::default(),
            record: None,
            signer: None,
            command_ttl: Duration::from_secs(60),
            max_packet_bytes: 4 * 1024 * 1024,
            contract: None,
        }
    }
}

struct Inner {
    client: AsyncClient,
    sites: Vec<String>,
    stats: Mutex<HashMap<String, SiteStats>>,
    /// Sites with records received since their last ack.
    dirty: Mutex<HashSet<String>>,
    ack_wake: Notify,
    ack_mode: watch::Sender<AckMode>,
    /// Bumped on every message received, for the `wait_*` methods.
    generation: watch::Sender<u64>,
    /// True between a SUBACK and the next connection error.
    ready: watch::Sender<bool>,
    signer: Option<Signer>,
    recorder: Mutex<Option<std::fs::File>>,
    commands_sent: AtomicU64,
    command_ttl: Duration,
    cancel: CancellationToken,
    /// Loaded once; checks every message received from a site served.
    contract: Contract,
}

/// A running central simulator. Dropping it without [`CentralSim::shutdown`] cancels its tasks.
pub struct CentralSim {
    inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for CentralSim {
    fn drop(&mut self) {
        self.inner.cancel.cancel();
    }
}

impl CentralSim {
    /// Connects (in the background, retrying with back-off) and starts acknowledging.
    pub async fn start(opts: Options) -> anyhow::Result<CentralSim> {
        if opts.sites.is_empty() {
            bail!("central-sim needs at least one site");
        }
        for s in &opts.sites {
            if s.is_empty() || s.contains(['/', '+', '#']) {
                bail!("`{s}` is not a usable site id");
            }
        }
        let client_id = opts
            .client_id
            .clone()
            .unwrap_or_else(|| format!("central-sim-{}", opts.sites[0]));
        let mut mqtt = MqttOptions::new(client_id, opts.host.clone(), opts.port);
        mqtt.set_keep_alive(opts.keep_alive)
            .set_clean_session(true)
            .set_max_packet_size(opts.max_packet_bytes, opts.max_packet_bytes)
            .set_request_channel_capacity(1024);
        if let Some(user) = &opts.username {
            mqtt.set_credentials(user.clone(), opts.password.clone().unwrap_or_default());
        }
        if let Some(tls) = &opts.tls {
            mqtt.set_transport(Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(Arc::new(tls_config(tls)?)),
            ));
        }
        let recorder = match &opts.record {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("cannot open {}", p.display()))?,
            ),
            None => None,
        };
        let contract = match &opts.contract {
            Some(path) => Contract::load(path)?,
            None => Contract::built_in()?,
        };
        let (client, eventloop) = AsyncClient::new(mqtt, 1024);
        let inner = Arc::new(Inner {
            client,
            sites: opts.sites.clone(),
            stats: Mutex::new(
                opts.sites
                    .iter()
                    .map(|s| (s.clone(), SiteStats::new(s)))
                    .collect(),
            ),
            dirty: Mutex::new(HashSet::new()),
            ack_wake: Notify::new(),
            ack_mode: watch::Sender::new(opts.ack_mode.clone()),
            generation: watch::Sender::new(0),
            ready: watch::Sender::new(false),
            signer: opts.signer.clone(),
            recorder: Mutex::new(recorder),
            commands_sent: AtomicU64::new(0),
            command_ttl: opts.command_ttl,
            cancel: CancellationToken::new(),
            contract,
        });
        let tasks = vec![
            tokio::spawn(run_eventloop(inner.clone(), eventloop)),
            tokio::spawn(run_acks(inner.clone())),
        ];
        Ok(CentralSim { inner, tasks })
    }

    /// The default site (the first one served).
    pub fn site(&self) -> &str {
        &self.inner.sites[0]
    }

    pub fn sites(&self) -> &[String] {
        &self.inner.sites
    }

    /// Whether it is connected and subscribed.
    pub fn is_ready(&self) -> bool {
        *self.inner.ready.borrow()
    }

    /// Waits until connected and subscribed (so nothing the sites publish from now is missed).
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let mut rx = self.inner.ready.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|r| *r))
            .await
            .map_err(|_| anyhow!("central-sim not connected and subscribed after {timeout:?}"))?
            .map_err(|_| anyhow!("central-sim stopped"))?;
        Ok(())
    }

    /// Publishes JSON on `sitegate/v1/{site}/{rest}` (QoS 1, signed when a key is set).
    pub async fn publish_down(
        &self,
        site: &str,
        rest: &str,
        payload: &Value,
    ) -> anyhow::Result<()> {
        self.publish_json_bytes(site, rest, serde_json::to_vec(payload)?)
            .await
    }

    /// Publishes these exact JSON bytes (signed when a key is set).
    pub async fn publish_json_bytes(
        &self,
        site: &str,
        rest: &str,
        json: Vec<u8>,
    ) -> anyhow::Result<()> {
        publish(&self.inner, site, rest, json).await
    }

    /// Publishes these exact bytes, never signed (for testing the site's refusals).
    pub async fn publish_raw(&self, site: &str, rest: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let t = topic(site, rest);
        self.inner.record("down", &t, &bytes);
        self.inner
            .client
            .publish(t, QoS::AtLeastOnce, false, bytes)
            .await?;
        Ok(())
    }

    /// Sends a full access list `{version, rules, users, tokens}` in chunks of `chunk_users`
    /// users, then its commit.
    pub async fn push_access_full(
        &self,
        list: &Value,
        chunk_users: usize,
    ) -> anyhow::Result<ChunkedList> {
        self.push_access_full_to(self.site(), list, chunk_users)
            .await
    }

    pub async fn push_access_full_to(
        &self,
        site: &str,
        list: &Value,
        chunk_users: usize,
    ) -> anyhow::Result<ChunkedList> {
        let chunked = chunk_access_list(list, chunk_users)?;
        for c in &chunked.chunks {
            self.publish_json_bytes(site, "access/full", c.clone())
                .await?;
        }
        self.publish_json_bytes(site, "access/commit", chunked.commit.clone())
            .await?;
        Ok(chunked)
    }

    pub async fn push_diff(&self, diff: &Value) -> anyhow::Result<()> {
        self.publish_down(self.site(), "access/diff", diff).await
    }

    /// `{"version": N, "tariffs": [...]}`.
    pub async fn push_tariffs(&self, tariffs: &Value) -> anyhow::Result<()> {
        self.publish_down(self.site(), "tariffs", tariffs).await
    }

    /// `{"version": N, "promotions": [...]}`.
    pub async fn push_promotions(&self, promotions: &Value) -> anyhow::Result<()> {
        self.publish_down(self.site(), "promotions", promotions)
            .await
    }

    /// `{"version": N, "policy": {...}}`.
    pub async fn push_config(&self, config: &Value) -> anyhow::Result<()> {
        self.publish_down(self.site(), "config", config).await
    }

    /// Sends a command to the default site, filling `id` and `expires_at` when absent; returns
    /// the id.
    pub async fn send_command(&self, command: Value) -> anyhow::Result<String> {
        self.send_command_to(self.site(), command).await
    }

    pub async fn send_command_to(&self, site: &str, mut command: Value) -> anyhow::Result<String> {
        let n = self.inner.commands_sent.fetch_add(1, Ordering::Relaxed) + 1;
        let id = protocol::fill_command(&mut command, n, self.inner.command_ttl)?;
        self.publish_down(site, "commands", &command).await?;
        Ok(id)
    }

    pub fn ack_mode(&self) -> AckMode {
        self.inner.ack_mode.borrow().clone()
    }

    /// Changes how acks are sent; what was held back is acknowledged under the new mode.
    pub fn set_ack_mode(&self, mode: AckMode) {
        self.inner.ack_mode.send_replace(mode);
        self.inner
            .dirty
            .lock()
            .unwrap()
            .extend(self.inner.sites.iter().cloned());
        self.inner.ack_wake.notify_one();
    }

    /// Publishes the current cumulative ack of every site now, whatever the mode.
    pub async fn ack_now(&self) -> anyhow::Result<()> {
        for site in &self.inner.sites {
            let ack = self.inner.with_stats(site, |s| s.take_ack());
            if let Some(ack) = ack {
                send_ack(&self.inner, site, ack).await?;
            }
        }
        Ok(())
    }

    /// A copy of everything received from a site.
    pub fn stats_of(&self, site: &str) -> Option<SiteStats> {
        self.inner.stats.lock().unwrap().get(site).cloned()
    }

    /// A copy of everything received from the default site.
    pub fn stats(&self) -> SiteStats {
        self.inner.with_stats(self.site(), |s| s.clone())
    }

    /// Events of the default site, deduplicated, in `seq` order.
    pub fn events(&self) -> Vec<Value> {
        self.inner.with_stats(self.site(), |s| s.events_in_order())
    }

    /// Updates of the default site, deduplicated, in `seq` order.
    pub fn updates(&self) -> Vec<Value> {
        self.inner.with_stats(self.site(), |s| {
            s.updates.records.values().cloned().collect()
        })
    }

    /// Copies of events and updates received more than once.
    pub fn duplicates(&self) -> u64 {
        self.inner
            .with_stats(self.site(), |s| s.events.duplicates + s.updates.duplicates)
    }

    /// Whether every new event arrived with a `seq` above the ones before.
    pub fn events_in_order(&self) -> bool {
        self.inner.with_stats(self.site(), |s| s.events.in_order)
    }

    pub fn results(&self) -> Vec<Value> {
        self.inner.with_stats(self.site(), |s| s.results.clone())
    }

    pub fn authorize_requests(&self) -> Vec<Value> {
        self.inner.with_stats(self.site(), |s| s.authorize.clone())
    }

    pub fn site_state(&self) -> Option<Value> {
        self.inner.with_stats(self.site(), |s| s.state.clone())
    }

    pub fn socket_states(&self) -> BTreeMap<String, Value> {
        self.inner
            .with_stats(self.site(), |s| s.socket_states.clone())
    }

    pub fn telemetry(&self) -> BTreeMap<String, Value> {
        self.inner.with_stats(self.site(), |s| s.telemetry.clone())
    }

    /// Every message received from the sites served that `docs/asyncapi.yaml` does not
    /// describe, each with its topic, the payload's start and the problems (at most
    /// [`stats::VIOLATIONS_KEPT`] a site; [`SiteStats::contract_violations`] counts them all).
    pub fn contract_violations(&self) -> Vec<String> {
        let all = self.inner.stats.lock().unwrap();
        self.inner
            .sites
            .iter()
            .filter_map(|site| all.get(site))
            .flat_map(|s| s.violations.iter().cloned())
            .collect()
    }

    /// How many messages received from the sites served were checked against the document.
    pub fn contract_checked(&self) -> u64 {
        let all = self.inner.stats.lock().unwrap();
        all.values().map(|s| s.contract_checked).sum()
    }

    /// Waits until `pred` holds for the default site's stats; returns what `pred` saw last.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&SiteStats) -> Option<T>,
    ) -> anyhow::Result<T> {
        let mut rx = self.inner.generation.subscribe();
        let site = self.site().to_owned();
        let wait = async {
            loop {
                rx.borrow_and_update();
                if let Some(t) = self.inner.with_stats(&site, |s| pred(s)) {
                    return Ok(t);
                }
                if rx.changed().await.is_err() {
                    bail!("central-sim stopped");
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| anyhow!("condition not met after {timeout:?}"))?
    }

    /// Waits for at least `n` distinct events; returns them in `seq` order.
    pub async fn wait_for_events(&self, n: usize, timeout: Duration) -> anyhow::Result<Vec<Value>> {
        self.wait_until(timeout, |s| {
            (s.events.records.len() >= n).then(|| s.events_in_order())
        })
        .await
        .with_context(|| format!("waiting for {n} events (have {})", self.events().len()))
    }

    /// Waits for the result of a command (`command_id`) or of a refused message (`ref`).
    pub async fn wait_for_result(
        &self,
        id_or_ref: &str,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        self.wait_until(timeout, |s| {
            s.results
                .iter()
                .find(|r| {
                    r.get("command_id").and_then(Value::as_str) == Some(id_or_ref)
                        || r.get("ref").and_then(Value::as_str) == Some(id_or_ref)
                })
                .cloned()
        })
        .await
        .with_context(|| format!("waiting for the result of {id_or_ref}"))
    }

    /// Stops: disconnects from the broker once what was queued is written (up to 2 s), then
    /// ends its tasks.
    pub async fn shutdown(mut self) {
        let mut tasks = std::mem::take(&mut self.tasks).into_iter();
        let eventloop = tasks.next();
        if self.is_ready()
            && self.inner.client.try_disconnect().is_ok()
            && let Some(t) = eventloop
        {
            // The event loop ends once it has written the DISCONNECT, after everything before it.
            let mut t = t;
            if tokio::time::timeout(Duration::from_secs(2), &mut t)
                .await
                .is_err()
            {
                t.abort();
            }
        }
        self.inner.cancel.cancel();
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        if let Some(f) = self.inner.recorder.lock().unwrap().as_mut() {
            let _ = f.flush();
        }
    }
}

impl Inner {
    fn with_stats<T>(&self, site: &str, f: impl FnOnce(&mut SiteStats) -> T) -> T {
        let mut all = self.stats.lock().unwrap();
        let s = all
            .entry(site.to_owned())
            .or_insert_with(|| SiteStats::new(site));
        f(s)
    }

    fn record(&self, dir: &str, topic: &str, payload: &[u8]) {
        let mut rec = self.recorder.lock().unwrap();
        let Some(f) = rec.as_mut() else { return };
        let (sig, json) = match protocol::parse_signed(payload) {
            Some((kid, _, json)) => (Some(kid), json),
            None => (None, payload),
        };
        let payload = serde_json::from_slice::<Value>(json)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()));
        let mut line = json!({"dir": dir, "topic": topic, "payload": payload});
        let at_key = if dir == "up" {
            "received_at"
        } else {
            "sent_at"
        };
        line[at_key] = json!(protocol::rfc3339(chrono::Utc::now()));
        if let Some(kid) = sig {
            line["signed_by"] = json!(kid);
        }
        let _ = writeln!(f, "{line}");
    }

    fn receive(&self, topic: &str, payload: &[u8]) {
        self.record("up", topic, payload);
        let Some((site, rest)) = protocol::split_topic(topic) else {
            return;
        };
        if !self.sites.iter().any(|s| s == site) {
            return;
        }
        let value = match serde_json::from_slice::<Value>(payload) {
            Ok(v) => v,
            Err(e) => {
                log::warn!("{topic}: payload is not JSON: {e}");
                let verdict = self.contract.check(topic, payload);
                self.with_stats(site, |s| {
                    s.unparsed += 1;
                    s.checked(verdict);
                });
                self.generation.send_modify(|g| *g += 1);
                return;
            }
        };
        let verdict = self.contract.check_value(topic, &value);
        if let Err(v) = &verdict {
            log::warn!("central-sim: not as docs/asyncapi.yaml says: {v}");
        }
        let ack_due = self.with_stats(site, |s| {
            s.checked(verdict);
            s.receive(rest, &value)
        });
        if ack_due {
            self.dirty.lock().unwrap().insert(site.to_owned());
            self.ack_wake.notify_one();
        }
        self.generation.send_modify(|g| *g += 1);
    }
}

async fn publish(inner: &Inner, site: &str, rest: &str, json: Vec<u8>) -> anyhow::Result<()> {
    let t = topic(site, rest);
    let payload = match &inner.signer {
        Some(s) => s.sign(&t, &json),
        None => json,
    };
    inner.record("down", &t, &payload);
    inner
        .client
        .publish(t, QoS::AtLeastOnce, false, payload)
        .await?;
    Ok(())
}

async fn send_ack(inner: &Inner, site: &str, ack: Value) -> anyhow::Result<()> {
    publish(inner, site, "ack", serde_json::to_vec(&ack)?).await?;
    inner.with_stats(site, |s| {
        s.acks_sent += 1;
        s.last_ack = Some(ack);
    });
    Ok(())
}

fn backoff() -> impl Iterator<Item = Duration> {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
        .build()
}

async fn run_eventloop(inner: Arc<Inner>, mut eventloop: rumqttc::EventLoop) {
    let mut delays = backoff();
    loop {
        let ev = tokio::select! {
            ev = eventloop.poll() => ev,
            () = inner.cancel.cancelled() => break,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                delays = backoff();
                let filters = inner
                    .sites
                    .iter()
                    .flat_map(|s| UP_TOPICS.iter().map(move |t| topic(s, t)))
                    .map(|path| SubscribeFilter::new(path, QoS::AtLeastOnce));
                if let Err(e) = inner.client.try_subscribe_many(filters) {
                    log::error!("central-sim: cannot subscribe: {e}");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                inner.ready.send_replace(true);
            }
            Ok(Event::Incoming(Packet::Publish(p))) => inner.receive(&p.topic, &p.payload),
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => {
                inner.ready.send_replace(false);
                let d = delays.next().unwrap_or(Duration::from_secs(10));
                log::warn!("central-sim: connection error: {e}; retrying in {d:?}");
                tokio::select! {
                    () = tokio::time::sleep(d) => {}
                    () = inner.cancel.cancelled() => break,
                }
            }
        }
    }
    inner.ready.send_replace(false);
}

async fn run_acks(inner: Arc<Inner>) {
    let mut rng: Option<(u64, rand::rngs::StdRng)> = None;
    loop {
        tokio::select! {
            () = inner.ack_wake.notified() => {}
            () = inner.cancel.cancelled() => break,
        }
        let mode = inner.ack_mode.borrow().clone();
        let batch = match &mode {
            AckMode::Never => {
                inner.dirty.lock().unwrap().clear();
                continue;
            }
            AckMode::Immediate { batch } => *batch,
            AckMode::Late { .. } | AckMode::Lossy { .. } => DEFAULT_BATCH,
        };
        if !batch.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(batch) => {}
                () = inner.cancel.cancelled() => break,
            }
        }
        let sites: Vec<String> = inner.dirty.lock().unwrap().drain().collect();
        let acks: Vec<(String, Value)> = sites
            .into_iter()
            .filter_map(|site| inner.with_stats(&site, |s| s.take_ack()).map(|a| (site, a)))
            .collect();
        for (site, ack) in acks {
            match &mode {
                AckMode::Late { delay } => {
                    let (inner, delay) = (inner.clone(), *delay);
                    tokio::spawn(async move {
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {
                                if let Err(e) = send_ack(&inner, &site, ack).await {
                                    log::warn!("central-sim: ack not sent: {e}");
                                }
                            }
                            () = inner.cancel.cancelled() => {}
                        }
                    });
                    continue;
                }
                AckMode::Lossy { p, seed } => {
                    let r = match &mut rng {
                        Some((s, r)) if s == seed => r,
                        _ => {
                            &mut rng
                                .insert((*seed, rand::rngs::StdRng::seed_from_u64(*seed)))
                                .1
                        }
                    };
                    if r.gen_bool(*p) {
                        inner.with_stats(&site, |s| s.acks_dropped += 1);
                        continue;
                    }
                }
                _ => {}
            }
            if let Err(e) = send_ack(&inner, &site, ack).await {
                log::warn!("central-sim: ack not sent: {e}");
            }
        }
    }
}

fn tls_config(tls: &Tls) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&tls.ca_pem) {
        roots.add(cert.context("bad CA certificate PEM")?)?;
    }
    if roots.is_empty() {
        bail!("no CA certificate in the CA file");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    Ok(match &tls.client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<Vec<_>, _>>()
                .context("bad client certificate PEM")?;
            let key = PrivateKeyDer::from_pem_slice(key).context("bad client key PEM")?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    })
}
