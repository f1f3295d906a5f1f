-- Version 2: the access list and the authorization cache (issue 4).
-- Users and tokens can be millions: they live here and are looked up per decision; the small
-- rest (site, communities, sockets) is one JSON document with the list's version.
-- A full list is written into the *_staging tables chunk by chunk, then swapped in one
-- transaction, so the old list serves until the new one is complete and never exists twice in
-- memory.

CREATE TABLE access_rules (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL,
    rules    TEXT NOT NULL               -- JSON: site, communities, sockets
);

CREATE TABLE access_users (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    role              TEXT NOT NULL,     -- individual, manager
    socket_access     INTEGER NOT NULL,
    communities       TEXT NOT NULL,     -- JSON array, in the user's order of preference
    active_until_ms   INTEGER,
    blocked           INTEGER NOT NULL,
    credit_kind       TEXT,              -- limit, prepaid
    credit_amount     TEXT               -- decimal
) WITHOUT ROWID;

CREATE TABLE access_tokens (
    token      TEXT PRIMARY KEY,         -- normalised: uppercase
    user_id    TEXT,
    status     TEXT NOT NULL,
    expiry_ms  INTEGER,
    parent     TEXT,
    sockets    TEXT NOT NULL             -- JSON array; empty: any socket
) WITHOUT ROWID;

CREATE TABLE access_users_staging (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, socket_access INTEGER NOT NULL,
    communities TEXT NOT NULL, active_until_ms INTEGER, blocked INTEGER NOT NULL,
    credit_kind TEXT, credit_amount TEXT
) WITHOUT ROWID;

CREATE TABLE access_tokens_staging (
    token TEXT PRIMARY KEY, user_id TEXT, status TEXT NOT NULL, expiry_ms INTEGER,
    parent TEXT, sockets TEXT NOT NULL
) WITHOUT ROWID;

-- Central's answers for tokens that are not on the list (OCPP's authorization cache).
CREATE TABLE auth_cache (
    token       TEXT PRIMARY KEY,
    user_id     TEXT,
    status      TEXT NOT NULL,
    expiry_ms   INTEGER,
    parent      TEXT,
    sockets     TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX auth_cache_by_age ON auth_cache(updated_ms);

-- Sessions remember the token that started them (so it, or one of its group, can stop them
-- after a restart too) and the tariff in force at their start.
ALTER TABLE sessions ADD COLUMN token TEXT;
ALTER TABLE sessions ADD COLUMN parent TEXT;

-- Tariffs as central publishes them (the JSON of docs/pricing.md), by id.
CREATE TABLE tariffs (
    id      TEXT PRIMARY KEY,
    tariff  TEXT NOT NULL
) WITHOUT ROWID;
