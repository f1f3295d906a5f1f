//! The installer's uplink connection test: tries the broker once, step by step (DNS, TCP, TLS
//! handshake with the configured CA and client certificate, MQTT CONNECT/CONNACK with a
//! throwaway client id), each step bounded, and says in words how far it got and why it
//! stopped. Owns nothing long-lived; never touches the running uplink's connection or session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, ConnectReturnCode, Event, MqttOptions, Packet};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// What to try.
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// `None`: plain MQTT (the configuration says `tls = false`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub credentials: Option<(String, String)>,
    /// A client id of its own (`<site>-probe`), so the running link is not kicked off.
    pub client_id: String,
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Step {
    /// `dns`, `tcp`, `tls` or `mqtt`.
    pub step: &'static str,
    pub ok: bool,
    /// What happened, in words (English; the step names are translated by the page).
    pub detail: String,
}

/// The steps tried, in order; the first failure ends the test.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub ok: bool,
    pub steps: Vec<Step>,
}

impl Report {
    fn push(&mut self, step: &'static str, result: Result<String, String>) -> bool {
        let ok = result.is_ok();
        let detail = result.unwrap_or_else(|e| e);
        self.steps.push(Step { step, ok, detail });
        self.ok = ok;
        ok
    }
}

/// Tries `target` once, each step within `limit`.
pub async fn probe(target: &Target, limit: Duration) -> Report {
    let mut report = Report {
        ok: false,
        steps: Vec::new(),
    };
    let addrs = resolve(&target.host, target.port, limit).await;
    let first = addrs.as_ref().ok().and_then(|a| a.first().copied());
    let dns = addrs.map(|a| {
        let list: Vec<String> = a.iter().map(|x| x.ip().to_string()).collect();
        format!("{} resolves to {}", target.host, list.join(", "))
    });
    if !report.push("dns", dns) {
        return report;
    }
    let addr = first.expect("resolved to at least one address");
    let tcp = match timeout(limit, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(format!("cannot connect to {addr}: {}", io_words(&e))),
        Err(_) => Err(format!("no answer from {addr} within {limit:?}")),
    };
    let stream = match tcp {
        Ok(s) => {
            report.push("tcp", Ok(format!("connected to {addr}")));
            s
        }
        Err(e) => {
            report.push("tcp", Err(e));
            return report;
        }
    };
    if let Some(tls) = &target.tls {
        let ok = report.push(
            "tls",
            handshake(tls.clone(), &target.host, stream, limit).await,
        );
        if !ok {
            return report;
        }
    } else {
        drop(stream);
    }
    report.push("mqtt", mqtt_connect(target, limit).await);
    report
}

async fn resolve(host: &str, port: u16, limit: Duration) -> Result<Vec<SocketAddr>, String> {
    match timeout(limit, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(format!("{host} has no address"))
            } else {
                Ok(addrs)
            }
        }
        Ok(Err(e)) => Err(format!("cannot resolve {host}: {e}")),
        Err(_) => Err(format!("no DNS answer for {host} within {limit:?}")),
    }
}

fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            "connection refused (nothing listens there)".into()
        }
        _ => e.to_string(),
    }
}

async fn handshake(
    config: Arc<rustls::ClientConfig>,
    host: &str,
    stream: TcpStream,
    limit: Duration,
) -> Result<String, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("`{host}` is not a valid server name: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    match timeout(limit, connector.connect(name, stream)).await {
        Ok(Ok(tls)) => {
            let version = tls
                .get_ref()
                .1
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default();
            Ok(format!("handshake done ({version}), certificate trusted"))
        }
        Ok(Err(e)) => Err(tls_words(&e)),
        Err(_) => Err(format!("no handshake within {limit:?}")),
    }
}

/// A TLS failure as an installer can act on it.
fn tls_words(e: &std::io::Error) -> String {
    use rustls::{AlertDescription, CertificateError, Error};
    let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) else {
        return format!("handshake failed: {e}");
    };
    match inner {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "certificate not trusted (unknown issuer): check the CA file".into()
        }
        // A CA of the same name as the trusted one, but another key.
        Error::InvalidCertificate(CertificateError::BadSignature) => {
            "certificate not trusted (not signed by the configured CA): check the CA file".into()
        }
        Error::InvalidCertificate(CertificateError::Expired) => "certificate expired".into(),
        Error::InvalidCertificate(CertificateError::NotValidForName) => {
            "certificate not valid for this host name".into()
        }
        Error::AlertReceived(AlertDescription::CertificateRequired)
        | Error::AlertReceived(AlertDescription::BadCertificate)
        | Error::AlertReceived(AlertDescription::UnknownCA) => {
            format!("the broker refused our client certificate ({inner})")
        }
        other => format!("handshake failed: {other}"),
    }
}

async fn mqtt_connect(target: &Target, limit: Duration) -> Result<String, String> {
    let mut options = MqttOptions::new(target.client_id.clone(), target.host.clone(), target.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true);
    if let Some((user, password)) = &target.credentials {
        options.set_credentials(user.clone(), password.clone());
    }
    if let Some(tls) = &target.tls {
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls.clone()),
        ));
    }
    let (client, mut eventloop) = AsyncClient::new(options, 4);
    let answer = timeout(limit, async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => return Ok(ack.code),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await;
    let _ = client.try_disconnect();
    match answer {
        Ok(Ok(ConnectReturnCode::Success)) => Ok("the broker accepted the connection".into()),
        Ok(Ok(ConnectReturnCode::BadUserNamePassword)) => {
            Err("the broker refused: bad username or password".into())
        }
        Ok(Ok(ConnectReturnCode::NotAuthorized)) => {
            Err("the broker refused: not authorised".into())
        }
        Ok(Ok(code)) => Err(format!("the broker refused: {code:?}")),
        Ok(Err(e)) => Err(format!("no MQTT connection: {e}")),
        Err(_) => Err(format!("no CONNACK within {limit:?}")),
    }
}
