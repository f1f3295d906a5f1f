//! MQTT test infrastructure: a real broker (Debian's Mosquitto, started per test on a free port,
//! plain, TLS or mutual TLS, optionally with a password file) and `SilentProxy`, a TCP proxy that
//! can go silent without closing anything (a dead link as a keep-alive must notice it) or cut
//! every connection. Waits are for conditions (the port accepting connections), bounded by
//! `PATIENCE`.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rumqttc::tokio_rustls::rustls;
use rumqttc::tokio_rustls::rustls::pki_types::pem::PemObject;
use rumqttc::tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::PATIENCE;

pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";
pub const MOSQUITTO_PASSWD: &str = "/usr/bin/mosquitto_passwd";

/// How the broker's listener is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tls {
    /// Plain TCP.
    #[default]
    Off,
    /// TLS with a server certificate for `localhost` and 127.0.0.1, signed by the test CA.
    Server,
    /// TLS, and clients must present a certificate signed by the test CA.
    Mutual,
}

#[derive(Debug, Clone, Default)]
pub struct MosquittoOpts {
    pub tls: Tls,
    /// A user and password; anonymous clients are then refused.
    pub password: Option<(String, String)>,
}

/// The test PKI: a CA, the broker's certificate and a client certificate, all PEM.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl Pki {
    /// A fresh CA and certificates signed by it.
    pub fn generate() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "sitegate test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &issuer).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client
            .distinguished_name
            .push(DnType::CommonName, "site-test");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client.signed_by(&client_key, &issuer).unwrap();

        Pki {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    /// A rustls client configuration trusting only this CA, with this PKI's client certificate
    /// when `client_cert`.
    pub fn client_config(&self, client_cert: bool) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
        let config = if client_cert {
            let chain = CertificateDer::pem_slice_iter(self.client_cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(self.client_key_pem.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        Arc::new(config)
    }

    /// rumqttc's transport for this PKI.
    pub fn transport(&self, client_cert: bool) -> rumqttc::Transport {
        rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Rustls(
            self.client_config(client_cert),
        ))
    }
}

/// A Mosquitto broker of its own, on 127.0.0.1 and a free port, without persistence. Killed
/// when dropped.
pub struct Mosquitto {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    pki: Option<Pki>,
}

impl Mosquitto {
    /// Starts a broker and waits until its port accepts connections.
    pub async fn start(opts: MosquittoOpts) -> Mosquitto {
        assert!(
            Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} is missing: install Debian's mosquitto package (tests/run does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let pki = (opts.tls != Tls::Off).then(|| {
            let pki = Pki::generate();
            std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
            std::fs::write(dir.path().join("server.pem"), &pki.server_cert_pem).unwrap();
            std::fs::write(dir.path().join("server.key"), &pki.server_key_pem).unwrap();
            pki
        });
        if let Some((user, password)) = &opts.password {
            assert!(
                Path::new(MOSQUITTO_PASSWD).exists(),
                "{MOSQUITTO_PASSWD} is missing (Debian's mosquitto package has it)"
            );
            let out = Command::new(MOSQUITTO_PASSWD)
                .arg("-c")
                .arg("-b")
                .arg(dir.path().join("passwd"))
                .arg(user)
                .arg(password)
                .output()
                .unwrap();
            assert!(out.status.success(), "mosquitto_passwd: {out:?}");
        }
        let mut m = Mosquitto {
            child: None,
            dir,
            port: 0,
            pki,
        };
        let mut tries = 0;
        loop {
            tries += 1;
            m.port = free_port();
            m.write_conf(&opts);
            if m.launch().await {
                return m;
            }
            // Most likely the port was taken between our probe and the broker's bind.
            assert!(tries < 5, "mosquitto did not start:\n{}", m.log());
        }
    }

    fn conf_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.conf")
    }

    fn write_conf(&self, opts: &MosquittoOpts) {
        let d = self.dir.path().display();
        // Central's queue sized for the sites' windows, as docs/mqtt.md asks of a broker.
        let mut conf = String::from(
            "persistence false\nlog_dest stderr\nlog_type all\nmax_queued_messages 100000\n",
        );
        // Run as root, Mosquitto would switch to its own user, which cannot read the tempdir.
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } == 0 {
            conf.push_str("user root\n");
        }
        conf.push_str(&format!("listener {} 127.0.0.1\n", self.port));
        match &opts.password {
            Some(_) => conf.push_str(&format!(
                "allow_anonymous false\npassword_file {d}/passwd\n"
            )),
            None => conf.push_str("allow_anonymous true\n"),
        }
        if opts.tls != Tls::Off {
            conf.push_str(&format!(
                "cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n\
                 require_certificate {}\n",
                opts.tls == Tls::Mutual
            ));
        }
        std::fs::write(self.conf_path(), conf).unwrap();
    }

    /// Starts the process on `self.port`; true once the port accepts connections, false when the
    /// process exited first.
    async fn launch(&mut self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mosquitto.log"))
            .unwrap();
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(self.conf_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if TcpStream::connect(self.addr()).await.is_ok() {
                return true;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                eprintln!("mosquitto exited ({status}) on port {}", self.port);
                return false;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mosquitto does not accept connections:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The PKI of a TLS broker.
    pub fn pki(&self) -> &Pki {
        self.pki.as_ref().expect("a TLS broker")
    }

    /// What the broker logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// SIGKILL: connections drop without a DISCONNECT, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the broker if it runs and starts it again on the same port (nothing persisted).
    pub async fn restart(&mut self) {
        self.kill();
        for _ in 0..5 {
            if self.launch().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "mosquitto did not restart on port {}:\n{}",
            self.port,
            self.log()
        );
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nobody listens on now (the OS picks it; another process may still take it before we
/// bind it, hence the callers' retries).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the proxy does with the bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Forward,
    /// Read and discarded in both directions, sockets left open: a dead link. Nothing tells
    /// either end; only a keep-alive notices. What arrives while silent is lost for good: a
    /// packet cut in half at the switch would desynchronise the stream after `resume`, as no
    /// real TCP link would, so switch between packets (tests do: they wait for deliveries).
    Drop,
    /// Not read: the bytes wait in the kernel's buffers (and back-pressure the sender) and flow
    /// on `resume`, as TCP retransmits across a short outage.
    Hold,
}

/// A TCP proxy on 127.0.0.1 to `target`, able to go silent or cut every connection.
pub struct SilentProxy {
    addr: SocketAddr,
    flow: watch::Sender<Flow>,
    accepted: Arc<AtomicUsize>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    acceptor: AbortHandle,
}

impl SilentProxy {
    pub async fn start(target: SocketAddr) -> SilentProxy {
        SilentProxy::start_with(target, false).await
    }

    /// As `start`, but when a client closes its side, the proxy keeps the broker's side open
    /// (reading and dropping what the broker sends) until the broker closes it: the broker
    /// learns that the client has gone only from a DISCONNECT the client sent, or from its
    /// keep-alive, never from the close. So the broker publishes a last will only once the
    /// keep-alive has expired.
    pub async fn start_keeping_broker_side(target: SocketAddr) -> SilentProxy {
        SilentProxy::start_with(target, true).await
    }

    async fn start_with(target: SocketAddr, keep_broker_side: bool) -> SilentProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (flow, _) = watch::channel(Flow::Forward);
        let accepted = Arc::new(AtomicUsize::new(0));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let acceptor = {
            let flow = flow.clone();
            let accepted = accepted.clone();
            let connections = connections.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let rx = flow.subscribe();
                    let task = tokio::spawn(async move {
                        let Ok(server) = TcpStream::connect(target).await else {
                            return;
                        };
                        let (mut cr, mut cw) = client.into_split();
                        let (mut sr, mut sw) = server.into_split();
                        // Either direction ending closes both (unless `keep_broker_side`).
                        let client_closed = tokio::select! {
                            _ = pump(&mut cr, &mut sw, rx.clone()) => true,
                            _ = pump(&mut sr, &mut cw, rx) => false,
                        };
                        if client_closed && keep_broker_side {
                            let mut buf = vec![0u8; 16 * 1024];
                            while sr.read(&mut buf).await.is_ok_and(|n| n > 0) {}
                        }
                    });
                    let mut list = connections.lock().unwrap();
                    list.retain(|h| !h.is_finished());
                    list.push(task.abort_handle());
                }
            })
            .abort_handle()
        };
        SilentProxy {
            addr,
            flow,
            accepted,
            connections,
            acceptor,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops carrying bytes both ways, dropping them (`Flow::Drop`), sockets left open.
    pub fn go_silent(&self) {
        self.flow.send_replace(Flow::Drop);
    }

    /// Stops carrying bytes both ways, holding them until `resume` (`Flow::Hold`).
    pub fn go_silent_holding(&self) {
        self.flow.send_replace(Flow::Hold);
    }

    /// Carries bytes again (held ones first).
    pub fn resume(&self) {
        self.flow.send_replace(Flow::Forward);
    }

    /// Closes every connection (both sides see it closed); new ones are still accepted.
    pub fn cut(&self) {
        for h in self.connections.lock().unwrap().drain(..) {
            h.abort();
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut();
    }
}

async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    mut flow: watch::Receiver<Flow>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while *flow.borrow_and_update() == Flow::Hold {
            if flow.changed().await.is_err() {
                return;
            }
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        loop {
            let now = *flow.borrow_and_update();
            match now {
                Flow::Forward => {
                    if to.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                    break;
                }
                Flow::Drop => break,
                Flow::Hold => {
                    if flow.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// One message a `Subscriber` received.
#[derive(Debug, Clone)]
pub struct Published {
    pub topic: String,
    pub retain: bool,
    /// The payload as JSON (`Null` when it is not JSON).
    pub json: serde_json::Value,
    /// Wall time (ms) it arrived here.
    pub arrived_ms: i64,
}

/// Everything published on `filter` of the plain broker at `port`, as it arrives, until the
/// returned task is aborted or the receiver dropped.
pub async fn subscribe(
    port: u16,
    client_id: &str,
    filter: &str,
) -> (
    tokio::sync::mpsc::UnboundedReceiver<Published>,
    tokio::task::JoinHandle<()>,
) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let _client = client;
        while let Ok(event) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event {
                let published = Published {
                    topic: p.topic.clone(),
                    retain: p.retain,
                    json: serde_json::from_slice(&p.payload).unwrap_or_default(),
                    arrived_ms: chrono::Utc::now().timestamp_millis(),
                };
                if tx.send(published).is_err() {
                    break;
                }
            }
        }
    });
    (rx, task)
}
