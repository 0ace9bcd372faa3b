package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/huabian-live/huabian/internal/store"
)

// chatKeep is how many messages a channel keeps; older ones are pruned now
// and then. It is well above the 200 a history shows so that deletions and
// purges still leave a full history.
const chatKeep = 1000

// chatPruneEvery: a channel's old messages are pruned when a new message ID
// is a multiple of this, so pruning costs one statement per that many sends.
const chatPruneEvery = 64

// AddChatMessage stores m (ID and CreatedAt are set from the database and
// the clock) and returns it as stored.
func (s *Store) AddChatMessage(ctx context.Context, m store.ChatMessage) (store.ChatMessage, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	err := s.w.QueryRowContext(ctx, `INSERT INTO chat_messages
		(channel_id, user_id, user_name, display_name, badge, text, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		m.ChannelID, m.UserID, m.UserName, m.DisplayName, m.Badge, m.Text, now.UnixMilli()).Scan(&m.ID)
	if err != nil {
		return store.ChatMessage{}, fmt.Errorf("add chat message to channel %d: %w", m.ChannelID, err)
	}
	m.CreatedAt = now
	if m.ID%chatPruneEvery == 0 {
		if _, err := s.w.ExecContext(ctx, `DELETE FROM chat_messages WHERE channel_id = $1 AND id <= (
			SELECT id FROM chat_messages WHERE channel_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`,
			m.ChannelID, chatKeep); err != nil {
			return m, fmt.Errorf("prune chat of channel %d: %w", m.ChannelID, err)
		}
	}
	return m, nil
}

// ChatHistory returns the last limit messages of a channel that were not
// deleted, oldest first.
func (s *Store) ChatHistory(ctx context.Context, channelID int64, limit int) ([]store.ChatMessage, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, channel_id, user_id, user_name, display_name, badge, text, created_at
		FROM chat_messages WHERE channel_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT $2`, channelID, limit)
	if err != nil {
		return nil, fmt.Errorf("chat history of channel %d: %w", channelID, err)
	}
	defer rows.Close()
	var ms []store.ChatMessage
	for rows.Next() {
		var (
			m  store.ChatMessage
			at int64
		)
		if err := rows.Scan(&m.ID, &m.ChannelID, &m.UserID, &m.UserName, &m.DisplayName, &m.Badge, &m.Text, &at); err != nil {
			return nil, fmt.Errorf("chat history of channel %d: %w", channelID, err)
		}
		m.CreatedAt = time.UnixMilli(at).UTC()
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chat history of channel %d: %w", channelID, err)
	}
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
	return ms, nil
}

// DeleteChatMessage marks message id of a channel deleted; an unknown or
// already deleted message gives store.ErrNotFound.
func (s *Store) DeleteChatMessage(ctx context.Context, channelID, id int64) error {
	res, err := s.w.ExecContext(ctx, `UPDATE chat_messages SET deleted_at = $3
		WHERE channel_id = $1 AND id = $2 AND deleted_at IS NULL`, channelID, id, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("delete chat message %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete chat message %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("delete chat message %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// LastChatMessageAt returns when a user last wrote in a channel (deleted
// messages count), and false if they never did.
func (s *Store) LastChatMessageAt(ctx context.Context, channelID, userID int64) (time.Time, bool, error) {
	var at sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT MAX(created_at) FROM chat_messages WHERE channel_id = $1 AND user_id = $2`,
		channelID, userID).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("last chat message of user %d: %w", userID, err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(at.Int64).UTC(), true, nil
}

// PutChatBan bans or times out b.UserID in b.ChannelID, replacing an earlier
// ban, and marks every message they wrote there deleted, in one
// transaction.
func (s *Store) PutChatBan(ctx context.Context, b store.ChatBan) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ban user %d: begin: %w", b.UserID, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	var until sql.NullInt64
	if !b.Until.IsZero() {
		until = sql.NullInt64{Int64: b.Until.UnixMilli(), Valid: true}
	}
	now := time.Now().UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT INTO chat_bans (channel_id, user_id, user_name, until_at, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (channel_id, user_id) DO UPDATE SET user_name = excluded.user_name, until_at = excluded.until_at,
			created_by = excluded.created_by, created_at = excluded.created_at`,
		b.ChannelID, b.UserID, b.UserName, until, b.CreatedBy, now); err != nil {
		return fmt.Errorf("ban user %d: %w", b.UserID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE chat_messages SET deleted_at = $3
		WHERE channel_id = $1 AND user_id = $2 AND deleted_at IS NULL`, b.ChannelID, b.UserID, now); err != nil {
		return fmt.Errorf("ban user %d: purge messages: %w", b.UserID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ban user %d: commit: %w", b.UserID, err)
	}
	return nil
}

// DeleteChatBan lifts a ban or timeout; store.ErrNotFound if there is none
// in force.
func (s *Store) DeleteChatBan(ctx context.Context, channelID, userID int64) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM chat_bans WHERE channel_id = $1 AND user_id = $2
		AND (until_at IS NULL OR until_at > $3)`, channelID, userID, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("unban user %d: %w", userID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("unban user %d: %w", userID, err)
	} else if n == 0 {
		return fmt.Errorf("unban user %d: %w", userID, store.ErrNotFound)
	}
	return nil
}

const chatBanColumns = `channel_id, user_id, user_name, until_at, created_by, created_at`

// ChatBan returns the ban or timeout of a user in a channel that is in
// force now, or store.ErrNotFound.
func (s *Store) ChatBan(ctx context.Context, channelID, userID int64) (store.ChatBan, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+chatBanColumns+` FROM chat_bans
		WHERE channel_id = $1 AND user_id = $2 AND (until_at IS NULL OR until_at > $3)`,
		channelID, userID, time.Now().UnixMilli())
	b, err := scanChatBan(row)
	if err != nil {
		return store.ChatBan{}, fmt.Errorf("chat ban of user %d: %w", userID, err)
	}
	return b, nil
}

// ChatBans returns the bans and timeouts in force in a channel, newest
// first.
func (s *Store) ChatBans(ctx context.Context, channelID int64) ([]store.ChatBan, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+chatBanColumns+` FROM chat_bans
		WHERE channel_id = $1 AND (until_at IS NULL OR until_at > $2) ORDER BY created_at DESC, user_id`,
		channelID, time.Now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("chat bans of channel %d: %w", channelID, err)
	}
	defer rows.Close()
	var bs []store.ChatBan
	for rows.Next() {
		b, err := scanChatBan(rows)
		if err != nil {
			return nil, fmt.Errorf("chat bans of channel %d: %w", channelID, err)
		}
		bs = append(bs, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chat bans of channel %d: %w", channelID, err)
	}
	return bs, nil
}

func scanChatBan(sc scanner) (store.ChatBan, error) {
	var (
		b       store.ChatBan
		until   sql.NullInt64
		created int64
	)
	if err := sc.Scan(&b.ChannelID, &b.UserID, &b.UserName, &until, &b.CreatedBy, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.ChatBan{}, store.ErrNotFound
		}
		return store.ChatBan{}, err
	}
	if until.Valid {
		b.Until = time.UnixMilli(until.Int64).UTC()
	}
	b.CreatedAt = time.UnixMilli(created).UTC()
	return b, nil
}

// ChatSettings returns a channel's chat settings; a channel that never saved
// any gets the defaults.
func (s *Store) ChatSettings(ctx context.Context, channelID int64) (store.ChatSettings, error) {
	var (
		cs      = store.ChatSettings{ChannelID: channelID}
		words   string
		updated int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT slow_mode_seconds, blocked_words, updated_at FROM chat_settings
		WHERE channel_id = $1`, channelID).Scan(&cs.SlowModeSeconds, &words, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return cs, nil
	}
	if err != nil {
		return store.ChatSettings{}, fmt.Errorf("chat settings of channel %d: %w", channelID, err)
	}
	if err := json.Unmarshal([]byte(words), &cs.BlockedWords); err != nil {
		return store.ChatSettings{}, fmt.Errorf("chat settings of channel %d: blocked words: %w", channelID, err)
	}
	cs.UpdatedAt = time.UnixMilli(updated).UTC()
	return cs, nil
}

// PutChatSettings saves a channel's chat settings.
func (s *Store) PutChatSettings(ctx context.Context, cs store.ChatSettings) error {
	words := cs.BlockedWords
	if words == nil {
		words = []string{}
	}
	w, err := json.Marshal(words)
	if err != nil {
		return fmt.Errorf("save chat settings of channel %d: %w", cs.ChannelID, err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO chat_settings (channel_id, slow_mode_seconds, blocked_words, updated_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (channel_id) DO UPDATE SET slow_mode_seconds = excluded.slow_mode_seconds,
			blocked_words = excluded.blocked_words, updated_at = excluded.updated_at`,
		cs.ChannelID, cs.SlowModeSeconds, string(w), time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("save chat settings of channel %d: %w", cs.ChannelID, err)
	}
	return nil
}

// AddChannelModerator grants m; granting twice gives store.ErrExists.
func (s *Store) AddChannelModerator(ctx context.Context, m store.ChannelModerator) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO channel_moderators (channel_id, user_id, user_name, granted_by, created_at)
		VALUES ($1, $2, $3, $4, $5)`, m.ChannelID, m.UserID, m.UserName, m.GrantedBy, time.Now().UnixMilli()); err != nil {
		if isUnique(err) || isPrimaryKey(err) {
			return fmt.Errorf("grant moderator %d: %w", m.UserID, store.ErrExists)
		}
		return fmt.Errorf("grant moderator %d: %w", m.UserID, err)
	}
	return nil
}

// RemoveChannelModerator revokes a grant, or gives store.ErrNotFound.
func (s *Store) RemoveChannelModerator(ctx context.Context, channelID, userID int64) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM channel_moderators WHERE channel_id = $1 AND user_id = $2`, channelID, userID)
	if err != nil {
		return fmt.Errorf("revoke moderator %d: %w", userID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke moderator %d: %w", userID, err)
	} else if n == 0 {
		return fmt.Errorf("revoke moderator %d: %w", userID, store.ErrNotFound)
	}
	return nil
}

// IsChannelModerator reports whether a user was granted moderation of a
// channel.
func (s *Store) IsChannelModerator(ctx context.Context, channelID, userID int64) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM channel_moderators WHERE channel_id = $1 AND user_id = $2`,
		channelID, userID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("is user %d moderator: %w", userID, err)
	}
	return true, nil
}

// ChannelModerators lists a channel's granted moderators by name.
func (s *Store) ChannelModerators(ctx context.Context, channelID int64) ([]store.ChannelModerator, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT channel_id, user_id, user_name, granted_by, created_at
		FROM channel_moderators WHERE channel_id = $1 ORDER BY user_name`, channelID)
	if err != nil {
		return nil, fmt.Errorf("moderators of channel %d: %w", channelID, err)
	}
	defer rows.Close()
	var ms []store.ChannelModerator
	for rows.Next() {
		var (
			m       store.ChannelModerator
			created int64
		)
		if err := rows.Scan(&m.ChannelID, &m.UserID, &m.UserName, &m.GrantedBy, &created); err != nil {
			return nil, fmt.Errorf("moderators of channel %d: %w", channelID, err)
		}
		m.CreatedAt = time.UnixMilli(created).UTC()
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("moderators of channel %d: %w", channelID, err)
	}
	return ms, nil
}

// DeleteChatUser removes everything chat keeps about a user (messages, bans,
// moderator grants) in every channel, for when their account is deleted.
func (s *Store) DeleteChatUser(ctx context.Context, userID int64) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete chat data of user %d: begin: %w", userID, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	for _, q := range []string{
		`DELETE FROM chat_messages WHERE user_id = $1`,
		`DELETE FROM chat_bans WHERE user_id = $1`,
		`DELETE FROM channel_moderators WHERE user_id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, userID); err != nil {
			return fmt.Errorf("delete chat data of user %d: %w", userID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete chat data of user %d: commit: %w", userID, err)
	}
	return nil
}

func isPrimaryKey(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
