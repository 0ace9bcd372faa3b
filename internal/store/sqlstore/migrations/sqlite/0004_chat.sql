-- Chat: messages, bans and timeouts, per-channel settings, and the
-- moderators a channel owner granted. Authors are kept denormalised
-- (user_id, user_name, display_name) so a message shows who wrote it as
-- they were called then; DeleteChatUser removes a deleted account's rows.
-- Times are unix milliseconds, UTC.
CREATE TABLE chat_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id   INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL,
    user_name    TEXT    NOT NULL,
    display_name TEXT    NOT NULL DEFAULT '',
    badge        TEXT    NOT NULL DEFAULT '',
    text         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER
);
CREATE INDEX chat_messages_channel ON chat_messages (channel_id, id);
CREATE INDEX chat_messages_author ON chat_messages (channel_id, user_id, created_at);

-- until_at NULL is a permanent ban; otherwise a timeout ending then.
CREATE TABLE chat_bans (
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL,
    user_name  TEXT    NOT NULL,
    until_at   INTEGER,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);

-- blocked_words is a JSON array of normalised, lower-case words.
CREATE TABLE chat_settings (
    channel_id        INTEGER PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
    slow_mode_seconds INTEGER NOT NULL DEFAULT 0,
    blocked_words     TEXT    NOT NULL DEFAULT '[]',
    updated_at        INTEGER NOT NULL
);

CREATE TABLE channel_moderators (
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL,
    user_name  TEXT    NOT NULL,
    granted_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);
