package srt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosrt "github.com/datarhei/gosrt"
	"go.uber.org/goleak"

	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/play"
	"github.com/huabian-live/huabian/internal/play/httpflv"
)

// The gosrt caller used as a test client leaks its socket reader after a
// refused handshake (it blocks sending on an unbuffered channel nobody reads
// once Dial has returned); the server never dials, so only that one is
// ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/datarhei/gosrt.Dial.func1"))
}

const (
	goodKey  = "sk_good"
	demoName = "demo"
)

type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, key string) (string, func() bool, error) {
	if key == goodKey {
		return demoName, func() bool { return true }, nil
	}
	return "", nil, fmt.Errorf("lookup: %w", ErrUnknownKey)
}

type env struct {
	hub     *hub.Hub
	srv     *Server
	addr    string // SRT UDP address
	flvURL  string // base URL of the HTTP-FLV server
	limiter *channel.FailureLimiter
}

func start(t *testing.T, opts Options, failuresPerMinute int) *env {
	t.Helper()
	h := hub.New(hub.HubOptions{Stream: hub.Options{Prepare: play.PrepareFrame}})
	m := observe.NewMetrics(nil)
	log := slog.New(slog.DiscardHandler)
	lim := channel.NewFailureLimiter(failuresPerMinute)
	s := New(h, fakeAuth{}, lim, m, log, opts)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	flv := httpflv.New(func(name string) *hub.Stream { return h.Stream(name, false) }, m, log, httpflv.Options{})
	hs := httptest.NewServer(flv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		h.Close()
		flv.Close()
		hs.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &env{hub: h, srv: s, addr: s.Addr().String(), flvURL: hs.URL, limiter: lim}
}

func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (needed to run a real SRT client): %v", tool, err)
		}
	}
}

// publishFFmpeg starts ffmpeg publishing a 1280x720 H.264 + AAC test
// pattern to url; it is stopped (by PID) at cleanup.
func publishFFmpeg(t *testing.T, url string) *exec.Cmd {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30",
		"-c:a", "aac", "-t", "120", "-f", "mpegts", url)
	cmd.Stderr = &lockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("ffmpeg stderr: %s", cmd.Stderr.(*lockedWriter).String())
		}
	})
	return cmd
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// waitFor polls cond until it holds or the bounded wait runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func framesIn(h *hub.Hub, name string) uint64 {
	s := h.Stream(name, true)
	if s == nil {
		return 0
	}
	return s.Counters.FramesIn.Load()
}

type probed struct {
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
}

func ffprobe(t *testing.T, url string) probed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries",
		"stream=codec_type,codec_name,width,height", "-of", "json", url).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("ffprobe %s: %v: %s", url, err, ee.Stderr)
		}
		t.Fatalf("ffprobe %s: %v", url, err)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output %q: %v", out, err)
	}
	return p
}

func checkH264AAC(t *testing.T, where string, p probed) {
	t.Helper()
	var video, audio bool
	for _, s := range p.Streams {
		switch {
		case s.CodecType == "video" && s.CodecName == "h264" && s.Width == 1280 && s.Height == 720:
			video = true
		case s.CodecType == "audio" && s.CodecName == "aac":
			audio = true
		}
	}
	if !video || !audio {
		t.Errorf("%s: got streams %+v, want h264 1280x720 and aac", where, p.Streams)
	}
}

// An SRT publish from ffmpeg reaches the hub as RTMP-shaped frames, plays
// back over HTTP-FLV and over SRT, and survives garbage datagrams.
func TestPublishAndPlay(t *testing.T) {
	needTools(t)
	e := start(t, Options{}, 10)
	publishFFmpeg(t, "srt://"+e.addr+"?streamid=publish:"+goodKey)
	waitFor(t, "video frames in the hub", func() bool { return framesIn(e.hub, demoName) > 60 })

	st := e.hub.Stream(demoName, false)
	if st == nil {
		t.Fatal("stream not live")
	}
	tr := st.Tracks()
	if tr == nil || tr.Video == nil || tr.Audio == nil {
		t.Fatalf("tracks %+v: want video and audio", tr)
	}
	if tr.Video.Width != 1280 || tr.Video.Height != 720 || len(tr.Video.SPS) == 0 || len(tr.Video.PPS) == 0 {
		t.Errorf("video track %+v: want 1280x720 with SPS and PPS", tr.Video)
	}
	if tr.Audio.SampleRate != 44100 || len(tr.Audio.Config) == 0 {
		t.Errorf("audio track %+v: want AAC 44100 Hz with its config", tr.Audio)
	}
	if got := st.Viewers(); len(got) != 0 {
		t.Logf("viewers before play: %v", got)
	}
	checkFrames(t, st)

	t.Run("httpflv", func(t *testing.T) {
		checkH264AAC(t, "HTTP-FLV", ffprobe(t, e.flvURL+"/live/"+demoName+".flv"))
	})
	t.Run("srt read", func(t *testing.T) {
		checkH264AAC(t, "SRT read", ffprobe(t, "srt://"+e.addr+"?streamid=read:"+demoName))
	})
	t.Run("srt read access-control syntax", func(t *testing.T) {
		// ffmpeg passes the streamid on without URL-decoding it.
		checkH264AAC(t, "SRT read", ffprobe(t, "srt://"+e.addr+"?streamid=#!::r="+demoName+",m=request"))
	})
	t.Run("ffmpeg refused", func(t *testing.T) {
		for _, sid := range []string{"publish:sk_wrong", "publish:a/b", "read:nobody"} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
				"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "1", "-c:v", "libx264", "-f", "mpegts",
				"srt://"+e.addr+"?streamid="+sid).CombinedOutput()
			timedOut := ctx.Err() != nil
			cancel()
			if err == nil || timedOut {
				t.Errorf("ffmpeg with streamid %q: err %v (timed out: %v), want a refused connection; output %s", sid, err, timedOut, out)
			} else if !bytes.Contains(out, []byte("rejection reason")) {
				t.Errorf("ffmpeg with streamid %q: %s, want a rejection reason", sid, out)
			}
		}
		if e.hub.Stream(demoName, false) != st {
			t.Error("a refused caller disturbed the live publish")
		}
	})
	t.Run("garbage datagrams", func(t *testing.T) {
		sendGarbage(t, e.addr)
		before := framesIn(e.hub, demoName)
		waitFor(t, "frames after the garbage", func() bool { return framesIn(e.hub, demoName) > before+60 })
		if e.hub.Stream(demoName, false) != st {
			t.Error("the publish was replaced or ended by garbage")
		}
	})
}

// checkFrames looks at what the hub holds: H.264 AUs without start codes,
// SPS/PPS or AUDs, timestamps near zero, keyframes flagged.
func checkFrames(t *testing.T, st *hub.Stream) {
	t.Helper()
	r := st.Subscribe()
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	batch, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := batch[0]
	if !f.Video || !f.Key {
		t.Errorf("first frame for a new reader: video=%v key=%v, want a video keyframe", f.Video, f.Key)
	}
	for _, f := range batch {
		if f.DTS < 0 || f.DTS > time.Hour || f.PTS < f.DTS {
			t.Errorf("frame times dts=%v pts=%v", f.DTS, f.PTS)
		}
		if !f.Video {
			continue
		}
		for _, n := range f.AU {
			if bytes.HasPrefix(n, []byte{0, 0, 1}) || bytes.HasPrefix(n, []byte{0, 0, 0, 1}) {
				t.Fatal("NAL unit with a start code")
			}
			switch n[0] & 0x1F {
			case 7, 8, 9:
				t.Fatalf("NAL unit type %d in an AU (parameter sets and AUDs belong to the track)", n[0]&0x1F)
			}
		}
		if f.FLVTag == nil {
			t.Error("frame without an FLV tag")
		}
	}
}

// sendGarbage sends datagrams of every shape to the SRT port: random
// bytes, data packets for unknown and guessed sockets, and handshake and
// other control packets with random bodies.
func sendGarbage(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		size := rng.IntN(1500)
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if size >= 16 {
			switch i % 4 {
			case 0: // control packet, random type, for socket 0
				binary.BigEndian.PutUint16(b[0:], 0x8000|uint16(rng.IntN(8)))
				binary.BigEndian.PutUint32(b[12:], 0)
			case 1: // handshake for socket 0 with a random body
				binary.BigEndian.PutUint16(b[0:], 0x8000)
				binary.BigEndian.PutUint32(b[12:], 0)
			case 2: // data packet to a random socket
				b[0] &= 0x7F
			}
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
}

func dial(addr, streamID, passphrase string) (gosrt.Conn, error) {
	cfg := gosrt.DefaultConfig()
	cfg.StreamId = streamID
	cfg.Passphrase = passphrase
	cfg.ConnectionTimeout = 5 * time.Second
	return gosrt.Dial("srt", addr, cfg)
}

// refused asserts that the handshake is rejected with the given SRT code.
func refused(t *testing.T, addr, streamID, passphrase string, code gosrt.RejectionReason) {
	t.Helper()
	c, err := dial(addr, streamID, passphrase)
	if err == nil {
		c.Close()
		t.Fatalf("streamid %q: connected, want refusal", streamID)
	}
	// gosrt prints the handshake type of a rejection in base 32.
	want := "REJECT (" + strconv.FormatUint(uint64(wireReason(code)), 32) + ")"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("streamid %q: refused with %v, want code %d (%s)", streamID, err, code, want)
	}
}

func TestRefusals(t *testing.T) {
	e := start(t, Options{}, 2)
	for _, sid := range []string{"", "play:demo", "publish:", "publish:a/b", "read:" + strings.Repeat("x", 300), "#!::m=publish", "#!::r=x,m=bidirectional"} {
		refused(t, e.addr, sid, "", gosrt.REJX_BAD_REQUEST)
	}
	refused(t, e.addr, "read:nobody", "", gosrt.REJX_NOTFOUND)
	if !e.limiter.Allow("127.0.0.1") {
		t.Fatal("limited before any wrong key")
	}
	refused(t, e.addr, "publish:sk_wrong", "", gosrt.REJX_UNAUTHORIZED)
	refused(t, e.addr, "#!::r=sk_wrong2,m=publish", "", gosrt.REJX_UNAUTHORIZED)
	if e.limiter.Allow("127.0.0.1") {
		t.Error("two wrong keys with a limit of 2 per minute: still allowed")
	}
	// Now even the right key is refused from this address.
	refused(t, e.addr, "publish:"+goodKey, "", gosrt.REJX_OVERLOAD)
	if e.hub.Stream(demoName, true) != nil {
		t.Error("a refused publish created a stream")
	}
	// An encrypted caller is refused when no passphrase is configured.
	refused(t, e.addr, "read:demo", "0123456789abc", gosrt.REJ_UNSECURE)
}

// The right key with gosrt as the caller is accepted, and the publish
// ends when the server shuts down.
func TestPublishAcceptedAndBusy(t *testing.T) {
	e := start(t, Options{}, 10)
	c, err := dial(e.addr, "publish:"+goodKey, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "the channel to go live", func() bool { return e.hub.Stream(demoName, false) != nil })
	// A second publisher while the first is alive is refused (hub.ErrBusy).
	refused(t, e.addr, "publish:"+goodKey, "", gosrt.REJX_CONFLICT)
}

// A publisher that sends nothing is dropped after IdleTimeout.
func TestSilentPublisherDropped(t *testing.T) {
	e := start(t, Options{IdleTimeout: 300 * time.Millisecond}, 10)
	c, err := dial(e.addr, "publish:"+goodKey, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "the channel to go live", func() bool { return e.hub.Stream(demoName, false) != nil })
	waitFor(t, "the silent publisher to be dropped", func() bool {
		st, ok := e.hub.Lookup(demoName)
		return ok && !st.Live
	})
}

func TestPassphrase(t *testing.T) {
	const pass = "correct-horse-battery"
	e := start(t, Options{Passphrase: pass}, 10)
	refused(t, e.addr, "publish:"+goodKey, "", gosrt.REJ_UNSECURE)
	refused(t, e.addr, "publish:"+goodKey, "wrong-passphrase", gosrt.REJ_BADSECRET)
	if e.hub.Stream(demoName, true) != nil {
		t.Fatal("a refused publish created a stream")
	}
	needTools(t)
	publishFFmpeg(t, "srt://"+e.addr+"?streamid=publish:"+goodKey+"&passphrase="+pass)
	waitFor(t, "frames from the encrypted publish", func() bool { return framesIn(e.hub, demoName) > 30 })
	checkH264AAC(t, "SRT read with passphrase",
		ffprobe(t, "srt://"+e.addr+"?streamid=read:"+demoName+"&passphrase="+pass))
}

var _ http.Handler = (*httpflv.Server)(nil)

// Shutting the server down tells publishers and readers (an SRT shutdown
// reaches both callers) and Serve returns after every goroutine is gone.
func TestShutdownTellsCallers(t *testing.T) {
	h := hub.New(hub.HubOptions{Stream: hub.Options{Prepare: play.PrepareFrame}})
	defer h.Close()
	s := New(h, fakeAuth{}, channel.NewFailureLimiter(10), observe.NewMetrics(nil), slog.New(slog.DiscardHandler), Options{})
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	served := false
	defer func() {
		if !served {
			cancel()
			<-done
		}
	}()

	pub, err := dial(addr, "publish:"+goodKey, "")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	waitFor(t, "the channel to go live", func() bool { return h.Stream(demoName, false) != nil })
	rd, err := dial(addr, "read:"+demoName, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	waitFor(t, "the reader to attach", func() bool { return h.Stream(demoName, false).ReaderCount() == 1 })

	ended := make(chan string, 2)
	for name, c := range map[string]gosrt.Conn{"publisher": pub, "reader": rd} {
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, err := c.Read(buf); err != nil {
					ended <- name
					return
				}
			}
		}()
	}
	cancel()
	served = true
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	for range 2 {
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			t.Fatal("a caller was not told about the shutdown")
		}
	}
	if got := h.Stream(demoName, true); got != nil && got.ReaderCount() != 0 {
		t.Errorf("%d readers still attached after shutdown", got.ReaderCount())
	}
}

// The latency is negotiated per SRT rules: the larger of the server's
// setting and the caller's.
func TestLatencyNegotiated(t *testing.T) {
	e := start(t, Options{Latency: 300 * time.Millisecond}, 10)
	for _, tc := range []struct {
		caller time.Duration
		want   uint64
	}{
		{50 * time.Millisecond, 300},
		{800 * time.Millisecond, 800},
	} {
		cfg := gosrt.DefaultConfig()
		cfg.StreamId = "publish:" + goodKey
		cfg.Latency = tc.caller
		c, err := gosrt.Dial("srt", e.addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var st gosrt.Statistics
		c.Stats(&st)
		c.Close()
		if got := st.Instantaneous.MsSendTsbPdDelay; got != tc.want {
			t.Errorf("caller latency %v: publisher's send delay %d ms, want %d", tc.caller, got, tc.want)
		}
		// Let the hub see the first publisher as gone before the next.
		waitFor(t, "the publisher to leave", func() bool {
			st, ok := e.hub.Lookup(demoName)
			return !ok || !st.Live
		})
	}
}
