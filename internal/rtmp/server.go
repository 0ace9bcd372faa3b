// Package rtmp is the RTMP listener: OBS and ffmpeg publish to it
// (rtmp://HOST:1935/live/KEY) and players read from it
// (rtmp://HOST:1935/live/NAME). Both directions share one listener, so both
// live here.
//
// The handshake, the connect/createStream/publish/play exchange and the
// demuxing of published media use github.com/bluenviron/gortmplib. Playback
// does not use its per-connection Writer: every media message is encoded into
// chunk-stream bytes once per stream (see internal/play.PrepareFrame) and the
// same bytes are written to every player with one writev per batch.
package rtmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/observe"
)

// ErrUnknownKey is what an Authenticator returns (possibly wrapped) for a
// key that belongs to no channel; other errors mean the check itself failed.
var ErrUnknownKey = errors.New("stream key not recognized")

// Authenticator resolves a stream key to the channel it publishes.
type Authenticator interface {
	// Authenticate returns the channel name for key, and a function that
	// reports whether that key is still valid (polled to end publishes made
	// with a rotated key). An unknown key is ErrUnknownKey.
	Authenticate(ctx context.Context, key string) (channel string, stillValid func() bool, err error)
}

// Limiter throttles failed publish attempts per remote IP.
type Limiter interface {
	Allow(ip string) bool
	Fail(ip string)
}

// ViewerSessions is told when viewer sessions start and end
// (stats.Service implements it).
type ViewerSessions interface {
	// ViewerStarted is called once when a viewer session starts; the func
	// it returns is called once when the session ends.
	ViewerStarted(channel, protocol, vid, remote, userAgent string) (end func())
}

// Options configure the server.
type Options struct {
	// HandshakeTimeout bounds the handshake and the command exchange up to
	// publish/play. Default 10 s.
	HandshakeTimeout time.Duration
	// IdleTimeout is how long a publisher may send nothing before it is
	// dropped. Default 10 s.
	IdleTimeout time.Duration
	// WriteTimeout bounds one write to a player; a player that cannot take
	// data for this long is disconnected. Default 10 s.
	WriteTimeout time.Duration
	// TLS marks the server that runs on the RTMPS (TLS) listener: its
	// players, bytes, slow-viewer disconnects, connection errors and
	// publishes are labelled observe.ProtoRTMPS instead of ProtoRTMP.
	TLS bool
	// Sessions, when set, is told once when a player starts playing,
	// with the channel, the protocol (observe.ProtoRTMP, or ProtoRTMPS
	// with TLS), the "vid" query parameter of
	// the play URL, the client's IP address and an empty User-Agent; the
	// func it returns is called once when the player leaves.
	Sessions ViewerSessions
	// OpusToAAC is the ffmpeg binary that re-encodes an Opus publish's
	// audio to AAC once per stream, so that FLV/RTMP players hear it
	// (internal/transcode); "" or "off" leaves them with video only.
	OpusToAAC string
}

// Server accepts RTMP connections.
type Server struct {
	hub     *hub.Hub
	auth    Authenticator
	limiter Limiter
	metrics *observe.Metrics
	log     *slog.Logger
	opts    Options
	proto   string // metric and session label: observe.ProtoRTMP or ProtoRTMPS

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// New returns a server; call Serve with a listener.
func New(h *hub.Hub, auth Authenticator, limiter Limiter, m *observe.Metrics, log *slog.Logger, opts Options) *Server {
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 10 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	proto := observe.ProtoRTMP
	if opts.TLS {
		proto = observe.ProtoRTMPS
	}
	return &Server{
		hub: h, auth: auth, limiter: limiter, metrics: m,
		log:   log.With("component", proto),
		opts:  opts,
		proto: proto,
		conns: map[net.Conn]struct{}{},
	}
}

// Serve accepts connections on ln until ctx ends, then closes ln and every
// connection and returns after all connection goroutines have exited.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var tempDelay time.Duration
	var err error
	for {
		var c net.Conn
		c, err = ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				err = nil
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				time.Sleep(tempDelay)
				continue
			}
			err = fmt.Errorf("rtmp accept: %w", err)
			break
		}
		tempDelay = 0
		s.track(c, true)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.track(c, false)
			defer c.Close()
			s.handle(ctx, c)
		}()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) track(c net.Conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
}

// parsePath splits "/live/X" (from the tcUrl plus stream name) into X.
// Anything else, including extra path segments, is refused.
func parsePath(path string) (string, error) {
	p := strings.TrimPrefix(path, "/")
	app, name, ok := strings.Cut(p, "/")
	if !ok || app != "live" || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("unsupported RTMP path %q: use /live/<key> to publish and /live/<channel> to play", truncate(path, 80))
	}
	return name, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func remoteIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}
