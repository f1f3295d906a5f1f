-- Version 3: promotions, published versions, promotion uses, and offline prepaid spending
-- (issue 4).

-- Promotions as central publishes them (the JSON of docs/pricing.md), in central's order: the
-- first that applies to a session is the one it gets.
CREATE TABLE promotions (
    position   INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    promotion  TEXT NOT NULL
);

-- The version of each published set ('tariffs', 'promotions'): a new set must be above it.
CREATE TABLE published (
    kind     TEXT PRIMARY KEY,
    version  INTEGER NOT NULL
) WITHOUT ROWID;

-- The promotion a session got at its start: its uses are counted from here (per user, site-wide).
ALTER TABLE sessions ADD COLUMN promotion_id TEXT;
CREATE INDEX sessions_by_promotion ON sessions(promotion_id, identity) WHERE promotion_id IS NOT NULL;

-- When each user's credit was received: a prepaid balance is worth that minus what sessions
-- that ended at the site since then cost (central's balance cannot include them yet).
ALTER TABLE access_users ADD COLUMN credit_synced_ms INTEGER;
ALTER TABLE access_users_staging ADD COLUMN credit_synced_ms INTEGER;
CREATE INDEX sessions_by_identity_stop ON sessions(identity, stopped_ms) WHERE stopped_ms IS NOT NULL;

-- Commands from central already executed (or refused), remembered until their expiry so that
-- a second copy is answered `duplicate` and never executed twice, restarts included.
CREATE TABLE commands_seen (
    id          TEXT PRIMARY KEY,
    expires_ms  INTEGER NOT NULL
) WITHOUT ROWID;

-- Central's site configuration (policies), with its version; it overrides the config file's.
CREATE TABLE central_config (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL,
    config   TEXT NOT NULL
);
