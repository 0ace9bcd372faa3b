package rtmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/play"
	"github.com/huabian-live/huabian/internal/transcode"
)

// peekConn remembers the first byte the client sent: 0x03 is plain RTMP,
// 0x06 and 0x08 are RTMPE (encrypted), which playback does not support
// because our shared chunk bytes cannot be encrypted per connection.
//
// It also enforces a byte budget for the stage before publish/play starts
// (handshake and commands), so a client cannot make us parse megabytes of
// chunk headers (e.g. after SetChunkSize 1) before it is authenticated.
type peekConn struct {
	net.Conn
	first    byte
	gotFirst bool
	read     int64
	budget   int64         // 0: unlimited
	sniff    *chunkSniffer // nil: not sniffing (players, after play starts)
}

// errBudget is returned when the pre-publish byte budget is exhausted.
var errBudget = errors.New("too much data before publish/play")

// setupBudget bounds the bytes a client may send before publish or play.
const setupBudget = 256 << 10

func (p *peekConn) Read(b []byte) (int, error) {
	if p.budget > 0 && p.read >= p.budget {
		return 0, errBudget
	}
	n, err := p.Conn.Read(b)
	p.read += int64(n)
	if n > 0 && !p.gotFirst {
		p.first, p.gotFirst = b[0], true
	}
	if p.sniff != nil && n > 0 {
		if serr := p.sniff.feed(b[:n]); serr != nil {
			return 0, serr
		}
	}
	return n, err
}

// minChunkSize is the smallest SetChunkSize we accept from a publisher. The
// specification allows 1, but no encoder uses less than 128, and tiny chunks
// multiply the parsing work and memory per message byte.
const minChunkSize = 64

// guardedConn screens the messages gortmplib decodes for a publisher before
// its Reader sees them.
type guardedConn struct {
	*gortmplib.ServerConn
	// probeLimit, while non-zero, bounds the bytes received: gortmplib's
	// track probe keeps every message until it has seen 2 s of media time.
	probeLimit uint64
}

// probeBytes bounds what a publisher may send while its tracks are probed
// (2 s of media: ~1 MiB at 4 Mbit/s; 16 MiB allows 60 Mbit/s).
const probeBytes = 16 << 20

func (g *guardedConn) Read() (message.Message, error) {
	msg, err := g.ServerConn.Read()
	if err != nil {
		return nil, err
	}
	if m, ok := msg.(*message.SetChunkSize); ok && (m.Value < minChunkSize || m.Value > maxChunkSize) {
		return nil, fmt.Errorf("refusing SetChunkSize %d (allowed %d..%d)", m.Value, minChunkSize, maxChunkSize)
	}
	if g.probeLimit > 0 && g.BytesReceived() > g.probeLimit {
		return nil, fmt.Errorf("more than %d MiB sent before the tracks were known", g.probeLimit>>20)
	}
	return msg, nil
}

func (s *Server) handle(ctx context.Context, c net.Conn) {
	log := s.log.With("conn", c.RemoteAddr().String())
	pc := &peekConn{Conn: c, budget: setupBudget, sniff: newChunkSniffer()}
	_ = c.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))

	sc := &gortmplib.ServerConn{RW: pc}
	if err := sc.Initialize(); err != nil {
		s.protocolError(log, "handshake", err)
		return
	}
	if err := sc.AcceptConn(); err != nil {
		s.protocolError(log, "connect", err)
		return
	}
	name, err := parsePath(sc.URL.Path)
	if err != nil {
		s.protocolError(log, "path", err)
		_ = refuse(sc, sc.Publish, "", err.Error()) // BadName or StreamNotFound by direction
		return
	}
	pc.budget = 0
	if !sc.Publish {
		// gortmplib parses nothing a player sends once play has started.
		pc.sniff = nil
	}
	if sc.Publish {
		s.publish(ctx, c, sc, name, log)
	} else {
		s.play(ctx, c, pc, sc, name, log)
	}
}

func (s *Server) protocolError(log *slog.Logger, stage string, err error) {
	s.metrics.ConnErrors.WithLabelValues(s.proto).Inc()
	if err == io.EOF || errors.Is(err, net.ErrClosed) { //nolint:errorlint // a bare EOF is a hang-up; wrapped ones are parse errors
		log.Debug("rtmp connection closed", "stage", stage)
		return
	}
	log.Info("rtmp connection closed on error", "stage", stage, "err", clientError(err))
}

// keyLike matches stream keys inside decoded commands that gortmplib echoes
// in its error messages.
var keyLike = regexp.MustCompile(`sk_[a-z0-9]+`)

// clientError renders an error caused by client input for the log: at most
// 200 characters (gortmplib prints whole decoded commands) and with anything
// that looks like a stream key redacted.
func clientError(err error) string {
	return keyLike.ReplaceAllString(truncate(err.Error(), 200), "sk_…")
}

// refuse sends an onStatus error for the publish/play command.
func refuse(sc *gortmplib.ServerConn, publish bool, code, description string) error {
	if code == "" {
		code = "NetStream.Play.StreamNotFound"
		if publish {
			code = "NetStream.Publish.BadName"
		}
	}
	return sc.Write(&message.CommandAMF0{
		ChunkStreamID:   5,
		MessageStreamID: 0x1000000,
		Name:            "onStatus",
		Arguments: []any{
			nil,
			amf0.Object{
				{Key: "level", Value: "error"},
				{Key: "code", Value: code},
				{Key: "description", Value: description},
			},
		},
	})
}

// closeOn closes c when ctx ends or extra is closed; the returned stop
// function waits for the watcher to exit.
func closeOn(ctx context.Context, c net.Conn, extra <-chan struct{}) (stop func()) {
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

func (s *Server) publish(ctx context.Context, c net.Conn, sc *gortmplib.ServerConn, key string, log *slog.Logger) {
	ip := remoteIP(c)
	if !s.limiter.Allow(ip) {
		s.metrics.RefusedPublishes.WithLabelValues("rate_limited").Inc()
		log.Info("publish refused: too many failed attempts from this address")
		_ = refuse(sc, true, "NetStream.Publish.Unauthorized", "too many failed attempts, try again later")
		return
	}
	channel, stillValid, err := s.auth.Authenticate(ctx, key)
	if errors.Is(err, ErrUnknownKey) {
		s.limiter.Fail(ip)
		s.metrics.RefusedPublishes.WithLabelValues("bad_key").Inc()
		log.Info("publish refused: stream key not recognized") // never log the key
		_ = sc.RejectAction()
		return
	}
	if err != nil {
		s.metrics.RefusedPublishes.WithLabelValues("unavailable").Inc()
		log.Error("publish refused: cannot check the stream key", "err", err)
		_ = refuse(sc, true, "NetStream.Publish.Failed", "server error, try again")
		return
	}
	log = log.With("channel", channel)
	pub, err := s.hub.Publish(channel, hub.PublishInfo{Protocol: s.proto, Remote: c.RemoteAddr().String(), KeyCheck: stillValid})
	if err != nil {
		reason := "busy"
		if !errors.Is(err, hub.ErrBusy) {
			reason = "unavailable"
		}
		s.metrics.RefusedPublishes.WithLabelValues(reason).Inc()
		log.Info("publish refused", "err", err)
		_ = refuse(sc, true, "NetStream.Publish.BadName", err.Error())
		return
	}
	defer pub.Close()
	stop := closeOn(ctx, c, pub.Done())
	defer stop()
	s.metrics.Publishes.Inc()
	log.Info("publish started")

	// An Opus publish (Enhanced RTMP) gets an AAC rendition for FLV/RTMP
	// players. Closed before the publisher (defers run in reverse).
	rend := transcode.NewAACRendition(ctx, pub, s.opts.OpusToAAC, log)
	defer rend.Close()
	in := &ingest{out: rend, metrics: s.metrics, log: log}
	_ = c.SetDeadline(time.Now().Add(s.opts.IdleTimeout))
	if err := sc.AcceptAction(); err != nil {
		s.protocolError(log, "publish", err)
		return
	}
	guard := &guardedConn{ServerConn: sc, probeLimit: sc.BytesReceived() + probeBytes}
	r := &gortmplib.Reader{Conn: guard}
	err = r.Initialize()
	guard.probeLimit = 0
	if err != nil {
		s.protocolError(log, "tracks", err)
		return
	}
	if err := in.setup(r); err != nil {
		log.Info("publish refused", "err", err)
		_ = refuse(sc, true, "NetStream.Publish.BadName", err.Error())
		return
	}
	_ = c.SetWriteDeadline(time.Time{})
	lastDeadline := time.Time{}
	for {
		// Refresh the idle deadline at most once a second: a publisher
		// silent for IdleTimeout is dropped.
		if now := time.Now(); now.Sub(lastDeadline) > time.Second {
			_ = c.SetReadDeadline(now.Add(s.opts.IdleTimeout))
			lastDeadline = now
		}
		if err := r.Read(); err != nil {
			switch {
			case pub.Err() != nil && !errors.Is(pub.Err(), hub.ErrKicked):
				log.Info("publish ended", "reason", pub.Err())
			case pub.Err() != nil:
				log.Info("publish ended by the server (key rotated, channel removed or taken down)")
			case ctx.Err() != nil:
				log.Info("publish ended: server shutting down")
			case errors.Is(err, io.EOF):
				log.Info("publish ended: publisher disconnected")
			default:
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					log.Info("publish ended: publisher silent", "timeout", s.opts.IdleTimeout)
				} else {
					s.metrics.ConnErrors.WithLabelValues(s.proto).Inc()
					log.Info("publish ended on error", "err", err)
				}
			}
			return
		}
	}
}

func (s *Server) play(ctx context.Context, c net.Conn, pc *peekConn, sc *gortmplib.ServerConn, name string, log *slog.Logger) {
	log = log.With("channel", name)
	stream := s.hub.Stream(name, false)
	if stream == nil {
		_ = refuse(sc, false, "NetStream.Play.StreamNotFound", "channel not live")
		return
	}
	if pc.first != 3 {
		_ = refuse(sc, false, "NetStream.Play.Failed", "encrypted RTMP (RTMPE) playback is not supported; use plain rtmp://")
		return
	}
	// Subscribe before Play.Start goes out, so a player that has seen it
	// is sure to get the GOP cached at that moment.
	reader := stream.Subscribe()
	defer reader.Close()
	if err := sc.AcceptAction(); err != nil {
		s.protocolError(log, "play", err)
		return
	}
	_ = c.SetDeadline(time.Time{})
	left := s.metrics.ViewerStarted(s.proto)
	defer left()
	defer stream.AddViewer(s.proto)()
	if s.opts.Sessions != nil {
		var vid string
		if sc.URL != nil {
			vid = sc.URL.Query().Get("vid")
		}
		defer s.opts.Sessions.ViewerStarted(name, s.proto, vid, remoteIP(c), "")()
	}
	log.Debug("rtmp play started")

	// The player sends little after play (acknowledgements, buffer length);
	// read and discard it so its TCP window never fills, and notice when it
	// hangs up.
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		// A small buffer of our own: io.Copy to io.Discard would pin an
		// 8 KiB pooled buffer per player for the whole session.
		var buf [256]byte
		for {
			if _, err := c.Read(buf[:]); err != nil {
				return
			}
		}
	}()
	// Closing the connection when readCtx ends (server stopping, the
	// player hanging up) unblocks a write stuck on a full socket. A context
	// callback instead of closeOn's watcher goroutine: one goroutine less
	// per player.
	stop := context.AfterFunc(readCtx, func() { c.Close() })
	defer func() {
		c.Close()
		stop()
		wg.Wait()
	}()

	out := s.metrics.BytesOut.WithLabelValues(s.proto)
	var sent *media.Tracks
	var bufs net.Buffers
	for {
		batch, err := reader.Next(readCtx)
		if err != nil {
			if errors.Is(err, hub.ErrTooSlow) {
				s.metrics.SlowViewers.WithLabelValues(s.proto).Inc()
				log.Info("rtmp player disconnected: too slow")
			}
			return
		}
		bufs = bufs[:0]
		for _, f := range batch {
			if f.Tracks != sent {
				// Per-connection, but only a few hundred bytes and only
				// when the codec parameters change.
				bufs = append(bufs, play.RTMPHeaders(nil, f.Tracks, f.DTS))
				sent = f.Tracks
			}
			bufs = append(bufs, f.RTMPChunks...)
		}
		_ = c.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		wb := bufs // WriteTo consumes its receiver
		n, err := wb.WriteTo(c)
		out.Add(float64(n))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.metrics.SlowViewers.WithLabelValues(s.proto).Inc()
				log.Info("rtmp player disconnected: write timed out")
			}
			return
		}
	}
}
