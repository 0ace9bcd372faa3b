package srt

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/testkit"
)

// capture is what one gosrt reader received.
type capture struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	err  error
	done chan struct{}
}

func (c *capture) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Len()
}

func (c *capture) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

// readSRT plays name with a gosrt caller until it has limit bytes (or 60 s
// pass), then hangs up.
func readSRT(t *testing.T, addr, name string, limit int) *capture {
	t.Helper()
	cfg := gosrt.DefaultConfig()
	cfg.StreamId = "read:" + name
	cfg.ConnectionTimeout = 5 * time.Second
	cfg.Latency = time.Second // room for retransmissions on a busy machine
	conn, err := gosrt.Dial("srt", addr, cfg)
	if err != nil {
		t.Fatalf("dial read:%s: %v", name, err)
	}
	c := &capture{done: make(chan struct{})}
	timeout := time.AfterFunc(60*time.Second, func() { conn.Close() })
	go func() {
		defer close(c.done)
		defer timeout.Stop()
		defer conn.Close()
		b := make([]byte, 1500)
		for {
			n, err := conn.Read(b)
			c.mu.Lock()
			c.buf.Write(b[:n])
			full := c.buf.Len() >= limit
			if err != nil {
				c.err = err
			}
			c.mu.Unlock()
			if err != nil || full {
				return
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-c.done
	})
	return c
}

// Several SRT readers of one stream share one feed: the stream has a single
// hub reader, the readers get identical bytes from where each started, a
// reader that never reads holds up nobody, each reader's capture decodes
// cleanly with the published codecs, and the feed goes away with the last
// reader.
func TestReadersShareOneFeed(t *testing.T) {
	needTools(t)
	e := start(t, Options{}, 10)
	publishFFmpeg(t, "srt://"+e.addr+"?streamid=publish:"+goodKey)
	waitFor(t, "frames in the hub", func() bool { return framesIn(e.hub, demoName) > 60 })
	st := e.hub.Stream(demoName, false)

	idle := dialIdle(t, e.addr, demoName) // never reads
	// The limits allow for the caller's latency: a caller delivers bytes a
	// second after the server sent them, so the first reader must go on
	// for a while after the later ones have joined.
	first := readSRT(t, e.addr, demoName, 4<<20)
	waitFor(t, "the first reader's start", func() bool { return first.len() > 200<<10 })
	second := readSRT(t, e.addr, demoName, 1<<20)
	waitFor(t, "the second reader's start", func() bool { return second.len() > 200<<10 })
	third := readSRT(t, e.addr, demoName, 1<<20)
	waitFor(t, "the third reader's start", func() bool { return third.len() > 0 })

	// Four SRT viewers, one hub reader, one feed ever started.
	if n := st.Viewers()[ProtoSRT]; n != 4 {
		t.Errorf("stream viewers[srt] = %d, want 4", n)
	}
	if g := gauge(t, e.srv.metrics, "huabian_viewers", "protocol", ProtoSRT); g != 4 {
		t.Errorf("huabian_viewers{protocol=srt} = %v, want 4", g)
	}
	if n := st.ReaderCount(); n != 1 {
		t.Errorf("the stream has %d hub readers with 4 SRT readers, want 1 (the feed)", n)
	}
	if n := e.srv.feedsStarted.Load(); n != 1 {
		t.Errorf("%d feeds started for one stream, want 1", n)
	}

	for _, c := range []*capture{first, second, third} {
		select {
		case <-c.done:
		case <-time.After(90 * time.Second):
			t.Fatal("a reader never got its bytes")
		}
	}
	a := first.bytes()
	for i, c := range []*capture{second, third} {
		b := c.bytes()
		if len(b) < tsChunk || !isPAT(b) {
			t.Fatalf("reader %d: %d bytes, not starting with a PAT", i+2, len(b))
		}
		off := bytes.Index(a, b[:tsChunk])
		if off < 0 {
			t.Fatalf("reader %d's start is not in the first reader's %d bytes (it got %d; in the second reader's at %d)", i+2, len(a), len(b), bytes.Index(second.bytes(), b[:tsChunk]))
		}
		n := min(len(b), len(a)-off)
		if n < 64<<10 {
			t.Fatalf("reader %d: only %d bytes overlap the first reader's", i+2, n)
		}
		if !bytes.Equal(a[off:off+n], b[:n]) {
			t.Errorf("reader %d: bytes differ from the first reader's after its start", i+2)
		}
	}

	// Continuity counters are the feed's, shared by all readers: each PID
	// may start anywhere, but never jumps after that.
	for i, c := range []*capture{first, second, third} {
		if n := ccJumps(c.bytes()); n != 0 {
			t.Errorf("reader %d: %d continuity counter jumps", i+1, n)
		}
	}

	dir := t.TempDir()
	for i, c := range []*capture{first, third} {
		path := filepath.Join(dir, []string{"first.ts", "third.ts"}[i])
		if err := os.WriteFile(path, wholePES(c.bytes()), 0o600); err != nil {
			t.Fatal(err)
		}
		checkH264AAC(t, path, ffprobe(t, path))
		decodeClean(t, path)
	}

	idle.Close()
	waitFor(t, "the feed to go with the last reader", func() bool {
		e.srv.feedMu.Lock()
		n := len(e.srv.feeds)
		e.srv.feedMu.Unlock()
		return n == 0 && st.ReaderCount() == 0 && st.Viewers()[ProtoSRT] == 0
	})
}

// ccJumps counts TS packets whose continuity counter does not follow the
// previous packet's of the same PID (the first packet of a PID is free).
func ccJumps(b []byte) int {
	last := map[int]byte{}
	n := 0
	for p := 0; p+188 <= len(b); p += 188 {
		pkt := b[p : p+188]
		if pkt[3]&0x10 == 0 { // no payload: the counter does not advance
			continue
		}
		pid := int(pkt[1]&0x1F)<<8 | int(pkt[2])
		cc := pkt[3] & 0x0F
		if prev, ok := last[pid]; ok && cc != (prev+1)&0x0F {
			n++
		}
		last[pid] = cc
	}
	return n
}

// dialIdle connects an SRT reader that never reads.
func dialIdle(t *testing.T, addr, name string) gosrt.Conn {
	t.Helper()
	c, err := dial(addr, "read:"+name, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wholePES cuts a capture before its last PAT, so that it ends with
// complete PES packets (a reader hangs up in the middle of one).
func wholePES(b []byte) []byte {
	for p := len(b)/188*188 - 188; p > 0; p -= 188 {
		if isPAT(b[p:]) {
			return b[:p]
		}
	}
	return b
}

// decodeClean decodes every frame of path with ffmpeg and fails on any
// error it reports (continuity, PES, decoder).
func decodeClean(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error",
		"-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg decode of %s: %v: %s", filepath.Base(path), err, out)
	}
}

// A reader that never reads does not delay another: with a synthetic
// publisher, a reading caller gets seconds of media while an idle caller
// of the same stream sits there.
func TestIdleReaderDoesNotDelayOthers(t *testing.T) {
	e := start(t, Options{}, 10)
	pub, err := e.hub.Publish(demoName, hub.PublishInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(time.Second / 30)
		defer tk.Stop()
		for i := 0; i < 30*120; i++ {
			for _, f := range synthFrames(i) {
				pub.Write(f)
			}
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	waitFor(t, "the channel to go live", func() bool { return framesIn(e.hub, demoName) > 30 })

	dialIdle(t, e.addr, demoName)
	dialIdle(t, e.addr, demoName)
	// 3 s of the synthetic stream is about 35 KB of TS.
	r := readSRT(t, e.addr, demoName, 35<<10)
	select {
	case <-r.done:
	case <-time.After(90 * time.Second):
		t.Fatal("the reading caller stalled")
	}
	if r.len() < 35<<10 {
		t.Fatalf("the reading caller got %d bytes and then %v", r.len(), r.err)
	}
	if !isPAT(r.bytes()) {
		t.Error("the reader's bytes do not start with a PAT")
	}
	if n := e.srv.feedsStarted.Load(); n != 1 {
		t.Errorf("%d feeds started, want 1", n)
	}
}

// gauge reads one series of the registry (0 when absent).
func gauge(t *testing.T, m *observe.Metrics, name, label, value string) float64 {
	t.Helper()
	v, _ := testkit.MetricValue(t, m.Registry, name, label, value)
	return v
}
