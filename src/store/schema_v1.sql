-- sitegate database, version 1. Times are Unix milliseconds (UTC). A time taken before the
-- wall clock was trustworthy has *_trusted = 0 and keeps the daemon run and monotonic offset it
-- was taken at, so that it can be corrected once the clock is set (see store/clock fix-up).
-- Energies are Wh (REAL, meters give fractions); money is a decimal string (rust_decimal).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,          -- UUIDv7 made at the site
    socket_id        TEXT NOT NULL,
    identity         TEXT,                      -- user or token reference; NULL = anonymous
    auth_method      TEXT NOT NULL,             -- free, local_list, cache, central, remote, manager
    started_ms       INTEGER NOT NULL,
    started_trusted  INTEGER NOT NULL,
    started_run      TEXT NOT NULL,
    started_mono_ms  INTEGER NOT NULL,
    started_local    TEXT NOT NULL,             -- 'YYYY-MM-DD HH:MM:SS' in the site's time zone
    stopped_ms       INTEGER,
    stopped_trusted  INTEGER,
    stopped_run      TEXT,
    stopped_mono_ms  INTEGER,
    stopped_local    TEXT,
    meter_start_wh   REAL NOT NULL,
    meter_stop_wh    REAL,
    energy_wh        REAL NOT NULL DEFAULT 0,   -- accumulated across meter resets
    charging_ms      INTEGER NOT NULL DEFAULT 0,
    idle_ms          INTEGER NOT NULL DEFAULT 0, -- plugged, not charging ("parking")
    stop_reason      TEXT,
    offline          INTEGER NOT NULL,          -- started while central was unreachable
    failed_reason    TEXT,                      -- NULL, or why central should refund
    tariff_id        TEXT,
    currency         TEXT,
    total_cost       TEXT,                      -- decimal, incl. tax; NULL until priced
    cost_breakdown   TEXT                       -- JSON, filled by pricing
);
CREATE INDEX sessions_open ON sessions(socket_id) WHERE stopped_ms IS NULL;
CREATE INDEX sessions_by_start ON sessions(started_local);
CREATE INDEX sessions_by_identity ON sessions(identity, started_local);
CREATE INDEX sessions_by_socket ON sessions(socket_id, started_local);

-- Keyed by time first: the samples of every running session taken at one tick land side by
-- side at the end of the table, so a tick's commit touches a few pages, not one per session
-- (SD cards wear out). A session's samples are found by time range from its start.
CREATE TABLE samples (
    at_ms       INTEGER NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    seq         INTEGER NOT NULL,
    trusted     INTEGER NOT NULL,
    run         TEXT NOT NULL,
    mono_ms     INTEGER NOT NULL,
    meter_wh    REAL,
    energy_wh   REAL NOT NULL,
    power_w     REAL,
    phase       TEXT NOT NULL,                  -- charging, suspended, idle, lost
    PRIMARY KEY (at_ms, session_id, seq)
) WITHOUT ROWID;

-- Events central must see, never dropped; `seq` is gapless (assigned in the transaction that
-- makes the change, AUTOINCREMENT never reuses a value). Rows leave only when acknowledged.
CREATE TABLE outbox (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,
    at_ms    INTEGER NOT NULL,
    trusted  INTEGER NOT NULL,
    offline  INTEGER NOT NULL,
    payload  TEXT NOT NULL
);

-- Updates superseded by later ones (session progress, socket states): capped, oldest dropped
-- first and counted in `counters`.
CREATE TABLE updates (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,
    at_ms    INTEGER NOT NULL,
    trusted  INTEGER NOT NULL,
    payload  TEXT NOT NULL
);

CREATE TABLE counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE out_of_service (
    socket_id  TEXT PRIMARY KEY,
    since_ms   INTEGER NOT NULL
) WITHOUT ROWID;
