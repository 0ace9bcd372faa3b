package srt

import (
	"context"
	"errors"
	"log/slog"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/huabian-live/huabian/internal/hub"
)

// tsChunk is the payload of one SRT data packet we send: 7 MPEG-TS packets,
// the size every SRT receiver (libsrt's live mode included) accepts.
const tsChunk = 7 * 188

func (s *Server) play(ctx context.Context, req gosrt.ConnRequest, name string, log *slog.Logger) {
	log = log.With("channel", name)
	stream := s.hub.Stream(name, false)
	if stream == nil {
		log.Info("read refused: channel not live")
		reject(req, gosrt.REJX_NOTFOUND)
		return
	}
	// Join the stream's feed before accepting, so the reader is sure to
	// get the GOP cached at that moment.
	reader := s.joinFeed(ctx, stream, log)
	defer s.leaveFeed(reader)
	conn, err := req.Accept()
	if err != nil {
		log.Info("read not accepted", "err", err)
		return
	}
	defer conn.Close()
	stop := closeOn(ctx, conn, nil)
	defer stop()
	defer s.metrics.ViewerStarted(ProtoSRT)()
	defer stream.AddViewer(ProtoSRT)()
	if s.opts.Sessions != nil {
		defer s.opts.Sessions.ViewerStarted(name, ProtoSRT, "", remoteIP(conn.RemoteAddr()), "")()
	}
	log.Debug("srt read started")

	out := s.metrics.BytesOut.WithLabelValues(ProtoSRT)
	send := func(ctx context.Context, b []byte) error { return writeChunk(ctx, conn, b) }
	err = reader.serve(ctx, send, func(n int) { out.Add(float64(n)) })
	switch {
	case errors.Is(err, errTooSlow):
		s.metrics.SlowViewers.WithLabelValues(ProtoSRT).Inc()
		log.Info("srt reader disconnected: too slow", "skipped_entries", reader.skipped)
	case errors.Is(err, errFeedEnded):
		log.Debug("srt read ended with the stream")
	default:
		log.Debug("srt reader left", "err", err)
	}
}

// joinFeed attaches a reader to stream's feed, starting the feed if this
// is the stream's first SRT reader.
func (s *Server) joinFeed(ctx context.Context, stream *hub.Stream, log *slog.Logger) *feedReader {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	f := s.feeds[stream]
	// A feed that stopped on its own (a mux error) while the stream lives
	// on serves only its draining readers; newcomers get a fresh one.
	if f == nil || f.ended.Load() {
		f = newFeed(stream, feedOptions{}, log)
		var fctx context.Context
		fctx, f.cancel = context.WithCancel(ctx)
		s.feeds[stream] = f
		s.feedsStarted.Add(1)
		s.wg.Add(1) // a connection goroutine is running: the count is not 0
		go func() {
			defer s.wg.Done()
			f.run(fctx)
		}()
	}
	f.refs++
	return f.attach()
}

// leaveFeed detaches r; the last reader of a feed stops it (its goroutine
// closes its hub reader and exits).
func (s *Server) leaveFeed(r *feedReader) {
	f := r.f
	f.detach(r)
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	f.refs--
	if f.refs == 0 {
		f.cancel()
		if s.feeds[f.stream] == f {
			delete(s.feeds, f.stream)
		}
	}
}

// writeRetry bounds how long writeChunk keeps trying.
const writeRetry = time.Second

// writeChunk hands one packet's payload to gosrt. Its Write never blocks:
// it fails both when the connection is closed and when the 1024-packet send
// queue is momentarily full (a burst such as the GOP a new reader starts
// with), so a failed write is retried for up to writeRetry before the
// reader is given up on.
func writeChunk(ctx context.Context, conn gosrt.Conn, b []byte) error {
	var deadline time.Time
	for {
		_, err := conn.Write(b)
		if err == nil {
			return nil
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(writeRetry)
		} else if now.After(deadline) {
			return err
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
