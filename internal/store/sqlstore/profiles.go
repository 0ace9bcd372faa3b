package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

// recordColumns are read by scanRecord. $1 is always the user whose
// Following flag is wanted (0 for none: no user has ID 0).
const recordColumns = `c.id, c.name, c.key_hash, c.key_sealed, c.key_hint, c.created_at, c.updated_at,
	c.owner_id, u.name, u.display_name,
	c.title, c.description, c.category, c.tags, c.language, c.visibility,
	c.avatar_id, c.banner_id, c.disabled, c.last_live_at,
	(SELECT COUNT(*) FROM follows f WHERE f.channel_id = c.id),
	EXISTS (SELECT 1 FROM follows f WHERE f.channel_id = c.id AND f.user_id = $1)`

const recordFrom = ` FROM channels c LEFT JOIN users u ON u.id = c.owner_id`

// CreateOwnedChannel inserts a channel owned by ownerID with profile p,
// unless ownerID already owns maxPerOwner channels (store.ErrLimit;
// maxPerOwner <= 0: no limit). The count and the insert happen in one
// statement on the single writer connection, so concurrent requests cannot
// exceed the limit. A taken name gives store.ErrExists.
func (s *Store) CreateOwnedChannel(ctx context.Context, name string, key store.ChannelKey, ownerID int64,
	p store.ChannelProfile, maxPerOwner int,
) (store.ChannelRecord, error) {
	now := time.Now().UnixMilli()
	res, err := s.w.ExecContext(ctx, `INSERT INTO channels (name, key_hash, key_sealed, key_hint, created_at, updated_at,
		owner_id, title, description, category, tags, search, language, visibility)
		SELECT $1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13
		WHERE $14 <= 0 OR (SELECT COUNT(*) FROM channels WHERE owner_id = $6) < $14`,
		name, key.Hash, key.Sealed, key.Hint, now, ownerID,
		p.Title, p.Description, p.Category, strings.Join(p.Tags, " "), searchText(p), p.Language, p.Visibility,
		maxPerOwner)
	if err != nil {
		if isUnique(err) {
			return store.ChannelRecord{}, fmt.Errorf("create channel %q: %w", name, store.ErrExists)
		}
		return store.ChannelRecord{}, fmt.Errorf("create channel %q: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return store.ChannelRecord{}, fmt.Errorf("create channel %q: %w", name, err)
	} else if n == 0 {
		return store.ChannelRecord{}, fmt.Errorf("create channel %q: user %d owns %d channels: %w",
			name, ownerID, maxPerOwner, store.ErrLimit)
	}
	return s.ChannelRecord(ctx, name, ownerID)
}

// ChannelRecord returns the channel called name with its profile; viewerID
// (0: none) fills in Following. Unknown names give store.ErrNotFound.
func (s *Store) ChannelRecord(ctx context.Context, name string, viewerID int64) (store.ChannelRecord, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+recordColumns+recordFrom+` WHERE c.name = $2`, viewerID, name)
	rec, err := scanRecord(row)
	if err != nil {
		return store.ChannelRecord{}, fmt.Errorf("channel %q: %w", name, err)
	}
	return rec, nil
}

// ChannelRecords returns the channels f selects, ordered by name.
func (s *Store) ChannelRecords(ctx context.Context, f store.ChannelFilter) ([]store.ChannelRecord, error) {
	if f.Names != nil && len(f.Names) == 0 {
		return nil, nil
	}
	args := []any{f.ViewerID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var where []string
	if f.Search != "" {
		p := arg("%" + escapeLike(f.Search) + "%")
		where = append(where, `(c.name LIKE `+p+` ESCAPE '\' OR c.search LIKE `+p+` ESCAPE '\')`)
	}
	if f.Categories != nil {
		where = append(where, `c.category IN (`+list(f.Categories, arg)+`)`)
	}
	if f.Names != nil {
		where = append(where, `c.name IN (`+list(f.Names, arg)+`)`)
	}
	if f.FollowedBy != 0 {
		where = append(where, `EXISTS (SELECT 1 FROM follows fb WHERE fb.channel_id = c.id AND fb.user_id = `+arg(f.FollowedBy)+`)`)
	}
	if f.OwnerID != 0 {
		where = append(where, `c.owner_id = `+arg(f.OwnerID))
	}
	if f.ListedOnly {
		where = append(where, `c.visibility = 'public' AND c.disabled = 0`)
	}
	q := `SELECT ` + recordColumns + recordFrom
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY c.name`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list channel records: %w", err)
	}
	defer rows.Close()
	var out []store.ChannelRecord
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("list channel records: %w", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list channel records: %w", err)
	}
	return out, nil
}

// UpdateChannelProfile replaces the profile of the channel called name, or
// returns store.ErrNotFound.
func (s *Store) UpdateChannelProfile(ctx context.Context, name string, p store.ChannelProfile) error {
	res, err := s.w.ExecContext(ctx, `UPDATE channels SET title = $2, description = $3, category = $4, tags = $5,
		search = $6, language = $7, visibility = $8 WHERE name = $1`,
		name, p.Title, p.Description, p.Category, strings.Join(p.Tags, " "), searchText(p), p.Language, p.Visibility)
	return oneRow(res, err, "update profile of channel %q", name)
}

// SetChannelImage stores file ("" = none) in the kind slot of the channel
// called name and returns the file it replaced ("" = none).
func (s *Store) SetChannelImage(ctx context.Context, name string, kind store.ImageKind, file string) (old string, err error) {
	var col string
	switch kind {
	case store.ImageAvatar:
		col = "avatar_id"
	case store.ImageBanner:
		col = "banner_id"
	default:
		return "", fmt.Errorf("set image of channel %q: unknown kind %q", name, kind)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("set %s of channel %q: %w", kind, name, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	if err := tx.QueryRowContext(ctx, `SELECT `+col+` FROM channels WHERE name = $1`, name).Scan(&old); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			err = store.ErrNotFound
		}
		return "", fmt.Errorf("set %s of channel %q: %w", kind, name, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE channels SET `+col+` = $2 WHERE name = $1`, name, file); err != nil {
		return "", fmt.Errorf("set %s of channel %q: %w", kind, name, err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("set %s of channel %q: %w", kind, name, err)
	}
	return old, nil
}

// SetChannelDisabled disables or enables the channel called name.
func (s *Store) SetChannelDisabled(ctx context.Context, name string, disabled bool) error {
	res, err := s.w.ExecContext(ctx, `UPDATE channels SET disabled = $2 WHERE name = $1`, name, disabled)
	return oneRow(res, err, "disable channel %q", name)
}

// ChannelDisabled reports whether the channel with id is disabled.
func (s *Store) ChannelDisabled(ctx context.Context, id int64) (bool, error) {
	var disabled bool
	err := s.r.QueryRowContext(ctx, `SELECT disabled FROM channels WHERE id = $1`, id).Scan(&disabled)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("channel %d disabled: %w", id, err)
	}
	return disabled, nil
}

// SetChannelLastLive records that the channel called name was live at at.
func (s *Store) SetChannelLastLive(ctx context.Context, name string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE channels SET last_live_at = $2 WHERE name = $1`, name, at.UnixMilli())
	return oneRow(res, err, "record last live time of channel %q", name)
}

// SetFollow makes userID follow (or stop following) channelID and returns
// the channel's follower count afterwards.
func (s *Store) SetFollow(ctx context.Context, userID, channelID int64, follow bool) (followers int, err error) {
	if follow {
		_, err = s.w.ExecContext(ctx, `INSERT INTO follows (user_id, channel_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, userID, channelID, time.Now().UnixMilli())
	} else {
		_, err = s.w.ExecContext(ctx, `DELETE FROM follows WHERE user_id = $1 AND channel_id = $2`, userID, channelID)
	}
	if err != nil {
		return 0, fmt.Errorf("follow channel %d by user %d: %w", channelID, userID, err)
	}
	// Read through the writer so the count includes this change.
	if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM follows WHERE channel_id = $1`, channelID).Scan(&followers); err != nil {
		return 0, fmt.Errorf("count followers of channel %d: %w", channelID, err)
	}
	return followers, nil
}

// scanRecord reads recordColumns; sql.ErrNoRows becomes store.ErrNotFound.
func scanRecord(sc scanner) (store.ChannelRecord, error) {
	var (
		r                   store.ChannelRecord
		created, updated    int64
		hint                sql.NullString
		keyHash, keySealed  []byte
		ownerID             sql.NullInt64
		ownerName, ownerDis sql.NullString
		tags                string
		lastLive            sql.NullInt64
	)
	err := sc.Scan(&r.ID, &r.Name, &keyHash, &keySealed, &hint, &created, &updated,
		&ownerID, &ownerName, &ownerDis,
		&r.Title, &r.Description, &r.Category, &tags, &r.Language, &r.Visibility,
		&r.AvatarID, &r.BannerID, &r.Disabled, &lastLive, &r.Followers, &r.Following)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.ChannelRecord{}, store.ErrNotFound
		}
		return store.ChannelRecord{}, err
	}
	r.Key = store.ChannelKey{Hash: keyHash, Sealed: keySealed, Hint: hint.String}
	r.CreatedAt = time.UnixMilli(created).UTC()
	r.UpdatedAt = time.UnixMilli(updated).UTC()
	if ownerID.Valid {
		r.Owner = &store.ChannelOwner{ID: ownerID.Int64, Name: ownerName.String, DisplayName: ownerDis.String}
	}
	if tags != "" {
		r.Tags = strings.Fields(tags)
	}
	if lastLive.Valid {
		r.LastLiveAt = time.UnixMilli(lastLive.Int64).UTC()
	}
	return r, nil
}

// searchText is what a search matches besides the name: the title and the
// tags, lower-cased here because SQLite's LIKE folds ASCII only.
func searchText(p store.ChannelProfile) string {
	return strings.ToLower(p.Title) + "\n" + strings.Join(p.Tags, " ")
}

// escapeLike makes s match literally in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func list(vs []string, arg func(any) string) string {
	if len(vs) == 0 {
		return "NULL" // IN (NULL) matches nothing
	}
	ps := make([]string, len(vs))
	for i, v := range vs {
		ps[i] = arg(v)
	}
	return strings.Join(ps, ", ")
}

// oneRow turns the result of an UPDATE by name into nil or
// store.ErrNotFound, wrapping errors with the formatted context.
func oneRow(res sql.Result, err error, format string, name string) error {
	if err != nil {
		return fmt.Errorf(format+": %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf(format+": %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf(format+": %w", name, store.ErrNotFound)
	}
	return nil
}
