//! The OpenAPI 3.1 description of `/api/v1`, served at `/api/v1/openapi.json`. Written next to
//! the routes it describes; a test checks that every API route is in it.

use serde_json::{Value, json};

/// Every documented path (the test compares it with the router's).
pub const PATHS: &[&str] = &[
    "/api/v1/dashboard",
    "/api/v1/sockets",
    "/api/v1/stream",
    "/api/v1/system",
];

pub fn document() -> Value {
    let tile = json!({
        "type": "object",
        "required": ["id", "name", "state", "words", "class"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "state": {"type": "string", "enum": ["NotConnected", "Available", "Occupied", "Charging", "SuspendedEV", "Faulted", "Disabled"]},
            "words": {"type": "string", "description": "The state in words, in the request's language."},
            "class": {"type": "string"},
            "power_kw": {"type": ["string", "null"]},
            "session": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/SessionTile"}]}
        }
    });
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "sitegate local API",
            "version": "1",
            "description": "What the site's web page shows and does. HTTPS only; a login session (cookie) is required, and state-changing requests carry the session's CSRF token in `X-CSRF-Token`. Texts follow Accept-Language (en, fr)."
        },
        "paths": {
            "/api/v1/dashboard": {"get": {
                "summary": "The manager's dashboard: indicators, sockets, uplink",
                "responses": {"200": {"description": "The dashboard", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dashboard"}}}}}
            }},
            "/api/v1/sockets": {"get": {
                "summary": "Every socket's live state",
                "responses": {"200": {"description": "Tiles", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/SocketTile"}}}}}}
            }},
            "/api/v1/stream": {"get": {
                "summary": "Live socket states (Server-Sent Events, `event: sockets`, data: the tiles), at most one per second",
                "parameters": [{"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["en", "fr"]}}],
                "responses": {"200": {"description": "An event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}}
            }},
            "/api/v1/system": {"get": {
                "summary": "Version, uptime and database size",
                "responses": {"200": {"description": "System figures", "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {"site": {"type": "string"}, "version": {"type": "string"}, "uptime_s": {"type": "integer"}, "database_bytes": {"type": "integer"}}
                }}}}}
            }}
        },
        "components": {"schemas": {
            "SocketTile": tile,
            "SessionTile": {"type": "object", "required": ["id", "energy_kwh"], "properties": {
                "id": {"type": "string"}, "user": {"type": ["string", "null"]},
                "energy_kwh": {"type": "string"}, "cost": {"type": ["string", "null"]}
            }},
            "Dashboard": {"type": "object", "required": ["site_id", "site_name", "indicators", "sockets"], "properties": {
                "site_id": {"type": "string"}, "site_name": {"type": "string"},
                "indicators": {"type": "object", "properties": {
                    "sockets": {"type": "integer"}, "active_sockets": {"type": "integer"}, "users": {"type": "integer"},
                    "month_sessions": {"type": "integer"}, "month_energy_kwh": {"type": "string"},
                    "month_hours_of_charge": {"type": "string"}, "month_total_cost": {"type": ["string", "null"]},
                    "currency": {"type": ["string", "null"]}
                }},
                "sockets": {"type": "array", "items": {"$ref": "#/components/schemas/SocketTile"}},
                "uplink": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                    "connected": {"type": "boolean"}, "last_sync": {"type": ["string", "null"], "format": "date-time"},
                    "events_waiting": {"type": "integer"}, "access_list_version": {"type": "integer"},
                    "tariffs_version": {"type": "integer"}, "refused": {"type": "integer"},
                    "last_error": {"type": ["string", "null"]}
                }}]}
            }}
        }}
    });
    // The installer's tools describe their own paths (installer_tools.rs).
    if let (Some(paths), Value::Object(tools)) = (
        doc["paths"].as_object_mut(),
        super::installer_tools::openapi_paths(),
    ) {
        paths.extend(tools);
    }
    doc
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_documented_path_is_in_the_document() {
        let doc = super::document();
        for path in super::PATHS {
            assert!(doc["paths"].get(*path).is_some(), "{path}");
        }
        for path in crate::web::installer_tools::API_PATHS {
            assert!(doc["paths"].get(*path).is_some(), "{path}");
        }
        assert_eq!(
            doc["paths"].as_object().unwrap().len(),
            super::PATHS.len() + crate::web::installer_tools::API_PATHS.len()
        );
    }
}
