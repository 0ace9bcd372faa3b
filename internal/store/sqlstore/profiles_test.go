package sqlstore

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

// addTestUser inserts a user row with plain SQL and returns its ID.
func addTestUser(t *testing.T, s *Store, name string) int64 {
	t.Helper()
	var id int64
	err := s.w.QueryRowContext(t.Context(), `INSERT INTO users (name, display_name, role, password_hash, created_at, updated_at)
		VALUES ($1, $2, 'viewer', 'x', 0, 0) RETURNING id`, name, "The "+name).Scan(&id)
	if err != nil {
		t.Fatalf("add user: %v", err)
	}
	return id
}

func testKey(n byte) store.ChannelKey {
	return store.ChannelKey{Hash: []byte{n, 1, 2}, Sealed: []byte{n}, Hint: "hint"}
}

func TestChannelRecords(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	alice := addTestUser(t, s, "alice")
	bob := addTestUser(t, s, "bob")

	rec, err := s.CreateOwnedChannel(ctx, "demo", testKey(1), alice, store.ChannelProfile{
		Title: "Hello", Tags: []string{"a", "b"}, Visibility: "public", Category: "games",
	}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Owner == nil || rec.Owner.Name != "alice" || rec.Owner.DisplayName != "The alice" || rec.Title != "Hello" ||
		len(rec.Tags) != 2 || !rec.LastLiveAt.IsZero() || rec.Followers != 0 {
		t.Errorf("record %+v", rec)
	}
	if _, err := s.CreateOwnedChannel(ctx, "bad", testKey(2), alice, store.ChannelProfile{Visibility: "private"}, 5); err == nil {
		t.Error("visibility outside the CHECK accepted")
	}
	if n, err := s.SetFollow(ctx, bob, rec.ID, true); err != nil || n != 1 {
		t.Errorf("follow: %d, %v", n, err)
	}
	at := time.UnixMilli(1_700_000_000_123).UTC()
	if err := s.SetChannelLastLive(ctx, "demo", at); err != nil {
		t.Fatal(err)
	}
	got, err := s.ChannelRecord(ctx, "demo", bob)
	if err != nil || !got.Following || got.Followers != 1 || !got.LastLiveAt.Equal(at) {
		t.Errorf("record for bob %+v, %v", got, err)
	}
	if got, _ := s.ChannelRecord(ctx, "demo", alice); got.Following {
		t.Error("alice follows without following")
	}
	old, err := s.SetChannelImage(ctx, "demo", store.ImageAvatar, "x.png")
	if err != nil || old != "" {
		t.Errorf("first image: %q, %v", old, err)
	}
	if old, err := s.SetChannelImage(ctx, "demo", store.ImageAvatar, "y.png"); err != nil || old != "x.png" {
		t.Errorf("second image: %q, %v", old, err)
	}
	if _, err := s.SetChannelImage(ctx, "nope", store.ImageAvatar, "y.png"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("image of unknown channel: %v", err)
	}

	// Deleting users: follows go, owned channels stay ownerless.
	if _, err := s.w.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, bob); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ChannelRecord(ctx, "demo", 0); got.Followers != 0 {
		t.Errorf("follows of a deleted user remain: %d", got.Followers)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, alice); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ChannelRecord(ctx, "demo", 0); err != nil || got.Owner != nil {
		t.Errorf("channel of a deleted owner: %+v, %v", got.Owner, err)
	}
}

func TestCreateOwnedChannelLimitConcurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u := addTestUser(t, s, "alice")
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s.CreateOwnedChannel(ctx, "c"+string(rune('a'+i)), testKey(byte(i)), u,
				store.ChannelProfile{Visibility: "public"}, 5)
		})
	}
	wg.Wait()
	ok, limited := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrLimit):
			limited++
		default:
			t.Errorf("create: %v", err)
		}
	}
	if ok != 5 || limited != 7 {
		t.Errorf("%d created, %d limited; want 5 and 7", ok, limited)
	}
}
