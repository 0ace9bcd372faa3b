package httpflv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/huabian-live/huabian/internal/codec/flv"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/play"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	sps, _ = hex.DecodeString("6764000bacb20508fcb80880000003008000001e078a1524")
	pps, _ = hex.DecodeString("68ebc0c4b22c")
	asc    = []byte{0x12, 0x10} // AAC-LC 44.1 kHz stereo
	tracks = &media.Tracks{
		Video: &media.VideoTrack{Codec: media.CodecH264, SPS: sps, PPS: pps, Width: 160, Height: 120},
		Audio: &media.AudioTrack{Codec: media.CodecAAC, Config: asc, SampleRate: 44100, ChannelCount: 2},
	}
)

func writeFrames(s *hub.Stream, from, n int) {
	for i := from; i < from+n; i++ {
		d := time.Duration(i) * time.Second / 30
		key := i%30 == 0
		nalu := []byte{0x41, 0x9a, byte(i)}
		if key {
			nalu = []byte{0x65, 0x88, byte(i)}
		}
		s.Write(&media.Frame{Tracks: tracks, Video: true, Key: key, DTS: d, PTS: d, AU: [][]byte{nalu}})
		s.Write(&media.Frame{Tracks: tracks, Key: true, DTS: d, PTS: d, AU: [][]byte{{0x21, 0x00, byte(i)}}})
	}
}

func newTestServer(t *testing.T) (*hub.Stream, *httptest.Server, *Server) {
	t.Helper()
	// Frames are written faster than real time here, so allow any lag
	// rather than have readers skip.
	stream := hub.NewStream("demo", hub.Options{Prepare: play.PrepareFrame, MaxLag: time.Hour})
	s := New(func(name string) *hub.Stream {
		if name == "demo" {
			return stream
		}
		return nil
	}, observe.NewMetrics(nil), slog.New(slog.DiscardHandler), Options{})
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return stream, ts, s
}

// readTags reads an FLV stream and returns the tags until EOF or n tags.
func readTags(t *testing.T, r io.Reader, n int) []flv.Tag {
	t.Helper()
	fr := flv.NewReader(r)
	h, err := fr.ReadHeader()
	if err != nil {
		t.Fatalf("FLV header: %v", err)
	}
	if !h.HasVideo || !h.HasAudio {
		t.Fatalf("header %+v", h)
	}
	var tags []flv.Tag
	for len(tags) < n {
		tag, err := fr.ReadTag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("tag %d: %v", len(tags), err)
		}
		tag.Data = bytes.Clone(tag.Data)
		tags = append(tags, tag)
	}
	return tags
}

func checkStart(t *testing.T, tags []flv.Tag) {
	t.Helper()
	if len(tags) < 4 {
		t.Fatalf("only %d tags", len(tags))
	}
	if tags[0].Type != flv.TagScript {
		t.Fatalf("first tag type %d, want onMetaData", tags[0].Type)
	}
	v, err := flv.ParseVideo(tags[1].Data)
	if err != nil || !v.SequenceHeader {
		t.Fatalf("second tag is not the AVC sequence header: %+v %v", v, err)
	}
	a, err := flv.ParseAudio(tags[2].Data)
	if err != nil || !a.SequenceHeader {
		t.Fatalf("third tag is not the AAC sequence header: %+v %v", a, err)
	}
	first, err := flv.ParseVideo(tags[3].Data)
	if err != nil || !first.Key {
		t.Fatalf("first media tag is not a keyframe: %+v %v", first, err)
	}
}

func TestHTTPFLVStartsAtKeyframeAndEndsCleanly(t *testing.T) {
	stream, ts, _ := newTestServer(t)
	writeFrames(stream, 0, 45) // GOP cache holds frames 30..44
	resp, err := http.Get(ts.URL + "/live/demo.flv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/x-flv" ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	done := make(chan []flv.Tag)
	go func() { done <- readTags(t, resp.Body, 1<<20) }()
	writeFrames(stream, 45, 15)
	stream.End() // the chunked terminator ends the body cleanly
	select {
	case tags := <-done:
		checkStart(t, tags)
		if got, want := len(tags), 3+2*30; got != want {
			t.Fatalf("got %d tags, want %d", got, want)
		}
		if tags[3].Timestamp != 1000 {
			t.Fatalf("first media timestamp %d, want 1000 (the cached keyframe)", tags[3].Timestamp)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream end did not end the response")
	}
}

func TestWSFLV(t *testing.T) {
	stream, ts, _ := newTestServer(t)
	writeFrames(stream, 0, 30)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+ts.URL[len("http"):]+"/live/demo.flv", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(16 << 20)
	pr, pw := io.Pipe()
	go func() {
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if typ != websocket.MessageBinary {
				pw.CloseWithError(errors.New("text message"))
				return
			}
			if _, err := pw.Write(data); err != nil {
				return
			}
		}
	}()
	writeFrames(stream, 30, 10)
	tags := readTags(t, pr, 3+2*40)
	checkStart(t, tags)
	pr.Close()
}

func TestNotLiveAndBadPaths(t *testing.T) {
	_, ts, _ := newTestServer(t)
	for path, want := range map[string]int{
		"/live/nobody.flv":        404,
		"/live/demo.mp4":          404,
		"/live/.flv":              404,
		"/live/a%2Fb.flv":         404,
		"/live/..%5Cdemo.flv":     404,
		"/live/demo.flv?x=../../": 200,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("%s: %v", path, err)
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// A viewer that never reads must not hold up another viewer.
func TestStuckViewerDoesNotBlockOthers(t *testing.T) {
	stream, ts, _ := newTestServer(t)
	writeFrames(stream, 0, 1)
	d := net.Dialer{}
	stuck, err := d.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	if tcp, ok := stuck.(*net.TCPConn); ok {
		_ = tcp.SetReadBuffer(4096)
	}
	if _, err := stuck.Write([]byte("GET /live/demo.flv HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ts.URL + "/live/demo.flv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 1<<16)
	got := make(chan int)
	go func() {
		tags := readTags(t, br, 3+2*600)
		got <- len(tags)
	}()
	// 20 s of media with ~100 KB frames: far more than the stuck socket's
	// buffers, so the stuck viewer's writes block while the other keeps up.
	big := bytes.Repeat([]byte{0x41, 0x9a}, 50_000)
	for i := 1; i <= 600; i++ {
		dts := time.Duration(i) * time.Second / 30
		stream.Write(&media.Frame{Tracks: tracks, Video: true, Key: i%30 == 0, DTS: dts, PTS: dts, AU: [][]byte{big}})
		stream.Write(&media.Frame{Tracks: tracks, Key: true, DTS: dts, PTS: dts, AU: [][]byte{{0x21}}})
	}
	select {
	case n := <-got:
		if n != 3+2*600 {
			t.Fatalf("reading viewer got %d tags", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("reading viewer was held up")
	}
}

// HTTP/1.0 clients get a plain (not chunked) body ended by closing.
func TestHTTP10IdentityBody(t *testing.T) {
	stream, ts, _ := newTestServer(t)
	writeFrames(stream, 0, 30)
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("GET /live/demo.flv HTTP/1.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET", ProtoMajor: 1, ProtoMinor: 0})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || len(resp.TransferEncoding) != 0 {
		t.Fatalf("status %d, transfer encoding %v", resp.StatusCode, resp.TransferEncoding)
	}
	done := make(chan []flv.Tag)
	go func() { done <- readTags(t, resp.Body, 1<<20) }()
	writeFrames(stream, 30, 10)
	stream.End() // closing the connection ends the body
	select {
	case tags := <-done:
		checkStart(t, tags)
		if got, want := len(tags), 3+2*40; got != want {
			t.Fatalf("got %d tags, want %d", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream end did not end the HTTP/1.0 body")
	}
}
