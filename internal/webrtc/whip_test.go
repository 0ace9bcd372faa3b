package webrtc

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/huabian-live/huabian/internal/hub"
	hmedia "github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/play"
)

type keyAuth map[string]string

func (k keyAuth) Authenticate(_ context.Context, key string) (string, func() bool, error) {
	if ch, ok := k[key]; ok {
		return ch, func() bool { return true }, nil
	}
	return "", nil, errors.New("stream key not recognized")
}

type countLimiter struct {
	mu    sync.Mutex
	fails map[string]int
}

func (l *countLimiter) Allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fails[ip] < 3
}

func (l *countLimiter) Fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails[ip]++
}

func whipPost(t *testing.T, url, key, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/sdp")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

func TestWHIPPublishesIntoHub(t *testing.T) {
	fx := encodeFixture(t, false, "opus")
	h := hub.New(hub.HubOptions{Stream: hub.Options{Prepare: play.PrepareFrame}})
	defer h.Close()
	lim := &countLimiter{fails: map[string]int{}}
	s, hs := newTestServer(t, h, Options{WHIP: WHIPOptions{Hub: h, Auth: keyAuth{"sk_secret": "demo"}, Limiter: lim, OpusToAAC: "ffmpeg"}})
	defer func() { hs.Close(); _ = s.Close() }()

	api := clientAPI(t)
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	vt, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "pub")
	if err != nil {
		t.Fatal(err)
	}
	at, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pub")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []pion.TrackLocal{vt, at} {
		if _, err := pc.AddTransceiverFromTrack(tr, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-g
	sdpOffer := pc.LocalDescription().SDP

	// Wrong or missing keys are refused and counted per IP.
	if resp, _ := whipPost(t, hs.URL+"/whip", "", sdpOffer); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no key: %d", resp.StatusCode)
	}
	if resp, _ := whipPost(t, hs.URL+"/whip", "wrong", sdpOffer); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad key: %d", resp.StatusCode)
	}
	if lim.fails["127.0.0.1"] != 1 {
		t.Fatalf("limiter saw %d failures, want 1", lim.fails["127.0.0.1"])
	}

	resp, answer := whipPost(t, hs.URL+"/whip", "sk_secret", sdpOffer)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP POST: %d %s", resp.StatusCode, answer)
	}
	loc := resp.Header.Get("Location")
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	st := h.Stream("demo", false)
	if st == nil {
		t.Fatal("channel demo not live after WHIP POST")
	}
	rd := st.Subscribe()
	defer rd.Close()

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			_ = at.WriteSample(media.Sample{Data: fx.opus[i%len(fx.opus)], Duration: 20 * time.Millisecond})
			if i%2 == 0 {
				var annexB []byte
				for _, n := range fx.video[(i/2)%len(fx.video)] {
					annexB = append(annexB, 0, 0, 0, 1)
					annexB = append(annexB, n...)
				}
				_ = vt.WriteSample(media.Sample{Data: annexB, Duration: 40 * time.Millisecond})
			}
		}
	})
	defer func() { stop(); wg.Wait() }()

	var video, keys, audio, aac int
	var lastAAC time.Duration
	var tracks *hmedia.Tracks
	deadline, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for video < 75 || audio < 150 || keys < 2 || aac < 50 {
		frames, err := rd.Next(deadline)
		if err != nil {
			t.Fatalf("after %d video (%d key), %d audio frames: %v", video, keys, audio, err)
		}
		for _, f := range frames {
			if f.Video {
				if video == 0 && !f.Key {
					t.Fatal("first video frame is not a keyframe")
				}
				video++
				if f.Key {
					keys++
				}
			} else if f.FLVOnly {
				// The AAC rendition of the Opus, once per stream, for FLV.
				if aac > 0 && f.PTS <= lastAAC {
					t.Fatalf("AAC frame %d at %v after %v", aac, f.PTS, lastAAC)
				}
				if len(f.FLVTag) == 0 {
					t.Fatal("AAC rendition frame without an FLV tag")
				}
				aac++
				lastAAC = f.PTS
			} else {
				if len(f.FLVTag) != 0 {
					t.Fatal("Opus frame with an FLV tag although the stream has an AAC rendition")
				}
				audio++
			}
			tracks = f.Tracks
		}
	}
	if tracks.Video == nil || tracks.Video.Width != 320 || tracks.Video.Height != 240 || len(tracks.Video.PPS) == 0 {
		t.Fatalf("video track %+v", tracks.Video)
	}
	if tracks.Audio == nil || tracks.Audio.Codec != hmedia.CodecOpus {
		t.Fatalf("audio track %+v", tracks.Audio)
	}
	if a := tracks.FLVAudio; a == nil || a.Codec != hmedia.CodecAAC || a.SampleRate != 48000 || a.ChannelCount != 2 {
		t.Fatalf("FLV audio track %+v, want AAC 48 kHz stereo", a)
	}
	t.Logf("hub received %d video frames (%d keyframes), %d Opus frames and %d AAC frames", video, keys, audio, aac)

	// A second publisher on the same channel is refused while this one is live.
	if resp, _ := whipPost(t, hs.URL+"/whip", "sk_secret", sdpOffer); resp.StatusCode != http.StatusConflict {
		t.Fatalf("second publisher: %d, want 409", resp.StatusCode)
	}

	req, _ := http.NewRequest(http.MethodDelete, hs.URL+loc, nil)
	dresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dresp.Body.Close()
	if dresp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %d", dresp.StatusCode)
	}
	waitFor(t, "publisher gone", func() bool { return h.Stream("demo", false) == nil })
}

// When the Opus→AAC ffmpeg dies, the stream drops its FLV rendition (FLV
// viewers fall back to video only) and everything else keeps flowing.
func TestWHIPOpusToAACProcessDies(t *testing.T) {
	fx := encodeFixture(t, false, "opus")
	dies, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1)")
	}
	h := hub.New(hub.HubOptions{Stream: hub.Options{Prepare: play.PrepareFrame}})
	defer h.Close()
	s, hs := newTestServer(t, h, Options{WHIP: WHIPOptions{Hub: h, Auth: keyAuth{"sk_secret": "demo"}, OpusToAAC: dies}})
	defer func() { hs.Close(); _ = s.Close() }()

	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	at, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pub")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(at, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-g
	resp, answer := whipPost(t, hs.URL+"/whip", "sk_secret", pc.LocalDescription().SDP)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP POST: %d %s", resp.StatusCode, answer)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	st := h.Stream("demo", false)
	if st == nil {
		t.Fatal("channel demo not live after WHIP POST")
	}
	rd := st.Subscribe()
	defer rd.Close()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			_ = at.WriteSample(media.Sample{Data: fx.opus[i%len(fx.opus)], Duration: 20 * time.Millisecond})
		}
	})
	defer func() { stop(); wg.Wait() }()

	// Once the rendition is gone, Opus frames keep coming (50 of them) and
	// no AAC frame follows.
	deadline, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	after := 0
	for after < 50 {
		frames, err := rd.Next(deadline)
		if err != nil {
			t.Fatalf("%d Opus frames after the fallback: %v", after, err)
		}
		for _, f := range frames {
			if f.FLVOnly {
				t.Fatal("AAC frame from a transcoder that cannot run")
			}
			if f.Tracks.FLVAudio == nil && f.Tracks.Audio != nil && f.Tracks.Audio.Codec == hmedia.CodecOpus {
				after++
			}
		}
	}
}
