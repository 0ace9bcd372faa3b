package sqlstore

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

func TestChatMessages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, t.TempDir())
	ch, err := s.CreateChannel(ctx, "demo", key(1))
	if err != nil {
		t.Fatal(err)
	}
	add := func(user int64, text string) store.ChatMessage {
		t.Helper()
		m, err := s.AddChatMessage(ctx, store.ChatMessage{ChannelID: ch.ID, UserID: user, UserName: fmt.Sprint("u", user), Text: text, Badge: "owner"})
		if err != nil {
			t.Fatalf("AddChatMessage: %v", err)
		}
		return m
	}
	before := time.Now().Add(-time.Second)
	var ids []int64
	for i := range 5 {
		ids = append(ids, add(int64(1+i%2), fmt.Sprint("m", i)).ID)
	}
	h, err := s.ChatHistory(ctx, ch.ID, 3)
	if err != nil || len(h) != 3 || h[0].Text != "m2" || h[2].Text != "m4" || h[2].Badge != "owner" || h[2].CreatedAt.Before(before) {
		t.Fatalf("ChatHistory = %+v, %v", h, err)
	}
	if err := s.DeleteChatMessage(ctx, ch.ID, ids[4]); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChatMessage(ctx, ch.ID, ids[4]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.DeleteChatMessage(ctx, ch.ID+1, ids[3]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete in another channel: %v", err)
	}
	if h, _ := s.ChatHistory(ctx, ch.ID, 10); len(h) != 4 || h[3].Text != "m3" {
		t.Fatalf("history after delete = %+v", h)
	}
	if at, ok, err := s.LastChatMessageAt(ctx, ch.ID, 1); err != nil || !ok || at.Before(before) {
		t.Fatalf("LastChatMessageAt = %v %v %v", at, ok, err)
	}
	if _, ok, err := s.LastChatMessageAt(ctx, ch.ID, 99); err != nil || ok {
		t.Fatalf("LastChatMessageAt of a silent user = %v %v", ok, err)
	}

	// A ban purges the user's messages and reads back; a timeout in the
	// past is not in force.
	if err := s.PutChatBan(ctx, store.ChatBan{ChannelID: ch.ID, UserID: 1, UserName: "u1", CreatedBy: 2}); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.ChatHistory(ctx, ch.ID, 10); len(h) != 2 || h[0].UserID != 2 {
		t.Fatalf("history after ban = %+v", h)
	}
	if b, err := s.ChatBan(ctx, ch.ID, 1); err != nil || !b.Permanent() || b.UserName != "u1" {
		t.Fatalf("ChatBan = %+v, %v", b, err)
	}
	if err := s.PutChatBan(ctx, store.ChatBan{ChannelID: ch.ID, UserID: 3, UserName: "u3", Until: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChatBan(ctx, ch.ID, 3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired timeout: %v", err)
	}
	if bs, err := s.ChatBans(ctx, ch.ID); err != nil || len(bs) != 1 {
		t.Fatalf("ChatBans = %+v, %v", bs, err)
	}
	if err := s.DeleteChatBan(ctx, ch.ID, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChatBan(ctx, ch.ID, 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second unban: %v", err)
	}

	if err := s.DeleteChatUser(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.ChatHistory(ctx, ch.ID, 10); len(h) != 0 {
		t.Fatalf("history after DeleteChatUser = %+v", h)
	}
}

func TestChatPruning(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, t.TempDir())
	ch, err := s.CreateChannel(ctx, "demo", key(1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range chatKeep + 2*chatPruneEvery {
		if _, err := s.AddChatMessage(ctx, store.ChatMessage{ChannelID: ch.ID, UserID: 1, UserName: "u", Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM chat_messages WHERE channel_id = $1`, ch.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < chatKeep || n > chatKeep+chatPruneEvery {
		t.Fatalf("%d messages kept, want %d to %d", n, chatKeep, chatKeep+chatPruneEvery)
	}
}

func TestChatSettingsAndModerators(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, t.TempDir())
	ch, err := s.CreateChannel(ctx, "demo", key(1))
	if err != nil {
		t.Fatal(err)
	}
	if cs, err := s.ChatSettings(ctx, ch.ID); err != nil || cs.SlowModeSeconds != 0 || len(cs.BlockedWords) != 0 {
		t.Fatalf("default settings = %+v, %v", cs, err)
	}
	want := store.ChatSettings{ChannelID: ch.ID, SlowModeSeconds: 30, BlockedWords: []string{"spam", "café"}}
	if err := s.PutChatSettings(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ChatSettings(ctx, ch.ID); err != nil || got.SlowModeSeconds != 30 || fmt.Sprint(got.BlockedWords) != "[spam café]" {
		t.Fatalf("settings = %+v, %v", got, err)
	}

	m := store.ChannelModerator{ChannelID: ch.ID, UserID: 7, UserName: "mod", GrantedBy: 1}
	if err := s.AddChannelModerator(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.AddChannelModerator(ctx, m); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second grant: %v", err)
	}
	if ok, err := s.IsChannelModerator(ctx, ch.ID, 7); err != nil || !ok {
		t.Fatalf("IsChannelModerator = %v, %v", ok, err)
	}
	if ms, err := s.ChannelModerators(ctx, ch.ID); err != nil || len(ms) != 1 || ms[0].UserName != "mod" {
		t.Fatalf("ChannelModerators = %+v, %v", ms, err)
	}
	if err := s.RemoveChannelModerator(ctx, ch.ID, 7); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveChannelModerator(ctx, ch.ID, 7); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}

	// Deleting the channel takes its chat with it.
	if _, err := s.AddChatMessage(ctx, store.ChatMessage{ChannelID: ch.ID, UserID: 1, UserName: "u", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChannel(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM chat_messages) + (SELECT COUNT(*) FROM chat_settings)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows left after channel deletion: %d, %v", n, err)
	}
}
