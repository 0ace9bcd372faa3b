// Package srt is the SRT listener: encoders publish to it
// (srt://HOST:9000?streamid=publish:KEY) and players read from it
// (srt://HOST:9000?streamid=read:NAME). Both directions share one UDP
// socket, so both live here.
//
// The SRT transport (handshake, retransmission, encryption) is
// github.com/datarhei/gosrt; the payload is MPEG-TS, demuxed and muxed with
// github.com/bluenviron/mediacommon's mpegts package. Published media becomes
// the same *media.Frame values RTMP ingest produces, so every output plays an
// SRT-published stream, and an SRT reader plays any stream.
//
// Playback muxes once per stream: the first reader of a stream starts a
// feed that muxes its frames into MPEG-TS and keeps the packets in a ring
// shared by every reader of the stream (see feed.go).
//
// Every decision that needs only the handshake (streamid syntax, passphrase,
// the per-address failure limiter, the stream key, a busy channel, an unknown
// channel) is made before the connection is accepted: a refused caller gets
// an SRT rejection code and costs no per-stream state.
package srt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/rtmp"
)

// ProtoSRT is the protocol label of SRT viewers and publishers in metrics,
// viewer sessions, per-channel viewer counts and hub.PublishInfo.
const ProtoSRT = observe.ProtoSRT

// ErrUnknownKey is what an Authenticator returns (possibly wrapped) for a
// key that belongs to no channel. It is the same value as
// rtmp.ErrUnknownKey, so one adapter serves both listeners.
var ErrUnknownKey = rtmp.ErrUnknownKey

// Authenticator resolves a stream key to the channel it publishes. It has
// the shape of rtmp.Authenticator.
type Authenticator interface {
	// Authenticate returns the channel name for key, and a function that
	// reports whether that key is still valid (polled to end publishes made
	// with a rotated key). An unknown key is ErrUnknownKey.
	Authenticate(ctx context.Context, key string) (channel string, stillValid func() bool, err error)
}

// Limiter throttles failed publish attempts per remote IP
// (channel.FailureLimiter; share the RTMP listener's instance).
type Limiter interface {
	Allow(ip string) bool
	Fail(ip string)
}

// ViewerSessions is told when viewer sessions start and end
// (stats.Service implements it).
type ViewerSessions interface {
	ViewerStarted(channel, protocol, vid, remote, userAgent string) (end func())
}

// Options configure the server. Zero values take the documented defaults.
type Options struct {
	// Latency is the server's SRT latency (TSBPD delay) in both directions.
	// Per SRT rules each direction uses the larger of this and what the
	// caller asks for. Default 200 ms.
	Latency time.Duration
	// Passphrase, when set, is required of every caller (AES encryption,
	// 10 to 80 characters); when empty, encrypted callers are refused.
	Passphrase string
	// IdleTimeout is how long a publisher may send no media before it is
	// dropped. Default 10 s.
	IdleTimeout time.Duration
	// Sessions, when set, is told once when a reader starts playing, with
	// the channel, ProtoSRT, an empty vid, the client's IP address and an
	// empty User-Agent; the func it returns is called when the reader leaves.
	Sessions ViewerSessions
	// OpusToAAC is the ffmpeg binary that re-encodes an Opus publish's
	// audio to AAC once per stream, so that FLV/RTMP players hear it
	// (internal/transcode); "" or "off" leaves them with video only.
	OpusToAAC string
}

// Server accepts SRT callers.
type Server struct {
	hub     *hub.Hub
	auth    Authenticator
	limiter Limiter
	metrics *observe.Metrics
	log     *slog.Logger
	opts    Options

	mu sync.Mutex
	ln gosrt.Listener // guarded by mu; set by Listen

	wg sync.WaitGroup // connection and feed goroutines

	// feeds are the shared MPEG-TS feeds of streams with SRT readers.
	feedMu       sync.Mutex
	feeds        map[*hub.Stream]*tsFeed // guarded by feedMu
	feedsStarted atomic.Uint64
}

// New returns a server; call Listen, then Serve.
func New(h *hub.Hub, auth Authenticator, limiter Limiter, m *observe.Metrics, log *slog.Logger, opts Options) *Server {
	if opts.Latency <= 0 {
		opts.Latency = 200 * time.Millisecond
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 10 * time.Second
	}
	return &Server{
		hub: h, auth: auth, limiter: limiter, metrics: m,
		log:   log.With("component", "srt"),
		opts:  opts,
		feeds: map[*hub.Stream]*tsFeed{},
	}
}

// Listen opens the UDP socket on addr (host:port; port 0 picks a free one).
func (s *Server) Listen(addr string) error {
	cfg := gosrt.DefaultConfig()
	cfg.Latency = s.opts.Latency
	// gosrt's own idle timeout ends a connection whose peer sends nothing
	// at all, not even keep-alives; media silence is IdleTimeout's job.
	cfg.PeerIdleTimeout = max(5*time.Second, min(s.opts.IdleTimeout, 30*time.Second))
	ln, err := gosrt.Listen("srt", addr, cfg)
	if err != nil {
		return fmt.Errorf("srt listen %s: %w", addr, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		ln.Close()
		return errors.New("srt: already listening")
	}
	s.ln = ln
	return nil
}

// Addr returns the UDP address listened on, or nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts callers until ctx ends, then closes the socket and every
// connection (publishers and readers get an SRT shutdown) and returns after
// all connection goroutines have exited.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("srt: Serve called before Listen")
	}
	stop := context.AfterFunc(ctx, ln.Close)
	defer stop()
	var err error
	for {
		req, aerr := ln.Accept2()
		if aerr != nil {
			if ctx.Err() == nil && !errors.Is(aerr, gosrt.ErrListenerClosed) {
				err = fmt.Errorf("srt accept: %w", aerr)
			}
			break
		}
		s.screen(ctx, req)
	}
	ln.Close()
	s.wg.Wait()
	return err
}

// screen makes the checks that need nothing but the handshake, then hands
// the request to its own goroutine for the stream key and the hub.
func (s *Server) screen(ctx context.Context, req gosrt.ConnRequest) {
	remote := req.RemoteAddr().String()
	m, res, err := parseStreamID(req.StreamId())
	if err != nil {
		s.metrics.ConnErrors.WithLabelValues(ProtoSRT).Inc()
		s.log.Info("srt caller refused", "remote", remote, "err", err)
		reject(req, gosrt.REJX_BAD_REQUEST)
		return
	}
	switch {
	case s.opts.Passphrase == "" && req.IsEncrypted():
		s.log.Info("srt caller refused: encrypted, but no passphrase is configured", "remote", remote)
		reject(req, gosrt.REJ_UNSECURE)
		return
	case s.opts.Passphrase != "" && !req.IsEncrypted():
		s.log.Info("srt caller refused: no passphrase given", "remote", remote)
		reject(req, gosrt.REJ_UNSECURE)
		return
	case s.opts.Passphrase != "":
		if err := req.SetPassphrase(s.opts.Passphrase); err != nil {
			s.log.Info("srt caller refused: wrong passphrase", "remote", remote)
			reject(req, gosrt.REJ_BADSECRET)
			return
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		log := s.log.With("remote", remote, "mode", m.String())
		if m == modePublish {
			s.publish(ctx, req, res, log)
		} else {
			s.play(ctx, req, res, log)
		}
	}()
}

// closeOn closes c when ctx ends or extra is closed; the returned stop
// function waits for the watcher to exit.
func closeOn(ctx context.Context, c gosrt.Conn, extra <-chan struct{}) (stop func()) {
	finished := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			c.Close()
		case <-extra:
			c.Close()
		case <-finished:
		}
	}()
	return func() {
		close(finished)
		wg.Wait()
	}
}

func remoteIP(a net.Addr) string {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// reject refuses a caller with an SRT rejection reason. libsrt puts a
// reason on the wire as 1000 + its SRT_REJ*/SRT_REJX code (URQ_FAILURE_TYPES
// + reason); gosrt's REJ_* constants already include the 1000, its REJX_*
// ones (1400 and up) do not, so they are shifted here. Without that, libsrt
// callers (ffmpeg, OBS) report "Unknown or erroneous" instead of the reason.
func reject(req gosrt.ConnRequest, code gosrt.RejectionReason) {
	req.Reject(wireReason(code))
}

func wireReason(code gosrt.RejectionReason) gosrt.RejectionReason {
	if code >= gosrt.REJX_BAD_REQUEST {
		return 1000 + code
	}
	return code
}
