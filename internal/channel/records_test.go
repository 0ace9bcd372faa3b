package channel

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

func TestCreateOwnedLimit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc, dir := newTestServiceDir(t)
	svc.maxPerUser = 2
	alice := addUser(t, dir, "alice")
	bob := addUser(t, dir, "bob")
	for _, name := range []string{"a1", "a2"} {
		rec, key, err := svc.CreateOwned(ctx, alice, name, Profile{Title: "T " + name})
		if err != nil {
			t.Fatalf("CreateOwned %s: %v", name, err)
		}
		if rec.Owner == nil || rec.Owner.ID != alice || rec.Owner.Name != "alice" || rec.Visibility != "public" || !wellFormed(string(key)) {
			t.Errorf("record %+v", rec)
		}
	}
	if _, _, err := svc.CreateOwned(ctx, alice, "a3", Profile{}); !errors.Is(err, ErrLimit) {
		t.Errorf("third channel: %v, want ErrLimit", err)
	}
	if _, _, err := svc.CreateOwned(ctx, bob, "a1", Profile{}); !errors.Is(err, ErrExists) {
		t.Errorf("taken name: %v, want ErrExists", err)
	}
	if _, _, err := svc.CreateOwned(ctx, bob, "B", Profile{}); !errors.Is(err, ErrBadName) {
		t.Errorf("bad name: %v, want ErrBadName", err)
	}
	if _, _, err := svc.CreateOwned(ctx, bob, "b1", Profile{Language: "xx"}); !errors.Is(err, ErrInvalidProfile) {
		t.Errorf("bad profile: %v", err)
	}
	// A CLI channel is ownerless and does not count.
	if _, err := svc.Create(ctx, "cli"); err != nil {
		t.Fatal(err)
	}
	if rec, err := svc.Record(ctx, "cli", 0); err != nil || rec.Owner != nil || rec.Visibility != "public" {
		t.Errorf("CLI channel record %+v, %v", rec, err)
	}
	if _, _, err := svc.CreateOwned(ctx, bob, "b1", Profile{}); err != nil {
		t.Errorf("bob's first channel: %v", err)
	}
}

func TestDisabledChannel(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc, _ := newTestServiceDir(t)
	key, err := svc.Create(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Authenticate(ctx, string(key))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SetDisabled(ctx, "demo", true); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, string(key)); !errors.Is(err, ErrDisabled) || errors.Is(err, ErrBadKey) {
		t.Errorf("Authenticate disabled: %v, want ErrDisabled", err)
	}
	if err := svc.CheckKey(ctx, c.ID, c.KeyHash); !errors.Is(err, ErrDisabled) {
		t.Errorf("CheckKey disabled: %v", err)
	}
	if svc.KeyStillValid(ctx, c.ID, c.KeyHash) {
		t.Error("a live publish of a disabled channel stays valid")
	}
	if err := svc.SetDisabled(ctx, "demo", false); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, string(key)); err != nil {
		t.Errorf("Authenticate re-enabled: %v", err)
	}
	if err := svc.SetDisabled(ctx, "nope", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("disable unknown: %v", err)
	}
}

func TestUpdateProfile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc, dir := newTestServiceDir(t)
	u := addUser(t, dir, "alice")
	if _, _, err := svc.CreateOwned(ctx, u, "demo", Profile{Title: "old", Tags: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	title, lang := "New <b>title</b>", "fr"
	rec, err := svc.UpdateProfile(ctx, "demo", ProfileUpdate{Title: &title, Language: &lang}, u)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Title != title || rec.Language != "fr" || !slices.Equal(rec.Tags, []string{"x"}) {
		t.Errorf("after update: %+v", rec.ChannelProfile)
	}
	bad := "nope"
	if _, err := svc.UpdateProfile(ctx, "demo", ProfileUpdate{Category: &bad}, u); !errors.Is(err, ErrInvalidProfile) {
		t.Errorf("bad category: %v", err)
	}
	if _, err := svc.UpdateProfile(ctx, "none", ProfileUpdate{}, u); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown channel: %v", err)
	}
}

func TestDirectory(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc, dir := newTestServiceDir(t)
	u := addUser(t, dir, "alice")
	v := addUser(t, dir, "victor")
	svc.maxPerUser = 0
	mk := func(name string, p Profile) {
		t.Helper()
		if _, _, err := svc.CreateOwned(ctx, u, name, p); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	mk("chess", Profile{Title: "Blitz Chess", Category: "games-strategy", Tags: []string{"échecs"}})
	mk("doom", Profile{Title: "Doom speedrun 100%", Category: "games-shooters"})
	mk("cook", Profile{Title: "Cooking", Category: "irl-food", Tags: []string{"pasta"}})
	mk("quiet", Profile{Title: "Never live"})
	mk("hidden", Profile{Title: "Unlisted chess", Category: "games-strategy", Visibility: "unlisted"})
	mk("banned", Profile{Title: "Disabled chess", Category: "games-strategy"})
	mk("under_score", Profile{Title: "Under"})
	if err := svc.SetDisabled(ctx, "banned", true); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, at := range map[string]time.Time{"cook": t0.Add(time.Hour), "under_score": t0, "chess": t0.Add(2 * time.Hour)} {
		if err := svc.RecordLive(ctx, name, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.RecordLive(ctx, "gone", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordLive unknown: %v", err)
	}
	if _, err := svc.Follow(ctx, v, "cook", true); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Follow(ctx, u, "cook", true); err != nil || n != 2 {
		t.Errorf("followers = %d, %v; want 2", n, err)
	}
	if n, err := svc.Follow(ctx, u, "cook", true); err != nil || n != 2 {
		t.Errorf("follow twice: followers = %d, %v; want 2", n, err)
	}
	if _, err := svc.Follow(ctx, v, "banned", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("follow disabled: %v", err)
	}
	live := map[string]LiveInfo{
		"doom":   {StartedAt: t0, Viewers: 3},
		"quiet":  {StartedAt: t0, Viewers: 10},
		"hidden": {StartedAt: t0, Viewers: 99},
		"banned": {StartedAt: t0, Viewers: 99},
	}
	names := func(es []Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	tests := []struct {
		name  string
		q     DirectoryQuery
		want  []string
		total int
	}{
		{"all", DirectoryQuery{}, []string{"quiet", "doom", "chess", "cook", "under_score"}, 5},
		{"page", DirectoryQuery{Limit: 2, Offset: 1}, []string{"doom", "chess"}, 5},
		{"offset past end", DirectoryQuery{Offset: 50}, nil, 5},
		{"live only", DirectoryQuery{LiveOnly: true}, []string{"quiet", "doom"}, 2},
		{"parent category", DirectoryQuery{Category: "games"}, []string{"doom", "chess"}, 2},
		{"child category", DirectoryQuery{Category: "games-strategy"}, []string{"chess"}, 1},
		{"search title any case", DirectoryQuery{Search: "CHESS"}, []string{"chess"}, 1},
		{"search tag non-ASCII case", DirectoryQuery{Search: "ÉCHECS"}, []string{"chess"}, 1},
		{"search name", DirectoryQuery{Search: "coo"}, []string{"cook"}, 1},
		{"percent is literal", DirectoryQuery{Search: "100%"}, []string{"doom"}, 1},
		{"percent alone matches no wildcard", DirectoryQuery{Search: "%"}, []string{"doom"}, 1},
		{"underscore is literal", DirectoryQuery{Search: "_"}, []string{"under_score"}, 1},
		{"followed", DirectoryQuery{FollowedBy: v}, []string{"cook"}, 1},
		{"followed by nobody", DirectoryQuery{FollowedBy: 9999}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, total, err := svc.Directory(ctx, tc.q, live)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(es); !slices.Equal(got, tc.want) || total != tc.total {
				t.Errorf("got %v (total %d), want %v (total %d)", got, total, tc.want, tc.total)
			}
		})
	}
	es, _, err := svc.Directory(ctx, DirectoryQuery{ViewerID: v, Search: "cook"}, live)
	if err != nil || len(es) != 1 || !es[0].Following || es[0].Followers != 2 || !es[0].LastLiveAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("cook entry %+v, %v", es, err)
	}
	es, _, _ = svc.Directory(ctx, DirectoryQuery{Search: "doom"}, live)
	if len(es) != 1 || !es[0].Live || es[0].Viewers != 3 || !es[0].StartedAt.Equal(t0) {
		t.Errorf("doom entry %+v", es)
	}
	if _, _, err := svc.Directory(ctx, DirectoryQuery{Category: "nope"}, live); !errors.Is(err, ErrInvalidProfile) {
		t.Errorf("unknown category: %v", err)
	}
	if n, err := svc.Follow(ctx, v, "cook", false); err != nil || n != 1 {
		t.Errorf("unfollow: %d, %v", n, err)
	}
}

func TestSetImage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc, dir := newTestServiceDir(t)
	m, err := OpenMedia(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := svc.Create(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	first, err := svc.SetImage(ctx, m, "demo", store.ImageAvatar, bytes.NewReader(encodePNG(t, testImage(64, 64))))
	if err != nil {
		t.Fatal(err)
	}
	second, err := svc.SetImage(ctx, m, "demo", store.ImageAvatar, bytes.NewReader(encodePNG(t, testImage(64, 64))))
	if err != nil {
		t.Fatal(err)
	}
	mediaDir := filepath.Join(dir, MediaDir)
	if _, err := os.Stat(filepath.Join(mediaDir, first)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("replaced avatar still on disk: %v", err)
	}
	if _, err := svc.SetImage(ctx, m, "nope", store.ImageBanner, bytes.NewReader(encodePNG(t, testImage(64, 64)))); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown channel: %v", err)
	}
	if _, err := svc.SetImage(ctx, m, "demo", store.ImageBanner, bytes.NewReader([]byte("<svg/>"))); !errors.Is(err, ErrImageType) {
		t.Errorf("svg: %v", err)
	}
	banner, err := svc.SetImage(ctx, m, "demo", store.ImageBanner, bytes.NewReader(encodePNG(t, testImage(64, 64))))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := svc.Record(ctx, "demo", 0)
	if rec.AvatarID != second || rec.BannerID != banner {
		t.Errorf("record images %q %q, want %q %q", rec.AvatarID, rec.BannerID, second, banner)
	}
	if err := svc.RemoveImage(ctx, m, "demo", store.ImageBanner); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteWithMedia(ctx, m, "demo"); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(mediaDir); len(entries) != 0 {
		t.Errorf("media left after delete: %v", entries)
	}
}
