//! The OpenAPI description of the installer's tools (merged into `/api/v1/openapi.json`).

use serde_json::{Value, json};

pub fn openapi_paths() -> Value {
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let name =
        json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let invalid = json!({"description": "Invalid fields: `fields` maps each to what is wrong", "content": {"application/json": {"schema": {"type": "object"}}}});
    let forbidden = json!({"description": "The role may not use the installer's tools"});
    let device = json!({"type": "object", "properties": {
        "socket": {"type": "string"}, "name": {"type": "string"}, "unit_id": {"type": "integer"},
        "profile": {"type": "string"}, "polls": {"type": "integer"},
        "failed_polls": {"type": "integer"}, "exceptions": {"type": "integer"}
    }});
    let bus = json!({"type": "object", "properties": {
        "name": {"type": "string"}, "label": {"type": "string"}, "link": {"type": "string"},
        "polls": {"type": "integer"}, "requests": {"type": "integer"}, "timeouts": {"type": "integer"},
        "framing_errors": {"type": "integer"}, "exceptions": {"type": "integer"}, "io_errors": {"type": "integer"},
        "reconnects": {"type": "integer"}, "skipped_polls": {"type": "integer"}, "write_failures": {"type": "integer"},
        "lateness_p99_ms": {"type": ["integer", "null"]},
        "devices": {"type": "array", "items": device}
    }});
    let overview = json!({"type": "object", "properties": {
        "buses": {"type": "array", "items": bus},
        "uplink": {"type": ["object", "null"]}
    }});
    let p0 = json!({"get": {
        "summary": "Every bus: link, counters, poll lateness, and per device the failed polls and exception answers (installer)",
        "responses": {"200": {"description": "Buses", "content": {"application/json": {"schema": overview}}}, "403": forbidden}
    }});
    let p1 = json!({"get": {
        "summary": "A socket's decoded registers as of the last poll: name, unit id, table, address, raw words, value and unit (installer)",
        "parameters": id,
        "responses": {"200": {"description": "Registers", "content": {"application/json": {"schema": {"type": "object", "properties": {
            "socket": {"type": "string"}, "state": {"type": "string"}, "polled_at": {"type": ["string", "null"], "format": "date-time"},
            "registers": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "unit": {"type": "integer"}, "table": {"type": "string"},
                "address": {"type": "integer"}, "raw": {"type": "array", "items": {"type": "integer"}},
                "value": {"type": "string"}, "unit_of_measure": {"type": ["string", "null"]}
            }}}
        }}}}}, "403": forbidden, "404": {"description": "No such socket"}}
    }});
    let p2 = json!({"post": {
        "summary": "Switch the socket on for a few seconds, then off (through the core; audited). Refused while it has a session or a vehicle charges (installer)",
        "parameters": id,
        "responses": {
            "200": {"description": "Started", "content": {"application/json": {"schema": {"type": "object", "properties": {"started": {"type": "boolean"}, "seconds": {"type": "integer"}, "refused": {"type": ["string", "null"]}}}}}},
            "409": {"description": "Refused, with the reason in `refused`"},
            "403": forbidden, "404": {"description": "No such socket"}
        }
    }});
    let p3 = json!({"post": {
        "summary": "Find the units answering on the bus and the profiles they look like; reads go through the bus owner between its polls (installer)",
        "parameters": name,
        "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "properties": {
            "first": {"type": "integer", "minimum": 1, "maximum": 247, "default": 1},
            "last": {"type": "integer", "minimum": 1, "maximum": 247, "default": 247},
            "timeout_ms": {"type": "integer", "minimum": 10, "maximum": 5000, "default": 200}
        }}}}},
        "responses": {
            "200": {"description": "What answered", "content": {"application/json": {"schema": {"type": "object", "properties": {
                "bus": {"type": "string"}, "first": {"type": "integer"}, "last": {"type": "integer"}, "incomplete": {"type": "boolean"},
                "found": {"type": "array", "items": {"type": "object", "properties": {"unit": {"type": "integer"}, "profiles": {"type": "array", "items": {"type": "string"}}, "detail": {"type": ["string", "null"]}}}}
            }}}}},
            "422": invalid, "403": forbidden, "404": {"description": "No such bus"}
        }
    }});
    let p4 = json!({"post": {
        "summary": "Try the uplink once: DNS, TCP, TLS handshake, MQTT CONNECT; each step's result in words (uplink settings)",
        "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "properties": {
            "host": {"type": "string", "description": "Instead of the configured host"},
            "port": {"type": "integer", "description": "Instead of the configured port"}
        }}}}},
        "responses": {
            "200": {"description": "The steps tried", "content": {"application/json": {"schema": {"type": "object", "properties": {
                "host": {"type": "string"}, "port": {"type": "integer"}, "tls": {"type": "boolean"}, "ok": {"type": "boolean"},
                "steps": {"type": "array", "items": {"type": "object", "properties": {"step": {"type": "string", "enum": ["dns", "tcp", "tls", "mqtt"]}, "ok": {"type": "boolean"}, "detail": {"type": "string"}}}}
            }}}}},
            "422": invalid, "403": forbidden
        }
    }});
    json!({
        "/api/v1/installer/tools": p0,
        "/api/v1/installer/tools/sockets/{id}": p1,
        "/api/v1/installer/tools/sockets/{id}/relay-test": p2,
        "/api/v1/installer/tools/buses/{name}/scan": p3,
        "/api/v1/installer/tools/uplink-test": p4
    })
}
