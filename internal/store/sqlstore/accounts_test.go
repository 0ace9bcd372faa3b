package sqlstore

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

func mkUser(t *testing.T, s *Store, name, role string) store.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), store.User{Name: name, Role: role, PasswordHash: "$argon2id$x"}, nil)
	if err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	return u
}

func TestUsers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, t.TempDir())
	alice := mkUser(t, s, "alice", "viewer")
	if alice.ID == 0 || alice.Role != "viewer" || alice.Disabled || alice.CreatedAt.Location() != time.UTC {
		t.Errorf("created %+v", alice)
	}
	if _, err := s.CreateUser(ctx, store.User{Name: "alice", Role: "viewer", PasswordHash: "h"}, nil); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := s.CreateUser(ctx, store.User{Name: "bad", Role: "king", PasswordHash: "h"}, nil); err == nil {
		t.Error("role outside the CHECK accepted")
	}
	mkUser(t, s, "alfred", "viewer")
	mkUser(t, s, "a_b", "viewer")
	mkUser(t, s, "axb", "viewer")

	for _, tc := range []struct {
		q    string
		want int
	}{
		{"", 4}, {"al", 2}, {"_", 1}, {"%", 0}, {"ALI", 1},
	} {
		us, total, err := s.ListUsers(ctx, tc.q, 10, 0)
		if err != nil || total != tc.want || len(us) != tc.want {
			t.Errorf("ListUsers(%q) = %d users, total %d, %v; want %d", tc.q, len(us), total, err, tc.want)
		}
	}

	dn, role := "Alice", "streamer"
	got, err := s.UpdateUser(ctx, alice.ID, store.UserUpdate{DisplayName: &dn, Role: &role})
	if err != nil || got.DisplayName != "Alice" || got.Role != "streamer" || got.PasswordHash != alice.PasswordHash {
		t.Errorf("UpdateUser = %+v, %v", got, err)
	}
	if _, err := s.UpdateUser(ctx, 9999, store.UserUpdate{DisplayName: &dn}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update unknown: %v", err)
	}
	if err := s.DeleteUser(ctx, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete unknown: %v", err)
	}
}

func TestLastAdmin(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, t.TempDir())
	root := mkUser(t, s, "root", "admin")
	viewer, yes := "viewer", true
	if _, err := s.UpdateUser(ctx, root.ID, store.UserUpdate{Role: &viewer}); !errors.Is(err, store.ErrLastAdmin) {
		t.Errorf("demote last admin: %v", err)
	}
	if _, err := s.UpdateUser(ctx, root.ID, store.UserUpdate{Disabled: &yes}); !errors.Is(err, store.ErrLastAdmin) {
		t.Errorf("disable last admin: %v", err)
	}
	if err := s.DeleteUser(ctx, root.ID); !errors.Is(err, store.ErrLastAdmin) {
		t.Errorf("delete last admin: %v", err)
	}
	if n, err := s.CountAdmins(ctx); n != 1 || err != nil {
		t.Errorf("CountAdmins = %d, %v (a refused change must change nothing)", n, err)
	}
	mkUser(t, s, "second", "admin")
	if _, err := s.UpdateUser(ctx, root.ID, store.UserUpdate{Disabled: &yes}); err != nil {
		t.Errorf("disable with another admin: %v", err)
	}
}

func TestSetupToken(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, t.TempDir())
	hash := bytes.Repeat([]byte{7}, 32)
	admin := store.User{Name: "first", Role: "admin", PasswordHash: "h"}
	if err := s.ReplaceSetupToken(ctx, hash, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, admin, hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired token: %v", err)
	}
	if err := s.ReplaceSetupToken(ctx, hash, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, admin, bytes.Repeat([]byte{8}, 32)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("wrong token: %v", err)
	}
	if _, err := s.CreateUser(ctx, admin, hash); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	admin.Name = "second"
	if _, err := s.CreateUser(ctx, admin, hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("used token: %v", err)
	}
	// A token issued while an admin exists creates nothing.
	if err := s.ReplaceSetupToken(ctx, hash, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, admin, hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token with an admin present: %v", err)
	}
}

func TestSessionsAndTokensCascade(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, t.TempDir())
	u := mkUser(t, s, "alice", "viewer")
	now := time.Now().UTC().Truncate(time.Millisecond)
	h1, h2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	for _, h := range [][]byte{h1, h2} {
		if err := s.CreateSession(ctx, store.Session{IDHash: h, UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	se, su, err := s.SessionByHash(ctx, h1)
	if err != nil || su.Name != "alice" || !se.ExpiresAt.Equal(now.Add(time.Hour)) || se.UserID != u.ID {
		t.Errorf("SessionByHash = %+v %+v %v", se, su, err)
	}
	if err := s.DeleteUserSessions(ctx, u.ID, h1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionByHash(ctx, h2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other session survived: %v", err)
	}
	if _, _, err := s.SessionByHash(ctx, h1); err != nil {
		t.Errorf("kept session gone: %v", err)
	}
	if n, err := s.DeleteExpiredSessions(ctx, now.Add(2*time.Hour), now.Add(-time.Hour)); n != 1 || err != nil {
		t.Errorf("DeleteExpiredSessions = %d, %v", n, err)
	}

	tok, err := s.CreateAPIToken(ctx, store.APIToken{UserID: u.ID, Name: "ci", Hash: h1, Hint: "…abcd"})
	if err != nil || tok.ID == 0 || !tok.LastUsedAt.IsZero() {
		t.Fatalf("CreateAPIToken = %+v, %v", tok, err)
	}
	if err := s.TouchAPIToken(ctx, tok.ID, now); err != nil {
		t.Fatal(err)
	}
	got, owner, err := s.APITokenByHash(ctx, h1)
	if err != nil || owner.ID != u.ID || !got.LastUsedAt.Equal(now) {
		t.Errorf("APITokenByHash = %+v %+v %v", got, owner, err)
	}
	other := mkUser(t, s, "bob", "viewer")
	if err := s.DeleteAPIToken(ctx, other.ID, tok.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete someone else's token: %v", err)
	}
	if err := s.CreateSession(ctx, store.Session{IDHash: h2, UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ch, err := s.CreateChannel(ctx, "deluser", key(7))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddChatMessage(ctx, store.ChatMessage{ChannelID: ch.ID, UserID: u.ID, UserName: u.Name, Text: "mine", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddChatMessage(ctx, store.ChatMessage{ChannelID: ch.ID, UserID: other.ID, UserName: other.Name, Text: "theirs", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if hist, err := s.ChatHistory(ctx, ch.ID, 10); err != nil || len(hist) != 1 || hist[0].UserID != other.ID {
		t.Errorf("chat history after deleting the author = %+v, %v; want only the other user's message", hist, err)
	}
	if _, _, err := s.APITokenByHash(ctx, h1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token outlived its user: %v", err)
	}
	if _, _, err := s.SessionByHash(ctx, h2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session outlived its user: %v", err)
	}
}

func TestSiteSettings(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, t.TempDir())
	if m, err := s.SiteSettings(ctx); err != nil || len(m) != 0 {
		t.Errorf("empty settings = %v, %v", m, err)
	}
	if err := s.PutSiteSettings(ctx, map[string]string{"a": "1", "b": "2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSiteSettings(ctx, map[string]string{"a": "3"}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.SiteSettings(ctx); err != nil || m["a"] != "3" || m["b"] != "2" {
		t.Errorf("settings = %v, %v", m, err)
	}
}
