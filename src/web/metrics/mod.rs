//! `/metrics`: the site's figures in Prometheus's text exposition format 0.0.4, for the
//! monitoring operators already run. Open without login to loopback clients (a local scraper
//! or node exporter's proxy), else for any signed-in account. Owns the format and who may
//! scrape; reads counters the bus owners keep in atomics, the live snapshots and one
//! read-only query: never slows a poll, never writes.

mod view;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::web::error::WebError;
use crate::web::server::ClientAddr;
use crate::web::state::AppState;

use view::render;

pub const PATH: &str = "/metrics";

/// Prometheus's content type for the text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(metrics))
}

/// Whether the client may scrape without signing in: only from this machine (loopback, IPv4
/// or IPv6, IPv4-mapped included). Everyone else needs a session (the guard asks for it).
pub fn open_without_login(client: Option<&ClientAddr>) -> bool {
    client.is_some_and(|ClientAddr(peer)| is_loopback(peer))
}

fn is_loopback(peer: &SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

async fn metrics(State(app): State<AppState>) -> Result<Response, WebError> {
    let text = render(&app)
        .await
        .map_err(|e| WebError::unreadable(format!("metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(addr: &str) -> bool {
        open_without_login(Some(&ClientAddr(addr.parse().unwrap())))
    }

    #[test]
    fn only_loopback_clients_scrape_without_login() {
        assert!(from("127.0.0.1:9000"));
        assert!(from("127.3.4.5:9000"));
        assert!(from("[::1]:9000"));
        assert!(from("[::ffff:127.0.0.1]:9000"));
        assert!(!from("192.168.1.20:9000"));
        assert!(!from("[fe80::1]:9000"));
        assert!(!from("[::ffff:10.0.0.1]:9000"));
        assert!(!open_without_login(None));
    }
}
