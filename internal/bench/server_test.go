package bench

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	hlscodecs "github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/coder/websocket"
)

// Minimal in-test servers standing in for Huabian Live while it is built.

// rawFLVTag is one tag of a file as bytes (header, body, PreviousTagSize).
type rawFLVTag struct {
	ts time.Duration
	b  []byte
}

func splitFLV(t testing.TB, data []byte) (header []byte, tags []rawFLVTag) {
	t.Helper()
	pos := 9 + 4
	for pos+11 <= len(data) {
		size := int(data[pos+1])<<16 | int(data[pos+2])<<8 | int(data[pos+3])
		ms := uint32(data[pos+7])<<24 | uint32(data[pos+4])<<16 | uint32(data[pos+5])<<8 | uint32(data[pos+6])
		end := pos + 11 + size + 4
		if end > len(data) {
			t.Fatalf("truncated tag at %d", pos)
		}
		tags = append(tags, rawFLVTag{ts: time.Duration(ms) * time.Millisecond, b: data[pos:end]})
		pos = end
	}
	return data[:9+4], tags
}

// flvServer serves the fixture as HTTP-FLV at any path ending in .flv, each
// viewer from the start of the file, paced in real time by tag timestamps.
// A WebSocket upgrade on the same path gets the same bytes as binary
// messages cut at random points, so tags straddle messages.
func flvServer(t *testing.T) *httptest.Server {
	header, tags := splitFLV(t, fixtureFLV)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var send func([]byte) error
		if r.Header.Get("Upgrade") == "websocket" {
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			rng := rand.New(rand.NewPCG(uint64(len(r.RemoteAddr)), 7))
			var held []byte
			send = func(b []byte) error {
				// Hold back a random tail for the next message, and cut
				// what is sent into random pieces.
				held = append(held, b...)
				keep := rng.IntN(min(len(held), 3000) + 1)
				out := held[:len(held)-keep]
				for _, m := range splitMessages(out, rng, 9000) {
					if err := c.Write(r.Context(), websocket.MessageBinary, m); err != nil {
						return err
					}
				}
				held = append(held[:0], held[len(held)-keep:]...)
				return nil
			}
		} else {
			w.Header().Set("Content-Type", "video/x-flv")
			rc := http.NewResponseController(w)
			send = func(b []byte) error {
				if _, err := w.Write(b); err != nil {
					return err
				}
				return rc.Flush()
			}
		}
		if send(header) != nil {
			return
		}
		timer := time.NewTimer(0)
		defer timer.Stop()
		start := time.Now()
		for _, tag := range tags {
			timer.Reset(time.Until(start.Add(tag.ts)))
			select {
			case <-r.Context().Done():
				return
			case <-timer.C:
			}
			if send(tag.b) != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// rtmpRelay is a one-stream RTMP server: a publisher's messages go to every
// player, each player starting at the next keyframe with its timestamps
// rebased to 0 (as many servers do), so latency calibration must find a
// per-viewer offset. With hls set it also feeds an LL-HLS muxer.
type rtmpRelay struct {
	t    *testing.T
	ln   net.Listener
	hls  *gohlslib.Muxer
	stop func() // once: closes everything and waits for the handlers

	mu       sync.Mutex
	config   []message.Message // metadata and sequence headers
	sps, pps []byte
	players  []*relayPlayer
	conns    []net.Conn

	wg sync.WaitGroup
}

type relayPlayer struct {
	sc      *gortmplib.ServerConn
	conn    net.Conn
	started bool
	base    time.Duration
}

func newRTMPRelay(t *testing.T, withHLS bool) *rtmpRelay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rtmpRelay{t: t, ln: ln}
	if withHLS {
		r.hls = &gohlslib.Muxer{
			Tracks:             []*gohlslib.Track{{Codec: &hlscodecs.H264{}, ClockRate: 90000}},
			SegmentMinDuration: time.Second,
			PartMinDuration:    200 * time.Millisecond,
			OnEncodeError:      func(err error) { t.Logf("hls: %v", err) },
		}
		if err := r.hls.Start(); err != nil {
			t.Fatal(err)
		}
	}
	r.wg.Go(r.accept)
	r.stop = sync.OnceFunc(func() {
		ln.Close()
		r.mu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
		if r.hls != nil {
			r.hls.Close() // only once nothing writes to it any more
		}
	})
	t.Cleanup(r.stop)
	return r
}

func (r *rtmpRelay) url(name string) string {
	return "rtmp://" + r.ln.Addr().String() + "/live/" + name
}

func (r *rtmpRelay) accept() {
	for {
		conn, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns = append(r.conns, conn)
		r.mu.Unlock()
		r.wg.Go(func() {
			defer conn.Close()
			if err := r.handle(conn); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				r.t.Logf("rtmp relay: %v", err)
			}
		})
	}
}

func (r *rtmpRelay) handle(conn net.Conn) error {
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	sc := &gortmplib.ServerConn{RW: conn}
	if err := sc.Initialize(); err != nil {
		return err
	}
	if err := sc.AcceptConn(); err != nil {
		return err
	}
	if err := sc.AcceptAction(); err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	if !sc.Publish {
		p := &relayPlayer{sc: sc, conn: conn}
		r.mu.Lock()
		for _, m := range r.config {
			if err := sc.Write(m); err != nil {
				r.mu.Unlock()
				return err
			}
		}
		r.players = append(r.players, p)
		r.mu.Unlock()
		_, err := io.Copy(io.Discard, conn)
		r.mu.Lock()
		r.players = slices.DeleteFunc(r.players, func(q *relayPlayer) bool { return q == p })
		r.mu.Unlock()
		return err
	}
	for {
		msg, err := sc.Read()
		if err != nil {
			return err
		}
		r.mu.Lock()
		switch m := msg.(type) {
		case *message.DataAMF0:
			r.config = append(r.config, m)
		case *message.Video:
			if m.Type == message.VideoTypeConfig {
				r.config = append(r.config, m)
				if c := m.AVCConfig; c != nil {
					r.sps, r.pps = c.SequenceParameterSets[0].NALUnit, c.PictureParameterSets[0].NALUnit
				}
				break
			}
			for _, p := range r.players {
				if !p.started {
					if !m.IsKeyFrame {
						continue
					}
					p.started, p.base = true, m.DTS
				}
				c := *m
				c.DTS -= p.base
				r.send(p, &c)
			}
			if r.hls != nil {
				var au h264.AVCC
				if err := au.Unmarshal(m.AU); err == nil && r.sps != nil {
					if m.IsKeyFrame { // in-band parameter sets, as servers do for HLS
						au = append([][]byte{r.sps, r.pps}, au...)
					}
					pts := int64((m.DTS + m.PTSDelta) * 90000 / time.Second)
					if err := r.hls.WriteH264(r.hls.Tracks[0], time.Now(), pts, au); err != nil {
						r.t.Logf("hls write: %v", err)
					}
				}
			}
		case *message.Audio:
			if m.AACType == message.AudioAACTypeConfig {
				r.config = append(r.config, m)
				break
			}
			for _, p := range r.players {
				if p.started {
					c := *m
					c.DTS -= p.base
					r.send(p, &c)
				}
			}
		}
		r.mu.Unlock()
	}
}

// send writes to a player; a player that cannot keep up is disconnected.
func (r *rtmpRelay) send(p *relayPlayer, m message.Message) {
	_ = p.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if err := p.sc.Write(m); err != nil {
		p.conn.Close()
	}
}

// hlsServer serves the relay's LL-HLS muxer under any path. The relay (and
// with it the muxer) is stopped first on cleanup: the muxer holds blocking
// requests until it has content or is closed, and httptest.Server.Close
// waits for every request.
func (r *rtmpRelay) hlsServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(r.hls.Handle))
	t.Cleanup(func() {
		r.stop()
		srv.Close()
	})
	return srv
}

// publishInBackground runs Publish for the test's lifetime.
func publishInBackground(t *testing.T, url string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Publish(ctx, PublishOptions{URL: url}, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Publish: %v", err)
		}
	})
}
