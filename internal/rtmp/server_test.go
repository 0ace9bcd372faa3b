package rtmp

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"go.uber.org/goleak"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/play"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Parameter sets of a 160x120 x264 stream.
var (
	testSPS, _ = hex.DecodeString("6764000bacb20508fcb80880000003008000001e078a1524")
	testPPS, _ = hex.DecodeString("68ebc0c4b22c")
)

type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, key string) (string, func() bool, error) {
	if key == "sk_good" {
		return "demo", func() bool { return true }, nil
	}
	return "", nil, ErrUnknownKey
}

type countingLimiter struct {
	mu    sync.Mutex
	fails int
}

func (l *countingLimiter) Allow(string) bool { l.mu.Lock(); defer l.mu.Unlock(); return l.fails < 3 }
func (l *countingLimiter) Fail(string)       { l.mu.Lock(); defer l.mu.Unlock(); l.fails++ }

func startServer(t *testing.T) (*hub.Hub, string, *observe.Metrics) {
	t.Helper()
	return startServerWith(t, Options{HandshakeTimeout: 2 * time.Second})
}

func startServerWith(t *testing.T, opts Options) (*hub.Hub, string, *observe.Metrics) {
	t.Helper()
	h := hub.New(hub.HubOptions{Stream: hub.Options{Prepare: play.PrepareFrame}})
	m := observe.NewMetrics(nil)
	s := New(h, fakeAuth{}, &countingLimiter{}, m, slog.New(slog.DiscardHandler), opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		h.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return h, ln.Addr().String(), m
}

func dial(t *testing.T, rawURL string, publish bool) (*gortmplib.Client, error) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c := &gortmplib.Client{URL: u, Publish: publish}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Initialize(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// A publish with gortmplib's client is played back by gortmplib's client
// through our shared-chunk writer: the player sees the same access units.
func TestPublishAndPlay(t *testing.T) {
	h, addr, _ := startServer(t)
	pub, err := dial(t, "rtmp://"+addr+"/live/sk_good", true)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	track := &gortmplib.Track{Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}}
	w := &gortmplib.Writer{Conn: pub, Tracks: []*gortmplib.Track{track}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	idr := []byte{0x65, 0x88, 0x84, 0x00, 0x33}
	nonIDR := []byte{0x41, 0x9a, 0x02, 0x04}
	frame := func(i int) [][]byte {
		if i%30 == 0 {
			return [][]byte{idr}
		}
		return [][]byte{nonIDR}
	}
	// gortmplib's reader probes tracks until it has seen some media; feed
	// frames until the stream is live.
	stopFeed := make(chan struct{})
	fed := make(chan int, 1)
	go func() {
		i := 0
		defer func() { fed <- i }()
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stopFeed:
				return
			case <-tk.C:
			}
			d := time.Duration(i) * time.Second / 30
			if err := w.WriteH264(track, d, d, frame(i)); err != nil {
				return
			}
			i++
			if i > 3000 {
				return
			}
		}
	}()
	waitLive(t, h, "demo")
	r := playReader(t, addr, "demo")
	tracks := r.Tracks()
	if len(tracks) != 1 {
		t.Fatalf("player sees %d tracks, want 1", len(tracks))
	}
	c, ok := tracks[0].Codec.(*codecs.H264)
	if !ok || hex.EncodeToString(c.SPS) != hex.EncodeToString(testSPS) {
		t.Fatalf("player track %#v", tracks[0].Codec)
	}
	var got int
	var lastDTS time.Duration = -1
	r.OnDataH264(tracks[0], func(_, dts time.Duration, au [][]byte) {
		if len(au) == 1 && (au[0][0]&0x1f == 7 || au[0][0]&0x1f == 8) {
			return
		}
		if dts < lastDTS {
			t.Errorf("DTS went backwards: %v after %v", dts, lastDTS)
		}
		lastDTS = dts
		got++
	})
	for got < 40 {
		if err := r.Read(); err != nil {
			t.Fatalf("read after %d frames: %v", got, err)
		}
	}
	close(stopFeed)
	<-fed
}

func TestWrongKeyRefused(t *testing.T) {
	h, addr, _ := startServer(t)
	c, err := dial(t, "rtmp://"+addr+"/live/sk_wrong", true)
	if err == nil {
		// The refusal arrives as onStatus after publish; the next read fails.
		_ = c.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read()
		for err == nil {
			_, err = c.Read()
		}
		c.Close()
	}
	if err == nil {
		t.Fatal("publish with a wrong key was accepted")
	}
	if h.Stream("demo", true) != nil {
		t.Fatal("a stream exists after a refused publish")
	}
}

func TestPlayNotLive(t *testing.T) {
	_, addr, _ := startServer(t)
	c, err := dial(t, "rtmp://"+addr+"/live/nobody", false)
	if err == nil {
		_ = c.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
		r := &gortmplib.Reader{Conn: c}
		err = r.Initialize()
		c.Close()
	}
	if err == nil {
		t.Fatal("play of a channel that is not live succeeded")
	}
}

// Garbage and a stalled handshake close only their own connection.
func TestBadHandshakeClosesConnection(t *testing.T) {
	_, addr, _ := startServer(t)
	for _, payload := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		append([]byte{3}, make([]byte, 100)...), // truncated C1, then silence
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(payload); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.Copy(io.Discard, conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("server kept a bad connection open (payload %q…)", payload[:4])
		}
		conn.Close()
	}
	// The server still accepts and completes a good session.
	c, err := dial(t, "rtmp://"+addr+"/live/sk_good", true)
	if err != nil {
		t.Fatalf("server stopped serving: %v", err)
	}
	c.Close()
}

// HEVC over Enhanced RTMP is accepted and passed through to RTMP players.
func TestHEVCPassThrough(t *testing.T) {
	vps, _ := hex.DecodeString("40010c01ffff01600000030090000003000003003c959809")
	sps, _ := hex.DecodeString("42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003003c10")
	pps, _ := hex.DecodeString("4401c172b46240")
	h, addr, _ := startServer(t)
	pub, err := dial(t, "rtmp://"+addr+"/live/sk_good", true)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	track := &gortmplib.Track{Codec: &codecs.H265{VPS: vps, SPS: sps, PPS: pps}}
	w := &gortmplib.Writer{Conn: pub, Tracks: []*gortmplib.Track{track}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	idr := []byte{0x26, 0x01, 0xaf, 0x08}   // IDR_W_RADL slice
	trail := []byte{0x02, 0x01, 0xd0, 0x09} // TRAIL_R slice
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for i := 0; i < 3000; i++ {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			au := [][]byte{trail}
			if i%30 == 0 {
				au = [][]byte{idr}
			}
			d := time.Duration(i) * time.Second / 30
			if err := w.WriteH265(track, d, d, au); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	if v := waitLive(t, h, "demo").Video; v == nil || v.Codec.String() != "h265" || v.Width != 320 {
		t.Fatalf("ingest tracks %+v", v)
	}
	r := playReader(t, addr, "demo")
	c, ok := r.Tracks()[0].Codec.(*codecs.H265)
	if !ok || hex.EncodeToString(c.SPS) != hex.EncodeToString(sps) {
		t.Fatalf("player track %#v", r.Tracks()[0].Codec)
	}
	got := 0
	r.OnDataH265(r.Tracks()[0], func(_, _ time.Duration, au [][]byte) { got++ })
	for got < 20 {
		if err := r.Read(); err != nil {
			t.Fatalf("read after %d HEVC frames: %v", got, err)
		}
	}
}

// waitLive waits until channel name is live with known tracks.
func waitLive(t *testing.T, h *hub.Hub, name string) *media.Tracks {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := h.Stream(name, false); st != nil && st.Tracks() != nil {
			return st.Tracks()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never went live", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// playReader plays name over RTMP with gortmplib and returns its reader,
// tracks already read.
func playReader(t *testing.T, addr, name string) *gortmplib.Reader {
	t.Helper()
	player, err := dial(t, "rtmp://"+addr+"/live/"+name, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(player.Close)
	_ = player.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	r := &gortmplib.Reader{Conn: player}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	return r
}

// An Enhanced RTMP publish with Opus audio: players get the video and an AAC
// rendition made by ffmpeg once for the stream (RTMP cannot carry Opus to
// ordinary players).
func TestEnhancedRTMPOpusPlaysAAC(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	h, addr, _ := startServerWith(t, Options{HandshakeTimeout: 2 * time.Second, OpusToAAC: "ffmpeg"})
	pub, err := dial(t, "rtmp://"+addr+"/live/sk_good", true)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	video := &gortmplib.Track{Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}}
	audio := &gortmplib.Track{Codec: &codecs.Opus{IDHeader: &opus.IDHeader{Version: 1, ChannelCount: 2, PreSkip: 312, InputSampleRate: 48000}}}
	w := &gortmplib.Writer{Conn: pub, Tracks: []*gortmplib.Track{video, audio}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for i := 0; i < 1500; i++ { // 30 s at most
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			d := time.Duration(i) * 20 * time.Millisecond
			// A 20 ms CELT frame (TOC 0xfc: fullband, stereo, one frame).
			if err := w.WriteOpus(audio, d, []byte{0xfc, 0xff, 0xfe}); err != nil {
				return
			}
			if i%2 == 0 {
				au := [][]byte{testNonIDR}
				if i%50 == 0 {
					au = [][]byte{testIDR}
				}
				if err := w.WriteH264(video, d, d, au); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-done }()
	if tr := waitLive(t, h, "demo"); tr.Audio == nil || tr.Audio.Codec != media.CodecOpus {
		t.Fatalf("ingest tracks %+v", tr)
	}
	r := playReader(t, addr, "demo")
	var aac *gortmplib.Track
	for _, tr := range r.Tracks() {
		if _, ok := tr.Codec.(*codecs.MPEG4Audio); ok {
			aac = tr
		}
	}
	if aac == nil {
		t.Fatalf("player tracks %v: no AAC", r.Tracks())
	}
	got := 0
	r.OnDataMPEG4Audio(aac, func(_ time.Duration, au []byte) { got++ })
	for _, tr := range r.Tracks() {
		if _, ok := tr.Codec.(*codecs.H264); ok {
			r.OnDataH264(tr, func(_, _ time.Duration, _ [][]byte) {})
		}
	}
	for got < 20 {
		if err := r.Read(); err != nil {
			t.Fatalf("read after %d AAC frames: %v", got, err)
		}
	}
}
