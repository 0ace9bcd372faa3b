package httppark

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is an http.Server on 127.0.0.1 whose /park/ requests are parked and
// delivered on parked; every other path answers "plain".
type server struct {
	t      *testing.T
	srv    *http.Server
	park   *Listener
	url    string
	parked chan *Request
	newCon atomic.Int64 // connections accepted from the real listener
	done   sync.WaitGroup
}

func newServer(t *testing.T) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, park: NewListener(nil), url: "http://" + ln.Addr().String(), parked: make(chan *Request, 100)}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Before", "kept")
			if strings.HasPrefix(r.URL.Path, "/park/") {
				if p, ok := s.park.Park(w, r); ok {
					s.parked <- p
					return
				}
				w.Header().Set("X-Not-Parked", "1")
			}
			io.WriteString(w, "plain "+r.URL.Path)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	s.done.Go(func() { _ = s.srv.Serve(countingListener{ln, &s.newCon}) })
	s.done.Go(func() { _ = s.srv.Serve(s.park) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		s.done.Wait()
		for {
			select {
			case p := <-s.parked:
				p.Close()
			default:
				return
			}
		}
	})
	return s
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func (s *server) nextParked() *Request {
	s.t.Helper()
	select {
	case p := <-s.parked:
		return p
	case <-time.After(5 * time.Second):
		s.t.Fatal("no request parked")
		return nil
	}
}

// get runs a request with client in a goroutine and returns a channel
// delivering its result (body read whole) and whether its connection was
// reused.
type result struct {
	res    *http.Response
	body   string
	reused bool
	err    error
}

func do(client *http.Client, method, url string, hdr http.Header) <-chan result {
	ch := make(chan result, 1)
	go func() {
		var reused bool
		req, _ := http.NewRequest(method, url, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		res, err := client.Do(req)
		if err != nil {
			ch <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		ch <- result{res: res, body: string(b), reused: reused, err: err}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no response")
		return result{}
	}
}

func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestParkRespondAndKeepAlive(t *testing.T) {
	s := newServer(t)
	c := newClient(t)

	first := do(c, http.MethodGet, s.url+"/park/a?x=1", nil)
	p := s.nextParked()
	if got := p.Request().URL.RawQuery; got != "x=1" {
		t.Errorf("parked query %q", got)
	}
	if p.Request().Context().Err() != nil {
		t.Error("parked request's context is canceled")
	}
	if s.park.Parked() != 1 {
		t.Errorf("Parked() = %d, want 1", s.park.Parked())
	}
	body := []byte("the answer")
	p.Respond(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:4])
		w.Write(body[4:])
	})
	r := wait(t, first)
	if r.res.StatusCode != 200 || r.body != "the answer" || r.res.Header.Get("X-Before") != "kept" || r.res.Header.Get("Date") == "" {
		t.Fatalf("parked answer: %d %q %v", r.res.StatusCode, r.body, r.res.Header)
	}
	if s.park.Parked() != 0 {
		t.Errorf("Parked() = %d after Respond", s.park.Parked())
	}

	// The next request rides the same connection, served by net/http again,
	// and can be parked again.
	second := wait(t, do(c, http.MethodGet, s.url+"/plain", nil))
	if !second.reused || second.body != "plain /plain" {
		t.Fatalf("second request: reused %v body %q", second.reused, second.body)
	}
	third := do(c, http.MethodGet, s.url+"/park/b", nil)
	s.nextParked().Respond(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "held ")    // no Content-Length: held, then sent with one
		io.WriteString(w, "and sent") // in one piece
	})
	r = wait(t, third)
	if !r.reused || r.body != "held and sent" || r.res.ContentLength != int64(len("held and sent")) {
		t.Fatalf("third request: reused %v body %q length %d", r.reused, r.body, r.res.ContentLength)
	}
	if n := s.newCon.Load(); n != 1 {
		t.Errorf("%d connections accepted, want 1", n)
	}
}

func TestHeadAndErrors(t *testing.T) {
	s := newServer(t)
	c := newClient(t)

	head := do(c, http.MethodHead, s.url+"/park/h", nil)
	s.nextParked().Respond(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
		w.Write(make([]byte, 1234)) // discarded for HEAD
	})
	r := wait(t, head)
	if r.res.StatusCode != 200 || r.res.ContentLength != 1234 || r.body != "" {
		t.Fatalf("HEAD: %d length %d body %q", r.res.StatusCode, r.res.ContentLength, r.body)
	}

	unavailable := do(c, http.MethodGet, s.url+"/park/e", nil)
	s.nextParked().Respond(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "later\n")
	})
	r = wait(t, unavailable)
	if r.res.StatusCode != 503 || r.body != "later\n" || r.res.Header.Get("Retry-After") != "1" {
		t.Fatalf("503: %d %q", r.res.StatusCode, r.body)
	}

	noContent := do(c, http.MethodGet, s.url+"/park/n", nil)
	s.nextParked().Respond(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
			t.Errorf("Write after 204: %v", err)
		}
	})
	if r = wait(t, noContent); r.res.StatusCode != 204 {
		t.Fatalf("204: %d", r.res.StatusCode)
	}

	// All of it on one connection.
	if after := wait(t, do(c, http.MethodGet, s.url+"/x", nil)); !after.reused {
		t.Error("connection not reused after the answers above")
	}
	if n := s.newCon.Load(); n != 1 {
		t.Errorf("%d connections accepted, want 1", n)
	}
}

// A response that breaks its promise, a panicking handler and a client
// asking to close all end their connection, and only theirs.
func TestConnectionEnds(t *testing.T) {
	s := newServer(t)

	cases := map[string]func(w http.ResponseWriter, r *http.Request){
		"short body": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
		},
		"panic": func(w http.ResponseWriter, r *http.Request) { panic("boom") },
	}
	for name, serve := range cases {
		t.Run(name, func(t *testing.T) {
			c := newClient(t)
			ch := do(c, http.MethodGet, s.url+"/park/x", nil)
			s.nextParked().Respond(serve)
			select {
			case r := <-ch:
				if r.err == nil {
					t.Fatalf("client got a whole response: %d %q", r.res.StatusCode, r.body)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("connection left open")
			}
		})
	}

	t.Run("Connection: close", func(t *testing.T) {
		c := newClient(t)
		ch := do(c, http.MethodGet, s.url+"/park/x", http.Header{"Connection": {"close"}})
		s.nextParked().Respond(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "bye") })
		r := wait(t, ch)
		if r.body != "bye" || !r.res.Close {
			t.Fatalf("body %q, close %v", r.body, r.res.Close)
		}
	})

	// The server still serves.
	if r := wait(t, do(newClient(t), http.MethodGet, s.url+"/ok", nil)); r.body != "plain /ok" {
		t.Fatalf("after: %q", r.body)
	}
}

// Requests Park cannot take are served by the handler as usual.
func TestNotParkable(t *testing.T) {
	s := newServer(t)
	res, err := http.Post(s.url+"/park/p", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("X-Not-Parked") != "1" {
		t.Error("a POST with a body was parked")
	}

	var nilListener *Listener
	rec := httptest.NewRecorder()
	if _, ok := nilListener.Park(rec, httptest.NewRequest(http.MethodGet, "/", nil)); ok {
		t.Error("a nil Listener parked")
	}
	if _, ok := NewListener(nil).Park(rec, httptest.NewRequest(http.MethodGet, "/", nil)); ok {
		t.Error("a ResponseWriter that cannot hijack was parked")
	}
	closed := NewListener(nil)
	closed.Close()
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/", nil),
		func() *http.Request { r := httptest.NewRequest(http.MethodGet, "/", nil); r.ProtoMajor = 2; return r }(),
		func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Upgrade", "websocket")
			return r
		}(),
	} {
		if _, ok := closed.Park(rec, r); ok {
			t.Errorf("parked %v", r)
		}
	}
	if Parkable(func() *http.Request { r := httptest.NewRequest(http.MethodGet, "/", nil); r.ProtoMajor = 2; return r }()) {
		t.Error("HTTP/2 request parkable")
	}
}

// A client that sent its next request before the answer (pipelining) gets
// both answers, in order.
func TestPipelined(t *testing.T) {
	s := newServer(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	host := strings.TrimPrefix(s.url, "http://")
	if _, err := fmt.Fprintf(conn, "GET /park/1 HTTP/1.1\r\nHost: %s\r\n\r\nGET /after HTTP/1.1\r\nHost: %s\r\n\r\n", host, host); err != nil {
		t.Fatal(err)
	}
	s.nextParked().Respond(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "one") })
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	for _, want := range []string{"one", "plain /after"} {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != want {
			t.Fatalf("got %q, want %q", b, want)
		}
	}
}

// Parked requests hold no goroutine; net/http holds two per waiting
// request (its connection's and a background reader).
func TestParkedHoldNoGoroutine(t *testing.T) {
	s := newServer(t)
	const n = 50
	host := strings.TrimPrefix(s.url, "http://")
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	// Let net/http start each connection's goroutine, then count.
	time.Sleep(100 * time.Millisecond) // settle; the check below is a count, not a time
	before := runtime.NumGoroutine()
	parked := make([]*Request, 0, n)
	for _, c := range conns {
		fmt.Fprintf(c, "GET /park/g HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		parked = append(parked, s.nextParked())
	}
	after := runtime.NumGoroutine()
	// Each connection's goroutine exited when its request was parked.
	if after > before-n/2 {
		t.Errorf("goroutines: %d with idle connections, %d with %d requests parked", before, after, n)
	}
	for _, p := range parked {
		p.Respond(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
}

// After Shutdown the listener refuses new parks and answered connections
// are closed after their response.
func TestShutdown(t *testing.T) {
	s := newServer(t)
	c := newClient(t)
	ch := do(c, http.MethodGet, s.url+"/park/s", nil)
	p := s.nextParked()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil { // the parked connection is not net/http's: no wait
		t.Fatal(err)
	}
	p.Respond(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "last") })
	if r := wait(t, ch); r.body != "last" {
		t.Fatalf("body %q", r.body)
	}
	if _, ok := s.park.Park(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil)); ok {
		t.Error("parked after shutdown")
	}
}

// keptServer is a server whose Listener keeps /kept/ and /park/ requests:
// they are served by the Listener, marked X-Served-By: park.
func keptServer(t *testing.T) (*server, *sync.WaitGroup) {
	s := newServer(t)
	s.park.Keep(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ownWriter(w) != nil {
			w.Header().Set("X-Served-By", "park")
		}
		s.srv.Handler.ServeHTTP(w, r)
	}), func(method, target string) bool {
		return strings.HasPrefix(target, "/kept/") || strings.HasPrefix(target, "/park/")
	})
	var responders sync.WaitGroup
	t.Cleanup(func() {
		s.park.Close() // closes the connections waiting for a kept request
		responders.Wait()
	})
	return s, &responders
}

func respondAsync(wg *sync.WaitGroup, p *Request, body string) {
	wg.Go(func() { p.Respond(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }) })
}

func TestKeep(t *testing.T) {
	s, responders := keptServer(t)
	c := newClient(t)

	first := do(c, http.MethodGet, s.url+"/park/1", nil)
	respondAsync(responders, s.nextParked(), "one")
	if r := wait(t, first); r.body != "one" {
		t.Fatalf("first: %q", r.body)
	}
	// Kept: served by the Listener on the same connection.
	r := wait(t, do(c, http.MethodGet, s.url+"/kept/2?q=1", nil))
	if !r.reused || r.body != "plain /kept/2" || r.res.Header.Get("X-Served-By") != "park" || r.res.Header.Get("X-Before") != "kept" {
		t.Fatalf("kept request: reused %v body %q header %v", r.reused, r.body, r.res.Header)
	}
	// Header lines longer than the Listener's read buffer are fine.
	long := wait(t, do(c, http.MethodGet, s.url+"/kept/long", http.Header{"Cookie": {"a=" + strings.Repeat("b", 3000)}}))
	if long.body != "plain /kept/long" || long.res.Header.Get("X-Served-By") != "park" {
		t.Fatalf("kept request with a long header: %q served by %q", long.body, long.res.Header.Get("X-Served-By"))
	}
	// A kept request that must wait parks again, without net/http.
	again := do(c, http.MethodGet, s.url+"/park/3", nil)
	p := s.nextParked()
	if p.Request().RemoteAddr == "" || p.Request().URL.Path != "/park/3" {
		t.Errorf("request parked from the Listener: remote %q path %q", p.Request().RemoteAddr, p.Request().URL.Path)
	}
	respondAsync(responders, p, "three")
	if r := wait(t, again); r.body != "three" || !r.reused {
		t.Fatalf("parked again: %q reused %v", r.body, r.reused)
	}
	// Anything else goes back to net/http, still on the same connection.
	r = wait(t, do(c, http.MethodGet, s.url+"/other", nil))
	if !r.reused || r.body != "plain /other" || r.res.Header.Get("X-Served-By") != "" {
		t.Fatalf("handed back: reused %v body %q served by %q", r.reused, r.body, r.res.Header.Get("X-Served-By"))
	}
	if n := s.newCon.Load(); n != 1 {
		t.Errorf("%d connections accepted, want 1", n)
	}
}

func TestKeepPipelinedAndLimits(t *testing.T) {
	s, responders := keptServer(t)
	host := strings.TrimPrefix(s.url, "http://")

	t.Run("pipelined", func(t *testing.T) {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /park/1 HTTP/1.1\r\nHost: h\r\n\r\nGET /kept/2 HTTP/1.1\r\nHost: h\r\n\r\nGET /back HTTP/1.1\r\nHost: h\r\n\r\n")
		respondAsync(responders, s.nextParked(), "one")
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(conn)
		for _, want := range []string{"one", "plain /kept/2", "plain /back"} {
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(b) != want {
				t.Fatalf("got %q, want %q", b, want)
			}
		}
	})

	answered := func(t *testing.T) (net.Conn, *bufio.Reader) { return answeredConn(t, s, responders) }

	t.Run("header too large", func(t *testing.T) {
		conn, br := answered(t)
		fmt.Fprintf(conn, "GET /kept/big HTTP/1.1\r\nHost: h\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 70<<10))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !res.Close {
			t.Fatalf("status %d close %v", res.StatusCode, res.Close)
		}
	})

	t.Run("malformed", func(t *testing.T) {
		conn, br := answered(t)
		fmt.Fprintf(conn, "GET /kept/m HTTP/1.1\r\nHost h\r\n\r\n")
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", res.StatusCode)
		}
	})

	t.Run("Close ends idle connections", func(t *testing.T) {
		conn, br := answered(t)
		waitIdle(t, s.park, 1)
		s.park.Close()
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("idle kept connection still open after Close")
		}
		_ = conn
	})
}

func TestKeepIdleTimeout(t *testing.T) {
	s, responders := keptServer(t)
	s.park.IdleTimeout = 100 * time.Millisecond
	_, br := answeredConn(t, s, responders)
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the idle timeout: %v, want EOF", err)
	}
}

// answeredConn parks a request on a new connection to s and answers it,
// leaving the connection with the Listener.
func answeredConn(t *testing.T, s *server, responders *sync.WaitGroup) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /park/x HTTP/1.1\r\nHost: h\r\n\r\n")
	respondAsync(responders, s.nextParked(), "x")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return conn, br
}

func waitIdle(t *testing.T, l *Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		got := len(l.idle)
		l.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle kept connections, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

func TestCheckRequest(t *testing.T) {
	for _, raw := range []string{
		"GET /kept/a HTTP/1.1\r\n\r\n",
		"GET /kept/a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET /kept/a HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET /kept/a HTTP/1.1\r\nHost: a\r\nX-V: a\x01b\r\n\r\n",
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			continue // refused by the parser already
		}
		if checkRequest(r) == nil {
			t.Errorf("accepted %q", raw)
		}
	}
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /kept/a HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkRequest(r); err != nil || r.Host != "example.com:8080" || r.Header.Get("Host") != "" {
		t.Errorf("valid request: %v, host %q", err, r.Host)
	}
}
