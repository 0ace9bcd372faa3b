// Package sqlstore keeps Huabian Live's records in SQL through database/sql.
// The default is an SQLite file in the data directory (modernc.org/sqlite,
// pure Go), shared safely by the server and CLI commands run beside it.
// Queries use $N placeholders and portable SQL so that a PostgreSQL dialect
// can be added with its own migrations directory.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/huabian-live/huabian/internal/store"
)

// FileName is the SQLite database file inside the data directory.
const FileName = "huabian.db"

// SQLite connection settings. WAL lets readers run beside the one writer;
// busy_timeout makes a connection wait up to 5 s for a lock held by another
// connection or process (the CLI beside the server) instead of failing.
// _txlock=immediate makes every write transaction take the write lock at
// BEGIN, so two writers queue instead of deadlocking on a lock upgrade.
const (
	writerParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	readerParams = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"
)

// Store is the SQL store. It is safe for concurrent use.
type Store struct {
	// w has a single connection: SQLite allows one writer at a time, and
	// queueing writers in the pool is cheaper and fairer than spinning on
	// SQLITE_BUSY.
	w *sql.DB
	// r serves reads; in WAL mode they do not wait for the writer.
	r *sql.DB
}

// Open opens (creating if needed) dataDir/huabian.db, creating dataDir with
// mode 0700, and applies pending migrations. Several processes may open the
// same database at once. log receives migration notices; nil discards them.
func Open(ctx context.Context, dataDir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	p, err := filepath.Abs(filepath.Join(dataDir, FileName))
	if err != nil {
		return nil, fmt.Errorf("open database in %s: %w", dataDir, err)
	}
	if strings.ContainsRune(p, '?') {
		return nil, fmt.Errorf("open database %s: the path must not contain '?'", p)
	}
	ms, err := loadMigrations(migrationFS, "migrations/sqlite")
	if err != nil {
		return nil, err
	}

	w, err := sql.Open("sqlite", p+"?"+writerParams)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", p, err)
	}
	w.SetMaxOpenConns(1)
	if err := pingUnlessBusy(ctx, w); err != nil {
		return nil, errors.Join(fmt.Errorf("open database %s: %w", p, err), w.Close())
	}
	if err := migrate(ctx, w, ms, log.With("db", p)); err != nil {
		return nil, errors.Join(fmt.Errorf("migrate database %s: %w", p, err), w.Close())
	}

	r, err := sql.Open("sqlite", p+"?"+readerParams)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open database %s: %w", p, err), w.Close())
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open database %s: %w", p, err), r.Close(), w.Close())
	}
	return &Store{w: w, r: r}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

const channelColumns = `id, name, key_hash, key_sealed, key_hint, created_at, updated_at`

// CreateChannel inserts a channel named name with key and returns it.
// A taken name gives store.ErrExists.
func (s *Store) CreateChannel(ctx context.Context, name string, key store.ChannelKey) (store.Channel, error) {
	now := time.Now()
	row := s.w.QueryRowContext(ctx, `INSERT INTO channels (name, key_hash, key_sealed, key_hint, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) RETURNING `+channelColumns,
		name, key.Hash, key.Sealed, key.Hint, now.UnixMilli())
	c, err := scanChannel(row)
	if err != nil {
		if isUnique(err) {
			return store.Channel{}, fmt.Errorf("create channel %q: %w", name, store.ErrExists)
		}
		return store.Channel{}, fmt.Errorf("create channel %q: %w", name, err)
	}
	return c, nil
}

// ChannelByName returns the channel called name, or store.ErrNotFound.
func (s *Store) ChannelByName(ctx context.Context, name string) (store.Channel, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+channelColumns+` FROM channels WHERE name = $1`, name)
	c, err := scanChannel(row)
	if err != nil {
		return store.Channel{}, fmt.Errorf("channel %q: %w", name, err)
	}
	return c, nil
}

// ChannelByKeyHash returns the channel whose key hashes to hash, or
// store.ErrNotFound.
func (s *Store) ChannelByKeyHash(ctx context.Context, hash []byte) (store.Channel, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+channelColumns+` FROM channels WHERE key_hash = $1`, hash)
	c, err := scanChannel(row)
	if err != nil {
		return store.Channel{}, fmt.Errorf("channel by key hash: %w", err)
	}
	return c, nil
}

// ListChannels returns every channel, ordered by name.
func (s *Store) ListChannels(ctx context.Context) ([]store.Channel, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+channelColumns+` FROM channels ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	defer rows.Close()
	var cs []store.Channel
	for rows.Next() {
		c, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("list channels: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return cs, nil
}

// UpdateChannelKey replaces the key of the channel called name and returns
// the updated channel, or store.ErrNotFound.
func (s *Store) UpdateChannelKey(ctx context.Context, name string, key store.ChannelKey) (store.Channel, error) {
	row := s.w.QueryRowContext(ctx, `UPDATE channels SET key_hash = $2, key_sealed = $3, key_hint = $4, updated_at = $5
		WHERE name = $1 RETURNING `+channelColumns,
		name, key.Hash, key.Sealed, key.Hint, time.Now().UnixMilli())
	c, err := scanChannel(row)
	if err != nil {
		return store.Channel{}, fmt.Errorf("update key of channel %q: %w", name, err)
	}
	return c, nil
}

// DeleteChannel removes the channel called name, or returns
// store.ErrNotFound.
func (s *Store) DeleteChannel(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM channels WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("delete channel %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete channel %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("delete channel %q: %w", name, store.ErrNotFound)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

// scanChannel reads channelColumns; sql.ErrNoRows becomes store.ErrNotFound.
func scanChannel(sc scanner) (store.Channel, error) {
	var (
		c                  store.Channel
		created, updated   int64
		hint               sql.NullString
		keyHash, keySealed []byte
	)
	if err := sc.Scan(&c.ID, &c.Name, &keyHash, &keySealed, &hint, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.Channel{}, store.ErrNotFound
		}
		return store.Channel{}, err
	}
	c.Key = store.ChannelKey{Hash: keyHash, Sealed: keySealed, Hint: hint.String}
	c.CreatedAt = time.UnixMilli(created).UTC()
	c.UpdatedAt = time.UnixMilli(updated).UTC()
	return c, nil
}

// pingUnlessBusy opens db's first connection, which applies the
// connection pragmas. Switching a fresh database to WAL needs a lock that
// SQLite refuses at once with SQLITE_BUSY, without waiting busy_timeout,
// while another process opens the same database (two CLI commands, or the
// CLI beside a starting server); such a refusal is retried for up to 5 s.
func pingUnlessBusy(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(5 * time.Second)
	wait := 10 * time.Millisecond
	for {
		err := db.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}
