-- People and how they prove who they are. Passwords are argon2id PHC
-- strings; session IDs, API tokens and setup tokens are stored only as their
-- SHA-256. Times are unix milliseconds, UTC. Tables of other domains that
-- reference users(id) use ON DELETE CASCADE, so deleting a user deletes
-- what is theirs.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL DEFAULT 'viewer' CHECK (role IN ('viewer', 'streamer', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash      BLOB    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE,
    hint         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- Operator-edited site settings (site name, sign-up, footer), key → value.
CREATE TABLE site_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The one-time link printed at start while the site has no admin.
CREATE TABLE setup_tokens (
    token_hash BLOB    PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
