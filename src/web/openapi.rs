//! The OpenAPI 3.1 description of `/api/v1`, served at `/api/v1/openapi.json`: the file
//! `openapi.json` next to this one, served as it is. Tests check that every API route is in it
//! (`web::tests`) and that every path in it is listed below.

use axum::Router;
use axum::http::header;
use axum::routing::get;
use serde_json::Value;

use super::state::AppState;

/// Every documented path (the test compares it with the router's).
pub const PATHS: &[&str] = &[
    "/api/v1/dashboard",
    "/api/v1/sockets",
    "/api/v1/stream",
    "/api/v1/system",
    "/api/v1/installer",
    "/api/v1/sessions",
    "/api/v1/sessions/export.csv",
    "/api/v1/sessions/export.xlsx",
    "/api/v1/sessions/statement",
    "/api/v1/access/users",
    "/api/v1/access/communities",
    "/api/v1/access/tariffs",
    "/api/v1/access/promotions",
    "/api/v1/access/explain",
    "/api/v1/access/price",
    "/api/v1/settings",
];

/// Documented paths a manager cannot GET as they are written: with a parameter, POST only, or
/// for installers only (the socket and accounts pages' API).
pub const OTHER_PATHS: &[&str] = &[
    "/api/v1/sockets/{id}",
    "/api/v1/sockets/{id}/{action}",
    "/api/v1/accounts",
    "/api/v1/accounts/{username}",
    "/api/v1/accounts/{username}/password",
    "/api/v1/settings/password",
    "/api/v1/installer/sockets",
    "/api/v1/installer/sockets/{id}",
    "/api/v1/installer/uplink",
];

/// The installer tools' paths (installers only: a manager gets 403; in
/// `openapi.json` with the rest).
pub const API_PATHS: &[&str] = &[
    "/api/v1/installer/tools",
    "/api/v1/installer/tools/sockets/{id}",
    "/api/v1/installer/tools/sockets/{id}/relay-test",
    "/api/v1/installer/tools/buses/{name}/scan",
    "/api/v1/installer/tools/uplink-test",
];

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/openapi.json",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], DOCUMENT) }),
    )
}

/// The document as served: one JSON file, sent as it is (a `json!` built at each request made
/// the largest function of the binary; issue 13).
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The document parsed (for tests and tools).
pub fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("src/web/openapi.json is JSON")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_documented_path_is_in_the_document() {
        let doc = super::document();
        for path in super::PATHS {
            assert!(doc["paths"].get(*path).is_some(), "{path}");
        }
        for path in super::OTHER_PATHS {
            assert!(doc["paths"].get(*path).is_some(), "{path}");
        }
        // And nothing documented is missing from the two lists.
        let mut listed: Vec<&str> = super::PATHS
            .iter()
            .chain(super::OTHER_PATHS)
            .chain(super::API_PATHS)
            .copied()
            .collect();
        listed.sort();
        let mut documented: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        documented.sort();
        assert_eq!(documented, listed);
    }
}
