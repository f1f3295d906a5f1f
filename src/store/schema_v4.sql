-- Version 4: local accounts for the web page (issue 6).

-- One row per local account. Usernames are ASCII (checked before insert) and unique whatever
-- their case. `password` is an argon2id PHC string; the plain password is never stored.
-- `active_until_ms`: the account stops working at this instant (NULL: no end).
CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY,
    username         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name     TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('installer', 'manager', 'viewer')),
    password         TEXT NOT NULL,
    active           INTEGER NOT NULL DEFAULT 1,
    active_until_ms  INTEGER,
    language         TEXT CHECK (language IN ('en', 'fr')),
    created_ms       INTEGER NOT NULL,
    updated_ms       INTEGER NOT NULL
);
