package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/config"
	"github.com/huabian-live/huabian/internal/testkit"
)

// runningApp is a whole server started by startApp.
type runningApp struct {
	http, rtmp, data string
	stop             func() time.Duration // cancels Run and waits for it (≤ 10 s)
}

// startApp runs the whole server on 127.0.0.1 ports with a fresh data
// directory (srtUDP and webrtcUDP are UDP addresses, or config.Off); it is
// stopped when the test ends if the test did not stop it.
func startApp(t *testing.T, srtUDP, webrtcUDP string) *runningApp {
	t.Helper()
	cfg := config.Defaults()
	cfg.Data = t.TempDir()
	cfg.SRT.Listen, cfg.WebRTC.UDP = srtUDP, webrtcUDP
	cfg.WebRTC.TCP = "127.0.0.1:0" // ICE-TCP on a free port, not the default :8189
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rtmpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, slog.New(slog.DiscardHandler), Listeners{HTTP: httpLn, RTMP: rtmpLn,
			Ready: func(h, _ net.Addr) { ready <- h.String() }})
	}()
	a := &runningApp{rtmp: rtmpLn.Addr().String(), data: cfg.Data}
	var once sync.Once
	a.stop = func() (took time.Duration) {
		once.Do(func() {
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return within 10 s of cancellation")
			}
			took = time.Since(start)
		})
		return took
	}
	t.Cleanup(func() { a.stop() })
	select {
	case a.http = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	return a
}

// Every documented API operation has an authentication policy: called
// anonymously, unsafe operations without the CSRF token are refused with
// 403, and with it every operation that is not about signing in answers
// 401 — except the few public reads. Every answer is one the document
// lists, with a body matching its schema.
func TestEveryRouteHasAnAuthPolicy(t *testing.T) {
	spec, err := testkit.LoadSpec(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	app := startApp(t, config.Off, config.Off)
	addr, data := app.http, app.data
	channels, closeStore, err := OpenChannels(context.Background(), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := channels.Create(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	closeStore()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + addr
	do := func(method, path, csrf string) (int, string, []byte) {
		t.Helper()
		var body io.Reader
		if method != http.MethodGet {
			body = strings.NewReader("{}")
		}
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}
	// The CSRF token of the visitor's pre-session (signing out starts a
	// new one, so it is read afresh for every operation).
	csrf := func() string {
		t.Helper()
		_, _, b := do(http.MethodGet, "/api/v1/session", "")
		var sess struct {
			CSRF string `json:"csrf_token"`
		}
		if err := json.Unmarshal(b, &sess); err != nil || sess.CSRF == "" {
			t.Fatalf("GET /session: %s", b)
		}
		return sess.CSRF
	}

	// Operations anyone may call (reads of public data, signing in).
	public := map[string]bool{
		"GET /api/v1/session": true, "GET /api/v1/site": true, "GET /api/v1/categories": true,
		"GET /api/v1/channels": true, "GET /api/v1/channels/{name}": true,
		"GET /api/v1/rankings/viewers-24h": true, "GET /api/v1/channels/{name}/chat/messages": true,
		"GET /api/v1/channels/{name}/chat": true, // the socket: anyone reads
		"GET /media/{id}":                  true, "GET /media/preview/{name}": true,
		"POST /api/v1/signup": true, "POST /api/v1/login": true, "POST /api/v1/logout": true,
	}
	fill := strings.NewReplacer("{name}", "demo", "{id}", "1", "{user}", "bob")
	ops := spec.Operations()
	if len(ops) < 30 {
		t.Fatalf("only %d operations documented", len(ops))
	}
	for _, op := range ops {
		method, tmpl, _ := strings.Cut(op, " ")
		path := fill.Replace(tmpl)
		t.Run(op, func(t *testing.T) {
			if method != http.MethodGet {
				if code, _, body := do(method, path, ""); code != http.StatusForbidden || !bytes.Contains(body, []byte("csrf_failed")) {
					t.Errorf("without CSRF token: %d %s, want 403 csrf_failed", code, body)
				}
			}
			code, ctype, body := do(method, path, csrf())
			if code >= 500 {
				t.Fatalf("%d %s", code, body)
			}
			if !public[op] && code != http.StatusUnauthorized && !strings.HasPrefix(tmpl, "/media/") {
				t.Errorf("anonymous: %d %s, want 401", code, body)
			}
			if _, err := spec.Validate(method, path, code, ctype, body); err != nil {
				t.Error(err)
			}
		})
	}
}
