package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

const userColumns = `id, name, display_name, role, disabled, password_hash, created_at, updated_at`

// CreateUser inserts u (ID and times are set here) and returns it. A taken
// name gives store.ErrExists. With a non-nil setupTokenHash the user is
// created only if that setup token exists, has not expired and no enabled
// admin exists yet; the token is consumed in the same transaction, so it
// works once. A token that does not qualify gives store.ErrNotFound.
func (s *Store) CreateUser(ctx context.Context, u store.User, setupTokenHash []byte) (_ store.User, err error) {
	now := time.Now()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.User{}, fmt.Errorf("create user %q: begin: %w", u.Name, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	if setupTokenHash != nil {
		res, err := tx.ExecContext(ctx, `DELETE FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2`,
			setupTokenHash, now.UnixMilli())
		if err != nil {
			return store.User{}, fmt.Errorf("create user %q: use setup token: %w", u.Name, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return store.User{}, fmt.Errorf("create user %q: setup token: %w", u.Name, errors.Join(store.ErrNotFound, err))
		}
		admins, err := countAdmins(ctx, tx)
		if err != nil {
			return store.User{}, fmt.Errorf("create user %q: %w", u.Name, err)
		}
		if admins > 0 {
			return store.User{}, fmt.Errorf("create user %q: setup token after an admin exists: %w", u.Name, store.ErrNotFound)
		}
	}
	row := tx.QueryRowContext(ctx, `INSERT INTO users (name, display_name, role, disabled, password_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING `+userColumns,
		u.Name, u.DisplayName, u.Role, acctBool(u.Disabled), u.PasswordHash, now.UnixMilli())
	created, err := scanUser(row)
	if err != nil {
		if isUnique(err) {
			return store.User{}, fmt.Errorf("create user %q: %w", u.Name, store.ErrExists)
		}
		return store.User{}, fmt.Errorf("create user %q: %w", u.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return store.User{}, fmt.Errorf("create user %q: commit: %w", u.Name, err)
	}
	return created, nil
}

// UserByID returns the user with id, or store.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return store.User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// UserByName returns the user called name, or store.ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
	if err != nil {
		return store.User{}, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// ListUsers returns up to limit users whose name or display name contains
// query (all when empty), ordered by name, after skipping offset, and the
// number of users matching in all.
func (s *Store) ListUsers(ctx context.Context, query string, limit, offset int) ([]store.User, int, error) {
	pattern := "%" + acctEscapeLike(query) + "%"
	const where = ` WHERE name LIKE $1 ESCAPE '\' OR display_name LIKE $1 ESCAPE '\'`
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`+where, pattern).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users`+where+` ORDER BY name LIMIT $2 OFFSET $3`,
		pattern, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	us := []store.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return us, total, nil
}

// CountAdmins returns the number of enabled admins.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	return countAdmins(ctx, s.r)
}

type acctQueryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func countAdmins(ctx context.Context, q acctQueryRower) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}

// UpdateUser applies upd to the user with id and returns the result, or
// store.ErrNotFound. A change that would leave no enabled admin gives
// store.ErrLastAdmin and changes nothing.
func (s *Store) UpdateUser(ctx context.Context, id int64, upd store.UserUpdate) (_ store.User, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.User{}, fmt.Errorf("update user %d: begin: %w", id, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	before, err := countAdmins(ctx, tx)
	if err != nil {
		return store.User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	var disabled any
	if upd.Disabled != nil {
		disabled = acctBool(*upd.Disabled)
	}
	row := tx.QueryRowContext(ctx, `UPDATE users SET
		display_name = COALESCE($2, display_name),
		role = COALESCE($3, role),
		disabled = COALESCE($4, disabled),
		password_hash = COALESCE($5, password_hash),
		updated_at = $6
		WHERE id = $1 RETURNING `+userColumns,
		id, acctNullString(upd.DisplayName), acctNullString(upd.Role), disabled, acctNullString(upd.PasswordHash), time.Now().UnixMilli())
	u, err := scanUser(row)
	if err != nil {
		return store.User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	if upd.Role != nil || upd.Disabled != nil {
		after, err := countAdmins(ctx, tx)
		if err != nil {
			return store.User{}, fmt.Errorf("update user %d: %w", id, err)
		}
		if before > 0 && after == 0 {
			return store.User{}, fmt.Errorf("update user %d: %w", id, store.ErrLastAdmin)
		}
	}
	if err := tx.Commit(); err != nil {
		return store.User{}, fmt.Errorf("update user %d: commit: %w", id, err)
	}
	return u, nil
}

// DeleteUser removes the user with id and, through ON DELETE CASCADE,
// everything that is theirs; store.ErrNotFound if there is none, and
// store.ErrLastAdmin if they are the last enabled admin.
func (s *Store) DeleteUser(ctx context.Context, id int64) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete user %d: begin: %w", id, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	before, err := countAdmins(ctx, tx)
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("delete user %d: %w", id, errors.Join(store.ErrNotFound, err))
	}
	after, err := countAdmins(ctx, tx)
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	if before > 0 && after == 0 {
		return fmt.Errorf("delete user %d: %w", id, store.ErrLastAdmin)
	}
	// Chat rows keep the user's ID without a foreign key (they carry the
	// name too, for history); remove what the person wrote and any grants
	// or bans in the same transaction.
	for _, q := range []string{
		`DELETE FROM chat_messages WHERE user_id = $1`,
		`DELETE FROM chat_bans WHERE user_id = $1`,
		`DELETE FROM channel_moderators WHERE user_id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("delete user %d: chat: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete user %d: commit: %w", id, err)
	}
	return nil
}

// CreateSession stores a session.
func (s *Store) CreateSession(ctx context.Context, se store.Session) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`,
		se.IDHash, se.UserID, se.CreatedAt.UnixMilli(), se.LastSeenAt.UnixMilli(), se.ExpiresAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("create session for user %d: %w", se.UserID, err)
	}
	return nil
}

// SessionByHash returns the session whose ID hashes to hash and its user,
// or store.ErrNotFound. Expiry is the caller's to judge.
func (s *Store) SessionByHash(ctx context.Context, hash []byte) (store.Session, store.User, error) {
	row := s.r.QueryRowContext(ctx, `SELECT s.id_hash, s.user_id, s.created_at, s.last_seen_at, s.expires_at, `+
		acctPrefixed("u.", userColumns)+` FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1`, hash)
	var (
		se                     store.Session
		created, seen, expires int64
	)
	u, err := scanUserAfter(row, &se.IDHash, &se.UserID, &created, &seen, &expires)
	if err != nil {
		return store.Session{}, store.User{}, fmt.Errorf("session: %w", err)
	}
	se.CreatedAt, se.LastSeenAt, se.ExpiresAt = acctTime(created), acctTime(seen), acctTime(expires)
	return se, u, nil
}

// TouchSession records activity on a session at t.
func (s *Store) TouchSession(ctx context.Context, hash []byte, t time.Time) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1`, hash, t.UnixMilli()); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession removes a session; removing one that is gone is not an
// error.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = $1`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions removes every session of userID except the one whose
// ID hashes to keep (nil keeps none).
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, keep []byte) error {
	if keep == nil {
		keep = []byte{}
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id_hash != $2`, userID, keep); err != nil {
		return fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past their absolute end at now or
// idle since before idleSince, and returns how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now, idleSince time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2`,
		now.UnixMilli(), idleSince.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

const apiTokenColumns = `id, user_id, name, token_hash, hint, created_at, last_used_at`

// CreateAPIToken stores t (ID and CreatedAt are set here) and returns it.
func (s *Store) CreateAPIToken(ctx context.Context, t store.APIToken) (store.APIToken, error) {
	row := s.w.QueryRowContext(ctx, `INSERT INTO api_tokens (user_id, name, token_hash, hint, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+apiTokenColumns,
		t.UserID, t.Name, t.Hash, t.Hint, time.Now().UnixMilli())
	created, err := scanAPIToken(row)
	if err != nil {
		return store.APIToken{}, fmt.Errorf("create API token for user %d: %w", t.UserID, err)
	}
	return created, nil
}

// APITokenByHash returns the token hashing to hash and its user, or
// store.ErrNotFound.
func (s *Store) APITokenByHash(ctx context.Context, hash []byte) (store.APIToken, store.User, error) {
	row := s.r.QueryRowContext(ctx, `SELECT t.id, t.user_id, t.name, t.token_hash, t.hint, t.created_at, t.last_used_at, `+
		acctPrefixed("u.", userColumns)+` FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1`, hash)
	var (
		t       store.APIToken
		created int64
		used    sql.NullInt64
	)
	u, err := scanUserAfter(row, &t.ID, &t.UserID, &t.Name, &t.Hash, &t.Hint, &created, &used)
	if err != nil {
		return store.APIToken{}, store.User{}, fmt.Errorf("API token: %w", err)
	}
	t.CreatedAt = acctTime(created)
	if used.Valid {
		t.LastUsedAt = acctTime(used.Int64)
	}
	return t, u, nil
}

// ListAPITokens returns the tokens of userID, newest first.
func (s *Store) ListAPITokens(ctx context.Context, userID int64) ([]store.APIToken, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE user_id = $1 ORDER BY id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("list API tokens of user %d: %w", userID, err)
	}
	defer rows.Close()
	ts := []store.APIToken{}
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list API tokens of user %d: %w", userID, err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list API tokens of user %d: %w", userID, err)
	}
	return ts, nil
}

// DeleteAPIToken removes token id of userID, or returns store.ErrNotFound
// (also when it belongs to someone else).
func (s *Store) DeleteAPIToken(ctx context.Context, userID, id int64) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return fmt.Errorf("delete API token %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("delete API token %d: %w", id, errors.Join(store.ErrNotFound, err))
	}
	return nil
}

// TouchAPIToken records that token id was used at t.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, t time.Time) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, t.UnixMilli()); err != nil {
		return fmt.Errorf("touch API token %d: %w", id, err)
	}
	return nil
}

// SiteSettings returns every stored site setting.
func (s *Store) SiteSettings(ctx context.Context) (map[string]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, value FROM site_settings`)
	if err != nil {
		return nil, fmt.Errorf("site settings: %w", err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("site settings: %w", err)
		}
		m[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("site settings: %w", err)
	}
	return m, nil
}

// PutSiteSettings stores every key of m, in one transaction.
func (s *Store) PutSiteSettings(ctx context.Context, m map[string]string) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("put site settings: begin: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	for k, v := range m {
		if _, err := tx.ExecContext(ctx, `INSERT INTO site_settings (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
			return fmt.Errorf("put site setting %q: %w", k, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put site settings: commit: %w", err)
	}
	return nil
}

// ReplaceSetupToken makes hash the only setup token, valid until expires.
// A nil hash just removes every setup token.
func (s *Store) ReplaceSetupToken(ctx context.Context, hash []byte, expires time.Time) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("replace setup token: begin: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	if _, err := tx.ExecContext(ctx, `DELETE FROM setup_tokens`); err != nil {
		return fmt.Errorf("replace setup token: %w", err)
	}
	if hash != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO setup_tokens (token_hash, expires_at) VALUES ($1, $2)`,
			hash, expires.UnixMilli()); err != nil {
			return fmt.Errorf("replace setup token: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("replace setup token: commit: %w", err)
	}
	return nil
}

// scanUser reads userColumns; sql.ErrNoRows becomes store.ErrNotFound.
func scanUser(sc scanner) (store.User, error) {
	return scanUserAfter(sc)
}

// scanUserAfter reads the columns before userColumns into before, then a
// user.
func scanUserAfter(sc scanner, before ...any) (store.User, error) {
	var (
		u                store.User
		disabled         int64
		created, updated int64
	)
	dest := append(before, &u.ID, &u.Name, &u.DisplayName, &u.Role, &disabled, &u.PasswordHash, &created, &updated)
	if err := sc.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.User{}, store.ErrNotFound
		}
		return store.User{}, err
	}
	u.Disabled = disabled != 0
	u.CreatedAt, u.UpdatedAt = acctTime(created), acctTime(updated)
	return u, nil
}

func scanAPIToken(sc scanner) (store.APIToken, error) {
	var (
		t       store.APIToken
		created int64
		used    sql.NullInt64
	)
	if err := sc.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.Hint, &created, &used); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.APIToken{}, store.ErrNotFound
		}
		return store.APIToken{}, err
	}
	t.CreatedAt = acctTime(created)
	if used.Valid {
		t.LastUsedAt = acctTime(used.Int64)
	}
	return t, nil
}

func acctTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func acctBool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// acctNullString passes a nil *string as SQL NULL (for COALESCE).
func acctNullString(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// acctPrefixed qualifies each column of a comma-separated list.
func acctPrefixed(prefix, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, ", ")
}

// acctEscapeLike escapes LIKE wildcards in s for ESCAPE '\'.
func acctEscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
