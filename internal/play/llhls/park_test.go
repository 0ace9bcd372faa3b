package llhls

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/hub"
)

// rawConn is one client connection issuing requests by hand, so that the
// test holds no goroutine per connection.
type rawConn struct {
	t    *testing.T
	c    net.Conn
	br   *bufio.Reader
	host string
}

func dialRaw(t *testing.T, url string) *rawConn {
	t.Helper()
	host := strings.TrimPrefix(url, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c), host: host}
}

func (r *rawConn) send(path string) {
	r.t.Helper()
	if _, err := fmt.Fprintf(r.c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, r.host); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) read() response {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// feeder writes the fixture's frames into a publisher on demand, as fast as
// asked, continuing the timeline.
type feeder struct {
	fx   *fixture
	p    *hub.Publisher
	next int
}

func (f *feeder) frames(n int) {
	for range n {
		loop, i := f.next/len(f.fx.frames), f.next%len(f.fx.frames)
		fr := f.fx.frames[i]
		off := time.Duration(loop) * f.fx.period
		fr.DTS += off
		fr.PTS += off
		f.p.Write(&fr)
		f.next++
	}
}

// Requests waiting for a part are parked: they hold no goroutine, are all
// answered by the part's arrival with what an unparked request gets, and
// their connections serve the next request.
func TestParkedRequests(t *testing.T) {
	e := newEnv(t, Options{}, nil)
	park := e.srv.opts.Park
	p, err := e.hub.Publish("park", hub.PublishInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := e.srv.Warm("park"); err != nil {
		t.Fatal(err)
	}
	fd := &feeder{fx: e.fx, p: p}
	// Half a second of media at a time (the muxer's reader may join late,
	// at the GOP cache) until two segments are complete; then the stream
	// pauses.
	var ed edge
	waitFor(t, 10*time.Second, "segments", func() bool {
		fd.frames(30)
		e.srv.mu.Lock()
		c := e.srv.sessions["park"]
		e.srv.mu.Unlock()
		if c == nil {
			return false
		}
		_, ed = c.current()
		return ed.ready && ed.nextMSN >= 2
	})
	time.Sleep(100 * time.Millisecond) // let the muxer settle on the last frame written
	r := e.mustGet("/live/park/video1_stream.m3u8")
	if ed, err = parseEdge([]byte(r.body)); err != nil {
		t.Fatal(err)
	}
	reload := fmt.Sprintf("/live/park/video1_stream.m3u8?_HLS_msn=%d&_HLS_part=%d", ed.nextMSN, ed.partsInNext)
	hinted := fmt.Sprintf("/live/park/%s_video1_part%d.mp4", ed.prefix, ed.nextPartID)

	const n = 20
	conns := make([]*rawConn, 2*n)
	for i := range conns {
		conns[i] = dialRaw(t, e.ts.URL)
	}
	time.Sleep(100 * time.Millisecond) // let net/http start each connection's goroutine
	before := runtime.NumGoroutine()
	for i, c := range conns {
		if i < n {
			c.send(reload)
		} else {
			c.send(hinted)
		}
	}
	waitFor(t, 5*time.Second, "all requests parked", func() bool { return park.Parked() == 2*n })
	if after := runtime.NumGoroutine(); after > before-n {
		t.Errorf("goroutines: %d with %d idle connections, %d with their requests parked", before, 2*n, after)
	}
	if held := e.srv.waiting.held("127.0.0.1"); held != 2*n {
		t.Errorf("%d requests counted as held, want %d", held, 2*n)
	}

	fd.frames(15) // half a second more: the part completes
	var partBody string
	for i, c := range conns {
		got := c.read()
		if got.status != http.StatusOK || got.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("request %d: %d %q %v", i, got.status, got.body, got.header)
		}
		if i < n {
			pe, err := parseEdge([]byte(got.body))
			if err != nil || !pe.has(ed.nextMSN, int64(ed.partsInNext), true) {
				t.Fatalf("reload answer lacks part %d.%d (%v):\n%s", ed.nextMSN, ed.partsInNext, err, got.body)
			}
			continue
		}
		if got.header.Get("Content-Type") != "video/mp4" || !strings.Contains(got.body, "moof") {
			t.Fatalf("part answer: %q, %d bytes", got.header.Get("Content-Type"), len(got.body))
		}
		if partBody == "" {
			partBody = got.body
		} else if got.body != partBody {
			t.Fatal("viewers got different bytes for one part")
		}
	}
	if direct := e.mustGet(hinted); direct.body != partBody {
		t.Errorf("parked part differs from the part served directly (%d vs %d bytes)", len(partBody), len(direct.body))
	}
	if park.Parked() != 0 || e.srv.waiting.held("127.0.0.1") != 0 {
		t.Errorf("after the answers: %d parked, %d held", park.Parked(), e.srv.waiting.held("127.0.0.1"))
	}

	// The connections went back to net/http: they serve another request.
	for _, c := range conns[:3] {
		c.send("/live/park/video1_stream.m3u8")
		if got := c.read(); got.status != http.StatusOK {
			t.Fatalf("next request on a resumed connection: %d %q", got.status, got.body)
		}
	}

	t.Run("timeout", func(t *testing.T) {
		cur, err := parseEdge([]byte(e.mustGet("/live/park/video1_stream.m3u8").body))
		if err != nil {
			t.Fatal(err)
		}
		c := conns[0]
		start := time.Now()
		c.send(fmt.Sprintf("/live/park/video1_stream.m3u8?_HLS_msn=%d&_HLS_part=%d", cur.nextMSN, cur.partsInNext+1))
		got := c.read()
		if got.status != http.StatusServiceUnavailable || got.header.Get("Retry-After") != "1" || !strings.Contains(got.body, "timed out") {
			t.Fatalf("held past its deadline: %d %q", got.status, got.body)
		}
		t.Logf("answered after %v", time.Since(start))
		c.send("/live/park/video1_stream.m3u8")
		if got := c.read(); got.status != http.StatusOK {
			t.Fatalf("after the timeout: %d", got.status)
		}
	})

	t.Run("stream ends", func(t *testing.T) {
		cur, err := parseEdge([]byte(e.mustGet("/live/park/video1_stream.m3u8").body))
		if err != nil {
			t.Fatal(err)
		}
		c := conns[1]
		c.send(fmt.Sprintf("/live/park/video1_stream.m3u8?_HLS_msn=%d&_HLS_part=%d", cur.nextMSN, cur.partsInNext+1))
		waitFor(t, 5*time.Second, "the request to park", func() bool { return park.Parked() == 1 })
		p.Close()
		got := c.read()
		if got.status != http.StatusNotFound || !strings.Contains(got.body, "not live") {
			t.Fatalf("stream ended under a parked request: %d %q", got.status, got.body)
		}
	})
}

// Without a park listener (or for requests it cannot take) a waiting
// request is held the way net/http holds it, with the same answers.
func TestUnparkedBlockingReload(t *testing.T) {
	noPark = true
	defer func() { noPark = false }()
	e := newEnv(t, Options{}, nil)
	if e.srv.opts.Park != nil {
		t.Fatal("parking enabled")
	}
	e.startPublish("np", 2, 0, nil)
	mp := e.mustGet("/live/np/video1_stream.m3u8")
	cur, err := parseEdge([]byte(mp.body))
	if err != nil {
		t.Fatal(err)
	}
	r := e.mustGet(fmt.Sprintf("/live/np/video1_stream.m3u8?_HLS_msn=%d&_HLS_part=%d", cur.nextMSN, cur.partsInNext))
	if got, err := parseEdge([]byte(r.body)); err != nil || !got.has(cur.nextMSN, int64(cur.partsInNext), true) {
		t.Fatalf("playlist lacks part %d.%d:\n%s", cur.nextMSN, cur.partsInNext, r.body)
	}
	pl := parseMedia(t, e.mustGet("/live/np/video1_stream.m3u8").body)
	if hint := e.mustGet("/live/np/" + pl.PreloadHint.URI); !strings.Contains(hint.body, "moof") {
		t.Error("preload-hinted part is not fMP4")
	}
}
