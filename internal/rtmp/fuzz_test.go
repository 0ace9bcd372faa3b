package rtmp

// Fuzz targets and hostile-input tests for the RTMP listener
// (RELIABILITY.md §3(a) items 1–8 and 15).
//
// FuzzRTMPClientStream feeds the bytes a client sends after a valid plain
// handshake to the real connection handler, (*Server).handle, once in one
// write and once in small pieces. FuzzAMF0 checks gortmplib's AMF0 codec.
//
// The seed corpora under testdata/fuzz/<FuzzName>/ are generated from the
// builders in this file (rtmpSeeds, amf0Seeds):
//
//	go test ./internal/rtmp -run '^TestFuzzSeedCorpus$' -rtmp.write-seeds
//
// TestFuzzSeedCorpus fails when a committed seed differs from its builder.
// Failing inputs found by `go test -fuzz` are saved next to them and stay
// as regression seeds.
//
// Fuzzing:
//
//	go test ./internal/rtmp -run='^$' -fuzz='^FuzzRTMPClientStream$' -fuzztime=5m -fuzzminimizetime=5s
//	go test ./internal/rtmp -run='^$' -fuzz='^FuzzAMF0$' -fuzztime=60s
//
// A session is concurrent (handler, client, drain), so a little of its
// coverage varies from run to run; with the default 60 s minimisation a
// worker can spend a minute on one such input, hence -fuzzminimizetime.
//
// Inputs that once crashed the whole process live in testdata/crashers/
// (not replayed by the fuzz engine, which would die with them);
// TestDeepAMF0DoesNotCrash replays them in a child process.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/abema/go-mp4"
	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/play"
)

var writeSeeds = flag.Bool("rtmp.write-seeds", false, "rewrite the seed corpora under testdata/fuzz from the builders in fuzz_test.go")

// ---------------------------------------------------------------------------
// Harness: one client session against (*Server).handle.

// pipeConn is the server's end of an in-memory connection made of two
// net.Pipes, one per direction. Unlike a single net.Pipe it lets the client
// half-close (the server reads io.EOF after the last byte while its replies
// still flow), as a TCP client calling CloseWrite would. Deadlines are the
// pipes' own.
type pipeConn struct {
	in  net.Conn // the server reads from in
	out net.Conn // and writes to out
}

func (c *pipeConn) Read(b []byte) (int, error)  { return c.in.Read(b) }
func (c *pipeConn) Write(b []byte) (int, error) { return c.out.Write(b) }
func (c *pipeConn) Close() error                { return errors.Join(c.in.Close(), c.out.Close()) }
func (c *pipeConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1935}
}
func (c *pipeConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 50000}
}
func (c *pipeConn) SetDeadline(t time.Time) error {
	return errors.Join(c.in.SetReadDeadline(t), c.out.SetWriteDeadline(t))
}
func (c *pipeConn) SetReadDeadline(t time.Time) error  { return c.in.SetReadDeadline(t) }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { return c.out.SetWriteDeadline(t) }

// clientRW is the client's end: it reads what the server wrote and writes
// what the server reads.
type clientRW struct{ r, w net.Conn }

func (c clientRW) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c clientRW) Write(b []byte) (int, error) { return c.w.Write(b) }

type allowLimiter struct{}

func (allowLimiter) Allow(string) bool { return true }
func (allowLimiter) Fail(string)       {}

// session describes one client connection.
type session struct {
	data []byte
	// split writes data in small pieces whose sizes are derived from data.
	split bool
	// keepOpen leaves the connection open after the last byte: the server
	// must end the session by itself (protocol error or timeout).
	keepOpen bool
	opts     Options
	log      *slog.Logger
	// bound is how long the handler may take to return after the client
	// finished writing. Default: 2 s, plus the server's timeouts when
	// keepOpen.
	bound time.Duration
}

// outcome is what a session did.
type outcome struct {
	ended     time.Duration // from the client's last write to the handler's return
	writeErr  error         // the client's write error (the server hung up early)
	publishes uint64        // publish sessions the hub accepted
	live      bool          // channel "demo" got tracks
	framesIn  uint64        // frames the hub received for "demo"
}

const (
	fuzzTimeout = 200 * time.Millisecond
	// liveChannel is live in every session's hub so that play can be fuzzed.
	liveChannel = "live1"
)

var fuzzOpts = Options{HandshakeTimeout: fuzzTimeout, IdleTimeout: fuzzTimeout, WriteTimeout: fuzzTimeout}

var (
	testIDR    = []byte{0x65, 0x88, 0x84, 0x00, 0x33}
	testNonIDR = []byte{0x41, 0x9a, 0x02, 0x04}
)

// newSessionHub returns a hub in which liveChannel is being published.
func newSessionHub(tb testing.TB) *hub.Hub {
	tb.Helper()
	h := hub.New(hub.HubOptions{Stream: hub.Options{Prepare: play.PrepareFrame, RingSize: 64}})
	p, err := h.Publish(liveChannel, hub.PublishInfo{Protocol: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	tracks := &media.Tracks{Video: media.H264Track(testSPS, testPPS)}
	p.Write(&media.Frame{Tracks: tracks, Video: true, Key: true, AU: [][]byte{testIDR}})
	p.Write(&media.Frame{Tracks: tracks, Video: true, DTS: 33 * time.Millisecond, PTS: 33 * time.Millisecond, AU: [][]byte{testNonIDR}})
	return h
}

// pieceSizes returns the sizes of the writes of a split session: mostly 1 to
// 16 bytes, sometimes up to 600, from a generator seeded by the data.
func pieceSizes(data []byte) []int {
	hs := fnv.New64a()
	hs.Write(data)
	rng := rand.New(rand.NewPCG(hs.Sum64(), uint64(len(data))))
	var sizes []int
	for left := len(data); left > 0; {
		n := 1 + rng.IntN(16)
		if rng.IntN(8) == 0 {
			n = 1 + rng.IntN(600)
		}
		n = min(n, left)
		sizes = append(sizes, n)
		left -= n
	}
	return sizes
}

func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// runSession runs the real connection handler against one client. It fails
// tb if the handshake fails, if the server stops reading without closing,
// if the handler does not return within the bound, or if goroutines are
// left behind.
func runSession(tb testing.TB, m *observe.Metrics, s session) outcome {
	tb.Helper()
	if s.opts == (Options{}) {
		s.opts = fuzzOpts
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.bound == 0 {
		s.bound = 2 * time.Second
		if s.keepOpen {
			s.bound += max(s.opts.HandshakeTimeout, s.opts.IdleTimeout)
		}
	}
	before := runtime.NumGoroutine()

	h := newSessionHub(tb)
	srv := New(h, fakeAuth{}, allowLimiter{}, m, s.log, s.opts)
	cIn, sIn := net.Pipe()
	sOut, cOut := net.Pipe()
	sc := &pipeConn{in: sIn, out: sOut}
	ctx, cancel := context.WithCancel(context.Background())
	handled := make(chan struct{})
	go func() {
		defer close(handled)
		defer sc.Close()
		srv.handle(ctx, sc)
	}()
	var out outcome
	// The client is torn down on every path so that a failing session does
	// not leak into the next one.
	defer func() {
		cancel()
		sc.Close()
		cIn.Close()
		cOut.Close()
		select {
		case <-handled:
		case <-time.After(5 * time.Second):
			tb.Errorf("the handler is stuck even with its connection closed\n%s", goroutineDump())
		}
		h.Close()
	}()

	_ = cOut.SetReadDeadline(time.Now().Add(2 * time.Second))
	_ = cIn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, _, err := handshake.DoClient(clientRW{r: cOut, w: cIn}, false, false); err != nil {
		tb.Fatalf("handshake: %v", err)
	}
	_ = cOut.SetReadDeadline(time.Time{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(io.Discard, cOut)
	}()

	_ = cIn.SetWriteDeadline(time.Now().Add(max(2*time.Second, s.bound)))
	if s.split {
		p := s.data
		for _, n := range pieceSizes(s.data) {
			if _, out.writeErr = cIn.Write(p[:n]); out.writeErr != nil {
				break
			}
			p = p[n:]
		}
	} else if len(s.data) > 0 {
		_, out.writeErr = cIn.Write(s.data)
	}
	if errors.Is(out.writeErr, os.ErrDeadlineExceeded) {
		tb.Fatalf("the server neither read nor closed the connection for %v\n%s", max(2*time.Second, s.bound), goroutineDump())
	}
	if !s.keepOpen {
		cIn.Close()
	}
	wrote := time.Now()
	select {
	case <-handled:
		out.ended = time.Since(wrote)
	case <-time.After(s.bound):
		tb.Fatalf("the handler did not return within %v of the client's last write\n%s", s.bound, goroutineDump())
	}
	// The handler closed its end: the drain sees io.EOF (closing cOut
	// first would race with it).
	cIn.Close()
	<-drained
	cOut.Close()

	out.publishes = h.Publishes.Load()
	if st := h.Stream("demo", true); st != nil {
		out.live = st.Tracks() != nil
		out.framesIn = st.Counters.FramesIn.Load()
	}

	// Everything the session started must be gone (the deferred teardown
	// only closes what is already finished).
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			tb.Fatalf("goroutines: %d before the session, %d after\n%s", before, runtime.NumGoroutine(), goroutineDump())
		}
		time.Sleep(time.Millisecond)
	}
	return out
}

// ---------------------------------------------------------------------------
// FuzzRTMPClientStream

var fuzzMetrics = sync.OnceValue(func() *observe.Metrics { return observe.NewMetrics(nil) })

// Reach counters: how many sessions (two per input) got how far.
var reach struct {
	sessions, published, live, frames atomic.Uint64
}

func FuzzRTMPClientStream(f *testing.F) {
	m := fuzzMetrics()
	f.Cleanup(func() {
		if testing.Verbose() {
			f.Logf("sessions %d: a publish accepted in %d, tracks set up in %d, frames ingested in %d",
				reach.sessions.Load(), reach.published.Load(), reach.live.Load(), reach.frames.Load())
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, split := range []bool{false, true} {
			o := runSession(t, m, session{data: data, split: split})
			reach.sessions.Add(1)
			if o.publishes > 1 { // liveChannel is always there
				reach.published.Add(1)
			}
			if o.live {
				reach.live.Add(1)
			}
			if o.framesIn > 0 {
				reach.frames.Add(1)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Seed builders: client→server chunk streams.

// stream accumulates the bytes a client sends after the handshake. It
// implements gortmplib.Conn so that gortmplib.Writer can write tracks and
// media into it.
type stream struct {
	buf bytes.Buffer
	mw  *message.Writer
}

func newStream() *stream {
	s := &stream{}
	bc := bytecounter.NewWriter(&s.buf)
	s.mw = message.NewWriter(bc, bc, false)
	return s
}

func (s *stream) BytesReceived() uint64           { return 0 }
func (s *stream) BytesSent() uint64               { return uint64(s.buf.Len()) }
func (s *stream) Read() (message.Message, error)  { return nil, io.EOF }
func (s *stream) Write(msg message.Message) error { return s.mw.Write(msg) }

// msg appends messages encoded by gortmplib's writer (which follows its own
// SetChunkSize messages).
func (s *stream) msg(msgs ...message.Message) *stream {
	for _, m := range msgs {
		if err := s.mw.Write(m); err != nil {
			panic(err)
		}
	}
	return s
}

// raw appends hand-made chunk bytes. They should use chunk streams the
// writer does not use (2 for control, 20 and up otherwise) so that the
// writer's header compression stays in step with the server's reader.
func (s *stream) raw(b ...[]byte) *stream {
	for _, p := range b {
		s.buf.Write(p)
	}
	return s
}

func (s *stream) bytes() []byte { return bytes.Clone(s.buf.Bytes()) }

func command(csid byte, msid uint32, name string, id int, args ...any) *message.CommandAMF0 {
	return &message.CommandAMF0{ChunkStreamID: csid, MessageStreamID: msid, Name: name, CommandID: id, Arguments: args}
}

// obsConnect is the connect command of OBS Studio.
func obsConnect(app, tcURL string) *message.CommandAMF0 {
	return command(3, 0, "connect", 1, amf0.Object{
		{Key: "app", Value: app},
		{Key: "type", Value: "nonprivate"},
		{Key: "flashVer", Value: "FMLE/3.0 (compatible; FMSc/1.0)"},
		{Key: "swfUrl", Value: tcURL},
		{Key: "tcUrl", Value: tcURL},
	})
}

// ffmpegPlayConnect is the connect command of ffmpeg/ffplay for playback.
func ffmpegPlayConnect() *message.CommandAMF0 {
	return command(3, 0, "connect", 1, amf0.Object{
		{Key: "app", Value: "live"},
		{Key: "flashVer", Value: "LNX 9,0,124,2"},
		{Key: "tcUrl", Value: "rtmp://127.0.0.1:1935/live"},
		{Key: "fpad", Value: false},
		{Key: "capabilities", Value: float64(15)},
		{Key: "audioCodecs", Value: float64(4071)},
		{Key: "videoCodecs", Value: float64(252)},
		{Key: "videoFunction", Value: float64(1)},
		{Key: "fourCcList", Value: amf0.StrictArray{"av01", "vp09", "hvc1", "avc1"}},
	})
}

const tcURL = "rtmp://127.0.0.1:1935/live"

// publishCommands is what OBS sends from connect to publish.
func (s *stream) publishCommands(key string) *stream {
	return s.msg(
		obsConnect("live", tcURL),
		command(3, 0, "releaseStream", 2, nil, key),
		command(3, 0, "FCPublish", 3, nil, key),
		command(3, 0, "createStream", 4, nil),
		command(4, 0x1000000, "publish", 5, nil, key, "live"),
	)
}

func (s *stream) playCommands(name string) *stream {
	return s.msg(
		ffmpegPlayConnect(),
		&message.SetWindowAckSize{Value: 2500000},
		command(3, 0, "createStream", 2, nil),
		command(3, 0, "_checkbw", 3, nil),
		&message.UserControlSetBufferLength{StreamID: 1, BufferLength: 3000},
		command(4, 0x1000000, "play", 4, nil, name, float64(-2000)),
	)
}

func aacTrack() *gortmplib.Track {
	return &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: &mpeg4audio.AudioSpecificConfig{
		Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelCount: 2,
	}}}
}

// media writes onMetaData, the sequence headers of tracks and n rounds of
// one video and one audio frame 100 ms apart, so that n > 20 completes
// gortmplib's 2 s track probe and the rest reaches the hub.
func (s *stream) media(n int, tracks ...*gortmplib.Track) *stream {
	w := &gortmplib.Writer{Conn: s, Tracks: tracks}
	if err := w.Initialize(); err != nil {
		panic(err)
	}
	for i := range n {
		d := time.Duration(i) * 100 * time.Millisecond
		key := i%20 == 0
		for _, t := range tracks {
			var err error
			switch c := t.Codec.(type) {
			case *codecs.H264:
				au := [][]byte{testNonIDR}
				if key {
					au = [][]byte{testIDR}
				}
				err = w.WriteH264(t, d+66*time.Millisecond, d, au)
			case *codecs.H265:
				au := [][]byte{{0x02, 0x01, 0xd0, 0x11}} // TRAIL_R
				if key {
					au = [][]byte{{0x26, 0x01, 0xaf, 0x06, 0xb8}} // IDR_W_RADL
				}
				err = w.WriteH265(t, d, d, au)
			case *codecs.AV1:
				tu := [][]byte{{0x32, 0x02, 0x10, 0x00}} // OBU_FRAME
				if key {
					tu = [][]byte{{0x0a, 0x0b, 0x00, 0x00, 0x00, 0x42, 0xab, 0xbf, 0xc3, 0x70, 0x0b, 0xe0, 0x01}, tu[0]}
				}
				err = w.WriteAV1(t, d, tu)
			case *codecs.MPEG4Audio:
				err = w.WriteMPEG4Audio(t, d, []byte{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c})
			case *codecs.Opus:
				err = w.WriteOpus(t, d, []byte{0xfc, 0xff, 0xfe})
			default:
				panic(fmt.Sprintf("no sample frame for %T", c))
			}
			if err != nil {
				panic(err)
			}
		}
	}
	return s
}

// validPublish is an OBS-like session: chunk size 4096, publish with the
// good key, H.264 + AAC with sequence headers, 2.5 s of media.
func validPublish() *stream {
	return newStream().
		msg(&message.SetChunkSize{Value: 4096}).
		publishCommands("sk_good").
		media(25, &gortmplib.Track{Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}}, aacTrack())
}

// Hand-made chunks (RTMP 1.0 §5.3.1).

func basicHeader(format byte, csid uint32) []byte {
	switch {
	case csid < 64:
		return []byte{format<<6 | byte(csid)}
	case csid < 320:
		return []byte{format << 6, byte(csid - 64)}
	default:
		return []byte{format<<6 | 1, byte(csid - 64), byte((csid - 64) >> 8)}
	}
}

func be24(v uint32) []byte { return []byte{byte(v >> 16), byte(v >> 8), byte(v)} }
func be32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// timestampField returns the 3-byte field and the extended timestamp, if any.
func timestampField(ts uint32) (field, ext []byte) {
	if ts >= 0xFFFFFF {
		return be24(0xFFFFFF), be32(ts)
	}
	return be24(ts), nil
}

// chunk0 is a type-0 chunk declaring bodyLen bytes and carrying body (which
// may be shorter: the rest must follow in type-3 chunks).
func chunk0(csid, ts, bodyLen uint32, typ byte, msid uint32, body []byte) []byte {
	tsf, ext := timestampField(ts)
	b := basicHeader(0, csid)
	b = append(b, tsf...)
	b = append(b, be24(bodyLen)...)
	b = append(b, typ)
	b = append(b, be32(msid)...) // gortmplib reads it big-endian
	b = append(b, ext...)
	return append(b, body...)
}

func chunk1(csid, delta, bodyLen uint32, typ byte, body []byte) []byte {
	tsf, ext := timestampField(delta)
	b := basicHeader(1, csid)
	b = append(b, tsf...)
	b = append(b, be24(bodyLen)...)
	b = append(b, typ)
	b = append(b, ext...)
	return append(b, body...)
}

func chunk2(csid, delta uint32, body []byte) []byte {
	tsf, ext := timestampField(delta)
	b := append(basicHeader(2, csid), tsf...)
	b = append(b, ext...)
	return append(b, body...)
}

func chunk3(csid uint32, ext []byte, body []byte) []byte {
	b := append(basicHeader(3, csid), ext...)
	return append(b, body...)
}

// control is a protocol control message on chunk stream 2.
func control(typ message.Type, body []byte) []byte {
	return chunk0(2, 0, uint32(len(body)), byte(typ), 0, body)
}

func setChunkSize(v uint32) []byte { return control(message.TypeSetChunkSize, be32(v)) }

// amf0Body encodes values as a command or data message body.
func amf0Body(values ...any) []byte {
	b, err := amf0.Data(values).Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// nestedObjects is depth objects, each the value of key "a" of its parent.
func nestedObjects(depth int) []byte {
	b := bytes.Repeat([]byte{0x03, 0x00, 0x01, 'a'}, depth)
	b = append(b, 0x05) // null
	return append(b, bytes.Repeat([]byte{0x00, 0x00, 0x09}, depth)...)
}

func nestedStrictArrays(depth int) []byte {
	b := bytes.Repeat([]byte{0x0a, 0, 0, 0, 1}, depth)
	return append(b, 0x05)
}

func nestedECMAArrays(depth int) []byte {
	b := bytes.Repeat([]byte{0x08, 0, 0, 0, 1, 0x00, 0x01, 'a'}, depth)
	b = append(b, 0x05)
	return append(b, bytes.Repeat([]byte{0x00, 0x00, 0x09}, depth)...)
}

// hevcConfig returns an HEVCDecoderConfigurationRecord as gortmplib writes it.
func hevcConfig() []byte {
	s := newStream()
	var rec []byte
	capture := captureConn{onWrite: func(m message.Message) {
		if ss, ok := m.(*message.VideoExSequenceStart); ok {
			var buf bytes.Buffer
			if _, err := mp4.Marshal(&buf, ss.HEVCConfig, mp4.Context{}); err != nil {
				panic(err)
			}
			rec = buf.Bytes()
		}
	}, stream: s}
	w := &gortmplib.Writer{Conn: capture, Tracks: []*gortmplib.Track{{Codec: &codecs.H265{}}}}
	if err := w.Initialize(); err != nil {
		panic(err)
	}
	return rec
}

type captureConn struct {
	*stream
	onWrite func(message.Message)
}

func (c captureConn) Write(m message.Message) error { c.onWrite(m); return nil }

// avcConfigBody is an FLV AVC sequence header (codec 7, packet type 0) with
// the given AVCDecoderConfigurationRecord.
func avcConfigBody(record []byte) []byte {
	return append([]byte{0x17, 0x00, 0x00, 0x00, 0x00}, record...)
}

// avcRecord is an AVCDecoderConfigurationRecord with one SPS and one PPS.
func avcRecord(sps, pps []byte) []byte {
	b := []byte{0x01, sps[1], sps[2], sps[3], 0xff, 0xe1}
	b = append(b, byte(len(sps)>>8), byte(len(sps)))
	b = append(b, sps...)
	b = append(b, 0x01, byte(len(pps)>>8), byte(len(pps)))
	return append(b, pps...)
}

// video and audio are media messages on chunk streams 20 and 21 (not used
// by gortmplib's writer), for connections whose chunk size is 4096 (as
// validPublish and OBS set it).
func video(ts uint32, body []byte) []byte {
	return chunkedMessage(20, ts, byte(message.TypeVideo), 0x1000000, body, 4096)
}

func audio(ts uint32, body []byte) []byte {
	return chunkedMessage(21, ts, byte(message.TypeAudio), 0x1000000, body, 4096)
}

// chunkedMessage is one message in a type-0 chunk and type-3 continuations
// of chunkSize bytes (which must match the connection's chunk size).
func chunkedMessage(csid, ts uint32, typ byte, msid uint32, body []byte, chunkSize int) []byte {
	first := body[:min(len(body), chunkSize)]
	b := chunk0(csid, ts, uint32(len(body)), typ, msid, first)
	_, ext := timestampField(ts)
	for rest := body[len(first):]; len(rest) > 0; {
		n := min(len(rest), chunkSize)
		b = append(b, chunk3(csid, ext, rest[:n])...)
		rest = rest[n:]
	}
	return b
}

// rtmpSeed is one seed of FuzzRTMPClientStream.
type rtmpSeed struct {
	name string
	data []byte
	// hostile seeds also run in TestHostileClientInputs.
	hostile bool
	// ongoing: the session is legitimate and stays open while the client
	// does (a player of a live channel), so it is not a keep-open case.
	ongoing bool
}

func rtmpSeeds() []rtmpSeed {
	var seeds []rtmpSeed
	add := func(name string, hostile bool, data []byte) {
		seeds = append(seeds, rtmpSeed{name: name, data: data, hostile: hostile})
	}
	h264 := func() *gortmplib.Track { return &gortmplib.Track{Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}} }
	afterPublish := func() *stream { return validPublish() }
	beforeMedia := func() *stream {
		return newStream().msg(&message.SetChunkSize{Value: 4096}).publishCommands("sk_good")
	}

	// Legitimate sessions.
	add("publish-obs-h264-aac", false, validPublish().bytes())
	add("publish-ffmpeg-h264-aac-chunk128", false, newStream().publishCommands("sk_good").media(25, h264(), aacTrack()).bytes())
	add("publish-audio-only-aac", false, newStream().publishCommands("sk_good").media(25, aacTrack()).bytes())
	add("publish-enhanced-hevc-opus", false, beforeMedia().media(25,
		&gortmplib.Track{Codec: &codecs.H265{}},
		&gortmplib.Track{Codec: &codecs.Opus{IDHeader: &opus.IDHeader{Version: 1, ChannelCount: 2, PreSkip: 312, InputSampleRate: 48000}}},
	).bytes())
	add("publish-enhanced-av1", false, beforeMedia().media(25, &gortmplib.Track{Codec: &codecs.AV1{}}).bytes())
	add("publish-then-unpublish", false, validPublish().msg(
		command(3, 0, "FCUnpublish", 6, nil, "sk_good"),
		command(3, 0, "deleteStream", 7, nil, float64(1)),
	).bytes())
	seeds = append(seeds, rtmpSeed{name: "play-live-channel", ongoing: true, data: newStream().playCommands(liveChannel).msg(
		&message.Acknowledge{Value: 5000},
		&message.UserControlPingResponse{ServerTime: 1},
	).bytes()})

	// Refused sessions.
	add("publish-wrong-key", true, newStream().publishCommands("sk_wrong").media(3, h264()).bytes())
	add("publish-bad-app", true, newStream().msg(obsConnect("other", "rtmp://127.0.0.1:1935/other"),
		command(3, 0, "createStream", 2, nil), command(4, 0x1000000, "publish", 3, nil, "sk_good", "live")).bytes())
	add("publish-key-with-slash", true, newStream().publishCommands("../sk_good").bytes())
	add("publish-key-300-bytes", true, newStream().publishCommands(strings.Repeat("k", 300)).bytes())
	add("play-unknown-channel", true, newStream().playCommands("nobody").bytes())
	add("connect-without-tcurl", true, newStream().msg(command(3, 0, "connect", 1, amf0.Object{{Key: "app", Value: "live"}})).bytes())
	add("connect-not-an-object", true, newStream().msg(command(3, 0, "connect", 1, "live")).bytes())
	add("first-command-not-connect", true, newStream().msg(command(3, 0, "publish", 1, nil, "sk_good")).bytes())

	// §3(a)3: SetChunkSize extremes, before connect and then a publish.
	for _, v := range []uint32{0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFF, 10 << 20} {
		var s *stream
		if v >= 1 && v <= 10<<20 {
			// Accepted by gortmplib: the writer chunks the rest to match.
			s = newStream().msg(&message.SetChunkSize{Value: v})
		} else {
			s = newStream().raw(setChunkSize(v))
		}
		add(fmt.Sprintf("setchunksize-%#x-before-connect", v), true, s.publishCommands("sk_good").media(3, h264()).bytes())
	}
	for _, v := range []uint32{0, 1, 63, 0x7FFFFFFF, 0x80000000} {
		add(fmt.Sprintf("setchunksize-%#x-after-publish", v), true, afterPublish().raw(setChunkSize(v), video(3000, []byte{0x27, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x41})).bytes())
	}
	// The chunk size set before publish stays in force after it.
	add("setchunksize-1-before-connect-publish-in-1-byte-chunks", true, func() []byte {
		s := newStream().msg(&message.SetChunkSize{Value: 1})
		return s.publishCommands("sk_good").media(25, h264()).bytes()
	}())

	// §3(a)4: empty and short control messages, before connect and after
	// publish.
	controls := []struct {
		name string
		typ  message.Type
	}{
		{"setchunksize", message.TypeSetChunkSize},
		{"abort", message.TypeAbortMessage},
		{"ack", message.TypeAcknowledge},
		{"usercontrol", message.TypeUserControl},
		{"windowacksize", message.TypeSetWindowAckSize},
		{"setpeerbandwidth", message.TypeSetPeerBandwidth},
	}
	for _, c := range controls {
		for n := range 4 {
			body := []byte{0x00, 0x06, 0x00, 0x00}[:n] // user control 6 = ping request
			add(fmt.Sprintf("control-%s-len%d", c.name, n), true, newStream().raw(control(c.typ, body)).publishCommands("sk_good").bytes())
		}
		add(fmt.Sprintf("control-%s-len0-after-publish", c.name), true, afterPublish().raw(control(c.typ, nil)).bytes())
	}
	add("control-setwindowacksize-1-ack-storm", true, newStream().raw(control(message.TypeSetWindowAckSize, be32(1))).publishCommands("sk_good").media(25, h264()).bytes())
	add("control-abort-unknown-csid", true, newStream().raw(control(message.TypeAbortMessage, be32(63)), control(message.TypeAbortMessage, be32(0xFFFFFFFF))).publishCommands("sk_good").bytes())
	add("control-ping-request-flood", true, func() []byte {
		s := newStream()
		for i := range 200 {
			s.raw(control(message.TypeUserControl, []byte{0, 6, 0, 0, byte(i >> 8), byte(i)}))
		}
		return s.publishCommands("sk_good").bytes()
	}())
	add("control-unknown-user-control-type", true, newStream().raw(control(message.TypeUserControl, []byte{0xff, 0xff, 0, 0, 0, 0})).bytes())
	add("control-message-type-0-and-255", true, newStream().raw(chunk0(2, 0, 1, 0, 0, []byte{0}), chunk0(2, 0, 1, 255, 0, []byte{0})).bytes())

	// §3(a)5: declared length far beyond what is sent; many partial
	// messages.
	add("declared-16MiB-1-byte-sent", true, chunk0(3, 0, 0xFFFFFF, byte(message.TypeCommandAMF0), 0, []byte{0x02}))
	add("declared-16MiB-first-chunk-complete", true, chunk0(3, 0, 0xFFFFFF, byte(message.TypeCommandAMF0), 0, bytes.Repeat([]byte{0x05}, 128)))
	add("declared-10MiB-after-setchunksize-10MiB", true, newStream().raw(setChunkSize(10<<20), chunk0(3, 0, 10<<20, byte(message.TypeCommandAMF0), 0, []byte{0x02})).bytes())
	add("declared-16MiB-after-publish", true, afterPublish().raw(chunk0(20, 3000, 0xFFFFFF, byte(message.TypeVideo), 1, []byte{0x17})).bytes())
	add("many-chunk-streams-half-filled", true, func() []byte {
		var b []byte
		for csid := uint32(3); csid < 64; csid++ {
			b = append(b, chunk0(csid, 0, 1<<20, byte(message.TypeCommandAMF0), 0, bytes.Repeat([]byte{0x05}, 128))...)
		}
		return b
	}())
	add("many-chunk-streams-half-filled-after-publish", true, func() []byte {
		s := afterPublish().msg(&message.SetChunkSize{Value: 128})
		for csid := uint32(20); csid < 64; csid++ {
			s.raw(chunk0(csid, 3000, 1<<20, byte(message.TypeVideo), 1, bytes.Repeat([]byte{0x27}, 128)))
		}
		return s.bytes()
	}())
	add("zero-length-messages", true, newStream().raw(
		chunk0(20, 0, 0, byte(message.TypeCommandAMF0), 0, nil),
		chunk0(21, 0, 0, byte(message.TypeDataAMF0), 0, nil),
	).publishCommands("sk_good").bytes())
	add("zero-length-media-after-publish", true, afterPublish().raw(
		chunk0(20, 3000, 0, byte(message.TypeVideo), 1, nil),
		chunk0(21, 3000, 0, byte(message.TypeAudio), 1, nil),
	).bytes())

	// §3(a)6: chunk header oddities.
	cmdBody := amf0Body("connect", float64(1), amf0.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: tcURL}})
	add("type1-chunk-first", true, chunk1(3, 0, uint32(len(cmdBody)), byte(message.TypeCommandAMF0), cmdBody))
	add("type2-chunk-first", true, chunk2(3, 0, cmdBody))
	add("type3-chunk-first", true, chunk3(3, nil, cmdBody))
	firstOf300 := chunk0(3, 0, 300, byte(message.TypeCommandAMF0), 0, bytes.Repeat([]byte{0x05}, 128))
	add("type0-chunk-mid-message", true, slices.Concat(firstOf300, chunk0(3, 0, uint32(len(cmdBody)), byte(message.TypeCommandAMF0), 0, cmdBody)))
	add("type1-chunk-mid-message", true, slices.Concat(firstOf300, chunk1(3, 0, uint32(len(cmdBody)), byte(message.TypeCommandAMF0), cmdBody)))
	add("type2-chunk-mid-message", true, slices.Concat(firstOf300, chunk2(3, 0, cmdBody)))
	add("type3-after-complete-message", true, append(chunk0(3, 0, uint32(len(cmdBody)), byte(message.TypeCommandAMF0), 0, cmdBody), chunk3(3, nil, cmdBody)...))
	add("csid-64-two-byte-header", true, chunk0(64, 0, uint32(len(cmdBody)), byte(message.TypeCommandAMF0), 0, cmdBody))
	add("csid-319-two-byte-header", true, chunk0(319, 0, uint32(len(cmdBody)), byte(message.TypeCommandAMF0), 0, cmdBody))
	add("csid-65599-three-byte-header", true, chunk0(65599, 0, uint32(len(cmdBody)), byte(message.TypeCommandAMF0), 0, cmdBody))
	add("csid-extended-after-publish", true, afterPublish().raw(chunk0(65599, 3000, 5, byte(message.TypeVideo), 1, []byte{0x27, 1, 0, 0, 0})).bytes())

	// §3(a)7: extended timestamps, present and missing on continuations.
	add("extended-timestamp-connect", true, newStream().raw(
		chunkedMessage(3, 0xFFFFFFFF, byte(message.TypeCommandAMF0), 0, amf0Body("connect", float64(1), amf0.Object{
			{Key: "app", Value: "live"}, {Key: "tcUrl", Value: tcURL}, {Key: "pad", Value: strings.Repeat("x", 300)},
		}), 128)).msg(command(3, 0, "createStream", 4, nil), command(4, 0x1000000, "publish", 5, nil, "sk_good", "live")).bytes())
	add("extended-timestamp-missing-on-continuation", true, func() []byte {
		body := amf0Body("connect", float64(1), amf0.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: tcURL}, {Key: "pad", Value: strings.Repeat("x", 300)}})
		b := chunk0(3, 0x01000000, uint32(len(body)), byte(message.TypeCommandAMF0), 0, body[:128])
		for rest := body[128:]; len(rest) > 0; {
			n := min(len(rest), 128)
			b = append(b, chunk3(3, nil, rest[:n])...)
			rest = rest[n:]
		}
		return b
	}())
	add("extended-timestamp-media", true, afterPublish().raw(
		video(0xFFFFFF, append([]byte{0x27, 1, 0, 0, 0, 0, 0, 0, 4}, testNonIDR...)),
		chunk2(20, 0xFFFFFFF0, append([]byte{0x27, 1, 0, 0, 0, 0, 0, 0, 4}, testNonIDR...)),
		chunk3(20, be32(0xFFFFFFF0), append([]byte{0x27, 1, 0, 0, 0, 0, 0, 0, 4}, testNonIDR...)),
	).bytes())
	add("timestamps-backwards-and-negative-cts", true, afterPublish().raw(
		video(5000, append([]byte{0x17, 1, 0, 0, 0, 0, 0, 0, 5}, testIDR...)),
		video(100, append([]byte{0x27, 1, 0xff, 0xff, 0x00, 0, 0, 0, 4}, testNonIDR...)),
		audio(0, []byte{0xaf, 0x01, 0x21, 0x10}),
	).bytes())

	// §3(a)8: hostile AMF0 in commands.
	add("connect-amf0-nested-40", true, newStream().raw(chunkedMessage(3, 0, byte(message.TypeCommandAMF0), 0,
		slices.Concat(amf0Body("connect", float64(1)), nestedObjects(40)), 128)).bytes())
	add("connect-amf0-nested-1000", true, newStream().raw(chunkedMessage(3, 0, byte(message.TypeCommandAMF0), 0,
		slices.Concat(amf0Body("connect", float64(1)), nestedObjects(1000)), 128)).bytes())
	add("connect-amf0-object-without-end", true, newStream().raw(chunkedMessage(3, 0, byte(message.TypeCommandAMF0), 0,
		slices.Concat(amf0Body("connect", float64(1)), []byte{0x03, 0x00, 0x03, 'a', 'p', 'p', 0x02, 0x00, 0x04, 'l', 'i', 'v', 'e'}), 128)).bytes())
	add("connect-amf0-string-beyond-data", true, newStream().raw(chunkedMessage(3, 0, byte(message.TypeCommandAMF0), 0,
		slices.Concat(amf0Body("connect", float64(1)), []byte{0x02, 0xff, 0xff, 'a'}), 128)).bytes())
	add("connect-amf0-long-string-4GiB", true, newStream().raw(chunkedMessage(3, 0, byte(message.TypeCommandAMF0), 0,
		slices.Concat(amf0Body("connect", float64(1)), []byte{0x0c, 0xff, 0xff, 0xff, 0xff, 'a'}), 128)).bytes())
	add("connect-amf0-ecma-count-max", true, newStream().raw(chunkedMessage(3, 0, byte(message.TypeCommandAMF0), 0,
		slices.Concat(amf0Body("connect", float64(1)), []byte{0x08, 0xff, 0xff, 0xff, 0xff},
			amf0Body("app")[1:], amf0Body("live"), amf0Body("tcUrl")[1:], amf0Body(tcURL), []byte{0, 0, 9}), 128)).
		msg(command(3, 0, "createStream", 2, nil), command(4, 0x1000000, "publish", 3, nil, "sk_good", "live")).bytes())
	add("connect-amf0-strict-array-bomb", true, newStream().raw(chunkedMessage(3, 0, byte(message.TypeCommandAMF0), 0,
		slices.Concat(amf0Body("connect", float64(1)), []byte{0x0a, 0xff, 0xff, 0xff, 0xff}, bytes.Repeat([]byte{0x05}, 4000)), 128)).bytes())
	add("connect-amf3-switch-marker", true, newStream().raw(chunkedMessage(3, 0, byte(message.TypeCommandAMF0), 0,
		slices.Concat(amf0Body("connect", float64(1)), []byte{0x11, 0x0a, 0x0b, 0x01}), 128)).bytes())
	add("command-amf3-message-type", true, newStream().raw(chunkedMessage(3, 0, byte(message.TypeCommandAMF3), 0,
		slices.Concat([]byte{0x00}, amf0Body("connect", float64(1), amf0.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: tcURL}})), 128)).bytes())
	add("ondata-amf0-nested-1000-after-publish", true, afterPublish().raw(chunkedMessage(22, 3000, byte(message.TypeDataAMF0), 1,
		slices.Concat(amf0Body("@setDataFrame", "onMetaData"), nestedObjects(1000)), 4096)).bytes())

	// §3(a)10: duplicate, unknown and out-of-order commands.
	add("publish-twice", true, validPublish().msg(command(4, 0x1000000, "publish", 6, nil, "sk_good", "live")).media(3, h264()).bytes())
	add("publish-then-play", true, validPublish().msg(command(4, 0x1000000, "play", 6, nil, liveChannel)).bytes())
	add("deletestream-unknown-and-unknown-commands", true, newStream().msg(obsConnect("live", tcURL),
		command(3, 0, "deleteStream", 2, nil, float64(42)),
		command(3, 0, "closeStream", 3, nil),
		command(3, 0, "no-such-command", 4, amf0.Undefined{}, float64(math.NaN()), amf0.StrictArray{}),
		command(3, 0, "", 5),
		command(3, 0, "publish", 6, nil), // too few arguments
	).bytes())
	add("createstream-x1000", true, func() []byte {
		s := newStream().msg(obsConnect("live", tcURL))
		for i := range 300 {
			s.msg(command(3, 0, "createStream", 2+i, nil))
		}
		return s.msg(command(4, 0x1000000, "publish", 2000, nil, "sk_good", "live")).bytes()
	}())
	add("publish-key-not-a-string", true, newStream().msg(obsConnect("live", tcURL), command(3, 0, "createStream", 2, nil),
		command(4, 0x1000000, "publish", 3, nil, float64(1), "live")).bytes())
	add("publish-no-media", true, beforeMedia().msg(&message.DataAMF0{ChunkStreamID: 4, MessageStreamID: 0x1000000,
		Payload: amf0.Data{"@setDataFrame", "onMetaData", amf0.ECMAArray{{Key: "duration", Value: float64(0)}}}}).bytes())
	add("publish-unsupported-codecs-only", true, beforeMedia().raw(
		video(0, []byte{0x12, 0x00, 0x00, 0x00, 0x00}), // Sorenson H.263
		audio(0, []byte{0x2e, 0x01, 0x02}),             // MP3
		audio(2500, []byte{0x2e, 0x01, 0x02}),
	).bytes())

	// §3(a)15 and §3(a)12: Enhanced RTMP and codec configurations.
	add("enhanced-sequence-start-empty-hvc1", true, beforeMedia().raw(video(0, []byte{0x90, 'h', 'v', 'c', '1'})).media(3, h264()).bytes())
	add("enhanced-sequence-start-empty-avc1-av01-vp09", true, beforeMedia().raw(
		video(0, []byte{0x90, 'a', 'v', 'c', '1'}), video(0, []byte{0x90, 'a', 'v', '0', '1'}), video(0, []byte{0x90, 'v', 'p', '0', '9'}),
	).bytes())
	add("enhanced-header-truncated", true, beforeMedia().raw(video(0, []byte{0x90}), video(0, []byte{0x91, 'h', 'v'}), video(0, []byte{0x80})).bytes())
	add("enhanced-unknown-fourcc-and-packet-types", true, beforeMedia().raw(
		video(0, []byte{0x90, 'x', 'x', 'x', 'x', 1, 2, 3}),
		video(0, []byte{0x97, 'h', 'v', 'c', '1'}),
		video(0, []byte{0x9f, 'h', 'v', 'c', '1'}),
		audio(0, []byte{0x90, 'O', 'p', 'u', 's'}),
		audio(0, []byte{0x91, 'O', 'p', 'u', 's', 0xfc}),
		audio(0, []byte{0x9f, 'm', 'p', '4', 'a'}),
	).bytes())
	add("enhanced-coded-frames-without-sequence-start", true, beforeMedia().raw(
		video(0, []byte{0x91, 'h', 'v', 'c', '1', 0, 0, 0, 0, 0, 0, 4, 0x26, 0x01, 0xaf, 0x06}),
		video(2500, []byte{0x93, 'h', 'v', 'c', '1', 0, 0, 0, 4, 0x02, 0x01, 0xd0, 0x11}),
		audio(0, []byte{0x91, 'O', 'p', 'u', 's', 0xfc}),
		audio(2500, []byte{0x91, 'O', 'p', 'u', 's', 0xfc}),
	).bytes())
	add("enhanced-multitrack", true, beforeMedia().raw(
		video(0, slices.Concat([]byte{0x96, 0x00, 'h', 'v', 'c', '1', 0x05}, hevcConfig())),
		video(0, []byte{0x96, 0x01, 'h', 'v', 'c', '1', 0x05}),
		video(2500, []byte{0x96, 0x03, 'h', 'v', 'c', '1', 0x05, 0, 0, 0, 4, 0x02, 0x01, 0xd0, 0x11}),
	).bytes())
	hvcc := hevcConfig()
	add("hevc-config-with-codec-id-7", true, beforeMedia().raw(
		video(0, avcConfigBody(hvcc)),
		video(0, slices.Concat([]byte{0x17, 1, 0, 0, 0, 0, 0, 0, 5}, []byte{0x26, 0x01, 0xaf, 0x06, 0xb8})),
		video(2500, slices.Concat([]byte{0x27, 1, 0, 0, 0, 0, 0, 0, 4}, []byte{0x02, 0x01, 0xd0, 0x11})),
	).bytes())
	add("hevc-nalus-in-avc-packets", true, afterPublish().raw(
		video(2600, slices.Concat([]byte{0x17, 1, 0, 0, 0, 0, 0, 0, 5}, []byte{0x40, 0x01, 0x0c, 0x01, 0xff})),
		video(2700, slices.Concat([]byte{0x17, 1, 0, 0, 0, 0, 0, 0, 2}, []byte{0x42, 0x01})),
	).bytes())
	add("hevc-legacy-codec-id-12", true, beforeMedia().raw(
		video(0, slices.Concat([]byte{0x1c, 0, 0, 0, 0}, hvcc)),
		video(2500, slices.Concat([]byte{0x2c, 1, 0, 0, 0, 0, 0, 0, 4}, []byte{0x02, 0x01, 0xd0, 0x11})),
	).bytes())
	add("avc-config-truncated-and-empty", true, beforeMedia().raw(
		video(0, []byte{0x17, 0x00, 0x00, 0x00, 0x00}),
		video(0, avcConfigBody([]byte{0x01, 0x64, 0x00, 0x0b, 0xff, 0xff, 0x00, 0x30})), // 31 SPS, truncated
		video(0, avcConfigBody([]byte{0x01, 0x64, 0x00, 0x0b, 0xff, 0xe0, 0x00})),       // no SPS, no PPS
		video(2500, append([]byte{0x17, 1, 0, 0, 0, 0, 0, 0, 5}, testIDR...)),
	).bytes())
	add("avc-config-sps-garbage", true, beforeMedia().raw(
		video(0, avcConfigBody(avcRecord([]byte{0x67, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []byte{0x68}))),
		video(2500, append([]byte{0x17, 1, 0, 0, 0, 0, 0, 0, 5}, testIDR...)),
	).bytes())
	add("avc-avcc-lengths-lie", true, afterPublish().raw(
		video(2600, []byte{0x17, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x65}),
		video(2700, []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 0}),
		video(2800, []byte{0x27, 1, 0, 0, 0}),
	).bytes())
	add("aac-config-bad", true, beforeMedia().raw(
		audio(0, []byte{0xaf, 0x00}),
		audio(0, []byte{0xaf, 0x00, 0xf8, 0x00}), // object type 31 escape, truncated
		audio(0, []byte{0xaf, 0x00, 0x17, 0x80}), // sampling index 15 without explicit rate
		audio(0, []byte{0xaf, 0x00, 0x12, 0x00}), // 0 channels
		audio(2500, []byte{0xaf, 0x01, 0x21, 0x10, 0x04}),
	).bytes())
	add("sequence-headers-change-mid-stream", true, afterPublish().raw(
		video(2600, avcConfigBody(avcRecord([]byte{0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20}, []byte{0x68, 0xce, 0x3c, 0x80}))),
		video(2700, append([]byte{0x17, 1, 0, 0, 0, 0, 0, 0, 5}, testIDR...)),
		audio(2600, []byte{0xaf, 0x00, 0x11, 0x90}),
	).bytes())

	// Bytes after the session's end and other garbage.
	add("garbage-after-handshake", true, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	add("empty", true, nil)
	return seeds
}

// ---------------------------------------------------------------------------
// TestHostileClientInputs

// recordHandler keeps every log record as one line.
type recordHandler struct {
	mu    *sync.Mutex
	lines *[]string
	attrs []slog.Attr
}

func newRecordHandler() *recordHandler {
	return &recordHandler{mu: &sync.Mutex{}, lines: new([]string)}
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "conn" && a.Key != "component" {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	})
	line := b.String()
	if len(line) > 400 {
		line = fmt.Sprintf("%s… (%d bytes)", line[:400], len(line))
	}
	h.mu.Lock()
	*h.lines = append(*h.lines, line)
	h.mu.Unlock()
	return nil
}
func (h *recordHandler) WithAttrs(as []slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler         { return h }
func (h *recordHandler) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(*h.lines) == 0 {
		return "(nothing logged)"
	}
	return (*h.lines)[len(*h.lines)-1]
}

// Every hostile seed, sent by a client that then stays connected and
// silent: the server must end the session itself (on a protocol error at
// once, otherwise at its handshake or idle timeout) and leave nothing
// behind. The same bytes then go to a real listener over TCP, and a
// well-behaved publisher on that listener must still go live.
func TestHostileClientInputs(t *testing.T) {
	m := observe.NewMetrics(nil)
	var hostile []rtmpSeed
	for _, s := range rtmpSeeds() {
		if s.hostile {
			hostile = append(hostile, s)
		}
	}
	for _, s := range hostile {
		t.Run(s.name, func(t *testing.T) {
			rh := newRecordHandler()
			o := runSession(t, m, session{data: s.data, keepOpen: true, log: slog.New(rh)})
			how := "protocol error"
			if o.ended >= fuzzTimeout-10*time.Millisecond {
				how = "timeout"
			}
			t.Logf("closed by the server after %v (%s); publishes %d, live %v, frames %d; last log: %s",
				o.ended.Round(time.Millisecond), how, o.publishes-1, o.live, o.framesIn, rh.last())
		})
	}

	t.Run("real-listener", func(t *testing.T) {
		h, addr, _ := startServer(t)
		var wg sync.WaitGroup
		for _, s := range hostile {
			if strings.HasPrefix(s.name, "publish-wrong-key") {
				continue // startServer's limiter blocks the address after 3 failures
			}
			wg.Go(func() {
				if err := hostileTCPSession(addr, s.data); err != nil {
					t.Errorf("%s: %v", s.name, err)
				}
			})
		}
		wg.Wait()
		publishAndWaitLive(t, h, addr)
	})
}

// hostileTCPSession handshakes with the listener at addr, sends data,
// half-closes and waits for the server to close.
func hostileTCPSession(addr string, data []byte) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, _, err := handshake.DoClient(c, false, false); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, c)
		done <- err
	}()
	_, _ = c.Write(data) // the server may hang up first
	_ = c.(*net.TCPConn).CloseWrite()
	if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		return fmt.Errorf("waiting for the server to close: %w", err)
	}
	return nil
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && strings.Contains(oe.Err.Error(), "reset")
}

// publishAndWaitLive publishes H.264 with gortmplib's client to addr and
// waits until the hub has the stream's tracks and frames.
func publishAndWaitLive(t *testing.T, h *hub.Hub, addr string) {
	t.Helper()
	pub, err := dial(t, "rtmp://"+addr+"/live/sk_good", true)
	if err != nil {
		t.Fatalf("a valid publisher was refused: %v", err)
	}
	defer pub.Close()
	track := &gortmplib.Track{Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}}
	w := &gortmplib.Writer{Conn: pub, Tracks: []*gortmplib.Track{track}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			d := time.Duration(i) * time.Second / 30
			au := [][]byte{testNonIDR}
			if i%30 == 0 {
				au = [][]byte{testIDR}
			}
			if w.WriteH264(track, d, d, au) != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-fed }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := h.Stream("demo", false); st != nil && st.Tracks() != nil && st.Counters.FramesIn.Load() > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the valid publisher never went live after the hostile sessions")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// The harness reaches the publish path.

func TestFuzzHarnessReachesPublish(t *testing.T) {
	m := observe.NewMetrics(nil)
	for _, s := range rtmpSeeds() {
		if s.hostile || s.ongoing {
			continue
		}
		for _, split := range []bool{false, true} {
			o := runSession(t, m, session{data: s.data, split: split})
			if !o.live || o.framesIn == 0 {
				t.Errorf("%s (split %v): live %v, frames %d: the seed does not reach the ingest", s.name, split, o.live, o.framesIn)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Allocation measurements (§3(a)3, 5).

// heapPeak samples the live heap until stop is closed.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	res := make(chan uint64, 1)
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-stop:
				res <- peak
				return
			case <-tk.C:
			}
		}
	}()
	return res
}

type allocReport struct {
	total, peak uint64 // bytes allocated, peak live heap above the start
	ended       time.Duration
	log         string
}

func measureSession(t *testing.T, m *observe.Metrics, s session) allocReport {
	t.Helper()
	rh := newRecordHandler()
	s.log = slog.New(rh)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	peak := heapPeak(stop)
	o := runSession(t, m, s)
	close(stop)
	runtime.ReadMemStats(&after)
	r := allocReport{total: after.TotalAlloc - before.TotalAlloc, ended: o.ended, log: rh.last()}
	if p := <-peak; p > before.HeapAlloc {
		r.peak = p - before.HeapAlloc
	}
	return r
}

func mib(b uint64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 2, 64) + " MiB" }

// oneByteChunks is a message of size bytes of typ on chunk stream csid in
// 1-byte chunks (the connection's chunk size must be 1).
func oneByteChunks(csid uint32, ts uint32, typ byte, size int) []byte {
	b := make([]byte, 0, 2*size+16)
	b = append(b, chunk0(csid, ts, uint32(size), typ, 1, []byte{0})...)
	h := basicHeader(3, csid)[0]
	for range size - 1 {
		b = append(b, h, 0)
	}
	return b
}

func TestHostileAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("sends tens of MiB")
	}
	m := observe.NewMetrics(nil)
	const limit = 64 << 20
	base := measureSession(t, m, session{keepOpen: true})
	t.Logf("baseline (handshake, then silence until the timeout): allocated %s", mib(base.total))

	cases := []struct {
		name string
		data []byte
		opts Options
		// hangUp: the client closes after its last byte instead of
		// staying connected until the server's timeout.
		hangUp bool
	}{
		{name: "declared 16 MiB, 1 byte sent", data: chunk0(3, 0, 0xFFFFFF, byte(message.TypeCommandAMF0), 0, []byte{0x02})},
		{name: "SetChunkSize 10 MiB, declared 16 MiB, 1 byte sent", data: slices.Concat(setChunkSize(10<<20),
			chunk0(3, 0, 0xFFFFFF, byte(message.TypeCommandAMF0), 0, []byte{0x02}))},
		{name: "SetChunkSize 0, then 256 KiB of type-3 chunk headers", data: slices.Concat(setChunkSize(0),
			chunk0(3, 0, 1000, byte(message.TypeCommandAMF0), 0, nil), bytes.Repeat([]byte{0xc3}, 256<<10))},
		{name: "SetChunkSize 1, then a 10 MiB message in 1-byte chunks (before connect)", data: slices.Concat(setChunkSize(1),
			oneByteChunks(3, 0, byte(message.TypeCommandAMF0), 10<<20)), hangUp: true},
		{name: "publish, SetChunkSize 1, then a 10 MiB message in 1-byte chunks", data: slices.Concat(validPublish().bytes(),
			setChunkSize(1), oneByteChunks(20, 3000, byte(message.TypeVideo), 10<<20)), hangUp: true},
		{
			// A chunk size set before connect stays in force after publish,
			// where guardedConn no longer sees it: without the pre-publish
			// check this allocated 1.5 GiB (636 MiB live) for one message.
			name: "SetChunkSize 1 before connect, publish, then a 10 MiB message in 1-byte chunks",
			data: slices.Concat(newStream().msg(&message.SetChunkSize{Value: 1}).publishCommands("sk_good").media(25,
				&gortmplib.Track{Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}}).bytes(),
				oneByteChunks(20, 3000, byte(message.TypeVideo), 10<<20)),
			opts:   Options{HandshakeTimeout: time.Second, IdleTimeout: 30 * time.Second, WriteTimeout: time.Second},
			hangUp: true,
		},
		{
			// gortmplib's track probe keeps every message (up to 5000, of
			// up to 10 MiB each) until 2 s of media time have passed.
			name: "publish, then 64 video messages of 1 MiB that never advance the clock",
			data: func() []byte {
				s := newStream().msg(&message.SetChunkSize{Value: 65536}).publishCommands("sk_good")
				w := &gortmplib.Writer{Conn: s, Tracks: []*gortmplib.Track{{Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}}}}
				if err := w.Initialize(); err != nil {
					panic(err)
				}
				body := slices.Concat([]byte{0x27, 1, 0, 0, 0}, be32(1<<20-9), testNonIDR, make([]byte, 1<<20-9-len(testNonIDR)))
				for range 64 {
					s.raw(chunkedMessage(20, 0, byte(message.TypeVideo), 1, body, 65536))
				}
				return s.bytes()
			}(),
			opts:   Options{HandshakeTimeout: time.Second, IdleTimeout: 30 * time.Second, WriteTimeout: time.Second},
			hangUp: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := session{data: c.data, keepOpen: !c.hangUp, opts: c.opts}
			if c.opts.IdleTimeout > 0 {
				s.bound = 2 * c.opts.IdleTimeout
			}
			r := measureSession(t, m, s)
			t.Logf("input %s: allocated %s (%s above the baseline), peak live heap +%s; ended after %v; last log: %s",
				mib(uint64(len(c.data))), mib(r.total), mib(r.total-min(r.total, base.total)), mib(r.peak), r.ended.Round(time.Millisecond), r.log)
			if r.total > limit {
				t.Errorf("allocated %s, more than %s", mib(r.total), mib(limit))
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Regression: unbounded AMF0 recursion in gortmplib's decoder.

// deepAMF0Publish is a valid publish followed by an @setDataFrame whose
// onMetaData value is depth nested objects, in chunks of 65536 bytes. The
// objects are left open (4 bytes a level) when !closed: the decoder
// recurses all the way down before it notices.
func deepAMF0Publish(depth int, closed bool) []byte {
	s := newStream().msg(&message.SetChunkSize{Value: 65536}).publishCommands("sk_good").
		media(25, &gortmplib.Track{Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}})
	nested := nestedObjects(depth)
	if !closed {
		nested = nested[:4*depth]
	}
	body := slices.Concat(amf0Body("@setDataFrame", "onMetaData"), nested)
	return s.raw(chunkedMessage(22, 3000, byte(message.TypeDataAMF0), 1, body, 65536)).bytes()
}

// gortmplib's AMF0 decoder recurses once per nesting level with no limit
// (about 512 bytes of stack per 4 input bytes). A publisher with a valid
// key that sends one onMetaData of about 8 MiB of nested objects (the
// message limit is 10 MiB) exceeds Go's 1 GB stack limit: "fatal error: stack overflow"
// ends the whole process, and recover cannot stop it. The test runs the
// session in a child process, because it kills the process that runs it.
//
// The committed crasher, testdata/fuzz/known-crashers/deep-amf0-ondata, is
// the same session with 8192 levels: with the stack limit scaled down to
// 2 MiB (debug.SetMaxStack) it crashes the same way.
// TestDeepAMF0DoesNotCrash: a publisher's AMF message of deeply nested
// objects once overflowed the stack in gortmplib's recursive decoder and
// killed the process; the sniffer now refuses AMF messages over
// maxAMFMessage. Each case runs in a child process so a regression shows as
// a failed test, not a dead test binary.
func TestDeepAMF0DoesNotCrash(t *testing.T) {
	if mode := os.Getenv("HUABIAN_RTMP_DEEP_AMF0_CHILD"); mode != "" {
		var data []byte
		if mode == "crasher" {
			data = readCrasher(t, filepath.Join("testdata", "crashers", "deep-amf0-ondata"))
			debug.SetMaxStack(2 << 20)
		} else {
			data = deepAMF0Publish((10<<20-64)/4, false) // the largest message gortmplib accepts
		}
		opts := Options{HandshakeTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second, WriteTimeout: 5 * time.Second}
		runSession(t, observe.NewMetrics(nil), session{data: data, opts: opts, bound: time.Minute})
		return
	}
	for _, mode := range []string{"crasher", "full-size"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDeepAMF0DoesNotCrash$", "-test.count=1")
			cmd.Env = append(os.Environ(), "HUABIAN_RTMP_DEEP_AMF0_CHILD="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil {
				first, _, _ := strings.Cut(string(out), "\n\n")
				t.Errorf("the server process died (%v):\n%s", err, first)
			}
		})
	}
}

func readCrasher(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseFuzzFile(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// ---------------------------------------------------------------------------
// FuzzAMF0

// amf0Equal compares decoded AMF0 values; numbers compare by bits, except
// that any NaN equals any NaN.
func amf0Equal(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case float64:
		bf, ok := b.(float64)
		return ok && (math.Float64bits(a) == math.Float64bits(bf) || math.IsNaN(a) && math.IsNaN(bf))
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case amf0.Undefined:
		_, ok := b.(amf0.Undefined)
		return ok
	case amf0.Object:
		bo, ok := b.(amf0.Object)
		return ok && entriesEqual(a, bo)
	case amf0.ECMAArray:
		bo, ok := b.(amf0.ECMAArray)
		return ok && entriesEqual(amf0.Object(a), amf0.Object(bo))
	case amf0.StrictArray:
		bs, ok := b.(amf0.StrictArray)
		return ok && slices.EqualFunc(a, bs, amf0Equal)
	case amf0.Data:
		bd, ok := b.(amf0.Data)
		return ok && slices.EqualFunc(a, bd, amf0Equal)
	default:
		panic(fmt.Sprintf("unexpected AMF0 value %T", a))
	}
}

func entriesEqual(a, b amf0.Object) bool {
	return slices.EqualFunc(a, b, func(x, y amf0.ObjectEntry) bool { return x.Key == y.Key && amf0Equal(x.Value, y.Value) })
}

// Decoding never panics; whatever decodes encodes, decodes back to an equal
// value, and re-encodes to the same bytes.
func FuzzAMF0(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		dec, err := amf0.Unmarshal(data)
		if err != nil {
			return
		}
		enc, err := dec.Marshal()
		if err != nil {
			t.Fatalf("decoded %#v but cannot encode it: %v", dec, err)
		}
		dec2, err := amf0.Unmarshal(enc)
		if err != nil {
			t.Fatalf("cannot decode %x (the encoding of %#v): %v", enc, dec, err)
		}
		if !amf0Equal(dec, dec2) {
			t.Fatalf("round trip changed the value:\n%#v\n%#v", dec, dec2)
		}
		enc2, err := dec2.Marshal()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("re-encoding is not stable: %x, then %x (%v)", enc, enc2, err)
		}
	})
}

type amf0Seed struct {
	name string
	data []byte
}

func amf0Seeds() []amf0Seed {
	onMetaData := amf0.ECMAArray{
		{Key: "duration", Value: float64(0)},
		{Key: "width", Value: float64(1920)},
		{Key: "height", Value: float64(1080)},
		{Key: "videodatarate", Value: float64(2500)},
		{Key: "framerate", Value: float64(30)},
		{Key: "videocodecid", Value: float64(7)},
		{Key: "audiodatarate", Value: float64(160)},
		{Key: "audiosamplerate", Value: float64(48000)},
		{Key: "audiosamplesize", Value: float64(16)},
		{Key: "stereo", Value: true},
		{Key: "audiocodecid", Value: float64(10)},
		{Key: "encoder", Value: "obs-output module (libobs version 30.1.2)"},
		{Key: "filesize", Value: float64(0)},
	}
	seeds := []amf0Seed{
		{"obs-connect", amf0Body("connect", float64(1), obsConnect("live", tcURL).Arguments[0])},
		{"ffmpeg-play-connect", amf0Body("connect", float64(1), ffmpegPlayConnect().Arguments[0])},
		{"obs-releasestream", amf0Body("releaseStream", float64(2), nil, "sk_good")},
		{"obs-createstream", amf0Body("createStream", float64(4), nil)},
		{"obs-publish", amf0Body("publish", float64(5), nil, "sk_good", "live")},
		{"ffmpeg-play", amf0Body("play", float64(4), nil, "demo", float64(-2000))},
		{"obs-setdataframe-onmetadata", amf0Body("@setDataFrame", "onMetaData", onMetaData)},
		{"server-result", amf0Body("_result", float64(1),
			amf0.Object{{Key: "fmsVer", Value: "LNX 9,0,124,2"}, {Key: "capabilities", Value: float64(31)}},
			amf0.Object{{Key: "level", Value: "status"}, {Key: "code", Value: "NetConnection.Connect.Success"}, {Key: "objectEncoding", Value: float64(0)}})},
		{"numbers-nan-inf-negative-zero", amf0Body(math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64)},
		{"nan-payload", []byte{0x00, 0x7f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}},
		{"boolean-not-0-or-1", []byte{0x01, 0x02, 0x01, 0xff}},
		{"undefined-null-reference", []byte{0x06, 0x05, 0x07, 0x00, 0x01}},
		{"nested-object-40", nestedObjects(40)},
		{"nested-strict-array-40", nestedStrictArrays(40)},
		{"nested-ecma-array-40", nestedECMAArrays(40)},
		{"nested-object-1000", nestedObjects(1000)},
		{"object-without-end-marker", []byte{0x03, 0x00, 0x03, 'a', 'p', 'p', 0x02, 0x00, 0x04, 'l', 'i', 'v', 'e'}},
		{"object-wrong-end-marker", []byte{0x03, 0x00, 0x01, 'a', 0x05, 0x00, 0x00, 0x0a}},
		{"object-key-beyond-data", []byte{0x03, 0xff, 0xff, 'a'}},
		{"string-length-beyond-data", []byte{0x02, 0xff, 0xff, 'a', 'b'}},
		{"string-truncated-length", []byte{0x02, 0x00}},
		{"long-string-4GiB", []byte{0x0c, 0xff, 0xff, 0xff, 0xff, 'a'}},
		{"ecma-array-count-max", slices.Concat([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 'a'}, amf0Body(float64(1)), []byte{0x00, 0x00, 0x09})},
		{"ecma-array-count-max-empty", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x09}},
		{"strict-array-count-max-short", slices.Concat([]byte{0x0a, 0xff, 0xff, 0xff, 0xff}, bytes.Repeat([]byte{0x05}, 100))},
		{"strict-array-bomb-8192-nulls", slices.Concat([]byte{0x0a, 0x00, 0x00, 0x20, 0x00}, bytes.Repeat([]byte{0x05}, 8192))},
		{"strict-array-of-empty-objects", slices.Concat([]byte{0x0a, 0x00, 0x00, 0x04, 0x00}, bytes.Repeat([]byte{0x03, 0x00, 0x00, 0x09}, 1024))},
		{"amf3-switch", []byte{0x11, 0x0a, 0x0b, 0x01, 0x01}},
		{"date", []byte{0x0b, 0x42, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
		{"unknown-markers", []byte{0x04, 0x0d, 0x0e, 0x0f, 0x10, 0x12, 0xff}},
		{"typed-object", []byte{0x10, 0x00, 0x01, 'T', 0x00, 0x00, 0x09}},
		{"empty", nil},
	}
	return seeds
}

// ---------------------------------------------------------------------------
// Seed corpus files.

func fuzzFile(data []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
}

// parseFuzzFile reads a "go test fuzz v1" file holding one []byte.
func parseFuzzFile(b []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(b, []byte("go test fuzz v1\n[]byte("))
	if !ok {
		return nil, errors.New("not a go test fuzz v1 file with one []byte")
	}
	lit, ok := bytes.CutSuffix(bytes.TrimSpace(rest), []byte(")"))
	if !ok {
		return nil, errors.New("unterminated []byte(...)")
	}
	s, err := strconv.Unquote(string(lit))
	return []byte(s), err
}

type seedFile struct {
	path string
	data []byte
}

func seedFiles() []seedFile {
	var files []seedFile
	for _, s := range rtmpSeeds() {
		files = append(files, seedFile{filepath.Join("testdata", "fuzz", "FuzzRTMPClientStream", "seed-"+s.name), s.data})
	}
	for _, s := range amf0Seeds() {
		files = append(files, seedFile{filepath.Join("testdata", "fuzz", "FuzzAMF0", "seed-"+s.name), s.data})
	}
	files = append(files, seedFile{filepath.Join("testdata", "crashers", "deep-amf0-ondata"), deepAMF0Publish(8192, true)})
	return files
}

// The committed seeds match their builders (with -rtmp.write-seeds, they
// are rewritten).
func TestFuzzSeedCorpus(t *testing.T) {
	for _, f := range seedFiles() {
		want := fuzzFile(f.data)
		if *writeSeeds {
			if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(f.path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is missing or stale (%v); regenerate with: go test ./internal/rtmp -run '^TestFuzzSeedCorpus$' -rtmp.write-seeds", f.path, err)
		}
		if v, err := parseFuzzFile(want); err != nil || !bytes.Equal(v, f.data) {
			t.Errorf("%s: the file does not parse back (%v)", f.path, err)
		}
	}
}

// The cost of one fuzz execution (half of it: one of the two writes).
func BenchmarkFuzzSession(b *testing.B) {
	m := observe.NewMetrics(nil)
	for _, name := range []string{"publish-obs-h264-aac", "type3-chunk-first", "empty"} {
		var data []byte
		for _, s := range rtmpSeeds() {
			if s.name == name {
				data = s.data
			}
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				runSession(b, m, session{data: data})
			}
		})
	}
}
