package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/huabian-live/huabian/internal/codec/flv"
)

// flvStats are the counters of a Go FLV viewer.
type flvStats struct {
	VideoFrames     int64 // coded video frames (not sequence headers)
	AudioFrames     int64
	VideoSeqHeaders int64
	AudioSeqHeaders int64
	Backwards       []string // timestamp regressions within a track (first few)
	LastVideoTS     int64    // ms, -1 before the first frame
	FirstVideo      time.Duration
	Done            bool  // the reading goroutine ended
	Err             error // why it ended (io.EOF: clean end of stream)
}

// flvViewer reads an HTTP-FLV stream with the FLV package's reader and
// counts what it gets. Stop it with stop (also done in t.Cleanup).
type flvViewer struct {
	url    string
	start  time.Time
	cancel context.CancelFunc
	done   chan struct{}

	mu          sync.Mutex
	st          flvStats
	lastAudioTS int64
}

// startFLVViewer opens url and fails the test unless the server answers 200
// with video/x-flv. Tags are read in the background.
func startFLVViewer(t *testing.T, url string) *flvViewer {
	t.Helper()
	v, _ := startFLVViewerClient(t, httpClient, url)
	return v
}

// startFLVViewerClient is startFLVViewer with a given HTTP client (e.g.
// HTTPS with a test CA); it also returns the response's protocol.
func startFLVViewerClient(t *testing.T, client *http.Client, url string) (*flvViewer, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	v := &flvViewer{url: url, start: time.Now(), cancel: cancel, done: make(chan struct{}), lastAudioTS: -1}
	v.st.LastVideoTS = -1
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: HTTP %d: %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "video/x-flv" {
		t.Errorf("GET %s: Content-Type %q, want video/x-flv", url, ct)
	}
	go func() {
		defer close(v.done)
		defer resp.Body.Close()
		err := v.read(bufio.NewReaderSize(resp.Body, 64<<10))
		v.mu.Lock()
		v.st.Done, v.st.Err = true, err
		v.mu.Unlock()
	}()
	t.Cleanup(v.stop)
	return v, resp.Proto
}

func (v *flvViewer) read(r io.Reader) error {
	fr := flv.NewReader(r)
	if _, err := fr.ReadHeader(); err != nil {
		return fmt.Errorf("FLV header: %w", err)
	}
	for {
		tag, err := fr.ReadTag()
		if err != nil {
			return err
		}
		v.onTag(tag)
	}
}

func (v *flvViewer) onTag(tag flv.Tag) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ts := int64(tag.Timestamp)
	regress := func(kind string, prev int64) {
		if len(v.st.Backwards) < 10 {
			v.st.Backwards = append(v.st.Backwards, fmt.Sprintf("%s %d ms after %d ms", kind, ts, prev))
		}
	}
	switch tag.Type {
	case 9: // video
		p, err := flv.ParseVideo(tag.Data)
		if err != nil {
			return
		}
		if p.SequenceHeader {
			v.st.VideoSeqHeaders++
			return
		}
		if p.SequenceEnd {
			return
		}
		if v.st.VideoFrames == 0 {
			v.st.FirstVideo = time.Since(v.start)
		}
		v.st.VideoFrames++
		if v.st.LastVideoTS >= 0 && ts <= v.st.LastVideoTS {
			regress("video", v.st.LastVideoTS)
		}
		v.st.LastVideoTS = ts
	case 8: // audio
		p, err := flv.ParseAudio(tag.Data)
		if err != nil {
			return
		}
		if p.SequenceHeader {
			v.st.AudioSeqHeaders++
			return
		}
		v.st.AudioFrames++
		if v.lastAudioTS >= 0 && ts < v.lastAudioTS {
			regress("audio", v.lastAudioTS)
		}
		v.lastAudioTS = ts
	}
}

// stats returns a snapshot of the counters.
func (v *flvViewer) stats() flvStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := v.st
	st.Backwards = append([]string(nil), v.st.Backwards...)
	return st
}

// waitVideo waits up to d for n video frames; it fails the test if the
// stream ends first or the frames do not come.
func (v *flvViewer) waitVideo(t *testing.T, n int64, d time.Duration) {
	t.Helper()
	poll(d, 20*time.Millisecond, func() bool {
		st := v.stats()
		return st.Done || st.VideoFrames >= n
	})
	if st := v.stats(); st.VideoFrames < n {
		t.Fatalf("FLV viewer %s: %d video frames after %s (want %d); ended=%v err=%v", v.url, st.VideoFrames, d, n, st.Done, st.Err)
	}
}

// waitEnd waits up to d for the stream to end and reports whether it did.
func (v *flvViewer) waitEnd(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-v.done:
		return true
	case <-timer.C:
		return false
	}
}

// stop closes the connection and waits for the reader.
func (v *flvViewer) stop() {
	v.cancel()
	<-v.done
}

// wsCapture reads WS-FLV from url for d (measured from the first message)
// into file. It returns the number of messages and bytes and the time to the
// first message.
func wsCapture(t *testing.T, url, file string, d time.Duration) (msgs, n int, first time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+20*time.Second)
	defer cancel()
	start := time.Now()
	c, resp, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("WebSocket dial %s: %v", url, err)
	}
	defer c.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket dial %s: HTTP %d", url, resp.StatusCode)
	}
	// One message carries a batch of tags: the GOP-cache burst at the start
	// can be several hundred KiB (the library's default limit is 32 KiB).
	c.SetReadLimit(64 << 20)
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var firstAt time.Time
	for firstAt.IsZero() || time.Since(firstAt) < d {
		typ, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("WebSocket read after %d messages (%d bytes): %v", msgs, n, err)
		}
		if typ != websocket.MessageBinary {
			t.Fatalf("WebSocket message %d is %v, want binary", msgs, typ)
		}
		if firstAt.IsZero() {
			firstAt = time.Now()
			first = firstAt.Sub(start)
			if !strings.HasPrefix(string(data), "FLV") {
				t.Errorf("first WebSocket message does not start with the FLV signature: % x", data[:min(len(data), 16)])
			}
		}
		msgs++
		n += len(data)
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		t.Fatal(err)
	}
	return msgs, n, first
}

// wsViewer reads WS-FLV messages in the background until the connection
// ends. Stop it with stop (also done in t.Cleanup).
type wsViewer struct {
	c      *websocket.Conn
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	msgs int
	err  error
}

func startWSViewer(t *testing.T, url string) *wsViewer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		cancel()
		t.Fatalf("WebSocket dial %s: %v", url, err)
	}
	c.SetReadLimit(64 << 20)
	w := &wsViewer{c: c, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			_, _, err := c.Read(ctx)
			w.mu.Lock()
			if err != nil {
				w.err = err
				w.mu.Unlock()
				return
			}
			w.msgs++
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *wsViewer) waitMessages(t *testing.T, n int, d time.Duration) {
	t.Helper()
	poll(d, 20*time.Millisecond, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.msgs >= n || w.err != nil
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.msgs < n {
		t.Fatalf("WS-FLV viewer: %d messages (want %d), err %v", w.msgs, n, w.err)
	}
}

// messages returns the number of messages received so far.
func (w *wsViewer) messages() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.msgs
}

// ended reports whether the connection has ended, and the read error that
// ended it.
func (w *wsViewer) ended() (error, bool) {
	select {
	case <-w.done:
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.err, true
	default:
		return nil, false
	}
}

// waitEnd waits up to d for the connection to end; it returns the read
// error that ended it.
func (w *wsViewer) waitEnd(d time.Duration) (error, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-w.done:
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.err, true
	case <-timer.C:
		return nil, false
	}
}

func (w *wsViewer) stop() {
	w.cancel()
	<-w.done
	_ = w.c.CloseNow()
}
