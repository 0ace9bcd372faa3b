package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/huabian-live/huabian/internal/testkit"
)

// TestTLS runs the server with a certificate (HTTPS with HTTP/2, RTMPS,
// and the plain-HTTP redirect) and uses it with real clients: ffmpeg
// publishes over RTMPS; ffprobe reads HTTPS HTTP-FLV, HTTPS LL-HLS and
// RTMPS; Go clients read HTTP-FLV over HTTP/2 and WS-FLV over wss://
// (verifying the certificate); chromium plays the watch page over HTTPS;
// the certificate files are replaced and the next handshake serves the new
// one.
func TestTLS(t *testing.T) {
	requireTools(t)
	certDir := t.TempDir()
	certFile, keyFile := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	first := writeTestCert(t, certFile, keyFile, 1)
	s := startTLSServer(t, certFile, keyFile, first)

	t.Run("hsts_and_secure_cookie", func(t *testing.T) {
		resp, _ := s.get(t, s.h2, "/api/v1/session")
		if resp.ProtoMajor != 2 {
			t.Errorf("GET /api/v1/session over HTTPS: protocol %s, want HTTP/2", resp.Proto)
		}
		checkHSTS(t, "/api/v1/session", resp.Header)
		var found bool
		for _, c := range resp.Cookies() {
			if !strings.Contains(c.Name, "hb_session") {
				continue
			}
			found = true
			if c.Name != "__Host-hb_session" || !c.Secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly {
				t.Errorf("session cookie over HTTPS: %q; want __Host-hb_session, Secure, HttpOnly, Path=/, no Domain", resp.Header.Values("Set-Cookie"))
			}
		}
		if !found {
			t.Errorf("GET /api/v1/session set no session cookie; Set-Cookie: %q", resp.Header.Values("Set-Cookie"))
		}
		page, _ := s.get(t, s.h2, "/")
		checkHSTS(t, "/", page.Header)
	})

	t.Run("plain_http", func(t *testing.T) {
		// Plain HTTP on the HTTPS port is refused; the redirect listener
		// sends browsers to the same path over HTTPS.
		code, _, err := (&server{httpAddr: s.httpAddr}).get("/healthz")
		if err != nil || code != http.StatusBadRequest {
			t.Errorf("plain HTTP to the HTTPS port: HTTP %d, %v; want 400", code, err)
		}
		noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.Get("http://" + s.redirectAddr + "/c/demo?x=1")
		if err != nil {
			t.Fatalf("GET on the redirect listener: %v", err)
		}
		resp.Body.Close()
		_, port, _ := net.SplitHostPort(s.httpAddr)
		want := "https://127.0.0.1:" + port + "/c/demo?x=1"
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || got != want {
			t.Errorf("redirect listener: HTTP %d to %q, want 301 to %q", resp.StatusCode, got, want)
		}
	})

	key := s.createChannel(t, "demo")
	t.Run("plain_rtmp_to_rtmps_port", func(t *testing.T) {
		expectRefused(t, startPublisher(t, "rtmp://"+s.rtmpsAddr+"/live/"+key), "plain RTMP to the RTMPS port")
	})
	pub := startPublisher(t, "rtmps://"+s.rtmpsAddr+"/live/"+key)
	s.waitLiveTLS(t, "demo", pub)

	for _, tc := range []struct{ name, url string }{
		{"httpflv_https_ffprobe", "https://" + s.httpAddr + "/live/demo.flv"},
		{"llhls_https_ffprobe", "https://" + s.httpAddr + "/live/demo/index.m3u8"},
		{"rtmps_play_ffprobe", "rtmps://" + s.rtmpsAddr + "/live/demo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, stderr := ffprobe(t, tc.url, 4)
			checkPlayback(t, tc.name, res, stderr, 3)
		})
	}

	t.Run("httpflv_http2", func(t *testing.T) {
		// HTTP/2 connections cannot be taken over: the FLV server streams
		// through the ResponseWriter instead.
		v, proto := startFLVViewerClient(t, s.h2, "https://"+s.httpAddr+"/live/demo.flv")
		if proto != "HTTP/2.0" {
			t.Errorf("HTTP-FLV over HTTPS with an HTTP/2 client: protocol %s, want HTTP/2.0", proto)
		}
		v.waitVideo(t, 90, 20*time.Second)
		st := v.stats()
		if st.VideoSeqHeaders < 1 || st.AudioSeqHeaders < 1 || st.AudioFrames == 0 || len(st.Backwards) > 0 {
			t.Errorf("HTTP-FLV over HTTP/2: %+v", st)
		}
		t.Logf("HTTP-FLV over HTTP/2: %d video frames, first after %.0f ms", st.VideoFrames, st.FirstVideo.Seconds()*1000)
		v.stop()
	})

	t.Run("wsflv_wss", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "wss.flv")
		msgs, n := wssCapture(t, s.h1, "wss://"+s.httpAddr+"/live/demo.flv", file, 4500*time.Millisecond)
		t.Logf("WS-FLV over wss://: %d messages, %d bytes", msgs, n)
		res, stderr := ffprobe(t, file, 0)
		checkPlayback(t, "wsflv over wss", res, stderr, 3)
	})

	t.Run("browser", func(t *testing.T) {
		// The certificate is self-signed: only this browser ignores
		// certificate errors.
		b := startBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
		p := b.newPerson(t, "viewer")
		p.do("open /c/demo over HTTPS", chromedp.Navigate("https://"+s.httpAddr+"/c/demo"))
		p.waitFor("video playing", `(() => { const v = document.querySelector('#player video');
			return v && !v.error && v.videoWidth === 1280 && v.currentTime > 1 })()`, 30*time.Second)
		t0 := eval[float64](p, `document.querySelector('#player video').currentTime`)
		p.waitFor("currentTime advancing", `document.querySelector('#player video').currentTime > `+strconv.FormatFloat(t0+1, 'f', 3, 64), 15*time.Second)
		method := eval[string](p, `(document.querySelector('#player-method') || {}).textContent || ''`)
		page := eval[string](p, `location.protocol + ' ' + performance.getEntriesByType('navigation')[0].nextHopProtocol`)
		t.Logf("chromium over HTTPS: page %s, playing %q, currentTime %.1f s", page, method, t0)
		if page != "https: h2" {
			t.Errorf("watch page loaded as %q, want https: over h2", page)
		}
		// The player's first choice is WS-FLV: a wss:// WebSocket, which
		// chromium opens over HTTP/1.1 next to the HTTP/2 connection.
		if !strings.Contains(method, "WS-FLV") {
			t.Errorf("player method %q, want WS-FLV (wss://)", method)
		}
	})

	t.Run("certificate_reload", func(t *testing.T) {
		writeTestCert(t, certFile, keyFile, 2)
		// Renewal tools replace the files; move the time forward so the
		// change shows on file systems with coarse timestamps.
		later := time.Now().Add(time.Minute)
		for _, f := range []string{certFile, keyFile} {
			if err := os.Chtimes(f, later, later); err != nil {
				t.Fatal(err)
			}
		}
		for _, addr := range []string{s.httpAddr, s.rtmpsAddr} {
			var got int64
			if !poll(10*time.Second, 100*time.Millisecond, func() bool {
				got = peerSerial(t, addr)
				return got == 2
			}) {
				t.Errorf("%s: certificate serial %d after replacing the files, want 2", addr, got)
			}
		}
		if !strings.Contains(s.log.String(), "TLS certificate reloaded") {
			t.Errorf("no reload in the server log")
		}
	})
}

// tlsServer is a server started with a certificate, and clients that trust
// it.
type tlsServer struct {
	*server
	rtmpsAddr    string
	redirectAddr string
	h2, h1       *http.Client // HTTP/2 (negotiated by ALPN) and HTTP/1.1 only
}

// startTLSServer starts `huabian serve` with the certificate, RTMPS and the
// redirect listener on free ports, and waits until /healthz answers over
// HTTPS.
func startTLSServer(t *testing.T, certFile, keyFile string, cert *x509.Certificate) *tlsServer {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	tlsConf := &tls.Config{RootCAs: roots}
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: true, DisableCompression: true, ResponseHeaderTimeout: 15 * time.Second}}
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, DisableCompression: true, ResponseHeaderTimeout: 15 * time.Second}}
	t.Cleanup(h2.CloseIdleConnections)
	t.Cleanup(h1.CloseIdleConnections)
	data := t.TempDir()
	for attempt := 1; attempt <= 5; attempt++ {
		addrs := map[string]bool{}
		httpAddr, rtmpAddr, rtmpsAddr, redirectAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
		for _, a := range []string{httpAddr, rtmpAddr, rtmpsAddr, redirectAddr} {
			addrs[a] = true
		}
		if len(addrs) < 4 {
			continue
		}
		s := &tlsServer{
			server:    &server{data: data, httpAddr: httpAddr, rtmpAddr: rtmpAddr, log: newLogBuffer(64<<10, 4<<20)},
			rtmpsAddr: rtmpsAddr, redirectAddr: redirectAddr, h2: h2, h1: h1,
		}
		s.proc = startProcLog(t, nil, s.log, binPath, "serve", "--data", data, "--http", httpAddr, "--rtmp", rtmpAddr,
			"--http.tls_cert", certFile, "--http.tls_key", keyFile, "--rtmps", rtmpsAddr,
			"--http.redirect_listen", redirectAddr, "--srt", "off", "--webrtc-udp", "off")
		ok := poll(20*time.Second, 50*time.Millisecond, func() bool {
			if s.proc.exited() {
				return true
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+httpAddr+"/healthz", nil)
			resp, err := h2.Do(req)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		if ok && !s.proc.exited() {
			t.Cleanup(func() { s.stop(t) })
			t.Logf("server pid %d: https %s, rtmp %s, rtmps %s, redirect %s", s.proc.cmd.Process.Pid, httpAddr, rtmpAddr, rtmpsAddr, redirectAddr)
			return s
		}
		s.proc.kill(t)
		if !strings.Contains(s.log.String(), "address already in use") {
			t.Fatalf("server did not start (exit status %d); log:\n%s", s.proc.exitCode(), lastLines(s.log.String(), 40))
		}
	}
	t.Fatal("server did not start after 5 attempts (ports kept being taken)")
	return nil
}

// get fetches path over HTTPS with client and fails the test on transport
// errors or a status other than 200.
func (s *tlsServer) get(t *testing.T, client *http.Client, path string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+s.httpAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET https %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET https %s: HTTP %d, %v: %.300s", path, resp.StatusCode, err, body)
	}
	return resp, body
}

// waitLiveTLS polls the status API over HTTPS until the channel is live
// with video and audio, for up to 20 s.
func (s *tlsServer) waitLiveTLS(t *testing.T, name string, pub *publisher) {
	t.Helper()
	var last channelStatus
	ok := poll(20*time.Second, 100*time.Millisecond, func() bool {
		if pub.exited() {
			return true
		}
		_, body := s.get(t, s.h2, "/api/v1/channels/"+name)
		last = channelStatus{}
		if err := json.Unmarshal(body, &last); err != nil {
			t.Fatalf("status of %s: %v", name, err)
		}
		return last.Live && last.Video != nil && last.Audio != nil
	})
	if pub.exited() {
		t.Fatalf("RTMPS publisher exited (status %d) before %s went live; its stderr:\n%s", pub.exitCode(), name, lastLines(pub.stderr.String(), 30))
	}
	if !ok {
		t.Fatalf("%s not live 20 s after publishing over RTMPS; last status %v", name, last)
	}
	t.Logf("live over RTMPS %.1fs after ffmpeg started", time.Since(pub.started).Seconds())
}

func checkHSTS(t *testing.T, what string, h http.Header) {
	t.Helper()
	v := h.Get("Strict-Transport-Security")
	age, _, _ := strings.Cut(strings.TrimPrefix(v, "max-age="), ";")
	if n, err := strconv.Atoi(age); !strings.HasPrefix(v, "max-age=") || err != nil || n < 31536000 {
		t.Errorf("%s over HTTPS: Strict-Transport-Security %q, want max-age of at least a year", what, v)
	}
}

// writeTestCert writes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost with the given serial number, and its key.
func writeTestCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	c := testkit.NewTestCert(t, serial)
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, c.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return c.Cert
}

// peerSerial returns the serial number of the certificate addr presents
// (0 on a failed handshake). It does not verify: the point is which
// certificate is served.
func peerSerial(t *testing.T, addr string) int64 {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // reads the served certificate only
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// wssCapture reads WS-FLV over wss:// with client (HTTP/1.1) for d from
// the first message into file; it returns the messages and bytes read.
func wssCapture(t *testing.T, client *http.Client, url, file string, d time.Duration) (msgs, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+20*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatalf("WebSocket dial %s: %v", url, err)
	}
	defer c.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket dial %s: HTTP %d", url, resp.StatusCode)
	}
	c.SetReadLimit(64 << 20)
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var firstAt time.Time
	for firstAt.IsZero() || time.Since(firstAt) < d {
		typ, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("WebSocket read after %d messages (%d bytes): %v", msgs, n, err)
		}
		if typ != websocket.MessageBinary {
			t.Fatalf("WebSocket message %d is %v, want binary", msgs, typ)
		}
		if firstAt.IsZero() {
			firstAt = time.Now()
		}
		msgs++
		n += len(data)
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		t.Fatal(err)
	}
	return msgs, n
}
