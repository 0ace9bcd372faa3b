package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

// StatsSecret returns the deployment's viewer-hash key, storing generate()
// first if there is none yet (concurrent first calls agree on one key).
func (s *Store) StatsSecret(ctx context.Context, generate func() []byte) ([]byte, error) {
	var secret []byte
	err := s.r.QueryRowContext(ctx, `SELECT secret FROM stats_secret WHERE id = 1`).Scan(&secret)
	if err == nil {
		return secret, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read stats secret: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO stats_secret (id, secret, created_at) VALUES (1, $1, $2)
		ON CONFLICT (id) DO NOTHING`, generate(), time.Now().UnixMilli()); err != nil {
		return nil, fmt.Errorf("store stats secret: %w", err)
	}
	if err := s.w.QueryRowContext(ctx, `SELECT secret FROM stats_secret WHERE id = 1`).Scan(&secret); err != nil {
		return nil, fmt.Errorf("read stats secret: %w", err)
	}
	return secret, nil
}

// withTx runs fn in one write transaction.
func (s *Store) withTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(fmt.Errorf("%s: %w", what, err), tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromNullMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

// InsertViewerSessions stores sessions in one transaction and sets their
// IDs. A session of a channel that does not exist (any more) is skipped and
// keeps ID 0.
func (s *Store) InsertViewerSessions(ctx context.Context, sessions []*store.ViewerSession) error {
	if len(sessions) == 0 {
		return nil
	}
	return s.withTx(ctx, "insert viewer sessions", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO viewer_sessions (channel_id, protocol, viewer_hash, started_at, ended_at)
			SELECT id, $2, $3, $4, $5 FROM channels WHERE name = $1 RETURNING id`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, v := range sessions {
			err := st.QueryRowContext(ctx, v.Channel, v.Protocol, v.ViewerHash, v.StartedAt.UnixMilli(), nullMillis(v.EndedAt)).Scan(&v.ID)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				v.ID = 0
			case err != nil:
				return err
			}
		}
		return nil
	})
}

// EndViewerSessions sets the end time of stored sessions (ID → end).
func (s *Store) EndViewerSessions(ctx context.Context, ends map[int64]time.Time) error {
	if len(ends) == 0 {
		return nil
	}
	return s.withTx(ctx, "end viewer sessions", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE viewer_sessions SET ended_at = $2 WHERE id = $1`)
		if err != nil {
			return err
		}
		defer st.Close()
		for id, at := range ends {
			if _, err := st.ExecContext(ctx, id, at.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
}

// CloseOpenViewerSessions ends sessions left open by a process that
// stopped without ending them, at started_at + minDuration: all that is
// known is that they lasted that long (they are stored only after that).
func (s *Store) CloseOpenViewerSessions(ctx context.Context, minDuration time.Duration) (int64, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE viewer_sessions SET ended_at = started_at + $1 WHERE ended_at IS NULL`,
		minDuration.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("close open viewer sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PruneViewerSessions deletes sessions that ended before t.
func (s *Store) PruneViewerSessions(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM viewer_sessions WHERE ended_at IS NOT NULL AND ended_at < $1`, t.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("prune viewer sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// TopChannelsByViewers ranks channels by the number of distinct viewer
// hashes among sessions overlapping [since, until] (open sessions count),
// most first, ties by name; at most limit channels.
func (s *Store) TopChannelsByViewers(ctx context.Context, since, until time.Time, limit int) ([]store.ChannelViewers, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT c.name, COUNT(DISTINCT v.viewer_hash) AS n
		FROM viewer_sessions v JOIN channels c ON c.id = v.channel_id
		WHERE v.started_at <= $2 AND (v.ended_at IS NULL OR v.ended_at >= $1)
		GROUP BY c.name ORDER BY n DESC, c.name LIMIT $3`, since.UnixMilli(), until.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("rank channels by viewers: %w", err)
	}
	defer rows.Close()
	out := []store.ChannelViewers{}
	for rows.Next() {
		var cv store.ChannelViewers
		if err := rows.Scan(&cv.Channel, &cv.UniqueViewers); err != nil {
			return nil, fmt.Errorf("rank channels by viewers: %w", err)
		}
		out = append(out, cv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rank channels by viewers: %w", err)
	}
	return out, nil
}

// StartBroadcast records that channel went live at at and returns the
// broadcast's ID; store.ErrNotFound if there is no such channel.
func (s *Store) StartBroadcast(ctx context.Context, channel string, at time.Time) (int64, error) {
	var id int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO broadcasts (channel_id, started_at)
		SELECT id, $2 FROM channels WHERE name = $1 RETURNING id`, channel, at.UnixMilli()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("start broadcast of %q: %w", channel, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("start broadcast of %q: %w", channel, err)
	}
	return id, nil
}

// UpdateBroadcasts stores the counters (and end) of broadcasts and appends
// viewer samples, in one transaction.
func (s *Store) UpdateBroadcasts(ctx context.Context, updates []store.BroadcastUpdate, samples map[int64]store.ViewerSample) error {
	if len(updates) == 0 && len(samples) == 0 {
		return nil
	}
	return s.withTx(ctx, "update broadcasts", func(tx *sql.Tx) error {
		for _, u := range updates {
			if _, err := tx.ExecContext(ctx, `UPDATE broadcasts SET peak_viewers = $2, unique_viewers = $3, ended_at = $4 WHERE id = $1`,
				u.ID, u.PeakViewers, u.UniqueViewers, nullMillis(u.EndedAt)); err != nil {
				return err
			}
		}
		for id, smp := range samples {
			if _, err := tx.ExecContext(ctx, `INSERT INTO broadcast_samples (broadcast_id, at, viewers) VALUES ($1, $2, $3)
				ON CONFLICT (broadcast_id, at) DO UPDATE SET viewers = excluded.viewers`,
				id, smp.At.UnixMilli(), smp.Viewers); err != nil {
				return err
			}
		}
		return nil
	})
}

// CloseOpenBroadcasts ends broadcasts left open by a process that stopped
// without ending them, at their last viewer sample (or their start).
func (s *Store) CloseOpenBroadcasts(ctx context.Context) (int64, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE broadcasts SET ended_at = COALESCE(
		(SELECT MAX(at) FROM broadcast_samples WHERE broadcast_id = broadcasts.id), started_at)
		WHERE ended_at IS NULL`)
	if err != nil {
		return 0, fmt.Errorf("close open broadcasts: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

const broadcastColumns = `b.id, c.name, b.started_at, b.ended_at, b.peak_viewers, b.unique_viewers`

func scanBroadcast(sc interface{ Scan(...any) error }) (store.Broadcast, error) {
	var b store.Broadcast
	var started int64
	var ended sql.NullInt64
	if err := sc.Scan(&b.ID, &b.Channel, &started, &ended, &b.PeakViewers, &b.UniqueViewers); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return b, store.ErrNotFound
		}
		return b, err
	}
	b.StartedAt = time.UnixMilli(started).UTC()
	b.EndedAt = fromNullMillis(ended)
	return b, nil
}

// ChannelBroadcasts returns the newest broadcasts of channel, newest first.
func (s *Store) ChannelBroadcasts(ctx context.Context, channel string, limit int) ([]store.Broadcast, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+broadcastColumns+` FROM broadcasts b JOIN channels c ON c.id = b.channel_id
		WHERE c.name = $1 ORDER BY b.started_at DESC, b.id DESC LIMIT $2`, channel, limit)
	if err != nil {
		return nil, fmt.Errorf("broadcasts of %q: %w", channel, err)
	}
	defer rows.Close()
	out := []store.Broadcast{}
	for rows.Next() {
		b, err := scanBroadcast(rows)
		if err != nil {
			return nil, fmt.Errorf("broadcasts of %q: %w", channel, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("broadcasts of %q: %w", channel, err)
	}
	return out, nil
}

// BroadcastByID returns broadcast id, or store.ErrNotFound.
func (s *Store) BroadcastByID(ctx context.Context, id int64) (store.Broadcast, error) {
	b, err := scanBroadcast(s.r.QueryRowContext(ctx, `SELECT `+broadcastColumns+` FROM broadcasts b
		JOIN channels c ON c.id = b.channel_id WHERE b.id = $1`, id))
	if err != nil {
		return b, fmt.Errorf("broadcast %d: %w", id, err)
	}
	return b, nil
}

// BroadcastSamples returns the viewer samples of broadcast id, oldest first.
func (s *Store) BroadcastSamples(ctx context.Context, id int64) ([]store.ViewerSample, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT at, viewers FROM broadcast_samples WHERE broadcast_id = $1 ORDER BY at`, id)
	if err != nil {
		return nil, fmt.Errorf("samples of broadcast %d: %w", id, err)
	}
	defer rows.Close()
	out := []store.ViewerSample{}
	for rows.Next() {
		var at int64
		var smp store.ViewerSample
		if err := rows.Scan(&at, &smp.Viewers); err != nil {
			return nil, fmt.Errorf("samples of broadcast %d: %w", id, err)
		}
		smp.At = time.UnixMilli(at).UTC()
		out = append(out, smp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("samples of broadcast %d: %w", id, err)
	}
	return out, nil
}
