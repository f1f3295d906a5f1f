//! central-sim against a real broker (Debian's mosquitto), talking to a fake site made of a
//! plain rumqttc client.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use central_sim::{AckMode, CentralSim, Options, Signer};
use ed25519_dalek::Verifier;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use sha2::Digest;
use tokio::sync::mpsc;

const MOSQUITTO: &str = "/usr/sbin/mosquitto";
const T: Duration = Duration::from_secs(10);

struct Broker {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn broker() -> Broker {
    broker_on(free_port(), tempfile::tempdir().unwrap(), "").await
}

/// mosquitto on `port`, its config in `dir`, with `extra` config lines.
async fn broker_on(port: u16, dir: tempfile::TempDir, extra: &str) -> Broker {
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{extra}"),
    )
    .unwrap();
    let mut child = Command::new(MOSQUITTO)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto is installed at /usr/sbin/mosquitto");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Broker {
                child,
                port,
                _dir: dir,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("mosquitto did not listen on {port}");
}

/// A fake site: publishes what the test says, hands over every down message it receives.
struct Site {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    id: String,
}

async fn site(port: u16, id: &str) -> Site {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_max_packet_size(1 << 22, 1 << 22);
    let (client, eventloop) = AsyncClient::new(o, 100);
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(poll(eventloop, tx, ready_tx));
    client
        .subscribe(format!("sitegate/v1/{id}/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::time::timeout(T, ready_rx).await.unwrap().unwrap();
    Site {
        client,
        rx,
        id: id.to_owned(),
    }
}

async fn poll(
    mut eventloop: EventLoop,
    tx: mpsc::UnboundedSender<(String, Vec<u8>)>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let _ = tx.send((p.topic, p.payload.to_vec()));
            }
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

impl Site {
    async fn up(&self, rest: &str, v: Value) {
        self.client
            .publish(
                format!("sitegate/v1/{}/{rest}", self.id),
                QoS::AtLeastOnce,
                false,
                serde_json::to_vec(&v).unwrap(),
            )
            .await
            .unwrap();
    }

    async fn event(&self, seq: u64, id: &str) {
        self.up(
            "events",
            json!({"seq": seq, "id": id, "type": "fault",
                "at": {"utc": "2026-11-22T10:15:02.120Z", "clock_trusted": true},
                "offline": false, "body": {"socket": "s1", "state": "faulted", "reason": "x"}}),
        )
        .await;
    }

    /// The next down message on `rest` (others on the way are dropped).
    async fn next(&mut self, rest: &str) -> Vec<u8> {
        let want = format!("sitegate/v1/{}/{rest}", self.id);
        tokio::time::timeout(T, async {
            loop {
                let (t, p) = self.rx.recv().await.unwrap();
                if t == want {
                    return p;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("nothing on {want}"))
    }

    /// Down messages on `rest` received within `d`.
    async fn drain(&mut self, rest: &str, d: Duration) -> Vec<Vec<u8>> {
        let want = format!("sitegate/v1/{}/{rest}", self.id);
        let mut got = Vec::new();
        let _ = tokio::time::timeout(d, async {
            while let Some((t, p)) = self.rx.recv().await {
                if t == want {
                    got.push(p);
                }
            }
        })
        .await;
        got
    }
}

async fn central(port: u16, site: &str, f: impl FnOnce(&mut Options)) -> CentralSim {
    let mut o = Options::new("127.0.0.1", port, site);
    f(&mut o);
    let sim = CentralSim::start(o).await.unwrap();
    sim.wait_ready(T).await.unwrap();
    sim
}

fn json_of(p: &[u8]) -> Value {
    serde_json::from_slice(p).unwrap()
}

#[tokio::test]
async fn acks_only_the_contiguous_prefix_deduplicating_by_id() {
    let b = broker().await;
    let record = tempfile::NamedTempFile::new().unwrap();
    let sim = central(b.port, "site-a", |o| {
        o.record = Some(record.path().to_owned());
    })
    .await;
    let mut s = site(b.port, "site-a").await;
    s.up("state", json!({"status": "online"})).await;
    for (seq, id) in [(1, "e1"), (2, "e2"), (3, "e3"), (3, "e3"), (5, "e5")] {
        s.event(seq, id).await;
    }
    sim.wait_for_events(4, T).await.unwrap();
    let acks = s.drain("ack", Duration::from_millis(500)).await;
    assert!(!acks.is_empty());
    for a in &acks {
        assert!(
            json_of(a)["events"].as_u64().unwrap() <= 3,
            "{}",
            json_of(a)
        );
    }
    assert_eq!(json_of(acks.last().unwrap()), json!({"events": 3}));
    assert_eq!(sim.duplicates(), 1);

    // The gap fills: everything is acknowledged, and the late arrival is noticed.
    s.event(4, "e4").await;
    assert_eq!(json_of(&s.next("ack").await), json!({"events": 5}));
    let seqs: Vec<u64> = sim
        .events()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert!(!sim.events_in_order());
    assert_eq!(sim.site_state(), Some(json!({"status": "online"})));

    // Socket state, results, and `never`.
    s.up("sockets/s1/state", json!({"state": "available"}))
        .await;
    sim.set_ack_mode(AckMode::Never);
    s.event(6, "e6").await;
    sim.wait_for_events(6, T).await.unwrap();
    assert!(s.drain("ack", Duration::from_millis(300)).await.is_empty());
    assert_eq!(sim.socket_states()["s1"], json!({"state": "available"}));
    sim.set_ack_mode(AckMode::Immediate {
        batch: Duration::ZERO,
    });
    assert_eq!(json_of(&s.next("ack").await), json!({"events": 6}));

    sim.shutdown().await;
    let lines = std::fs::read_to_string(record.path()).unwrap();
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["topic"], "sitegate/v1/site-a/state");
    assert_eq!(first["payload"], json!({"status": "online"}));
    assert!(first["received_at"].is_string());
    assert!(lines.lines().count() >= 10);
}

#[tokio::test]
async fn every_message_from_a_site_is_checked_and_what_the_document_does_not_describe_is_kept() {
    let b = broker().await;
    let sim = central(b.port, "site-a", |_| {}).await;
    let s = site(b.port, "site-a").await;
    s.up("state", json!({"status": "offline"})).await;
    // Telemetry as the document describes it, but for a field it does not.
    s.up(
        "sockets/s1/telemetry",
        json!({"socket": "s1", "at": "2026-11-22T10:15:02.120Z", "meter_wh": 15000.0,
            "power_w": 7200.0, "current_a": [10.5, 10.4, 10.6], "voltage_v": [230.1, 229.8, 231.0],
            "setpoint_a": 16.0, "mood": "fine"}),
    )
    .await;
    s.client
        .publish(
            "sitegate/v1/site-a/sockets/s1/telemetry",
            QoS::AtLeastOnce,
            false,
            b"7.2 kW".to_vec(),
        )
        .await
        .unwrap();
    sim.wait_until(T, |st| (st.contract_checked == 3).then_some(()))
        .await
        .unwrap();
    let violations = sim.contract_violations();
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(
        violations[0].starts_with("sitegate/v1/site-a/sockets/s1/telemetry: {")
            && violations[0].ends_with(
                "\n  message telemetry (#/components/schemas/Telemetry) at /mood: not described (the site sends it)"
            ),
        "{}",
        violations[0]
    );
    assert!(
        violations[1].starts_with("sitegate/v1/site-a/sockets/s1/telemetry: 7.2 kW\n  not JSON"),
        "{}",
        violations[1]
    );
    assert_eq!(sim.contract_checked(), 3);
    assert_eq!(sim.stats().summary()["contract_violations"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_signed_chunked_list_matches_its_commit() {
    let b = broker().await;
    let (seed, public) = central_sim::keygen();
    let sim = central(b.port, "site-b", |o| {
        o.signer = Some(Signer::from_seed_b64("central-1", &seed).unwrap());
    })
    .await;
    let mut s = site(b.port, "site-b").await;
    let users: Vec<Value> = (0..7)
        .map(|i| json!({"id": format!("u{i}"), "name": "n", "role": "individual"}))
        .collect();
    let tokens: Vec<Value> = (0..7)
        .map(|i| json!({"token": format!("T{i}"), "user": format!("u{i}"), "status": "Accepted"}))
        .collect();
    let list = json!({"version": 13, "rules": {"site": {}}, "users": users, "tokens": tokens});
    let pushed = sim.push_access_full(&list, 3).await.unwrap();
    assert_eq!(pushed.chunks.len(), 3);

    let key = ed25519_dalek::VerifyingKey::from_bytes(
        &base64::engine::general_purpose::STANDARD
            .decode(public)
            .unwrap()
            .try_into()
            .unwrap(),
    )
    .unwrap();
    let verify = |topic: &str, payload: &[u8]| -> Vec<u8> {
        let text = std::str::from_utf8(payload).unwrap();
        let (header, json) = text.split_once('\n').unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts[..2], ["SIG1", "central-1"]);
        let sig = base64::engine::general_purpose::STANDARD
            .decode(parts[2])
            .unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        let signed = format!("{topic}\n{json}");
        key.verify(signed.as_bytes(), &sig).unwrap();
        // Bound to the topic: the same bytes do not verify for another site.
        let other = format!("{}\n{json}", topic.replace("site-b", "site-c"));
        assert!(key.verify(other.as_bytes(), &sig).is_err());
        json.as_bytes().to_vec()
    };

    let mut hasher = sha2::Sha256::new();
    let mut users_seen = 0;
    for i in 0..3 {
        let json = verify(
            "sitegate/v1/site-b/access/full",
            &s.next("access/full").await,
        );
        let chunk = json_of(&json);
        assert_eq!(chunk["chunk"], i);
        assert_eq!(chunk["chunks"], 3);
        assert_eq!(chunk.get("rules").is_some(), i == 0);
        users_seen += chunk["users"].as_array().unwrap().len();
        hasher.update(&json);
    }
    assert_eq!(users_seen, 7);
    let commit = json_of(&verify(
        "sitegate/v1/site-b/access/commit",
        &s.next("access/commit").await,
    ));
    let sha: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(commit, json!({"version": 13, "chunks": 3, "sha256": sha}));

    // A command gets an id and an expiry, and its result is found.
    let id = sim
        .send_command(json!({"command": "remote_stop", "socket": "s1"}))
        .await
        .unwrap();
    let cmd = json_of(&verify(
        "sitegate/v1/site-b/commands",
        &s.next("commands").await,
    ));
    assert_eq!(cmd["id"], id.as_str());
    assert!(cmd["expires_at"].is_string());
    s.up(
        "results",
        json!({"ref": "commands", "command_id": id, "status": "accepted", "at": "2026-11-22T10:15:02.120Z"}),
    )
    .await;
    let r = sim.wait_for_result(&id, T).await.unwrap();
    assert_eq!(r["status"], "accepted");
    sim.shutdown().await;
}

#[tokio::test]
async fn lossy_acks_are_seeded_and_late_acks_wait() {
    let b = broker().await;
    let sim = central(b.port, "site-c", |o| {
        o.ack_mode = AckMode::Late {
            delay: Duration::from_millis(600),
        };
    })
    .await;
    let mut s = site(b.port, "site-c").await;
    let t0 = tokio::time::Instant::now();
    s.event(1, "a").await;
    assert_eq!(json_of(&s.next("ack").await), json!({"events": 1}));
    assert!(t0.elapsed() >= Duration::from_millis(600));

    sim.set_ack_mode(AckMode::Lossy { p: 1.0, seed: 3 });
    s.event(2, "b").await;
    sim.wait_for_events(2, T).await.unwrap();
    assert!(s.drain("ack", Duration::from_millis(400)).await.is_empty());
    assert!(sim.stats().acks_dropped >= 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn reconnects_and_resubscribes_after_the_broker_restarts() {
    let port = free_port();
    let b = broker_on(port, tempfile::tempdir().unwrap(), "").await;
    let sim = central(port, "site-d", |_| {}).await;
    drop(b);
    tokio::time::timeout(T, async {
        while sim.is_ready() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let _b = broker_on(port, tempfile::tempdir().unwrap(), "").await;
    sim.wait_ready(Duration::from_secs(20)).await.unwrap();
    let mut s = site(port, "site-d").await;
    s.event(1, "a").await;
    assert_eq!(json_of(&s.next("ack").await), json!({"events": 1}));
    sim.shutdown().await;
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl {args:?}");
}

/// A CA, a server certificate for localhost and a client certificate, made by openssl.
fn pki(dir: &std::path::Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
        ],
    );
    for (name, san) in [
        ("server", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ("client", "subjectAltName=DNS:central-sim"),
    ] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        std::fs::write(dir.join(format!("{name}.ext")), san).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
    // mosquitto started as root reads its certificates after dropping to its own user.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in std::fs::read_dir(dir).unwrap() {
        std::fs::set_permissions(f.unwrap().path(), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
}

#[tokio::test]
async fn connects_over_mutual_tls_and_verifies_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let p = |f: &str| dir.path().join(f).display().to_string();
    let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
    let extra = format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
        p("ca.pem"),
        p("server.pem"),
        p("server.key")
    );
    let port = free_port();
    let ca = read("ca.pem");
    let client = (read("client.pem"), read("client.key"));
    let _b = broker_on(port, dir, &extra).await;

    let mut o = Options::new("localhost", port, "site-e");
    o.tls = Some(central_sim::Tls {
        ca_pem: ca.clone(),
        client: Some(client.clone()),
    });
    let sim = CentralSim::start(o).await.unwrap();
    sim.wait_ready(T).await.unwrap();
    sim.shutdown().await;

    // A CA that did not sign the broker's certificate is refused.
    let other = tempfile::tempdir().unwrap();
    pki(other.path());
    let mut o = Options::new("localhost", port, "site-e");
    o.tls = Some(central_sim::Tls {
        ca_pem: std::fs::read(other.path().join("ca.pem")).unwrap(),
        client: Some(client.clone()),
    });
    let sim = CentralSim::start(o).await.unwrap();
    assert!(sim.wait_ready(Duration::from_secs(2)).await.is_err());
    sim.shutdown().await;

    // Without a client certificate the broker refuses the connection.
    let mut o = Options::new("localhost", port, "site-e");
    o.tls = Some(central_sim::Tls {
        ca_pem: ca,
        client: None,
    });
    let sim = CentralSim::start(o).await.unwrap();
    assert!(sim.wait_ready(Duration::from_secs(2)).await.is_err());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_binary_is_driven_by_json_lines_on_stdin() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let b = broker().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("central.key");
    let (seed, _) = central_sim::keygen();
    std::fs::write(&key, &seed).unwrap();
    let mut s = site(b.port, "site-f").await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_central-sim"))
        .args([
            "run",
            "--port",
            &b.port.to_string(),
            "--site",
            "site-f",
            "--key-id",
            "k1",
            "--signing-key",
        ])
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut ask = async |line: Value| -> Value {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        let reply = tokio::time::timeout(T, out.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        serde_json::from_str(&reply).unwrap()
    };
    let r = ask(json!({"push": "tariffs", "data": {"version": 5, "tariffs": []}})).await;
    assert_eq!(r["pushed"], "tariffs");
    let got = s.next("tariffs").await;
    assert!(got.starts_with(b"SIG1 k1 "));
    let r = ask(json!({"command": {"command": "remote_stop", "socket": "s1"}})).await;
    let id = r["sent_command"].as_str().unwrap().to_owned();
    let cmd = s.next("commands").await;
    let cmd = json_of(
        std::str::from_utf8(&cmd)
            .unwrap()
            .split_once('\n')
            .unwrap()
            .1
            .as_bytes(),
    );
    assert_eq!(cmd["id"], id.as_str());
    assert_eq!(ask(json!({"ack_mode": "never"})).await["ack_mode"], "Never");
    s.event(1, "a").await;
    assert!(s.drain("ack", Duration::from_millis(300)).await.is_empty());
    assert_eq!(ask(json!({"stats": true})).await["events"], 1);
    assert!(ask(json!({"nonsense": true})).await["error"].is_string());
    ask(json!({"ack_now": true})).await;
    let ack = s.next("ack").await;
    assert!(ack.ends_with(br#"{"events":1}"#));
    stdin.write_all(b"{\"quit\":true}\n").await.unwrap();
    let last: Value = serde_json::from_str(&out.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(last["stats"][0]["events"], 1);
    assert!(
        tokio::time::timeout(T, child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
}
