package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// checkReport asserts what every healthy run must report.
func checkReport(t *testing.T, rep PlayReport, viewers int) {
	t.Helper()
	if rep.Requested != viewers || rep.Connected != viewers || rep.Failed != 0 {
		t.Errorf("requested/connected/failed = %d/%d/%d, want %d/%d/0 (errors: %v)",
			rep.Requested, rep.Connected, rep.Failed, viewers, viewers, rep.Errors)
	}
	if rep.DisconnectedEarly != 0 || rep.NoMedia != 0 || rep.Stalled != 0 {
		t.Errorf("early/no media/stalled = %d/%d/%d, want 0/0/0 (max lag %+v, errors %v)",
			rep.DisconnectedEarly, rep.NoMedia, rep.Stalled, rep.MaxLag, rep.Errors)
	}
	if rep.TTFB.Count != viewers || rep.FirstKeyframe.Count != viewers {
		t.Errorf("first byte / first keyframe counts = %d/%d, want %d", rep.TTFB.Count, rep.FirstKeyframe.Count, viewers)
	}
	if rep.FirstKeyframe.P50 <= 0 || rep.FirstKeyframe.Max < rep.FirstKeyframe.P50 {
		t.Errorf("first keyframe = %+v", rep.FirstKeyframe)
	}
	if rep.BytesTotal <= 0 || rep.BitrateMean <= 0 || rep.BitrateTotal <= 0 {
		t.Errorf("bytes %d, bitrate mean %v total %v; want > 0", rep.BytesTotal, rep.BitrateMean, rep.BitrateTotal)
	}
	if rep.Generator.Samples == 0 {
		t.Errorf("no self samples: %+v", rep.Generator)
	}
}

func TestPlayHTTPFLV(t *testing.T) {
	t.Parallel()
	srv := flvServer(t)
	var out bytes.Buffer
	rep, err := Play(t.Context(), PlayOptions{
		URL:      srv.URL + "/live/test.flv",
		Viewers:  2,
		Duration: 3 * time.Second,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())
	checkReport(t, rep, 2)
	if rep.Protocol != "http-flv" || rep.Latency != nil || rep.Server != nil {
		t.Errorf("protocol %q, latency %v, server %v", rep.Protocol, rep.Latency, rep.Server)
	}
	if !strings.Contains(out.String(), "time to first keyframe") {
		t.Errorf("printed report lacks the first keyframe row")
	}

	b, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["viewers_connected"] != 2.0 || m["time_to_first_keyframe"].(map[string]any)["count"] != 2.0 {
		t.Errorf("JSON: %s", b)
	}
}

func TestPlayWSFLV(t *testing.T) {
	t.Parallel()
	srv := flvServer(t)
	var out bytes.Buffer
	rep, err := Play(t.Context(), PlayOptions{
		URL:      "ws" + strings.TrimPrefix(srv.URL, "http") + "/live/test.flv",
		Viewers:  2,
		Duration: 3 * time.Second,
		Markdown: true,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())
	checkReport(t, rep, 2)
	if !strings.HasPrefix(out.String(), "| Metric | Value |\n|---|---|\n") {
		t.Errorf("Markdown report does not start with the table header")
	}
}

// TestPlayRTMPWithPublish runs the whole latency path: Play publishes the
// fixture to a relay that rebases each viewer's timestamps, and RTMP viewers
// must still be calibrated.
func TestPlayRTMPWithPublish(t *testing.T) {
	t.Parallel()
	relay := newRTMPRelay(t, false)
	var out bytes.Buffer
	rep, err := Play(t.Context(), PlayOptions{
		URL:      relay.url("test"),
		Viewers:  2,
		Duration: 3 * time.Second,
		Publish:  relay.url("test"),
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())
	checkReport(t, rep, 2)
	checkLatency(t, rep, 2)
}

func TestPlayLLHLSWithPublish(t *testing.T) {
	t.Parallel()
	relay := newRTMPRelay(t, true)
	srv := relay.hlsServer(t)
	var out bytes.Buffer
	rep, err := Play(t.Context(), PlayOptions{
		URL:      srv.URL + "/live/test/index.m3u8",
		Viewers:  2,
		Duration: 5 * time.Second,
		Publish:  relay.url("test"),
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())
	checkReport(t, rep, 2)
	checkLatency(t, rep, 2)
}

func checkLatency(t *testing.T, rep PlayReport, viewers int) {
	t.Helper()
	l := rep.Latency
	if l == nil {
		t.Fatal("no latency report")
	}
	if l.Calibrated != viewers || l.Uncalibrated != 0 || l.Dist.Count == 0 || l.Published == 0 || l.PublishError != "" {
		t.Errorf("latency = %+v, want %d viewers calibrated and frames measured", *l, viewers)
	}
	if l.Unmatched != 0 {
		t.Errorf("%d frames unmatched", l.Unmatched)
	}
}

func TestPublish(t *testing.T) {
	t.Parallel()
	relay := newRTMPRelay(t, false)
	var out bytes.Buffer
	if err := Publish(t.Context(), PublishOptions{URL: relay.url("pub"), Duration: 1500 * time.Millisecond}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "published ") {
		t.Errorf("output: %q", out.String())
	}
}

func TestPublishRefused(t *testing.T) {
	t.Parallel()
	// Nothing listens here once the listener is closed.
	relay := newRTMPRelay(t, false)
	url := relay.url("x")
	relay.ln.Close()
	err := Publish(t.Context(), PublishOptions{URL: url, Duration: time.Second}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("Publish to a closed port succeeded")
	}
}

func TestPlayFailedConnects(t *testing.T) {
	t.Parallel()
	relay := newRTMPRelay(t, false)
	url := "http://" + relay.ln.Addr().String() + "/live/x.flv"
	relay.ln.Close()
	var out bytes.Buffer
	rep, err := Play(t.Context(), PlayOptions{URL: url, Viewers: 3, Duration: 500 * time.Millisecond}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Connected != 0 || rep.Failed != 3 || len(rep.Errors) != 1 || rep.Errors[0].Count != 3 {
		t.Errorf("connected %d failed %d errors %+v; want 0, 3 and one deduplicated error", rep.Connected, rep.Failed, rep.Errors)
	}
}

func TestPlayOptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    PlayOptions
	}{
		{"unknown scheme", PlayOptions{URL: "ftp://h/x", Viewers: 1, Duration: time.Second}},
		{"http without suffix", PlayOptions{URL: "http://h/live/x", Viewers: 1, Duration: time.Second}},
		{"no viewers", PlayOptions{URL: "http://h/live/x.flv", Duration: time.Second}},
		{"no duration", PlayOptions{URL: "http://h/live/x.flv", Viewers: 1}},
		{"bad rtmp", PlayOptions{URL: "rtmp://h/live", Viewers: 1, Duration: time.Second}},
		{"bad pid", PlayOptions{URL: "http://h/live/x.flv", Viewers: 1, Duration: time.Second, PID: -5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Play(context.Background(), tc.o, &bytes.Buffer{}); err == nil {
				t.Error("Play succeeded, want an option error")
			}
		})
	}
}
