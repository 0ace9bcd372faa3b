-- Channels and their stream keys. A key is stored only as its SHA-256
-- (lookup when a publisher connects) and sealed with the data directory's
-- secret (so "huabian channel key" can show it again); key_hint is its last
-- characters. Times are unix milliseconds, UTC.
CREATE TABLE channels (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    key_hash   BLOB    NOT NULL UNIQUE,
    key_sealed BLOB    NOT NULL,
    key_hint   TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
