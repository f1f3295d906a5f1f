//! The OpenAPI 3.1 description of `/api/v1`, served at `/api/v1/openapi.json`. Written next to
//! the routes it describes; a test checks that every API route is in it.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

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

/// The installer tools' paths (installers only: a manager gets 403; described by
/// `installer_tools::api_doc`).
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
        get(|| async { axum::Json(document()) }),
    )
}

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
            "/api/v1/system": {"get": super::system::openapi_get()},
            "/api/v1/installer": {"get": {
                "summary": "The installer's view (installer role): buses and sockets with states and error counters, the configuration's generation and last reload, profiles, uplink settings (no password)",
                "responses": {"200": {"description": "The installer view", "content": {"application/json": {"schema": {"type": "object",
                    "required": ["editable", "generation", "buses", "profiles"],
                    "properties": {"editable": {"type": "boolean"}, "config_file": {"type": ["string", "null"]}, "generation": {"type": "integer"},
                        "last_reload": {"type": ["object", "null"]}, "buses": {"type": "array", "items": {"type": "object"}},
                        "profiles": {"type": "array", "items": {"type": "string"}}, "uplink": {"type": ["object", "null"]}}
                }}}}, "403": {"description": "Not an installer"}}
            }},
            "/api/v1/installer/sockets": {"post": {
                "summary": "Adds a socket to the configuration file (validated with the whole file, written atomically); the daemon reloads after answering: watch `generation`",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object",
                    "required": ["id", "name", "profile", "bus", "unit_id"],
                    "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "serial_number": {"type": "string"}, "uid": {"type": "string"},
                        "profile": {"type": "string"}, "bus": {"type": "string"}, "unit_id": {"type": "string"}}}}}},
                "responses": {"202": {"description": "Written; the reload follows", "content": {"application/json": {"schema": {"type": "object", "properties": {"generation_before": {"type": "integer"}}}}}},
                    "422": {"description": "Refused: the problems by field (`\"\"`: not tied to one field); the file is untouched", "content": {"application/json": {"schema": {"type": "object", "properties": {"errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}}}}},
                    "503": {"description": "Editing unavailable: the daemon does not run from a file"}}
            }},
            "/api/v1/installer/sockets/{id}": {
                "put": {
                    "summary": "Changes a socket in the configuration file (as the add; keys the form does not show stay); 409 while a session runs and the id changes",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {"202": {"description": "Written; the reload follows"}, "404": {"description": "No such socket"}, "409": {"description": "A session runs on it"}, "422": {"description": "Refused: the problems by field"}}
                },
                "delete": {
                    "summary": "Removes a socket from the configuration file; 409 while a session runs on it",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"202": {"description": "Written; the reload follows"}, "404": {"description": "No such socket"}, "409": {"description": "A session runs on it"}, "422": {"description": "Refused: the problems"}}
                }
            },
            "/api/v1/installer/uplink": {"put": {
                "summary": "Sets the `[uplink]` connection settings (host, port, username, password: empty keeps the file's, ca_file, client_cert_file, client_key_file)",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["host", "port"]}}}},
                "responses": {"202": {"description": "Written; the reload follows"}, "422": {"description": "Refused: the problems by field"}}
            }},
            "/api/v1/sockets/{id}": {"get": {
                "summary": "One socket: live readings, the current session with its running cost, its last 20 sessions, and the actions the account may take now",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The socket", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SocketDetail"}}}},
                    "404": {"description": "No such socket"}
                }
            }},
            "/api/v1/sockets/{id}/{action}": {"post": {
                "summary": "A control action (managers and installers), audited for central: take out of service, return, stop the session, or start one for a user",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "action", "in": "path", "required": true, "schema": {"type": "string", "enum": ["out-of-service", "return", "stop", "start"]}}
                ],
                "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "properties": {"user": {"type": "string", "description": "start only: the user or token to let charge"}}}}}},
                "responses": {
                    "202": {"description": "Sent to the site's core"},
                    "403": {"description": "The role may not"},
                    "404": {"description": "No such socket or action"},
                    "409": {"description": "No session to stop, or the socket is out of service or busy"},
                    "422": {"description": "No user named for a start", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
            }},
            "/api/v1/accounts": {
                "get": {
                    "summary": "Every local account (installers only)",
                    "responses": {"200": {"description": "The accounts", "content": {"application/json": {"schema": {"type": "object", "properties": {"accounts": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}}}}}}}, "403": {"description": "Installers only"}}
                },
                "post": {
                    "summary": "Create an account (installers only)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewAccount"}}}},
                    "responses": {"201": {"description": "Created"}, "403": {"description": "Installers only"}, "422": {"description": "Refused fields", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusals"}}}}}
                }
            },
            "/api/v1/accounts/{username}": {
                "get": {
                    "summary": "One account (installers only)",
                    "parameters": [{"name": "username", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "The account", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Account"}}}}, "404": {"description": "No such account"}}
                },
                "post": {
                    "summary": "Change an account's role, active state or last day (installers only); its sessions end. The last active installer can be neither demoted, deactivated nor expired.",
                    "parameters": [{"name": "username", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "role": {"type": "string", "enum": ["installer", "manager", "viewer"]},
                        "active": {"type": "boolean"},
                        "active_until": {"type": "string", "description": "YYYY-MM-DD, the last day; empty: no end"}
                    }}}}},
                    "responses": {"200": {"description": "The account as changed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Account"}}}}, "422": {"description": "Refused fields", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusals"}}}}}
                }
            },
            "/api/v1/accounts/{username}/password": {"post": {
                "summary": "Reset an account's password (installers only); its sessions end",
                "parameters": [{"name": "username", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["password"], "properties": {"password": {"type": "string"}}}}}},
                "responses": {"200": {"description": "Reset"}, "422": {"description": "The policy refuses it", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusals"}}}}}
            }},
            "/api/v1/settings": {
                "get": {
                    "summary": "The signed-in account's settings",
                    "responses": {"200": {"description": "Settings", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Settings"}}}}}
                },
                "post": {
                    "summary": "Set the signed-in account's language (en, fr, or empty for the browser's), applied at once",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {"language": {"type": "string", "enum": ["", "en", "fr"]}}}}}},
                    "responses": {"200": {"description": "Settings", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Settings"}}}}, "422": {"description": "Refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusals"}}}}}
                }
            },
            "/api/v1/settings/password": {"post": {
                "summary": "Change the signed-in account's own password (the current one required); its sessions end",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["current_password", "new_password"], "properties": {"current_password": {"type": "string"}, "new_password": {"type": "string"}}}}}},
                "responses": {"200": {"description": "Changed; sign in again"}, "422": {"description": "Refused fields", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusals"}}}}}
            }}
        },
        "components": {"schemas": {
            "SocketTile": tile,
            "Error": {"type": "object", "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]}}},
            "Refusals": {"type": "object", "properties": {"errors": {"type": "object", "additionalProperties": {"type": "string"}, "description": "The message of each refused field, by field name"}}},
            "SocketDetail": {"type": "object", "required": ["id", "name", "state", "words", "out_of_service", "readings", "history", "actions"], "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "state": {"type": "string"}, "words": {"type": "string"}, "class": {"type": "string"},
                "out_of_service": {"type": "boolean"},
                "readings": {"type": "object", "properties": {
                    "power_kw": {"type": ["string", "null"]},
                    "current_a": {"type": "array", "items": {"type": ["string", "null"]}},
                    "voltage_v": {"type": "array", "items": {"type": ["string", "null"]}},
                    "meter_kwh": {"type": ["string", "null"]}, "state_for_s": {"type": "integer"}
                }},
                "session": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                    "id": {"type": "string"}, "user": {"type": ["string", "null"]}, "auth": {"type": "string"},
                    "started": {"type": ["string", "null"]}, "duration_s": {"type": "integer"}, "energy_kwh": {"type": "string"},
                    "cost": {"type": ["string", "null"]}, "currency": {"type": ["string", "null"]}
                }}]},
                "history": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "string"}, "user": {"type": ["string", "null"]}, "started": {"type": ["string", "null"]},
                    "stopped": {"type": ["string", "null"]}, "energy_kwh": {"type": "string"}, "cost": {"type": ["string", "null"]},
                    "currency": {"type": ["string", "null"]}, "stop_reason": {"type": ["string", "null"]}
                }}},
                "actions": {"type": "array", "items": {"type": "string", "enum": ["out_of_service", "return", "stop", "start"]}}
            }},
            "Account": {"type": "object", "properties": {
                "username": {"type": "string"}, "display_name": {"type": "string"},
                "role": {"type": "string", "enum": ["installer", "manager", "viewer"]}, "active": {"type": "boolean"},
                "active_until": {"type": ["string", "null"], "format": "date"}, "language": {"type": ["string", "null"]},
                "last_change": {"type": "string"}, "may_sign_in": {"type": "boolean"}
            }},
            "NewAccount": {"type": "object", "required": ["username", "role", "password"], "properties": {
                "username": {"type": "string"}, "display_name": {"type": "string"},
                "role": {"type": "string", "enum": ["installer", "manager", "viewer"]}, "password": {"type": "string", "minLength": 12},
                "active_until": {"type": "string", "description": "YYYY-MM-DD, the last day; empty: no end"},
                "language": {"type": "string", "enum": ["", "en", "fr"]}
            }},
            "Settings": {"type": "object", "properties": {
                "username": {"type": "string"}, "role": {"type": "string"},
                "language": {"type": ["string", "null"]}, "shown_in": {"type": "string"}
            }},
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
    // Each page describes its own routes.
    for (path, item) in super::sessions::api_paths()
        .into_iter()
        .chain(super::access::api_paths())
    {
        doc["paths"][path] = item;
    }
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
