-- Viewing statistics. Times are unix milliseconds, UTC.

-- The key of the keyed hash that turns a viewer identity (the player's
-- random id, or client address + User-Agent) into viewer_hash, generated
-- once per deployment. Addresses are never stored.
CREATE TABLE stats_secret (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    secret     BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- One row per viewer session that lasted at least the counting minimum
-- (shorter ones are never written). ended_at is NULL while it runs.
-- Rows are pruned 48 h after they end.
CREATE TABLE viewer_sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id  INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    protocol    TEXT    NOT NULL,
    viewer_hash BLOB    NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER
);
CREATE INDEX viewer_sessions_ended ON viewer_sessions (ended_at);
CREATE INDEX viewer_sessions_channel ON viewer_sessions (channel_id, started_at);

-- One row per live session of a channel (publisher reconnects within the
-- grace window continue it). ended_at is NULL while live.
CREATE TABLE broadcasts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id     INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    started_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    peak_viewers   INTEGER NOT NULL DEFAULT 0,
    unique_viewers INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX broadcasts_channel ON broadcasts (channel_id, started_at);

-- Current viewers of a broadcast, every 10 s.
CREATE TABLE broadcast_samples (
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    viewers      INTEGER NOT NULL,
    PRIMARY KEY (broadcast_id, at)
);
