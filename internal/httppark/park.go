// Package httppark puts an HTTP/1.1 request aside while its answer does not
// exist yet, and answers it later from any goroutine.
//
// net/http holds a request for as long as its handler runs: the
// connection's goroutine (its stack grown by request parsing), a goroutine
// reading ahead to notice the client leaving, a 4 KiB read and a 4 KiB write
// buffer, the response's 2 KiB buffer and the request objects. LL-HLS makes
// every viewer hold one request nearly all the time (a blocking playlist
// reload or a preload-hinted part), so at 1000 viewers those ~25 KiB each,
// doubled by the garbage collector's headroom, were most of the server's
// memory. A parked request keeps only its connection and the request
// object: the handler hijacks the connection and returns, the code that
// produces the answer later calls Respond, and the connection then goes back
// to the http.Server through a Listener, which serves the client's next
// request as on any kept-alive connection. Requests that follow on that
// connection and that the Listener is told to keep (LL-HLS's next reload or
// part, see Keep) are read and served by the Listener itself, so that a
// viewer's connection does not go through net/http's set-up (its goroutine,
// fresh buffers that hijacking never returns to their pools) several times a
// second.
//
// Only plain HTTP/1.x GET and HEAD requests without a body can be parked;
// Park refuses anything else and the caller waits as usual (HTTP/2 already
// multiplexes a client's requests on one connection).
package httppark

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

const (
	// writeTimeout bounds writing one response. A viewer that cannot take
	// an LL-HLS part (~70 KB) in this time is gone or hopelessly behind.
	writeTimeout = 10 * time.Second
	// Defaults for the requests the Listener reads itself (Keep), as the
	// application's http.Server has them.
	defaultIdleTimeout       = 120 * time.Second
	defaultReadHeaderTimeout = 10 * time.Second
	// maxHeaderBytes bounds a kept request (all header: GET and HEAD only).
	maxHeaderBytes = 64 << 10
)

// Listener hands answered connections back to an http.Server: run
// srv.Serve(l) beside the server's real listener. srv.Shutdown (or Close)
// closes it; from then on Park refuses and answered connections are closed.
type Listener struct {
	log    *slog.Logger
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	parked atomic.Int64
	keep   atomic.Pointer[keeper]

	// IdleTimeout and ReadHeaderTimeout apply to kept requests, as the
	// http.Server's own do to its requests (defaults 120 s and 10 s). Set
	// them before use.
	IdleTimeout, ReadHeaderTimeout time.Duration

	mu   sync.Mutex
	idle map[net.Conn]struct{} // connections waiting for a kept request
}

// keeper is what Keep set.
type keeper struct {
	h    http.Handler
	want func(method, target string) bool
}

// NewListener returns an open Listener. log receives panics of the
// handlers it runs (as net/http logs a panicking handler); nil discards
// them.
func NewListener(log *slog.Logger) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{
		log:               log.With("component", "httppark"),
		conns:             make(chan net.Conn),
		closed:            make(chan struct{}),
		IdleTimeout:       defaultIdleTimeout,
		ReadHeaderTimeout: defaultReadHeaderTimeout,
		idle:              map[net.Conn]struct{}{},
	}
}

// Keep makes the Listener serve, with h, the requests that follow an answer
// on its connection as long as want(method, request-target) holds for them
// (and they are GET or HEAD without a body); the first other request goes
// back to the http.Server with the connection. h is typically the server's
// own handler, so that every middleware runs as usual; the ResponseWriter
// it gets supports Park but not Flusher or Hijacker.
func (l *Listener) Keep(h http.Handler, want func(method, target string) bool) {
	l.keep.Store(&keeper{h: h, want: want})
}

// Accept returns the next answered connection to serve.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes the connections waiting for a kept
// request; connections answered afterwards are closed.
func (l *Listener) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		close(l.closed)
		for c := range l.idle {
			c.Close()
		}
		clear(l.idle)
		l.mu.Unlock()
	})
	return nil
}

// setIdle records whether c waits for its next request (Close closes
// those). It reports false, for idle, once the listener is closed.
func (l *Listener) setIdle(c net.Conn, idle bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !idle {
		delete(l.idle, c)
		return true
	}
	if l.isClosed() {
		return false
	}
	l.idle[c] = struct{}{}
	return true
}

// Addr is a placeholder: the connections come from the server's real
// listener.
func (l *Listener) Addr() net.Addr { return parkAddr{} }

// Parked returns the number of requests parked and not yet answered.
func (l *Listener) Parked() int { return int(l.parked.Load()) }

func (l *Listener) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// giveBack hands c to the http.Server's Serve loop. It reports false if the
// listener is closed (the caller closes c).
func (l *Listener) giveBack(c net.Conn) bool {
	if l.isClosed() {
		return false
	}
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

type parkAddr struct{}

func (parkAddr) Network() string { return "park" }
func (parkAddr) String() string  { return "parked HTTP connections" }

// Request is a parked request. Exactly one of Respond or Close must be
// called, once.
type Request struct {
	l      *Listener
	conn   net.Conn
	req    *http.Request
	header http.Header
	done   atomic.Bool
}

// Park takes over the connection of r, which cannot be answered yet. It
// reports false, having changed nothing, when r cannot be parked: the
// listener is nil or closed, r is not a plain HTTP/1.x GET or HEAD without
// a body, or w cannot hijack. Headers already set on w are kept for the
// response. The returned request's context keeps r's values but is never
// canceled: whoever answers bounds the wait.
func (l *Listener) Park(w http.ResponseWriter, r *http.Request) (*Request, bool) {
	if l == nil || l.isClosed() || !Parkable(r) {
		return nil, false
	}
	if rw := ownWriter(w); rw != nil {
		return l.parkOwn(rw, r)
	}
	// net/http never touches this map again once the connection is
	// hijacked: it is the response's header from now on.
	header := w.Header()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, false
	}
	if pc, ok := conn.(*prefixConn); ok && len(pc.pending) == 0 {
		conn = pc.Conn // parked before; its early bytes were all read
	}
	return l.park(conn, brw.Reader, r, header), true
}

// park records a parked request on conn. Bytes the client sent after it
// (pipelining), read ahead into br, are kept for whoever reads the
// connection after the answer.
func (l *Listener) park(conn net.Conn, br *bufio.Reader, r *http.Request, header http.Header) *Request {
	if br != nil {
		if n := br.Buffered(); n > 0 {
			b, _ := br.Peek(n)
			conn = &prefixConn{Conn: conn, pending: bytes.Clone(b)}
		}
	}
	l.parked.Add(1)
	return &Request{
		l:      l,
		conn:   conn,
		req:    r.WithContext(context.WithoutCancel(r.Context())),
		header: header,
	}
}

// parkOwn parks a request read by the Listener (or a parked one being
// answered) that must wait again.
func (l *Listener) parkOwn(rw *responseWriter, r *http.Request) (*Request, bool) {
	if rw.l != l || rw.wroteHeader || rw.parked {
		return nil, false
	}
	rw.parked = true
	return l.park(rw.conn, rw.br, r, rw.header), true
}

// ownWriter finds a responseWriter of this package under w's wrappers.
func ownWriter(w http.ResponseWriter) *responseWriter {
	for {
		switch v := w.(type) {
		case *responseWriter:
			return v
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return nil
		}
	}
}

// Parkable reports whether r is a request Park can take: HTTP/1.x without
// TLS, GET or HEAD, no body, no upgrade.
func Parkable(r *http.Request) bool {
	return r.ProtoMajor == 1 && r.TLS == nil &&
		(r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		r.ContentLength == 0 && len(r.TransferEncoding) == 0 &&
		r.Header.Get("Upgrade") == ""
}

// Request returns the parked request (with a context that is never canceled).
func (p *Request) Request() *http.Request { return p.req }

// Respond answers the parked request: serve writes the response as a
// handler would, to a ResponseWriter that writes HTTP/1.1 to the
// connection (it supports Park, not Flusher or Hijacker). Afterwards the
// connection serves the client's next request: in this goroutine if Keep
// wants it, else back in the http.Server. It is closed instead if the
// request or the response asked for that or writing failed. Respond
// returns once the connection is handed back, parked again or closed; a
// panic in serve closes the connection and is logged, as net/http does.
func (p *Request) Respond(serve func(http.ResponseWriter, *http.Request)) {
	if p.done.Swap(true) {
		return
	}
	p.l.parked.Add(-1)
	rw := &responseWriter{l: p.l, conn: p.conn, req: p.req, header: p.header, declared: -1, keepAlive: !p.req.Close}
	if !p.l.serve(rw, serve) {
		p.conn.Close()
		return
	}
	if rw.parked {
		return // waits again
	}
	rw.finish()
	if !rw.keepAlive || rw.err != nil {
		p.conn.Close()
		return
	}
	p.l.serveConn(p.conn)
}

// serve runs a handler, reporting false if it panicked.
func (l *Listener) serve(rw *responseWriter, serve func(http.ResponseWriter, *http.Request)) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			l.log.Error("panic answering a request", "path", rw.req.URL.Path, "remote", rw.req.RemoteAddr,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	serve(rw, rw.req)
	return true
}

// readers recycles the read buffers of kept connections. 1 KiB holds a
// player's request line and most of its header (longer header lines are
// read in pieces; a longer request line goes to net/http); net/http's
// 4 KiB would hold 4 MiB at 1000 viewers, all of whom are woken by one part.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 1<<10) }}

// serveConn serves the requests that follow an answer on conn, as long as
// Keep wants them, and hands conn back to the http.Server at the first
// other one. It returns once conn is handed back, parked or closed.
func (l *Listener) serveConn(conn net.Conn) {
	k := l.keep.Load()
	if k == nil {
		l.handBack(conn, nil)
		return
	}
	remote := conn.RemoteAddr().String()
	lr := &io.LimitedReader{R: conn}
	br := readers.Get().(*bufio.Reader)
	br.Reset(lr)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	for {
		lr.N = maxHeaderBytes
		if br.Buffered() == 0 {
			if !l.setIdle(conn, true) {
				conn.Close()
				return
			}
			_ = conn.SetReadDeadline(time.Now().Add(l.IdleTimeout))
			_, err := br.Peek(1)
			l.setIdle(conn, false)
			if err != nil {
				conn.Close()
				return
			}
		}
		_ = conn.SetReadDeadline(time.Now().Add(l.ReadHeaderTimeout))
		method, target, ok := peekRequestLine(br)
		if !ok || (method != http.MethodGet && method != http.MethodHead) || !k.want(method, target) {
			l.handBack(conn, br)
			return
		}
		req, err := http.ReadRequest(br)
		if err == nil {
			err = checkRequest(req)
		}
		if err != nil {
			status := http.StatusBadRequest
			if lr.N <= 0 {
				status = http.StatusRequestHeaderFieldsTooLarge
			}
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			fmt.Fprintf(conn, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n%s\n",
				status, http.StatusText(status), http.StatusText(status))
			conn.Close()
			return
		}
		lr.N = 1 << 62 // the limit covers the header only
		_ = conn.SetReadDeadline(time.Time{})
		req.RemoteAddr = remote
		if !Parkable(req) { // a body or an upgrade: not for this loop
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(conn, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
			conn.Close()
			return
		}
		rw := &responseWriter{l: l, conn: conn, br: br, req: req, header: http.Header{}, declared: -1, keepAlive: !req.Close}
		if !l.serve(rw, k.h.ServeHTTP) {
			conn.Close()
			return
		}
		if rw.parked {
			return // its read-ahead went with it
		}
		rw.finish()
		if !rw.keepAlive || rw.err != nil {
			conn.Close()
			return
		}
	}
}

// printable reports whether b is non-empty visible ASCII (no space or
// control character), as a request line's method and target must be.
func printable(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// checkRequest makes the checks net/http's server makes after parsing a
// request: a valid Host on HTTP/1.1, valid header names and values.
func checkRequest(r *http.Request) error {
	// http.ReadRequest moved the Host header (refusing several) to r.Host.
	switch {
	case r.ProtoAtLeast(1, 1) && r.Host == "":
		return errors.New("missing required Host header")
	case !httpguts.ValidHostHeader(r.Host):
		return errors.New("malformed Host header")
	}
	for k, vs := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return errors.New("invalid header name")
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return errors.New("invalid header value")
			}
		}
	}
	return nil
}

// handBack gives conn, with whatever br read ahead of it, back to the
// http.Server (or closes it if the listener is closed).
func (l *Listener) handBack(conn net.Conn, br *bufio.Reader) {
	_ = conn.SetDeadline(time.Time{})
	c := conn
	if br != nil && br.Buffered() > 0 {
		b, _ := br.Peek(br.Buffered())
		c = &prefixConn{Conn: conn, pending: bytes.Clone(b)}
	}
	if !l.giveBack(c) {
		conn.Close()
	}
}

// peekRequestLine reads, without consuming, the request line at the start
// of br: its method and request target. ok is false when no well-formed
// line arrives (net/http then reads it and answers as it does).
func peekRequestLine(br *bufio.Reader) (method, target string, ok bool) {
	for {
		b, err := br.Peek(br.Buffered())
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line := bytes.TrimSuffix(b[:i], []byte{'\r'})
			m, rest, ok1 := bytes.Cut(line, []byte{' '})
			t, proto, ok2 := bytes.Cut(rest, []byte{' '})
			if !ok1 || !ok2 || !printable(m) || !printable(t) || !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
				return "", "", false
			}
			switch string(m) { // no allocation for the common methods
			case http.MethodGet:
				method = http.MethodGet
			case http.MethodHead:
				method = http.MethodHead
			default:
				method = string(m)
			}
			return method, string(t), true
		}
		if err != nil || br.Buffered() >= br.Size() {
			return "", "", false
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return "", "", false
		}
	}
}

// Close drops the parked request without an answer, closing its connection.
func (p *Request) Close() {
	if p.done.Swap(true) {
		return
	}
	p.l.parked.Add(-1)
	p.conn.Close()
}

// prefixConn returns bytes read ahead of a parked request before reading
// from the connection.
type prefixConn struct {
	net.Conn
	pending []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// responseWriter writes one HTTP/1.1 response to a parked connection. With
// a Content-Length set before the first Write, the header and the body go
// out as written (one writev for header and first chunk, no copy of the
// body); without one, the body is held and sent with its length by finish.
type responseWriter struct {
	l           *Listener
	conn        net.Conn
	br          *bufio.Reader // the connection's read-ahead; nil for a parked request's answer
	req         *http.Request
	header      http.Header
	status      int
	wroteHeader bool  // WriteHeader called (status fixed)
	sent        bool  // status line and header written to conn
	declared    int64 // Content-Length given by the handler, -1 if none
	written     int64 // body bytes written to conn
	held        []byte
	keepAlive   bool
	parked      bool // Park took the request: nothing is written here
	err         error
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 200 || code > 999 {
		if code >= 100 && code < 200 {
			return // informational responses are not supported; the final one follows
		}
		code = http.StatusInternalServerError
	}
	w.wroteHeader, w.status = true, code
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.declared = n
		} else {
			w.header.Del("Content-Length")
		}
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case w.err != nil:
		return 0, w.err
	case !bodyAllowed(w.status):
		return 0, http.ErrBodyNotAllowed
	case w.req.Method == http.MethodHead:
		return len(p), nil
	case w.declared < 0:
		w.held = append(w.held, p...)
		return len(p), nil
	case w.written+int64(len(p)) > w.declared:
		w.err = http.ErrContentLength
		return 0, w.err
	}
	var err error
	if !w.sent {
		_ = w.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		bufs := net.Buffers{w.head(), p}
		_, err = bufs.WriteTo(w.conn)
		w.sent = true
	} else {
		_, err = w.conn.Write(p)
	}
	if err != nil {
		w.err = err
		return 0, err
	}
	w.written += int64(len(p))
	return len(p), nil
}

// finish sends whatever was not sent yet and decides whether the
// connection may carry another request.
func (w *responseWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return
	}
	if w.sent {
		if w.written != w.declared {
			w.keepAlive = false // the client was promised more bytes
		}
		return
	}
	if w.declared < 0 && bodyAllowed(w.status) && w.req.Method != http.MethodHead {
		w.header.Set("Content-Length", strconv.Itoa(len(w.held)))
	}
	if w.declared > 0 && w.req.Method != http.MethodHead {
		w.keepAlive = false // declared a body and wrote none of it
	}
	_ = w.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	var err error
	if len(w.held) > 0 {
		bufs := net.Buffers{w.head(), w.held}
		_, err = bufs.WriteTo(w.conn)
	} else {
		_, err = w.conn.Write(w.head())
	}
	w.sent = true
	if err != nil {
		w.err = err
	}
}

// head renders the status line and header. It runs once, when the first
// bytes go out, so it still can say whether the connection stays open.
func (w *responseWriter) head() []byte {
	h := w.header
	if _, ok := h["Date"]; !ok {
		h["Date"] = []string{httpDate()}
	}
	switch {
	case !w.keepAlive || h.Get("Connection") == "close":
		w.keepAlive = false
		h.Set("Connection", "close")
	case w.req.ProtoMinor == 0:
		h.Set("Connection", "keep-alive") // an HTTP/1.0 client asked for it
	}
	b := make([]byte, 0, 512)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(w.status)...)
	b = append(b, "\r\n"...)
	// Unsorted, unlike http.Header.Write: order does not matter and this
	// runs for every LL-HLS part and playlist.
	for k, vs := range h {
		if !validHeaderName(k) {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendHeaderValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// validHeaderName rejects names that would break the header's framing.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c == ':' || c >= 0x7f {
			return false
		}
	}
	return true
}

// appendHeaderValue appends v with CR and LF turned into spaces (as
// net/http does), so that a value cannot start a header of its own.
func appendHeaderValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// dateCache holds the Date header value of the current second.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	sec int64
	s   string
}

func httpDate() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.s
	}
	d := &cachedDate{sec: now.Unix(), s: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.s
}

// bodyAllowed reports whether a response with status may carry a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && (status < 100 || status > 199)
}
