package llhls

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/huabian-live/huabian/internal/httppark"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/observe"
)

// Defaults and limits. Durations that tests shorten live in Server fields.
const (
	defaultSegmentDuration = time.Second
	defaultPartDuration    = 200 * time.Millisecond
	minSegmentCount        = 7 // gohlslib refuses fewer for LL-HLS

	// defaultIdleTimeout closes a muxer nobody requested anything from.
	defaultIdleTimeout = 60 * time.Second
	// defaultReadyWait bounds how long a playlist request waits for the
	// first segment of a fresh muxer (about one GOP after the first request).
	defaultReadyWait = 5 * time.Second
	// viewerWindow is how recently a session must have fetched a playlist
	// to count as a viewer.
	viewerWindow = 10 * time.Second
	// maxViewerKeys caps the remembered sessions per channel.
	maxViewerKeys = 50000
	// defaultMaxWaitingPerIP caps the requests one client address may have
	// held (blocking reload, preload hint, first segment) at once. An hls.js
	// viewer holds up to 4; 256 leaves room for viewers behind one NAT.
	defaultMaxWaitingPerIP = 256
	// maxWaitingLoopback bounds requests held for loopback peers (a local
	// proxy or load generator stands for many viewers).
	maxWaitingLoopback = 16384

	// sessionParam is the viewer-session query parameter added to the media
	// playlist URIs of the multivariant playlist. It is stripped before
	// gohlslib sees the request, so segment and part URLs stay shared and
	// cacheable.
	sessionParam = "hbs"
	sessionIDLen = 16 // hex digits
)

// ViewerSessions is told when viewer sessions start and end
// (stats.Service implements it).
type ViewerSessions interface {
	// ViewerStarted is called once when a viewer session starts; the func
	// it returns is called once when the session ends.
	ViewerStarted(channel, protocol, vid, remote, userAgent string) (end func())
}

// Options tune the LL-HLS server. Zero values take the documented defaults.
type Options struct {
	// SegmentDuration is the minimum segment length; a segment ends at the
	// first keyframe after it, so publishers should send a keyframe every
	// 1–2 s. Default 1 s.
	SegmentDuration time.Duration
	// PartDuration is the minimum part length (PART-TARGET); gohlslib rounds
	// it up to fit the frame durations. Default 200 ms.
	PartDuration time.Duration
	// SegmentCount is the number of segments kept in memory and listed per
	// stream. LL-HLS needs at least 7 (smaller values are raised). Default 7.
	SegmentCount int
	// Sessions, when set, is told once when a viewer session starts (its
	// first playlist request: a session is the hbs parameter, or client
	// address + User-Agent without it), with the channel, observe.ProtoLLHLS,
	// the player's "vid" query parameter, the client's IP address and its
	// User-Agent; the func it returns is called once when the session ends
	// (no playlist fetched for 10 s, the stream ended or the server stopped).
	// Segment and part requests never call it.
	Sessions ViewerSessions
	// Park, when set, takes the connections of requests that must wait (a
	// blocking playlist reload, a preload-hinted part) from net/http until
	// their answer exists, instead of holding a goroutine and net/http's
	// buffers for each; the http.Server must Serve it. Requests it cannot
	// take (HTTP/2, TLS) wait as usual. An answered request's connection
	// goes on serving the viewer's next LL-HLS requests from Run's
	// goroutines, so Run returns only once the listener is closed too
	// (http.Server.Shutdown closes it).
	Park *httppark.Listener
	// Log receives lifecycle lines; nil discards them.
	Log *slog.Logger
}

// StreamSource is what the package needs from the hub: the live stream of a
// channel, or nil. Typically func(n string) *hub.Stream { return h.Stream(n, true) }
// (including the grace window keeps viewers attached across a publisher
// reconnect).
type StreamSource = func(name string) *hub.Stream

// Server serves LL-HLS for every live channel under /live/NAME/. It muxes
// each stream once, on demand, and serves every viewer from that muxer.
type Server struct {
	src  StreamSource
	opts Options
	log  *slog.Logger

	// Timing knobs (tests shorten them).
	idleTimeout        time.Duration
	readyWait          time.Duration
	maxWaitingPerIP    int
	maxWaitingLoopback int

	epoch    time.Time           // origin of session.lastReq (monotonic)
	startc   chan *session       // ServeHTTP -> Run: start this session's goroutine
	stopping chan struct{}       // closed when Run stops accepting sessions
	views    viewerSet           // recent playlist fetchers per channel
	waiting  waitLimiter         // held requests per client address
	requests atomic.Uint64       // every request handled
	bytesOut atomic.Uint64       // response body bytes written
	started  atomic.Bool         // Run was called
	mu       sync.Mutex          // guards sessions
	sessions map[string]*session // by channel name; at most one per channel

	// Goroutines answering parked requests (see resume).
	resumeMu     sync.Mutex
	resumeClosed bool // Run returned: resumes are no longer waited for
	resumes      sync.WaitGroup
}

// New returns a server reading streams from src. Call Run to let it start
// muxers.
func New(src func(name string) *hub.Stream, opts Options) *Server {
	if opts.SegmentDuration <= 0 {
		opts.SegmentDuration = defaultSegmentDuration
	}
	if opts.PartDuration <= 0 {
		opts.PartDuration = defaultPartDuration
	}
	if opts.SegmentCount <= 0 {
		opts.SegmentCount = minSegmentCount
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "play.llhls")
	if opts.SegmentCount < minSegmentCount {
		log.Warn("segment count raised to the LL-HLS minimum", "configured", opts.SegmentCount, "used", minSegmentCount)
		opts.SegmentCount = minSegmentCount
	}
	s := &Server{
		src:                src,
		opts:               opts,
		log:                log,
		idleTimeout:        defaultIdleTimeout,
		readyWait:          defaultReadyWait,
		maxWaitingPerIP:    defaultMaxWaitingPerIP,
		maxWaitingLoopback: maxWaitingLoopback,
		epoch:              time.Now(),
		startc:             make(chan *session),
		stopping:           make(chan struct{}),
		sessions:           map[string]*session{},
	}
	s.views.onViewer = opts.Sessions
	return s
}

// Run owns the per-stream muxer goroutines: it starts them as ServeHTTP asks
// and, once ctx ends, stops them all and returns nil after they exited.
// Requests made before Run starts wait for it (bounded); afterwards they get
// 503.
func (s *Server) Run(ctx context.Context) error {
	if s.started.Swap(true) {
		return errors.New("llhls: Run called twice")
	}
	var wg sync.WaitGroup
	for {
		select {
		case c := <-s.startc:
			wg.Go(func() { c.run(ctx) })
		case <-ctx.Done():
			close(s.stopping)
			wg.Wait() // ending sessions wake their parked requests
			s.resumeMu.Lock()
			s.resumeClosed = true
			s.resumeMu.Unlock()
			s.resumes.Wait()
			s.views.dropAll()
			return nil
		}
	}
}

// Viewers returns the approximate number of LL-HLS viewers of channel name:
// distinct sessions that fetched a playlist in the last 10 s. A session is
// the hbs query parameter this server puts into the media playlist URIs of
// index.m3u8 (one per player load); clients that drop it are counted by
// client address + User-Agent.
func (s *Server) Viewers(name string) int {
	return s.views.count(name, time.Now())
}

// Stats returns the number of running muxers and of requests served.
func (s *Server) Stats() (muxers int, requests uint64) {
	s.mu.Lock()
	muxers = len(s.sessions)
	s.mu.Unlock()
	return muxers, s.requests.Load()
}

// BytesSent returns the response body bytes written so far (playlists,
// init segments, segments and parts).
func (s *Server) BytesSent() uint64 { return s.bytesOut.Load() }

// ServeHTTP serves /live/NAME/FILE: index.m3u8 (multivariant playlist), the
// media playlists, init segments, segments and parts it references.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.serve(w, r)
}

// serve answers a request, first made or resumed after it was parked.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	cw := &countingWriter{ResponseWriter: w, n: &s.bytesOut}
	cw.Header().Set("Access-Control-Allow-Origin", "*")

	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		preflight(cw, r)
		return
	default:
		cw.Header().Set("Allow", "GET, HEAD, OPTIONS")
		httpError(cw, http.StatusMethodNotAllowed, "method not allowed")
		return
	}

	name, file, ok := splitPath(r.URL.Path)
	if !ok {
		httpError(cw, http.StatusNotFound, "not found")
		return
	}
	for attempt := 0; ; attempt++ {
		stream := s.src(name)
		if stream == nil || stream.Ended() {
			httpError(cw, http.StatusNotFound, "channel not live")
			return
		}
		c, err := s.session(name, stream)
		if err != nil {
			retryLater(cw, "server not running")
			return
		}
		c.touch()
		// A session that ended under the request (idle close racing with
		// it, or the stream restarting) is retried once with a fresh one.
		if err := s.serveFile(cw, r, c, file); !errors.Is(err, errSessionEnded) || attempt > 0 {
			if errors.Is(err, errSessionEnded) {
				retryLater(cw, "stream restarting")
			}
			return
		}
	}
}

// Warm starts muxing channel name now, if it is live, and keeps the muxer
// running until the stream ends even without requests, so that the first
// viewer finds segments ready instead of waiting for one to be built. Call it
// when a channel goes live; it is a no-op for a channel that is not.
func (s *Server) Warm(name string) error {
	stream := s.src(name)
	if stream == nil {
		return nil
	}
	c, err := s.session(name, stream)
	if err != nil {
		return err
	}
	c.pinned.Store(true)
	return nil
}

// session returns the running session of name for stream, starting one if
// needed.
func (s *Server) session(name string, stream *hub.Stream) (*session, error) {
	s.mu.Lock()
	c := s.sessions[name]
	if c != nil && c.stream == stream && !c.ended() {
		s.mu.Unlock()
		return c, nil
	}
	select {
	case <-s.stopping:
		s.mu.Unlock()
		return nil, errStopped
	default:
	}
	if c != nil {
		c.stop() // its stream ended or was replaced; it removes itself
	}
	nc := newSession(s, name, stream)
	s.sessions[name] = nc
	s.mu.Unlock()

	// Hand the session to Run, which owns its goroutine. Not bound to the
	// request context: other requests may already wait on nc.
	t := time.NewTimer(s.readyWait)
	defer t.Stop()
	select {
	case s.startc <- nc:
		return nc, nil
	case <-s.stopping:
	case <-t.C:
	}
	s.forget(nc)
	nc.finish()
	return nil, errStopped
}

// forget removes c from the session table if it is still there.
func (s *Server) forget(c *session) {
	s.mu.Lock()
	if s.sessions[c.name] == c {
		delete(s.sessions, c.name)
	}
	s.mu.Unlock()
}

var (
	errStopped      = errors.New("llhls server not running")
	errSessionEnded = errors.New("muxer session ended")
)

// serveFile dispatches on the file name. It returns errSessionEnded, with
// nothing written, when c ended before anything could be served.
func (s *Server) serveFile(w *countingWriter, r *http.Request, c *session, file string) error {
	switch {
	case file == "index.m3u8":
		return s.serveMultivariant(w, r, c)
	case strings.HasSuffix(file, "_stream.m3u8"):
		return s.serveMediaPlaylist(w, r, c, file)
	case strings.HasSuffix(file, ".mp4"):
		return s.serveMedia(w, r, c, file)
	default:
		httpError(w, http.StatusNotFound, "not found")
		return nil
	}
}

func (s *Server) serveMultivariant(w *countingWriter, r *http.Request, c *session) error {
	q := r.URL.Query()
	sid := q.Get(sessionParam)
	if !validSessionID(sid) {
		sid = newSessionID()
	}

	release, ok := s.waiting.acquire(clientIP(r), s.waitLimit(clientIP(r)))
	if !ok {
		tooManyWaiting(w)
		return nil
	}
	defer release()
	in, _, err := c.await(r.Context(), s.readyWait, isReady)
	if err != nil {
		return s.waitFailed(w, c, err, "stream starting: no segment yet")
	}
	for k := range q {
		if strings.HasPrefix(k, "_HLS_") {
			delete(q, k)
		}
	}
	q.Set(sessionParam, sid)
	// gohlslib copies this query into the media playlist URIs, which is how
	// the session id reaches later requests. The body is per viewer now, so
	// it must not be shared by caches; keep a short lifetime for reloads.
	if in.forward(w, r, "index.m3u8", q.Encode(), func(h http.Header) {
		h.Set("Cache-Control", "private, max-age=5")
	}) {
		s.views.seen(c.name, "s:"+sid, time.Now(), r)
	}
	return nil
}

func (s *Server) serveMediaPlaylist(w *countingWriter, r *http.Request, c *session, file string) error {
	q := r.URL.Query()
	msn, part, hasMSN, hasPart, err := ParseBlockingParams(q)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return nil
	}
	viewer := addrKey(r)
	if sid := q.Get(sessionParam); validSessionID(sid) {
		viewer = "s:" + sid
	}

	release, ok := s.waiting.acquire(clientIP(r), s.waitLimit(clientIP(r)))
	if !ok {
		tooManyWaiting(w)
		return nil
	}
	parked := false
	defer func() {
		if !parked { // a parked request releases when it resumes
			release()
		}
	}()
	in, e, err := c.await(r.Context(), s.readyWait, isReady)
	if err != nil {
		return s.waitFailed(w, c, err, "stream starting: no segment yet")
	}
	if hasMSN {
		// Hold the request here, watching its context and a deadline, and
		// hand gohlslib a plain reload only once the answer exists: its own
		// wait would ignore both.
		deadline := time.Now().Add(e.blockTimeout())
		for !e.has(msn, part, hasPart) {
			if e.tooFarAhead(msn, part, hasPart) {
				httpError(w, http.StatusBadRequest, "_HLS_msn/_HLS_part too far beyond the live edge")
				return nil
			}
			cur := in
			ready := func(i *instance, e edge) bool {
				return e.ready && (i != cur || e.has(msn, part, hasPart))
			}
			const timeoutMsg = "timed out waiting for the requested segment or part"
			if parked = s.park(w, r, c, time.Until(deadline), ready, release, timeoutMsg); parked {
				return nil
			}
			in, e, err = c.await(r.Context(), time.Until(deadline), ready)
			if err != nil {
				return s.waitFailed(w, c, err, timeoutMsg)
			}
		}
	}
	delete(q, paramMSN)
	delete(q, paramPart)
	delete(q, sessionParam)
	var served bool
	if len(q) == 0 && r.Method == http.MethodGet {
		served = in.servePlaylist(w, file, e.nextPartID)
	}
	if !served {
		served = in.forward(w, r, file, q.Encode(), nil)
	}
	if served {
		s.views.seen(c.name, viewer, time.Now(), r)
	}
	return nil
}

// serveMedia serves init segments, segments and parts. A part still being
// built (the EXT-X-PRELOAD-HINT) is held until it is complete.
func (s *Server) serveMedia(w *countingWriter, r *http.Request, c *session, file string) error {
	in, e := c.current()
	if in == nil || !e.ready {
		httpError(w, http.StatusNotFound, "not found")
		return nil
	}
	if prefix, id, ok := parsePartName(file); ok && prefix == e.prefix && id >= e.nextPartID {
		if id-e.nextPartID >= advancePartLimit(e.partTarget) {
			httpError(w, http.StatusNotFound, "not found")
			return nil
		}
		release, ok := s.waiting.acquire(clientIP(r), s.waitLimit(clientIP(r)))
		if !ok {
			tooManyWaiting(w)
			return nil
		}
		cur := in
		complete := func(i *instance, e edge) bool { return i != cur || e.nextPartID > id }
		const timeoutMsg = "timed out waiting for the part"
		if s.park(w, r, c, e.blockTimeout(), complete, release, timeoutMsg) {
			return nil
		}
		defer release()
		var err error
		in, _, err = c.await(r.Context(), e.blockTimeout(), complete)
		if err != nil {
			return s.waitFailed(w, c, err, timeoutMsg)
		}
		if in != cur { // muxer restarted: the part will never exist
			httpError(w, http.StatusNotFound, "not found")
			return nil
		}
	}
	// A complete part of the current muxer is the same for every viewer:
	// serve it from the shared cache (ok: waited above or already complete).
	if prefix, id, ok := parsePartName(file); ok && prefix == e.prefix && in.servePart(w, file, id) {
		return nil
	}
	in.forward(w, r, file, r.URL.RawQuery, nil)
	return nil
}

// park puts r aside (see Options.Park) until ok holds, for at most d, and
// reports whether it did; if not, nothing happened and the caller waits as
// usual. A parked request is answered by serving it again from the start
// once ok holds or c ends (it then finds what it waited for, or the reason
// it never comes), or with a 503 timeoutMsg after d. release runs when it
// resumes.
func (s *Server) park(w http.ResponseWriter, r *http.Request, c *session, d time.Duration, ok func(*instance, edge) bool, release func(), timeoutMsg string) bool {
	p, parked := s.opts.Park.Park(w, r)
	if !parked {
		return false
	}
	c.awaitAsync(d, ok, func(err error) {
		release()
		p.Respond(func(w http.ResponseWriter, r *http.Request) {
			if errors.Is(err, errWaitTimeout) {
				retryLater(&countingWriter{ResponseWriter: w, n: &s.bytesOut}, timeoutMsg)
				return
			}
			s.serve(w, r)
		})
	})
	return true
}

// resume runs f, the answer to a parked request, in a goroutine of its own
// that Run waits for.
func (s *Server) resume(f func()) {
	s.resumeMu.Lock()
	tracked := !s.resumeClosed
	if tracked {
		s.resumes.Add(1)
	}
	s.resumeMu.Unlock()
	go func() {
		if tracked {
			defer s.resumes.Done()
		}
		f()
	}()
}

// waitFailed answers a wait that did not succeed.
func (s *Server) waitFailed(w http.ResponseWriter, c *session, err error, timeoutMsg string) error {
	var up unplayableError
	switch {
	case errors.Is(err, errSessionEnded):
		if c.stream.Ended() {
			httpError(w, http.StatusNotFound, "channel not live")
			return nil
		}
		return errSessionEnded
	case errors.As(err, &up):
		httpError(w, http.StatusNotFound, string(up))
	case errors.Is(err, errWaitTimeout):
		retryLater(w, timeoutMsg)
	default: // the client went away; nobody reads this
		retryLater(w, "request canceled")
	}
	return nil
}

// IsRequest reports whether a request line's method and target (origin
// form, as sent) are an LL-HLS request this package answers: GET or HEAD of
// /live/NAME/FILE with FILE a playlist (.m3u8) or an init segment, segment
// or part (.mp4). httppark.Listener.Keep uses it to go on serving a
// viewer's connection after a parked request.
func IsRequest(method, target string) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return false
	}
	path, _, _ := strings.Cut(target, "?")
	_, file, ok := splitPath(path)
	return ok && (strings.HasSuffix(file, ".m3u8") || strings.HasSuffix(file, ".mp4"))
}

// splitPath parses /live/NAME/FILE. NAME is [a-z0-9_-]{1,32}; FILE is
// [A-Za-z0-9_.-]{1,128} and not "." or "..". Anything else is not ours.
func splitPath(p string) (name, file string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/live/")
	if !ok {
		return "", "", false
	}
	name, file, ok = strings.Cut(rest, "/")
	if !ok || !validName(name) || !validFile(file) {
		return "", "", false
	}
	return name, file, true
}

func validName(s string) bool {
	if len(s) < 1 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func validFile(s string) bool {
	if len(s) < 1 || len(s) > 128 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func validSessionID(s string) bool {
	if len(s) != sessionIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func newSessionID() string {
	var b [sessionIDLen / 2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥1.24)
	return hex.EncodeToString(b[:])
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// addrKey identifies a viewer that does not send the session parameter.
func addrKey(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	return "a:" + clientIP(r) + "|" + ua
}

func preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" && validHeaderList(req) {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "86400")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusNoContent)
}

// validHeaderList accepts a comma-separated list of header names (tokens).
func validHeaderList(s string) bool {
	if len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != ',' && c != ' ' {
			return false
		}
	}
	return true
}

func httpError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

func retryLater(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	httpError(w, http.StatusServiceUnavailable, msg)
}

func tooManyWaiting(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	httpError(w, http.StatusTooManyRequests, "too many pending requests from this address")
}

// countingWriter counts response body bytes for BytesSent.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(uint64(n))
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// forwardWriter sits between gohlslib's handler and the client. gohlslib
// answers an unknown file by writing nothing (an empty 200) and errors with
// a bare status; forwardWriter holds those back so the caller can send a 404
// or an explained error instead. Successful responses stream through.
type forwardWriter struct {
	w      http.ResponseWriter
	tweak  func(http.Header) // adjusts headers of a successful response
	wrote  bool
	failed int // status of a held-back error response
}

func (f *forwardWriter) Header() http.Header { return f.w.Header() }

func (f *forwardWriter) WriteHeader(code int) {
	if f.wrote || f.failed != 0 {
		return
	}
	if code >= 400 {
		f.failed = code
		return
	}
	if f.tweak != nil {
		f.tweak(f.w.Header())
	}
	f.wrote = true
	f.w.WriteHeader(code)
}

func (f *forwardWriter) Write(p []byte) (int, error) {
	if f.failed != 0 {
		return len(p), nil
	}
	if !f.wrote {
		f.WriteHeader(http.StatusOK)
	}
	return f.w.Write(p)
}

// forward lets gohlslib answer a request for file, with rawQuery as the
// query it sees, and reports whether it served it successfully. Callers have
// made sure gohlslib will not block.
func (in *instance) forward(w http.ResponseWriter, r *http.Request, file, rawQuery string, tweak func(http.Header)) bool {
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = "/"+file, "", rawQuery
	r2 := r.WithContext(r.Context())
	r2.URL = &u
	fw := &forwardWriter{w: w, tweak: tweak}
	in.m.Handle(fw, r2)
	switch {
	case fw.failed == http.StatusNotFound || (fw.failed == 0 && !fw.wrote):
		httpError(w, http.StatusNotFound, "not found")
	case fw.failed == http.StatusBadRequest:
		httpError(w, http.StatusBadRequest, "bad request")
	case fw.failed != 0:
		httpError(w, fw.failed, "muxer error: "+strconv.Itoa(fw.failed))
	}
	return fw.wrote
}

// waitLimiter counts held requests per client address.
type waitLimiter struct {
	mu sync.Mutex
	n  map[string]int
}

// waitLimit is the number of requests ip may have held at once. Loopback
// peers are a reverse proxy on this host or a local load test, standing for
// many viewers, so they get the much larger overall bound.
func (s *Server) waitLimit(ip string) int {
	if a, err := netip.ParseAddr(ip); err == nil && a.IsLoopback() {
		return s.maxWaitingLoopback
	}
	return s.maxWaitingPerIP
}

func (l *waitLimiter) acquire(ip string, limit int) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]int{}
	}
	if l.n[ip] >= limit {
		return nil, false
	}
	l.n[ip]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.n[ip]--; l.n[ip] <= 0 {
			delete(l.n, ip)
		}
	}, true
}

// held returns the number of requests held for ip.
func (l *waitLimiter) held(ip string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[ip]
}

// viewerSet remembers when each viewer session last fetched a playlist.
type viewerSet struct {
	// onViewer is Options.Sessions (nil: sessions are only counted).
	onViewer ViewerSessions

	mu        sync.Mutex
	byChannel map[string]map[string]viewerEntry
}

type viewerEntry struct {
	last time.Time
	end  func() // from onViewer; nil without it
}

// seen notes a playlist fetch of viewer key; a new key starts a viewer
// session (onViewer runs under mu: it only records the start in memory).
func (v *viewerSet) seen(name, key string, now time.Time, r *http.Request) {
	var ended []func()
	defer func() { runEnds(ended) }()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.byChannel == nil {
		v.byChannel = map[string]map[string]viewerEntry{}
	}
	m := v.byChannel[name]
	if m == nil {
		m = map[string]viewerEntry{}
		v.byChannel[name] = m
	}
	e, ok := m[key]
	if !ok && len(m) >= maxViewerKeys {
		ended = pruneViewers(m, now, ended)
		if len(m) >= maxViewerKeys {
			return
		}
	}
	if !ok && v.onViewer != nil {
		e.end = v.onViewer.ViewerStarted(name, observe.ProtoLLHLS, r.URL.Query().Get("vid"), clientIP(r), r.UserAgent())
	}
	e.last = now
	m[key] = e
}

func (v *viewerSet) count(name string, now time.Time) int {
	var ended []func()
	defer func() { runEnds(ended) }()
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.byChannel[name]
	if m == nil {
		return 0
	}
	ended = pruneViewers(m, now, ended)
	if len(m) == 0 {
		delete(v.byChannel, name)
	}
	return len(m)
}

// drop forgets the viewers of name, ending their sessions.
func (v *viewerSet) drop(name string) {
	v.mu.Lock()
	m := v.byChannel[name]
	delete(v.byChannel, name)
	v.mu.Unlock()
	for _, e := range m {
		if e.end != nil {
			e.end()
		}
	}
}

// dropAll ends every viewer session (server stopping).
func (v *viewerSet) dropAll() {
	v.mu.Lock()
	all := v.byChannel
	v.byChannel = nil
	v.mu.Unlock()
	for _, m := range all {
		for _, e := range m {
			if e.end != nil {
				e.end()
			}
		}
	}
}

// pruneViewers removes the viewers idle for viewerWindow and appends their
// end funcs to ended (run them without holding viewerSet.mu).
func pruneViewers(m map[string]viewerEntry, now time.Time, ended []func()) []func() {
	for k, e := range m {
		if now.Sub(e.last) > viewerWindow {
			delete(m, k)
			if e.end != nil {
				ended = append(ended, e.end)
			}
		}
	}
	return ended
}

func runEnds(ends []func()) {
	for _, end := range ends {
		end()
	}
}

var _ http.Handler = (*Server)(nil)
