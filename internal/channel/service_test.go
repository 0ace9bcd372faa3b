package channel

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/huabian-live/huabian/internal/store"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

var _ Store = (*sqlstore.Store)(nil)

func newTestService(t *testing.T) (*Service, *sqlstore.Store) {
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
	return NewService(st, sealer), st
}

func TestServiceLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc, st := newTestService(t)

	key, err := svc.Create(ctx, "demo")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !wellFormed(string(key)) {
		t.Fatalf("Create returned malformed key %q", string(key))
	}
	row, err := st.ChannelByName(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(row.Key.Sealed, []byte(key)[3:]) || bytes.Contains(row.Key.Hash, []byte(key)) {
		t.Error("database row contains the plain key")
	}
	if row.Key.Hint != string(key)[31:] {
		t.Errorf("hint = %q, want last 4 of key", row.Key.Hint)
	}

	for _, tc := range []struct {
		name string
		want bool
	}{{"demo", true}, {"nope", false}, {"../x", false}} {
		if got, err := svc.Exists(ctx, tc.name); err != nil || got != tc.want {
			t.Errorf("Exists(%q) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}

	got, err := svc.Key(ctx, "demo")
	if err != nil || got != key {
		t.Errorf("Key = %v, %v; want the created key", got, err)
	}
	if _, err := svc.Create(ctx, "demo"); !errors.Is(err, ErrExists) {
		t.Errorf("second Create: %v, want ErrExists", err)
	}
	if _, err := svc.Create(ctx, "Bad/Name"); !errors.Is(err, ErrBadName) {
		t.Errorf("Create bad name: %v, want ErrBadName", err)
	}
	for name, err := range map[string]error{
		"Key":    func() error { _, err := svc.Key(ctx, "nope"); return err }(),
		"Rotate": func() error { _, err := svc.Rotate(ctx, "nope"); return err }(),
		"Delete": svc.Delete(ctx, "nope"),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of unknown channel: %v, want ErrNotFound", name, err)
		}
	}

	list, err := svc.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "demo" || list[0].RedactedKey() != "sk_…"+string(key)[33:] {
		t.Errorf("List = %+v, %v", list, err)
	}

	if err := svc.Delete(ctx, "demo"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := svc.Authenticate(ctx, string(key)); !errors.Is(err, ErrBadKey) {
		t.Errorf("Authenticate after delete: %v, want ErrBadKey", err)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc, _ := newTestService(t)
	key, err := svc.Create(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	other, err := svc.Create(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}

	c, err := svc.Authenticate(ctx, string(key))
	if err != nil || c.Name != "demo" {
		t.Fatalf("Authenticate(correct) = %+v, %v", c, err)
	}
	if !bytes.Equal(c.KeyHash, HashKey(string(key))) {
		t.Errorf("KeyHash is not the key's hash")
	}
	if c2, err := svc.Authenticate(ctx, string(other)); err != nil || c2.Name != "other" {
		t.Errorf("Authenticate(other) = %+v, %v", c2, err)
	}
	wrong := string(key[:34]) + map[bool]string{true: "b", false: "a"}[key[34] == 'a']
	for _, bad := range []string{"", "demo", wrong, string(GenerateKey()), string(key) + " ", "SK_" + string(key[3:])} {
		if _, err := svc.Authenticate(ctx, bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("Authenticate(%q) = %v, want ErrBadKey", bad, err)
		}
	}

	if !svc.KeyStillValid(ctx, c.ID, c.KeyHash) {
		t.Error("KeyStillValid = false before rotation")
	}
	newKey, err := svc.Rotate(ctx, "demo")
	if err != nil || newKey == key {
		t.Fatalf("Rotate = %v, %v", newKey, err)
	}
	if _, err := svc.Authenticate(ctx, string(key)); !errors.Is(err, ErrBadKey) {
		t.Errorf("old key after rotation: %v, want ErrBadKey", err)
	}
	if c3, err := svc.Authenticate(ctx, string(newKey)); err != nil || c3.ID != c.ID {
		t.Errorf("new key: %+v, %v", c3, err)
	}
	if got, err := svc.Key(ctx, "demo"); err != nil || got != newKey {
		t.Errorf("Key after rotation = %v, %v; want the new key", got, err)
	}
	if svc.KeyStillValid(ctx, c.ID, c.KeyHash) {
		t.Error("KeyStillValid = true after rotation")
	}
	oc, _ := svc.Authenticate(ctx, string(other))
	if svc.KeyStillValid(ctx, c.ID, oc.KeyHash) {
		t.Error("KeyStillValid accepts another channel's key")
	}
}

// brokenStore fails every key lookup, like a database that is down.
type brokenStore struct{ Store }

func (brokenStore) ChannelByKeyHash(context.Context, []byte) (store.Channel, error) {
	return store.Channel{}, errors.New("disk on fire")
}

func TestKeyCheckDatabaseError(t *testing.T) {
	t.Parallel()
	svc := NewService(brokenStore{}, testSealer(t))
	key := GenerateKey()
	if _, err := svc.Authenticate(t.Context(), string(key)); err == nil || errors.Is(err, ErrBadKey) {
		t.Errorf("Authenticate with a broken store: %v, want a database error", err)
	} else if bytes.Contains([]byte(err.Error()), []byte(key)) {
		t.Errorf("error reveals the key: %v", err)
	}
	if err := svc.CheckKey(t.Context(), 1, HashKey(string(key))); err == nil || errors.Is(err, ErrBadKey) {
		t.Errorf("CheckKey: %v, want a database error", err)
	}
	if !svc.KeyStillValid(t.Context(), 1, HashKey(string(key))) {
		t.Error("KeyStillValid ends a publish on a database error")
	}
}

func TestKeyWithReplacedSecret(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc, st := newTestService(t)
	key, err := svc.Create(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSealer(bytes.Repeat([]byte{1}, SecretSize))
	if err != nil {
		t.Fatal(err)
	}
	svc2 := NewService(st, other)
	if _, err := svc2.Key(ctx, "demo"); !errors.Is(err, ErrUnseal) {
		t.Errorf("Key with another secret: %v, want ErrUnseal", err)
	}
	if _, err := svc2.Authenticate(ctx, string(key)); err != nil {
		t.Errorf("Authenticate does not need the secret: %v", err)
	}
}
