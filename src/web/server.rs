//! The HTTPS listener: one accept loop, a TLS handshake per connection (bounded in time and in
//! number), then axum's router over hyper (HTTP/1.1 or HTTP/2). Stops accepting on cancel and
//! lets open connections finish their requests. Never answers in plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::state::AppState;
use crate::config::WebConfig;

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;
/// A client that does not finish its TLS handshake in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Cert(#[from] super::cert::CertError),
}

/// The running page.
#[derive(Debug, Clone, Copy)]
pub struct Web {
    pub addr: SocketAddr,
}

impl Web {
    /// Binds (port 0 allowed: `addr` says which port) and serves until `cancel`.
    pub fn start(
        config: &WebConfig,
        state_dir: &std::path::Path,
        app: AppState,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<Web, ServeError> {
        let hostname = hostname();
        let tls = super::cert::server_config(&config.tls, state_dir, &hostname)?;
        let bind = |source| ServeError::Bind {
            addr: config.listen,
            source,
        };
        let std_listener = std::net::TcpListener::bind(config.listen).map_err(bind)?;
        std_listener.set_nonblocking(true).map_err(bind)?;
        let addr = std_listener.local_addr().map_err(bind)?;
        let listener = tokio::net::TcpListener::from_std(std_listener).map_err(bind)?;
        let router = super::routes::router(app);
        tasks.spawn(serve(listener, tls, router, cancel, tasks.clone()));
        Ok(Web { addr })
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: axum::Router,
    cancel: CancellationToken,
    tasks: TaskTracker,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            _ = cancel.cancelled() => break,
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (tcp, peer) = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    log::warn!("web: accept failed: {e}");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let cancel = cancel.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                // A browser refusing the self-signed certificate, a port scan: not worth a line.
                Ok(Err(e)) => return log::debug!("web: TLS handshake with {peer} failed: {e}"),
                Err(_) => return log::debug!("web: TLS handshake with {peer} timed out"),
            };
            let service = TowerToHyperService::new(router.layer(axum::Extension(ClientAddr(peer))));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
        });
    }
}

/// The client's address, for the login rate limit.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sitegate".into())
}
