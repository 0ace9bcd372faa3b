package llhls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
)

// session is the LL-HLS output of one live stream: a hub reader feeding a
// gohlslib muxer (an instance), replaced by a new instance whenever the codec
// parameters change. Its goroutine (run) is owned by Server.Run.
type session struct {
	srv    *Server
	name   string
	stream *hub.Stream
	log    *slog.Logger

	lastReq  atomic.Int64  // nanoseconds since srv.epoch of the last request
	pinned   atomic.Bool   // started by Warm: runs until the stream ends, requests or not
	quit     chan struct{} // closed by stop: asks run to end
	quitOnce sync.Once
	done     chan struct{} // closed by finish once nothing is served any more

	// mu guards the fields below. Waiters read them and then wait on changed,
	// which is closed and replaced on every change.
	mu         sync.Mutex
	cur        *instance // nil before the first playable frame
	unplayable string    // why cur is nil although frames arrive ("" otherwise)
	changed    chan struct{}
	finished   bool
	// parked are the waits of parked requests (awaitAsync): no goroutine
	// waits for them; every change checks them instead.
	parked map[*parkedWait]struct{}
}

// parkedWait is the wait of one parked request.
type parkedWait struct {
	ok    func(*instance, edge) bool
	wake  func(error)
	timer *time.Timer
}

func newSession(s *Server, name string, stream *hub.Stream) *session {
	c := &session{
		srv:     s,
		name:    name,
		stream:  stream,
		log:     s.log.With("channel", name),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	c.touch()
	return c
}

func (c *session) touch() { c.lastReq.Store(int64(time.Since(c.srv.epoch))) }

func (c *session) idleFor() time.Duration {
	return time.Since(c.srv.epoch) - time.Duration(c.lastReq.Load())
}

func (c *session) stop() { c.quitOnce.Do(func() { close(c.quit) }) }

func (c *session) ended() bool {
	select {
	case <-c.done:
		return true
	case <-c.quit:
		return true
	default:
		return false
	}
}

// finish marks the session as over and wakes every waiter.
func (c *session) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	c.finished = true
	close(c.done)
	c.broadcastLocked()
}

func (c *session) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
	for pw := range c.parked {
		if err, done := c.outcomeLocked(pw.ok); done {
			delete(c.parked, pw)
			pw.timer.Stop()
			c.srv.resume(func() { pw.wake(err) })
		}
	}
}

// outcomeLocked is what a wait for ok gets now, if it is over: nil once ok
// holds, or why it never will (see await).
func (c *session) outcomeLocked(ok func(*instance, edge) bool) (err error, done bool) {
	switch {
	case c.finished:
		return errSessionEnded, true
	case c.cur != nil && ok(c.cur, c.cur.edge):
		return nil, true
	case c.cur == nil && c.unplayable != "":
		return unplayableError(c.unplayable), true
	}
	return nil, false
}

// awaitAsync is await without a waiting goroutine: wake is called once, in
// a goroutine of its own, with await's error (nil once ok holds), at the
// latest after d.
func (c *session) awaitAsync(d time.Duration, ok func(*instance, edge) bool, wake func(error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, done := c.outcomeLocked(ok); done {
		c.srv.resume(func() { wake(err) })
		return
	}
	pw := &parkedWait{ok: ok, wake: wake}
	if c.parked == nil {
		c.parked = map[*parkedWait]struct{}{}
	}
	c.parked[pw] = struct{}{}
	// The timer's func takes mu, which is held until pw.timer is set.
	pw.timer = time.AfterFunc(max(d, 0), func() {
		c.mu.Lock()
		_, still := c.parked[pw]
		delete(c.parked, pw)
		c.mu.Unlock()
		if still {
			c.srv.resume(func() { wake(errWaitTimeout) })
		}
	})
}

// current returns the serving instance and its edge (nil before one exists).
func (c *session) current() (*instance, edge) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return nil, edge{}
	}
	return c.cur, c.cur.edge
}

var errWaitTimeout = errors.New("wait timed out")

// unplayableError is returned to waiters of a stream none of whose tracks
// LL-HLS can carry.
type unplayableError string

func (e unplayableError) Error() string { return string(e) }

func isReady(_ *instance, e edge) bool { return e.ready }

// await blocks until ok holds for the current instance and its edge, for at
// most d, and returns them. It fails with errSessionEnded, an
// unplayableError, errWaitTimeout or the context's error.
func (c *session) await(ctx context.Context, d time.Duration, ok func(*instance, edge) bool) (*instance, edge, error) {
	var timeout <-chan time.Time
	for {
		c.mu.Lock()
		in, why, ch, fin := c.cur, c.unplayable, c.changed, c.finished
		var e edge
		if in != nil {
			e = in.edge
		}
		c.mu.Unlock()
		switch {
		case fin:
			return nil, edge{}, errSessionEnded
		case in != nil && ok(in, e):
			return in, e, nil
		case in == nil && why != "":
			return nil, edge{}, unplayableError(why)
		}
		if timeout == nil {
			if d <= 0 {
				return nil, edge{}, errWaitTimeout
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, edge{}, ctx.Err()
		case <-timeout:
			return nil, edge{}, errWaitTimeout
		}
	}
}

// run feeds the stream into muxers until the stream ends, nobody asked for
// it for idleTimeout, stop is called or ctx ends.
func (c *session) run(ctx context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup // the watchdog and the instances' watchers
	rd := c.stream.SubscribeUnbatched()
	defer func() {
		c.stop() // new requests start a fresh session from now on
		rd.Close()
		cancel(nil)
		c.switchTo(nil, "")
		wg.Wait()
		c.srv.forget(c)
		if c.stream.Ended() {
			c.srv.views.drop(c.name)
		}
		c.finish()
	}()
	wg.Go(func() { c.watchdog(ctx, cancel) })
	c.log.Info("ll-hls muxing started")

	var tracks *media.Tracks // tracks of the last frame
	for {
		frames, err := rd.Next(ctx)
		if err != nil {
			switch {
			case errors.Is(err, hub.ErrEnded):
				c.log.Info("ll-hls muxing stopped", "reason", "stream ended")
			case ctx.Err() != nil:
				c.log.Info("ll-hls muxing stopped", "reason", context.Cause(ctx))
			default:
				c.log.Warn("ll-hls muxing stopped", "reason", err)
			}
			return
		}
		for _, f := range frames {
			if f.Tracks == nil || f.FLVOnly { // FLV/RTMP's rendition of the audio
				continue
			}
			if f.Tracks != tracks {
				tracks = f.Tracks
				c.tracksChanged(tracks, &wg)
			}
			if in := c.feeder(); in != nil {
				in.write(f)
			}
		}
	}
}

var (
	errIdle     = errors.New("no requests for the idle timeout")
	errReplaced = errors.New("stream replaced")
)

// watchdog ends the session when nobody requested anything for the idle
// timeout, or when stop was called; it also prunes the viewer table.
func (c *session) watchdog(ctx context.Context, cancel context.CancelCauseFunc) {
	tick := min(c.srv.idleTimeout/4, time.Second)
	t := time.NewTicker(max(tick, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.quit:
			cancel(errReplaced)
			return
		case <-t.C:
			if !c.pinned.Load() && c.idleFor() > c.srv.idleTimeout {
				c.stop()
				cancel(errIdle)
				return
			}
			c.srv.views.count(c.name, time.Now()) // prunes
		}
	}
}

// feeder returns the instance frames go to. Only run's goroutine changes
// c.cur, so reading it here without waiting is fine.
func (c *session) feeder() *instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// tracksChanged restarts the muxer when the codec parameters really changed
// (a new init segment is needed; clients recover by reloading the
// playlist). A publisher that reconnected with identical parameters keeps the
// muxer, so viewers do not notice.
func (c *session) tracksChanged(t *media.Tracks, wg *sync.WaitGroup) {
	if in := c.feeder(); in != nil && sameParams(in.params, t) {
		return
	}
	mt, skipped := buildTracks(t)
	for _, err := range skipped {
		c.log.Warn("ll-hls track skipped", "err", err)
	}
	if len(mt.list()) == 0 {
		c.switchTo(nil, "channel has no track playable over LL-HLS")
		return
	}
	in, err := c.newInstance(t, mt)
	if err != nil {
		c.log.Error("ll-hls muxer start", "err", err)
		c.switchTo(nil, "LL-HLS muxer failed to start")
		return
	}
	c.switchTo(in, "")
	wg.Go(func() { in.watch(c) })
	c.log.Info("ll-hls muxer (re)started", "video", codecName(mt.video, mt.vcodec), "audio", codecName(mt.audio, mt.acodec))
}

// switchTo makes in (possibly nil) the serving instance and closes the
// previous one, which wakes everything blocked inside it.
func (c *session) switchTo(in *instance, unplayable string) {
	c.mu.Lock()
	old := c.cur
	c.cur, c.unplayable = in, unplayable
	c.broadcastLocked()
	c.mu.Unlock()
	if old != nil {
		old.close()
	}
}

// setEdge publishes a new live edge of in.
func (c *session) setEdge(in *instance, e edge) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != in {
		return
	}
	in.edge = e
	c.broadcastLocked()
}

// instance is one gohlslib muxer with fixed codec parameters.
type instance struct {
	m       *gohlslib.Muxer
	params  *media.Tracks
	tracks  *muxTracks
	errs    *errorLog // failed writes
	notices *errorLog // gohlslib's OnEncodeError

	// Feeding state, used by session.run's goroutine only.
	based bool
	base  time.Duration // DTS mapped to zero
	wall  time.Time     // wall-clock time of base

	edge edge // guarded by session.mu

	// playlists caches rendered media playlists by file name, so that the
	// many viewers released by one new part share one rendering instead of
	// each asking gohlslib to marshal the same playlist.
	plMu      sync.Mutex
	playlists map[string]cachedPlaylist

	// partCache shares complete parts among viewers (see parts.go).
	partCache partCache
}

// cachedPlaylist is a media playlist rendered while the part being built
// was partID (or later: a rendering is never older than its key).
type cachedPlaylist struct {
	partID int64
	header http.Header
	body   []byte
}

// servePlaylist answers a plain GET of a media playlist (no query) for a
// viewer that has seen the edge at partID, from the cache when it is at
// least that fresh. It reports whether it served a playlist.
func (in *instance) servePlaylist(w http.ResponseWriter, file string, partID int64) bool {
	in.plMu.Lock()
	c, ok := in.playlists[file]
	in.plMu.Unlock()
	if !ok || c.partID < partID {
		// Render outside the lock: gohlslib answers at once here (the
		// caller waited for the edge), and a concurrent render of the same
		// state is harmless.
		r, err := http.NewRequest(http.MethodGet, "/"+file, nil)
		if err != nil {
			return false
		}
		mw := &memWriter{h: http.Header{}}
		in.m.Handle(mw, r)
		if (mw.code != 0 && mw.code != http.StatusOK) || mw.buf.Len() == 0 {
			return false
		}
		c = cachedPlaylist{partID: partID, header: mw.h, body: mw.buf.Bytes()}
		in.plMu.Lock()
		if in.playlists == nil {
			in.playlists = map[string]cachedPlaylist{}
		}
		if old, ok := in.playlists[file]; !ok || old.partID <= partID {
			in.playlists[file] = c
		}
		in.plMu.Unlock()
	}
	h := w.Header()
	for k, v := range c.header {
		h[k] = v
	}
	h.Set("Content-Length", itoa(int64(len(c.body))))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(c.body)
	return true
}

func (c *session) newInstance(params *media.Tracks, mt *muxTracks) (*instance, error) {
	in := &instance{
		params:  params,
		tracks:  mt,
		errs:    &errorLog{log: c.log, level: slog.LevelWarn, msg: "ll-hls muxer errors"},
		notices: &errorLog{log: c.log, level: slog.LevelDebug, msg: "ll-hls muxer notices"},
	}
	in.m = &gohlslib.Muxer{
		Tracks:             mt.list(),
		Variant:            gohlslib.MuxerVariantLowLatency,
		SegmentCount:       c.srv.opts.SegmentCount,
		SegmentMinDuration: c.srv.opts.SegmentDuration,
		PartMinDuration:    c.srv.opts.PartDuration,
		// gohlslib reports only duration changes here (an iOS strictness
		// warning that 30 fps input with 200 ms parts triggers routinely).
		OnEncodeError: in.notices.add,
	}
	if err := in.m.Start(); err != nil {
		return nil, fmt.Errorf("start gohlslib muxer: %w", err)
	}
	return in, nil
}

func (in *instance) write(f *media.Frame) {
	if !in.based {
		in.based, in.base, in.wall = true, f.DTS, f.Received
		if in.wall.IsZero() {
			in.wall = time.Now()
		}
	}
	if err := in.tracks.writeFrame(in.m, f, f.PTS-in.base, in.wall.Add(f.DTS-in.base)); err != nil {
		in.errs.add(err)
	}
}

func (in *instance) close() {
	in.m.Close()
	in.errs.flush()
	in.notices.flush()
}

// watch follows the live edge of in by asking gohlslib for the leading media
// playlist, each time blocking until the next part exists, and publishes it
// with setEdge. It returns once the muxer is closed (gohlslib then answers
// 404). This one goroutine per muxer is the only caller that ever waits
// inside gohlslib.
func (in *instance) watch(c *session) {
	body, code := in.get("index.m3u8", "")
	if code != http.StatusOK {
		return
	}
	var mv playlist.Multivariant
	if err := mv.Unmarshal(body); err != nil || len(mv.Variants) == 0 {
		c.log.Error("ll-hls: unreadable multivariant playlist from gohlslib", "err", err)
		return
	}
	leading := stripQuery(mv.Variants[0].URI)
	query := ""
	for {
		body, code = in.get(leading, query)
		if code != http.StatusOK {
			return
		}
		e, err := parseEdge(body)
		if err != nil {
			c.log.Error("ll-hls: unreadable media playlist from gohlslib", "err", err)
			return
		}
		c.setEdge(in, e)
		query = paramMSN + "=" + itoa(e.nextMSN) + "&" + paramPart + "=" + itoa(int64(e.partsInNext))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// get performs an in-process request against the muxer.
func (in *instance) get(file, rawQuery string) ([]byte, int) {
	r, err := http.NewRequest(http.MethodGet, "/"+file, nil)
	if err != nil {
		return nil, http.StatusInternalServerError
	}
	r.URL.RawQuery = rawQuery
	w := &memWriter{h: http.Header{}}
	in.m.Handle(w, r)
	if w.code == 0 {
		if w.buf.Len() == 0 {
			return nil, http.StatusNotFound
		}
		w.code = http.StatusOK
	}
	return w.buf.Bytes(), w.code
}

// memWriter is an in-memory http.ResponseWriter.
type memWriter struct {
	h    http.Header
	code int
	buf  bytes.Buffer
}

func (w *memWriter) Header() http.Header { return w.h }
func (w *memWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.buf.Write(p)
}

// errorLog aggregates muxer errors into at most one line per interval
// (never one per packet).
type errorLog struct {
	log   *slog.Logger
	level slog.Level
	msg   string

	mu   sync.Mutex
	n    int
	last error
	next time.Time
}

const errorLogInterval = 10 * time.Second

func (e *errorLog) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	e.last = err
	if now := time.Now(); !now.Before(e.next) {
		e.emitLocked()
		e.next = now.Add(errorLogInterval)
	}
}

func (e *errorLog) flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n > 0 {
		e.emitLocked()
	}
}

func (e *errorLog) emitLocked() {
	msg := e.last.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	e.log.Log(context.Background(), e.level, e.msg, "count", e.n, "last", strings.TrimSpace(msg))
	e.n = 0
}

func codecName(t *gohlslib.Track, c media.Codec) string {
	if t == nil {
		return "none"
	}
	return c.String()
}
