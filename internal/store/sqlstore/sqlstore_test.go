package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dir, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func key(b byte) store.ChannelKey {
	return store.ChannelKey{
		Hash:   bytes.Repeat([]byte{b}, 32),
		Sealed: []byte{1, 2, 3, b},
		Hint:   fmt.Sprintf("h%03d", b),
	}
}

func TestChannels(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, t.TempDir())

	before := time.Now().Add(-time.Second)
	demo, err := s.CreateChannel(ctx, "demo", key(1))
	if err != nil {
		t.Fatalf("CreateChannel: %v", err)
	}
	if demo.ID == 0 || demo.Name != "demo" || demo.Key.Hint != "h001" || !bytes.Equal(demo.Key.Sealed, key(1).Sealed) {
		t.Errorf("CreateChannel = %+v", demo)
	}
	if demo.CreatedAt.Before(before) || demo.CreatedAt.Location() != time.UTC || !demo.UpdatedAt.Equal(demo.CreatedAt) {
		t.Errorf("times: created %v updated %v", demo.CreatedAt, demo.UpdatedAt)
	}
	if _, err := s.CreateChannel(ctx, "alpha", key(2)); err != nil {
		t.Fatalf("CreateChannel alpha: %v", err)
	}

	t.Run("duplicate name", func(t *testing.T) {
		_, err := s.CreateChannel(ctx, "demo", key(3))
		if !errors.Is(err, store.ErrExists) {
			t.Errorf("err = %v, want ErrExists", err)
		}
	})
	t.Run("by name", func(t *testing.T) {
		got, err := s.ChannelByName(ctx, "demo")
		if err != nil || got.ID != demo.ID || !bytes.Equal(got.Key.Hash, demo.Key.Hash) {
			t.Errorf("ChannelByName = %+v, %v; want %+v", got, err, demo)
		}
		if !got.CreatedAt.Equal(demo.CreatedAt) {
			t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, demo.CreatedAt)
		}
	})
	t.Run("by key hash", func(t *testing.T) {
		got, err := s.ChannelByKeyHash(ctx, key(1).Hash)
		if err != nil || got.Name != "demo" {
			t.Errorf("ChannelByKeyHash = %+v, %v", got, err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		if _, err := s.ChannelByName(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ChannelByName: %v, want ErrNotFound", err)
		}
		if _, err := s.ChannelByKeyHash(ctx, key(9).Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ChannelByKeyHash: %v, want ErrNotFound", err)
		}
		if _, err := s.UpdateChannelKey(ctx, "nope", key(9)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateChannelKey: %v, want ErrNotFound", err)
		}
		if err := s.DeleteChannel(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteChannel: %v, want ErrNotFound", err)
		}
	})
	t.Run("list sorted", func(t *testing.T) {
		cs, err := s.ListChannels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		if fmt.Sprint(names) != "[alpha demo]" {
			t.Errorf("names = %v, want [alpha demo]", names)
		}
	})
	t.Run("update key", func(t *testing.T) {
		got, err := s.UpdateChannelKey(ctx, "demo", key(4))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != demo.ID || got.Key.Hint != "h004" || got.UpdatedAt.Before(got.CreatedAt) {
			t.Errorf("UpdateChannelKey = %+v", got)
		}
		if _, err := s.ChannelByKeyHash(ctx, key(1).Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old hash still found: %v", err)
		}
		if c, err := s.ChannelByKeyHash(ctx, key(4).Hash); err != nil || c.ID != demo.ID {
			t.Errorf("new hash: %+v, %v", c, err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := s.DeleteChannel(ctx, "demo"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChannelByName(ctx, "demo"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after delete: %v", err)
		}
		again, err := s.CreateChannel(ctx, "demo", key(5))
		if err != nil {
			t.Fatal(err)
		}
		if again.ID == demo.ID {
			t.Errorf("id %d reused after delete", again.ID)
		}
	})
}

func TestOpenSettings(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s := openTest(t, dir)

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode = %o, want 700", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Errorf("database file: %v", err)
	}
	for _, tc := range []struct {
		name  string
		db    *sql.DB
		query string
		want  string
	}{
		{"journal mode", s.w, "PRAGMA journal_mode", "wal"},
		{"busy timeout", s.w, "PRAGMA busy_timeout", "5000"},
		{"foreign keys", s.w, "PRAGMA foreign_keys", "1"},
		{"reader busy timeout", s.r, "PRAGMA busy_timeout", "5000"},
		{"reader read-only", s.r, "PRAGMA query_only", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			if err := tc.db.QueryRowContext(t.Context(), tc.query).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("%s = %q, want %q", tc.query, got, tc.want)
			}
		})
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for range 3 {
		s, err := Open(t.Context(), dir, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s := openTest(t, dir)
	ms, err := loadMigrations(migrationFS, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.r.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
}

func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	// Several "processes" open a fresh database at once (the CLI beside the
	// server) and write straight away; none may fail with SQLITE_BUSY or
	// apply a migration twice.
	dir := t.TempDir()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			s, err := Open(t.Context(), dir, nil)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			if _, err := s.CreateChannel(t.Context(), fmt.Sprintf("ch%d", i), key(byte(i))); err != nil {
				errs <- err
			}
			if _, err := s.ListChannels(t.Context()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := openTest(t, dir)
	cs, err := s.ListChannels(t.Context())
	if err != nil || len(cs) != n {
		t.Errorf("ListChannels: %d channels, %v; want %d", len(cs), err, n)
	}
}

func TestFailedMigrationRollsBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	fsys := fstest.MapFS{
		"m/0001_ok.sql":  {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"m/0002_bad.sql": {Data: []byte("CREATE TABLE b (x INTEGER); INSERT INTO nosuch VALUES (1);")},
	}
	ms, err := loadMigrations(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db")+"?"+writerParams)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrate(ctx, db, ms, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("migrate succeeded with a broken migration")
	}
	vs, err := appliedVersions(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(vs) != "[1]" {
		t.Errorf("applied = %v, want [1]", vs)
	}
	var name string
	err = db.QueryRowContext(ctx, `SELECT name FROM sqlite_master WHERE name = 'b'`).Scan(&name)
	if !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("table b from the failed migration exists (err %v)", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), dir, nil); err == nil {
		t.Error("Open accepted a database from a newer version")
	}
}

func TestLoadMigrationsErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
	}{
		{"bad name", fstest.MapFS{"m/first.sql": {}}},
		{"zero version", fstest.MapFS{"m/0000_x.sql": {}}},
		{"duplicate version", fstest.MapFS{"m/0001_a.sql": {}, "m/001_b.sql": {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := loadMigrations(tc.fsys, "m"); err == nil {
				t.Error("want error")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		dir  string
	}{
		{"data dir is a file", t.Context(), file},
		{"question mark", t.Context(), filepath.Join(t.TempDir(), "a?b")},
		{"canceled", ctx, t.TempDir()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.ctx, tc.dir, nil)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

// TestConcurrentProcesses runs the test binary itself several times against
// one fresh database, as the server and CLI commands do.
func TestConcurrentProcesses(t *testing.T) {
	if dir := os.Getenv("SQLSTORE_TEST_CHILD_DIR"); dir != "" {
		s, err := Open(t.Context(), dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		name := "p" + os.Getenv("SQLSTORE_TEST_CHILD_ID")
		if _, err := s.CreateChannel(t.Context(), name, key(name[1])); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("no test binary path: %v", err)
	}
	dir := t.TempDir()
	const n = 4
	cmds := make([]*exec.Cmd, n)
	outs := make([]bytes.Buffer, n)
	for i := range cmds {
		cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestConcurrentProcesses$")
		cmd.Env = append(os.Environ(), "SQLSTORE_TEST_CHILD_DIR="+dir, fmt.Sprintf("SQLSTORE_TEST_CHILD_ID=%d", i))
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", i, err, outs[i].String())
		}
	}
	s := openTest(t, dir)
	cs, err := s.ListChannels(t.Context())
	if err != nil || len(cs) != n {
		t.Errorf("ListChannels: %d channels, %v; want %d", len(cs), err, n)
	}
}

// Opening a database that another process holds locked (here: a fresh,
// not yet WAL database inside an exclusive transaction) waits for the lock
// instead of failing with "database is locked".
func TestOpenWaitsForAnotherProcessLock(t *testing.T) {
	dir := t.TempDir()
	other, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE TABLE held (x); BEGIN EXCLUSIVE; INSERT INTO held VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	opened := make(chan error, 1)
	go func() {
		s, err := Open(ctx, dir, nil)
		if err == nil {
			s.Close()
		}
		opened <- err
	}()
	time.Sleep(300 * time.Millisecond) // Open is waiting on the lock now
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Fatalf("Open beside a locked database: %v", err)
	}
}
