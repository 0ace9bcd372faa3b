package sqlstore

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

func TestStatsSecret(t *testing.T) {
	s := openTest(t, t.TempDir())
	first, err := s.StatsSecret(t.Context(), func() []byte { return []byte("first-secret") })
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.StatsSecret(t.Context(), func() []byte { return []byte("second-secret") })
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != "first-secret" || !bytes.Equal(first, again) {
		t.Fatalf("secrets = %q, %q; want the first kept", first, again)
	}
}

func TestViewerRanking(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, t.TempDir())
	for i, name := range []string{"alpha", "beta", "gamma"} {
		if _, err := s.CreateChannel(ctx, name, key(byte(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	since := now.Add(-24 * time.Hour)
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }
	sess := func(ch string, viewer byte, start, end time.Time) *store.ViewerSession {
		return &store.ViewerSession{Channel: ch, Protocol: "httpflv", ViewerHash: h(viewer), StartedAt: start, EndedAt: end}
	}
	sessions := []*store.ViewerSession{
		// alpha: viewer 1 twice (counts once), viewer 2 open, viewer 3
		// ended exactly at the window start (inside).
		sess("alpha", 1, now.Add(-2*time.Hour), now.Add(-time.Hour)),
		sess("alpha", 1, now.Add(-30*time.Minute), now.Add(-20*time.Minute)),
		sess("alpha", 2, now.Add(-time.Minute), time.Time{}),
		sess("alpha", 3, since.Add(-time.Hour), since),
		// beta: viewer 1, plus viewer 4 who ended 1 ms before the window.
		sess("beta", 1, now.Add(-3*time.Hour), now.Add(-2*time.Hour)),
		sess("beta", 4, since.Add(-time.Hour), since.Add(-time.Millisecond)),
		// gamma: a session spanning the whole window, and one starting
		// after "now" (future: outside).
		sess("gamma", 5, since.Add(-10*time.Hour), now.Add(time.Hour)),
		sess("gamma", 6, now.Add(time.Millisecond), time.Time{}),
		// unknown channel: skipped.
		sess("nope", 7, now.Add(-time.Hour), now),
	}
	if err := s.InsertViewerSessions(ctx, sessions); err != nil {
		t.Fatal(err)
	}
	if sessions[len(sessions)-1].ID != 0 || sessions[0].ID == 0 {
		t.Fatalf("IDs: first %d, unknown channel %d", sessions[0].ID, sessions[len(sessions)-1].ID)
	}
	got, err := s.TopChannelsByViewers(ctx, since, now, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ChannelViewers{{Channel: "alpha", UniqueViewers: 3}, {Channel: "beta", UniqueViewers: 1}, {Channel: "gamma", UniqueViewers: 1}}
	if !equalRanking(got, want) {
		t.Fatalf("ranking = %v, want %v", got, want)
	}
	if got, _ := s.TopChannelsByViewers(ctx, since, now, 1); !equalRanking(got, want[:1]) {
		t.Fatalf("limit 1 = %v", got)
	}

	// Ending the open session, closing leftovers and pruning.
	if err := s.EndViewerSessions(ctx, map[int64]time.Time{sessions[2].ID: now}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CloseOpenViewerSessions(ctx, 5*time.Second); err != nil || n != 1 {
		t.Fatalf("CloseOpenViewerSessions = %d, %v; want 1 (gamma's future one)", n, err)
	}
	n, err := s.PruneViewerSessions(ctx, since)
	if err != nil || n != 1 {
		t.Fatalf("PruneViewerSessions = %d, %v; want 1 (beta's viewer 4)", n, err)
	}
}

func equalRanking(a, b []store.ChannelViewers) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBroadcasts(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, t.TempDir())
	if _, err := s.CreateChannel(ctx, "demo", key(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartBroadcast(ctx, "nope", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown channel: %v", err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	first, err := s.StartBroadcast(ctx, "demo", t0)
	if err != nil {
		t.Fatal(err)
	}
	samples := map[int64]store.ViewerSample{first: {At: t0.Add(10 * time.Second), Viewers: 4}}
	if err := s.UpdateBroadcasts(ctx, []store.BroadcastUpdate{{ID: first, PeakViewers: 5, UniqueViewers: 7}}, samples); err != nil {
		t.Fatal(err)
	}
	second, err := s.StartBroadcast(ctx, "demo", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	end := t0.Add(2 * time.Hour)
	if err := s.UpdateBroadcasts(ctx, []store.BroadcastUpdate{{ID: second, PeakViewers: 2, UniqueViewers: 3, EndedAt: end}}, nil); err != nil {
		t.Fatal(err)
	}
	// The first was left open (a crash): it ends at its last sample.
	if n, err := s.CloseOpenBroadcasts(ctx); err != nil || n != 1 {
		t.Fatalf("CloseOpenBroadcasts = %d, %v", n, err)
	}
	bs, err := s.ChannelBroadcasts(ctx, "demo", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Broadcast{
		{ID: second, Channel: "demo", StartedAt: t0.Add(time.Hour), EndedAt: end, PeakViewers: 2, UniqueViewers: 3},
		{ID: first, Channel: "demo", StartedAt: t0, EndedAt: t0.Add(10 * time.Second), PeakViewers: 5, UniqueViewers: 7},
	}
	if len(bs) != len(want) || bs[0] != want[0] || bs[1] != want[1] {
		t.Fatalf("broadcasts = %+v\nwant %+v", bs, want)
	}
	smp, err := s.BroadcastSamples(ctx, first)
	if err != nil || len(smp) != 1 || smp[0].Viewers != 4 || !smp[0].At.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("samples = %+v, %v", smp, err)
	}
	if _, err := s.BroadcastByID(ctx, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("BroadcastByID(9999): %v", err)
	}
}
