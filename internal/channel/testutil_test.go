package channel

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

// addUser inserts a user row with plain SQL, so these tests need no
// account code, and returns its ID.
func addUser(t *testing.T, dataDir, name string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dataDir, sqlstore.FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int64
	err = db.QueryRowContext(t.Context(), `INSERT INTO users (name, display_name, role, password_hash, created_at, updated_at)
		VALUES ($1, $2, 'viewer', 'x', 0, 0) RETURNING id`, name, "Display "+name).Scan(&id)
	if err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	return id
}

func newTestServiceDir(t *testing.T) (*Service, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.Open(t.Context(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := OpenSealer(dir)
	if err != nil {
		t.Fatal(err)
	}
	return NewService(st, sealer), dir
}
