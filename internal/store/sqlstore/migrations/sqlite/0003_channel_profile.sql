-- Channel profiles, images and follows. owner_id is NULL for channels made
-- with the CLI, which admins manage; when the owner's account is deleted the
-- channel stays, ownerless. tags are space-separated, normalised lower-case
-- words; search is lower(title) and the tags, kept by the program so that a
-- search matches letters of every script without regard to case.
-- avatar_id and banner_id name files in DATA/media ('' = none).
-- last_live_at is unix milliseconds (NULL = never live).
ALTER TABLE channels ADD COLUMN owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE channels ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN search TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'
    CHECK (visibility IN ('public', 'unlisted'));
ALTER TABLE channels ADD COLUMN avatar_id TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN banner_id TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN last_live_at INTEGER;

CREATE INDEX channels_owner ON channels (owner_id);
CREATE INDEX channels_category ON channels (category);

-- Who follows which channel.
CREATE TABLE follows (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel_id)
);
CREATE INDEX follows_channel ON follows (channel_id);
