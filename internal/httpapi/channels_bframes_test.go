package httpapi

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
)

// The channel status reports B-frames (video PTS != DTS) of the live
// publish, which the dashboard turns into a warning for the streamer.
func TestChannelStatusBFrames(t *testing.T) {
	t.Parallel()
	tracks := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264, Width: 320, Height: 240}}
	for _, tc := range []struct {
		name    string
		reorder bool // every other frame presented 80 ms after its decode time
		want    bool
	}{
		{"in order", false, false},
		{"b-frames", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := hub.New(hub.HubOptions{})
			defer h.Close()
			e := newChanEnv(t)
			e.create("alice", "demo", nil)
			e.h = New(Deps{
				Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
				ChannelExists: e.svc.Exists, ValidName: channel.ValidateName, Live: h.Lookup,
				Channels: e.svc, LiveChannels: LiveFromHub(h.List, nil),
			})
			if m := e.do("", "GET", "/api/v1/channels/demo", nil).json(t); m["b_frames"] != false {
				t.Fatalf("offline: b_frames %v, want false", m["b_frames"])
			}
			pub, err := h.Publish("demo", hub.PublishInfo{Protocol: "rtmp"})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				dts := time.Duration(i) * 40 * time.Millisecond
				pts := dts
				if tc.reorder && i%2 == 1 {
					pts += 80 * time.Millisecond
				}
				pub.Write(&media.Frame{Tracks: tracks, Video: true, Key: i == 0, DTS: dts, PTS: pts, AU: [][]byte{{0x65, 0x88}}})
			}
			m := e.do("", "GET", "/api/v1/channels/demo", nil).json(t)
			if m["live"] != true || m["b_frames"] != tc.want {
				t.Fatalf("live %v b_frames %v, want true and %v", m["live"], m["b_frames"], tc.want)
			}
			// A new publish session starts without the flag.
			pub.Close()
			pub, err = h.Publish("demo", hub.PublishInfo{Protocol: "rtmp"})
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			if m := e.do("", "GET", "/api/v1/channels/demo", nil).json(t); m["b_frames"] != false {
				t.Fatalf("after republish: b_frames %v, want false", m["b_frames"])
			}
		})
	}
}
