package webrtc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixture holds ffmpeg-encoded media: H.264 access units at 25 fps and
// 20 ms Opus packets.
type fixture struct {
	video [][][]byte
	opus  [][]byte
	aac   [][]byte // raw AAC-LC frames, 48 kHz stereo
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not found in PATH; WebRTC media tests need it to encode fixtures")
	}
}

func encodeFixture(t *testing.T, bframes bool, audio string) fixture {
	t.Helper()
	needFFmpeg(t)
	dir := t.TempDir()
	h264Path, oggPath := filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.ogg")
	x264 := "aud=1:keyint=25:min-keyint=25:scenecut=0:bframes=0"
	if bframes {
		x264 = "aud=1:keyint=25:min-keyint=25:scenecut=0:bframes=2"
	}
	run := func(args ...string) {
		cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	run("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "8", "-pix_fmt", "yuv420p",
		"-c:v", "libx264", "-profile:v", "high", "-x264-params", x264, "-f", "h264", h264Path)
	var fx fixture
	raw, err := os.ReadFile(h264Path)
	if err != nil {
		t.Fatal(err)
	}
	nalus := splitAnnexB(raw)
	var au [][]byte
	for _, n := range nalus {
		if h264.NALUType(n[0]&0x1F) == h264.NALUTypeAccessUnitDelimiter {
			if len(au) > 0 {
				fx.video = append(fx.video, au)
			}
			au = nil
			continue
		}
		au = append(au, n)
	}
	if len(au) > 0 {
		fx.video = append(fx.video, au)
	}
	if audio == "aac" {
		aacPath := filepath.Join(dir, "a.aac")
		run("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "8", "-ac", "2",
			"-c:a", "aac", "-f", "adts", aacPath)
		b, err := os.ReadFile(aacPath)
		if err != nil {
			t.Fatal(err)
		}
		for len(b) >= 7 {
			n := int(b[3]&0x03)<<11 | int(b[4])<<3 | int(b[5])>>5
			hl := 7
			if b[1]&1 == 0 {
				hl = 9
			}
			if n < hl || n > len(b) {
				t.Fatal("bad ADTS frame")
			}
			fx.aac = append(fx.aac, b[hl:n])
			b = b[n:]
		}
	}
	if audio == "opus" {
		run("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "8",
			"-c:a", "libopus", "-frame_duration", "20", "-f", "ogg", oggPath)
		og, err := os.ReadFile(oggPath)
		if err != nil {
			t.Fatal(err)
		}
		fx.opus = oggPackets(t, og)[2:] // skip OpusHead, OpusTags
	}
	return fx
}

// oggPackets splits an Ogg stream into packets (RFC 3533 lacing).
func oggPackets(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	var cur []byte
	for len(b) >= 27 {
		if string(b[:4]) != "OggS" {
			t.Fatal("bad ogg page")
		}
		nseg := int(b[26])
		lace := b[27 : 27+nseg]
		body := b[27+nseg:]
		off := 0
		for _, l := range lace {
			cur = append(cur, body[off:off+int(l)]...)
			off += int(l)
			if l < 255 {
				out = append(out, cur)
				cur = nil
			}
		}
		b = body[off:]
	}
	return out
}

// publish writes the fixture into a new hub stream in real time, looping,
// until ctx ends.
func publish(ctx context.Context, t *testing.T, h *hub.Hub, name string, fx fixture, bframes bool) (wait func()) {
	t.Helper()
	pub, err := h.Publish(name, hub.PublishInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var sps, pps []byte
	for _, n := range fx.video[0] {
		switch h264.NALUType(n[0] & 0x1F) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		}
	}
	tracks := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264, SPS: sps, PPS: pps}}
	audio := fx.opus
	audioDur := func(i int) time.Duration { return time.Duration(i) * 20 * time.Millisecond }
	if len(fx.opus) > 0 {
		tracks.Audio = &media.AudioTrack{Codec: media.CodecOpus, SampleRate: 48000, ChannelCount: 2}
	}
	if len(fx.aac) > 0 {
		cfg, err := mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 2}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		tracks.Audio = &media.AudioTrack{Codec: media.CodecAAC, Config: cfg, SampleRate: 48000, ChannelCount: 2}
		audio = fx.aac
		audioDur = func(i int) time.Duration { return time.Duration(i) * 1024 * time.Second / 48000 }
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer pub.Close()
		start := time.Now()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		vi, ai := 0, 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			el := time.Since(start)
			for vdts := time.Duration(vi) * 40 * time.Millisecond; vdts <= el; vdts = time.Duration(vi) * 40 * time.Millisecond {
				au := fx.video[vi%len(fx.video)]
				var kept [][]byte
				for _, n := range au {
					switch h264.NALUType(n[0] & 0x1F) {
					case h264.NALUTypeSPS, h264.NALUTypePPS, h264.NALUTypeSEI:
						continue // as over RTMP: parameter sets out of band
					}
					kept = append(kept, n)
				}
				pts := vdts
				if bframes && vi%3 != 0 {
					pts += 80 * time.Millisecond
				}
				pub.Write(&media.Frame{Tracks: tracks, Video: true, Key: h264.IsRandomAccess(au), DTS: vdts, PTS: pts, AU: kept})
				vi++
			}
			for adts := audioDur(ai); len(audio) > 0 && adts <= el; adts = audioDur(ai) {
				pub.Write(&media.Frame{Tracks: tracks, Key: true, DTS: adts, PTS: adts, AU: [][]byte{audio[ai%len(audio)]}})
				ai++
			}
		}
	})
	return wg.Wait
}

type fakeSessions struct{ started, ended atomic.Int64 }

func (f *fakeSessions) ViewerStarted(channel, protocol, vid, remote, userAgent string) func() {
	f.started.Add(1)
	return func() { f.ended.Add(1) }
}

func newTestServer(t *testing.T, h *hub.Hub, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	opts.UDP = "127.0.0.1:0"
	opts.LoopbackOnly = true
	s, err := New(func(name string) *hub.Stream { return h.Stream(name, false) },
		slog.New(slog.DiscardHandler), opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/live/{name}/whep", func(w http.ResponseWriter, r *http.Request) {
		s.ServeOffer(w, r, r.PathValue("name"))
	})
	mux.HandleFunc("/whep/session/", s.ServeSession)
	mux.HandleFunc("/whip", s.ServeWHIP)
	mux.HandleFunc("/whip/", s.ServeWHIPSession)
	hs := httptest.NewServer(mux)
	return s, hs
}

// serverWithLiveChannel starts a server with opts on a hub where channel
// "demo" is live (a publisher that sends nothing); all of it stops at the
// end of the test.
func serverWithLiveChannel(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	h := hub.New(hub.HubOptions{})
	pub, err := h.Publish("demo", hub.PublishInfo{Protocol: "test"})
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	s, hs := newTestServer(t, h, opts)
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
		pub.Close()
		h.Close()
	})
	return s, hs
}

// clientAPI is a pion API for test viewers on loopback UDP, without
// interceptors; tweaks adjust its settings.
func clientAPI(t *testing.T, tweaks ...func(*pion.SettingEngine)) *pion.API {
	t.Helper()
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	for _, tweak := range tweaks {
		tweak(&se)
	}
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se))
}

func clientOffer(t *testing.T, pc *pion.PeerConnection) string {
	t.Helper()
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
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
	return pc.LocalDescription().SDP
}

func post(t *testing.T, url, ct, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, ct, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nalTypes returns the H.264 NAL unit types in an Annex-B buffer.
func nalTypes(b []byte) []h264.NALUType {
	a := splitAnnexB(b)
	out := make([]h264.NALUType, 0, len(a))
	for _, n := range a {
		if len(n) > 0 {
			out = append(out, h264.NALUType(n[0]&0x1F))
		}
	}
	return out
}

func TestWHEPPlaysVideoAndAudio(t *testing.T) {
	for _, audio := range []string{"opus", "aac"} {
		t.Run(audio, func(t *testing.T) { testWHEPPlays(t, audio) })
	}
}

func testWHEPPlays(t *testing.T, audio string) {
	fx := encodeFixture(t, false, audio)
	h := hub.New(hub.HubOptions{})
	defer h.Close()
	ctx, stop := context.WithCancel(context.Background())
	wait := publish(ctx, t, h, "demo", fx, false)
	defer func() { stop(); wait() }()
	waitFor(t, "stream live", func() bool { return h.Stream("demo", false) != nil })

	vs := &fakeSessions{}
	s, hs := newTestServer(t, h, Options{Sessions: vs})
	defer func() {
		hs.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	// Let a keyframe reach the GOP cache so the viewer starts mid-GOP.
	waitFor(t, "first GOP", func() bool { return h.Stream("demo", false).Tracks() != nil })
	time.Sleep(300 * time.Millisecond) // start mid-GOP on purpose

	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()

	var (
		mu          sync.Mutex
		firstIDRAt  time.Time
		firstIsIDR  = -1 // 1: first complete AU decoded was an IDR with SPS+PPS
		idrs        int
		videoFrames int
		opusPackets atomic.Int64
		firstOpusAt time.Time
		readers     sync.WaitGroup
	)
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		readers.Go(func() {
			var dep codecs.H264Packet
			var au []byte
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				if tr.Kind() == pion.RTPCodecTypeAudio {
					if opus.PacketDuration2(p.Payload) == 0 {
						continue // not an Opus packet
					}
					if opusPackets.Add(1) == 1 {
						mu.Lock()
						firstOpusAt = time.Now()
						mu.Unlock()
					}
					continue
				}
				b, err := dep.Unmarshal(p.Payload)
				if err != nil {
					continue
				}
				au = append(au, b...)
				if !p.Marker {
					continue
				}
				types := nalTypes(au)
				au = au[:0]
				var sps, pps, idr bool
				for _, ty := range types {
					sps = sps || ty == h264.NALUTypeSPS
					pps = pps || ty == h264.NALUTypePPS
					idr = idr || ty == h264.NALUTypeIDR
				}
				mu.Lock()
				videoFrames++
				if firstIsIDR < 0 {
					firstIsIDR = 0
					if idr && sps && pps {
						firstIsIDR = 1
						firstIDRAt = time.Now()
					}
				}
				if idr && sps && pps {
					idrs++
				}
				mu.Unlock()
			}
		})
	})

	offer := clientOffer(t, pc)
	t0 := time.Now()
	resp, answer := post(t, hs.URL+"/live/demo/whep", "application/sdp", offer)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST whep: %d %s", resp.StatusCode, answer)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/sdp" {
		t.Fatalf("Content-Type %q", ct)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		t.Fatal("no Location")
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first video frame", func() bool { mu.Lock(); defer mu.Unlock(); return firstIsIDR >= 0 })
	mu.Lock()
	if firstIsIDR != 1 {
		mu.Unlock()
		t.Fatal("first video frame was not an IDR with SPS and PPS")
	}
	t.Logf("WHEP POST → first IDR (with SPS/PPS) received: %v", firstIDRAt.Sub(t0))
	mu.Unlock()
	playFrom := time.Now()
	waitFor(t, "5 s of media", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return videoFrames >= 125 && opusPackets.Load() >= 250
	})
	mu.Lock()
	t.Logf("received %d video frames (%d IDR with SPS/PPS), %d Opus packets in %v; first Opus after %v",
		videoFrames, idrs, opusPackets.Load(), time.Since(playFrom), firstOpusAt.Sub(t0))
	if idrs < 4 {
		t.Errorf("got %d IDRs with SPS/PPS in 5 s, want ≥ 4 (GOP 1 s)", idrs)
	}
	mu.Unlock()
	if s.Sessions() != 1 {
		t.Fatalf("Sessions()=%d, want 1", s.Sessions())
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
	waitFor(t, "session gone", func() bool { return s.Sessions() == 0 })
	if vs.started.Load() != 1 || vs.ended.Load() != 1 {
		t.Fatalf("viewer sessions started=%d ended=%d, want 1 and 1", vs.started.Load(), vs.ended.Load())
	}
	waitFor(t, "transcoder stopped after the last viewer", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.transcoders) == 0
	})
	_ = pc.Close()
	readers.Wait()
}

func TestWHEPRefusesHostileOffers(t *testing.T) {
	s, hs := serverWithLiveChannel(t, Options{})

	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	good := clientOffer(t, pc)
	_ = pc.Close()

	var many bytes.Buffer
	head, _, _ := strings.Cut(good, "m=")
	many.WriteString(head)
	for i := range 600 {
		fmt.Fprintf(&many, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:%d\r\na=rtpmap:111 opus/48000/2\r\n", i)
	}
	var noFP []string
	for _, l := range strings.Split(good, "\r\n") {
		if !strings.HasPrefix(l, "a=fingerprint") {
			noFP = append(noFP, l)
		}
	}
	for _, tc := range []struct {
		name, path, ct, body string
		want                 int
	}{
		{"too large", "/live/demo/whep", "application/sdp", strings.Repeat("a", MaxSDPSize+10), http.StatusRequestEntityTooLarge},
		{"hundreds of m-lines", "/live/demo/whep", "application/sdp", many.String(), http.StatusBadRequest},
		{"no fingerprint", "/live/demo/whep", "application/sdp", strings.Join(noFP, "\r\n"), http.StatusBadRequest},
		{"garbage", "/live/demo/whep", "application/sdp", "hello", http.StatusBadRequest},
		{"wrong type", "/live/demo/whep", "text/plain", good, http.StatusUnsupportedMediaType},
		{"not live", "/live/nobody/whep", "application/sdp", good, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, hs.URL+tc.path, tc.ct, tc.body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tc.want)
			}
		})
	}
	if n := s.Sessions(); n != 0 {
		t.Fatalf("Sessions()=%d after refused offers", n)
	}
}

// A peer that sends an offer and never does ICE/DTLS is cleaned up after
// ConnectTimeout; the per-IP cap refuses sessions beyond MaxPerIP.
func TestWHEPAbandonedPeerTimesOutAndCaps(t *testing.T) {
	s, hs := serverWithLiveChannel(t, Options{ConnectTimeout: 500 * time.Millisecond, MaxPerIP: 2})

	var pcs []*pion.PeerConnection
	defer func() {
		for _, pc := range pcs {
			_ = pc.Close()
		}
	}()
	offer := func() string {
		pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		pcs = append(pcs, pc)
		return clientOffer(t, pc) // the answer is never applied: no ICE
	}
	for i := range 2 {
		if resp, body := post(t, hs.URL+"/live/demo/whep", "application/sdp", offer()); resp.StatusCode != http.StatusCreated {
			t.Fatalf("offer %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if resp, _ := post(t, hs.URL+"/live/demo/whep", "application/sdp", offer()); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third offer from one IP: %d, want 503", resp.StatusCode)
	}
	waitFor(t, "abandoned sessions cleaned up", func() bool { return s.Sessions() == 0 })
	if resp, body := post(t, hs.URL+"/live/demo/whep", "application/sdp", offer()); resp.StatusCode != http.StatusCreated {
		t.Fatalf("offer after cleanup: %d %s", resp.StatusCode, body)
	}
}

func TestWHEPRefusesBFrames(t *testing.T) {
	fx := encodeFixture(t, true, "")
	h := hub.New(hub.HubOptions{})
	defer h.Close()
	ctx, stop := context.WithCancel(context.Background())
	wait := publish(ctx, t, h, "bf", fx, true)
	defer func() { stop(); wait() }()
	s, hs := newTestServer(t, h, Options{})
	defer func() { hs.Close(); _ = s.Close() }()
	waitFor(t, "GOP cached", func() bool { st := h.Stream("bf", false); return st != nil && st.Tracks() != nil })
	time.Sleep(200 * time.Millisecond) // a few frames after the keyframe

	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	resp, body := post(t, hs.URL+"/live/bf/whep", "application/sdp", clientOffer(t, pc))
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "B-frames") {
		t.Fatalf("status %d %s, want 422 about B-frames", resp.StatusCode, body)
	}
	if !s.BFrames("bf") {
		t.Fatal("BFrames(bf) = false")
	}
}
