package bench

import (
	"testing"
	"time"
)

func TestFixture(t *testing.T) {
	t.Parallel()
	fx, err := loadFixture(fixtureFLV)
	if err != nil {
		t.Fatal(err)
	}
	if len(fx.sps) == 0 || len(fx.pps) == 0 || fx.asc == nil {
		t.Fatalf("missing parameter sets or audio config: sps %d, pps %d, asc %v", len(fx.sps), len(fx.pps), fx.asc)
	}
	var video, audio, keys int
	for _, tag := range fx.tags {
		switch {
		case tag.video:
			video++
			if tag.key {
				keys++
			}
		default:
			audio++
		}
	}
	// 10 s at 30 fps, an IDR every second, AAC frames of 1024 samples at 44.1 kHz.
	if video != 300 || keys != 10 || audio < 430 || audio > 434 {
		t.Errorf("video %d (keys %d), audio %d; want 300 (10), ~431", video, keys, audio)
	}
	if !fx.tags[0].video && !fx.tags[1].video {
		t.Errorf("no video in the first two frames")
	}
	if fx.period < 10*time.Second || fx.period > 10100*time.Millisecond {
		t.Errorf("period = %v, want ~10 s", fx.period)
	}
	if mbps := fx.bitrate() / 1e6; mbps < 2 || mbps > 3.2 {
		t.Errorf("bitrate = %.2f Mbit/s, want ~2.6", mbps)
	}
}

// TestFixtureLoops checks that looping keeps every track's timestamps
// strictly increasing, and that loop n is loop 0 shifted by n periods.
func TestFixtureLoops(t *testing.T) {
	t.Parallel()
	fx, err := loadFixture(fixtureFLV)
	if err != nil {
		t.Fatal(err)
	}
	n := len(fx.tags)
	last := map[bool]time.Duration{true: -1, false: -1}
	for i := range 3 * n {
		tag, dts := fx.at(i)
		if dts <= last[tag.video] {
			t.Fatalf("frame %d (video %v): DTS %v after %v", i, tag.video, dts, last[tag.video])
		}
		last[tag.video] = dts
		if i >= n {
			_, prev := fx.at(i - n)
			if dts-prev != fx.period {
				t.Fatalf("frame %d: DTS %v, one loop earlier %v; want a %v shift", i, dts, prev, fx.period)
			}
		}
	}
	// The first frame of loop 1 comes after the last of loop 0 on both tracks.
	if _, d := fx.at(n); d <= fx.tags[n-1].dts {
		t.Errorf("loop 1 starts at %v, before loop 0 ends (%v)", d, fx.tags[n-1].dts)
	}
}

func TestLoadFixtureRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not flv", []byte("hello, this is not a video file")},
		{"header only", fixtureFLV[:13]},
		{"truncated tag", fixtureFLV[:2000]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := loadFixture(tc.data); err == nil {
				t.Errorf("loadFixture succeeded, want an error")
			}
		})
	}
}

func TestRTMPURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, wantPath, wantFragment string
		wantErr                    bool
	}{
		{in: "rtmp://h:1935/live/key", wantPath: "/live", wantFragment: "key"},
		{in: "rtmp://h/live/key?token=x", wantPath: "/live", wantFragment: "key?token=x"},
		{in: "rtmp://h/live/a/b", wantPath: "/live", wantFragment: "a/b"},
		{in: "rtmp://h/app/stream#other", wantPath: "/app/stream", wantFragment: "other"},
		{in: "rtmp://h/live", wantErr: true},
		{in: "http://h/live/key", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			u, err := rtmpURL(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Errorf("got %v, want an error", u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Path != tc.wantPath || u.Fragment != tc.wantFragment {
				t.Errorf("path %q fragment %q, want %q %q", u.Path, u.Fragment, tc.wantPath, tc.wantFragment)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"rtmp://h:1935/live/sk_0123456789abcdef", "rtmp://h:1935/live/sk…ef"},
		{"rtmp://user:pw@h/live/short", "rtmp://h/live/short"},
		{"rtmp://h/live/sk_0123456789?token=abc", "rtmp://h/live/sk…89?…"},
	}
	for _, tc := range tests {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
