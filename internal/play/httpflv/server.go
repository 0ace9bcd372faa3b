// Package httpflv serves live streams as FLV over HTTP (GET /live/NAME.flv,
// chunked) and over WebSocket (the same path upgraded; binary messages
// carrying the FLV byte stream, as mpegts.js and flv.js expect).
//
// Both take over the TCP connection from net/http so that each batch of
// frames goes out in one writev of the shared, pre-built FLV tags
// (internal/play.PrepareFrame): no per-viewer copy of media, one syscall per
// batch. For WebSocket we therefore frame server messages ourselves (RFC 6455
// §5.2; unmasked, one binary frame per batch) and only read the client's
// frames to answer ping and close.
package httpflv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/huabian-live/huabian/internal/codec/flv"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/play"
)

// ViewerSessions is told when viewer sessions start and end
// (stats.Service implements it).
type ViewerSessions interface {
	// ViewerStarted is called once when a viewer session starts; the func
	// it returns is called once when the session ends.
	ViewerStarted(channel, protocol, vid, remote, userAgent string) (end func())
}

// Options configure the server.
type Options struct {
	// WriteTimeout bounds one write; a viewer that takes no data for this
	// long is disconnected. Default 10 s.
	WriteTimeout time.Duration
	// Sessions, when set, is told once when a viewer session starts, with
	// the channel, the protocol (observe.ProtoHTTPFLV or ProtoWSFLV), the
	// player's "vid" query parameter, the client's IP address and its
	// User-Agent; the func it returns is called once when the session ends.
	// Both run on connect and disconnect only, never per frame.
	Sessions ViewerSessions
}

// Server is the HTTP-FLV / WS-FLV handler.
type Server struct {
	src     func(name string) *hub.Stream
	metrics *observe.Metrics
	log     *slog.Logger
	opts    Options

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // viewer goroutines

	mu     sync.Mutex
	closed bool // guarded by mu; no wg.Add after it is set
}

// track registers a viewer goroutine; false once Close has begun.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// New returns a handler serving streams found by src (nil: not live).
func New(src func(name string) *hub.Stream, m *observe.Metrics, log *slog.Logger, opts Options) *Server {
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{src: src, metrics: m, log: log.With("component", "httpflv"), opts: opts, ctx: ctx, cancel: cancel}
}

// Close disconnects every viewer and waits for their goroutines. Viewers
// run on taken-over connections that http.Server.Shutdown does not track.
func (s *Server) Close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Shutdown(ctx)
}

// Shutdown lets viewers finish: once their streams have ended (the hub was
// closed first) each writes what it has and a clean end of stream (the HTTP
// chunked terminator, a WebSocket close frame). Viewers still running when
// ctx ends are disconnected. It returns when every viewer goroutine is gone.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
	}
	s.cancel()
}

// ChannelFromPath returns NAME for "/live/NAME.flv".
func ChannelFromPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/live/")
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, ".flv")
	if !ok || name == "" || strings.ContainsAny(name, "/\\") {
		return "", false
	}
	return name, true
}

// ServeHTTP handles GET (and WebSocket upgrade) on /live/NAME.flv.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := ChannelFromPath(r.URL.Path)
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	stream := s.src(name)
	if stream == nil {
		http.Error(w, "channel not live", http.StatusNotFound)
		return
	}
	ws := isWebSocket(r)
	var accept string
	if ws {
		var err error
		if accept, err = websocketAccept(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	if r.ProtoMajor != 1 {
		// HTTP/2 (behind TLS) cannot be taken over; stream through the
		// ResponseWriter instead.
		if ws {
			http.Error(w, "WebSocket needs HTTP/1.1", http.StatusBadRequest)
			return
		}
		s.serveBuffered(w, r, stream, name)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot take over connection", http.StatusInternalServerError)
		return
	}
	var head string
	proto := observe.ProtoHTTPFLV
	if ws {
		proto = observe.ProtoWSFLV
		head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + accept + "\r\n\r\n"
	} else {
		te := "Transfer-Encoding: chunked\r\n"
		if r.ProtoMinor == 0 {
			te = "" // HTTP/1.0: identity body, ended by closing
		}
		head = "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\n" + te +
			"Cache-Control: no-cache, no-store\r\nAccess-Control-Allow-Origin: *\r\n" +
			"X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
	}
	// Subscribe before the response head goes out, so a viewer that has
	// seen the head is sure to get the GOP cached at that moment.
	reader := stream.Subscribe()
	_ = conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	if _, err := conn.Write([]byte(head)); err != nil {
		reader.Close()
		conn.Close()
		return
	}
	// Only a WebSocket client's frames are read (from what net/http has
	// buffered, then the socket); an HTTP-FLV viewer keeps no read buffer.
	var clientFrames io.Reader
	if ws {
		clientFrames = conn
		if n := brw.Reader.Buffered(); n > 0 {
			// Keep what net/http read ahead, then read the socket itself
			// (so the 4 KiB bufio.Reader is not kept per viewer).
			ahead, _ := brw.Reader.Peek(n)
			clientFrames = io.MultiReader(bytes.NewReader(bytes.Clone(ahead)), conn)
		}
	}
	log := s.log.With("channel", name, "conn", conn.RemoteAddr().String(), "protocol", proto)
	var framing framer = chunkedFramer{}
	switch {
	case ws:
		framing = wsFramer{}
	case r.ProtoMinor == 0:
		framing = identityFramer{}
	}
	// Serve from a fresh goroutine and return, so that net/http releases
	// this connection's buffers and the handler's stack: at thousands of
	// viewers that is most of the per-viewer memory.
	if !s.track() {
		reader.Close()
		conn.Close()
		return
	}
	left := s.viewerStarted(r, name, proto)
	go func() {
		defer s.wg.Done()
		defer left()
		defer conn.Close()
		s.pump(conn, clientFrames, stream, reader, framing, proto, log)
	}()
}

// viewerStarted reports a viewer session to Options.Sessions and returns
// the func ending it.
func (s *Server) viewerStarted(r *http.Request, name, proto string) (end func()) {
	if s.opts.Sessions == nil {
		return func() {}
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return s.opts.Sessions.ViewerStarted(name, proto, r.URL.Query().Get("vid"), ip, r.UserAgent())
}

func isWebSocket(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// framer wraps one batch of payload bytes for the transport.
type framer interface {
	prefix(dst []byte, n int) []byte
	suffix() []byte
	end() []byte // written when the stream ends; nil: just close
}

// identityFramer is for HTTP/1.0 clients, which do not understand chunked
// encoding: the body is the raw FLV stream, ended by closing the connection.
type identityFramer struct{}

func (identityFramer) prefix(dst []byte, _ int) []byte { return dst }
func (identityFramer) suffix() []byte                  { return nil }
func (identityFramer) end() []byte                     { return nil }

type chunkedFramer struct{}

func (chunkedFramer) prefix(dst []byte, n int) []byte {
	dst = strconv.AppendInt(dst, int64(n), 16)
	return append(dst, '\r', '\n')
}

var crlf = []byte("\r\n")

func (chunkedFramer) suffix() []byte { return crlf }

func (chunkedFramer) end() []byte { return []byte("0\r\n\r\n") }

// pump writes the stream to conn until the viewer leaves, is too slow, the
// stream ends or the server closes.
func (s *Server) pump(conn net.Conn, clientFrames io.Reader, stream *hub.Stream, reader *hub.Reader, framing framer, proto string, log *slog.Logger) {
	ws := clientFrames != nil
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	defer reader.Close()
	leftMetrics := s.metrics.ViewerStarted(proto)
	defer leftMetrics()
	leftStream := stream.AddViewer(proto)
	defer leftStream()

	// A WebSocket client's close frame ends the session, so read its
	// frames. An HTTP-FLV client sends nothing after its request; its
	// hang-up shows as an error on our next write, so it gets no reader
	// goroutine (one fewer goroutine and wake-up per viewer).
	var wg sync.WaitGroup
	if ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			readClientFrames(clientFrames)
		}()
	}
	stopClose := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		conn.Close()
		stopClose()
		wg.Wait()
	}()

	out := s.metrics.BytesOut.WithLabelValues(proto)
	var (
		sent   *media.Tracks
		first  = true
		bufs   net.Buffers
		prefix []byte
	)
	for {
		batch, err := reader.Next(ctx)
		if err != nil {
			switch {
			case errors.Is(err, hub.ErrTooSlow):
				s.metrics.SlowViewers.WithLabelValues(proto).Inc()
				log.Info("viewer disconnected: too slow", "dropped_frames", reader.Dropped())
			case errors.Is(err, hub.ErrEnded):
				// End cleanly (chunked terminator, WebSocket close) so
				// the player sees end of stream, not a broken connection.
				if end := framing.end(); end != nil {
					_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
					_, _ = conn.Write(end)
				}
			}
			return
		}
		bufs = append(bufs[:0], nil) // slot for the framing prefix
		n := 0
		for _, f := range batch {
			if f.Tracks != sent {
				var hdr []byte
				if first {
					t := f.Tracks
					hdr = flv.AppendFileHeader(hdr, t.Video != nil, t.Audio != nil)
					first = false
				}
				hdr = play.FLVHeaders(hdr, f.Tracks, f.DTS)
				bufs = append(bufs, hdr)
				n += len(hdr)
				sent = f.Tracks
			}
			if f.FLVTag != nil {
				bufs = append(bufs, f.FLVTag)
				n += len(f.FLVTag)
			}
		}
		if n == 0 {
			continue
		}
		prefix = framing.prefix(prefix[:0], n)
		bufs[0] = prefix
		if sfx := framing.suffix(); sfx != nil {
			bufs = append(bufs, sfx)
		}
		_ = conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		wb := bufs
		written, err := wb.WriteTo(conn)
		out.Add(float64(written))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.metrics.SlowViewers.WithLabelValues(proto).Inc()
				log.Info("viewer disconnected: write timed out")
			}
			return
		}
	}
}

// serveBuffered is the HTTP/2 path: same stream, written through the
// ResponseWriter and flushed per batch.
func (s *Server) serveBuffered(w http.ResponseWriter, r *http.Request, stream *hub.Stream, name string) {
	if !s.track() {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	reader := stream.Subscribe()
	defer reader.Close()
	defer s.metrics.ViewerStarted(observe.ProtoHTTPFLV)()
	defer stream.AddViewer(observe.ProtoHTTPFLV)()
	defer s.viewerStarted(r, name, observe.ProtoHTTPFLV)()
	w.Header().Set("Content-Type", "video/x-flv")
	w.Header().Set("Cache-Control", "no-cache, no-store")
	rc := http.NewResponseController(w)
	var sent *media.Tracks
	first := true
	for {
		batch, err := reader.Next(ctx)
		if err != nil {
			return
		}
		_ = rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		for _, f := range batch {
			if f.Tracks != sent {
				var hdr []byte
				if first {
					hdr = flv.AppendFileHeader(hdr, f.Tracks.Video != nil, f.Tracks.Audio != nil)
					first = false
				}
				if _, err := w.Write(play.FLVHeaders(hdr, f.Tracks, f.DTS)); err != nil {
					return
				}
				sent = f.Tracks
			}
			if _, err := w.Write(f.FLVTag); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			s.log.Debug("flush", "channel", name, "err", err)
			return
		}
	}
}
