package rtmp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/play"
	"github.com/huabian-live/huabian/internal/testkit"
)

// selfSigned returns a throwaway certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// The server on the TLS listener labels its players and connection errors
// "rtmps", the plain one "rtmp", in the metrics, the per-channel viewer
// counts and the viewer sessions.
func TestRTMPSLabels(t *testing.T) {
	h := hub.New(hub.HubOptions{Stream: hub.Options{Prepare: play.PrepareFrame}})
	m := observe.NewMetrics(nil)
	sessions := &sessionLog{}
	log := slog.New(slog.DiscardHandler)
	plain := New(h, fakeAuth{}, &countingLimiter{}, m, log, Options{HandshakeTimeout: 2 * time.Second, Sessions: sessions})
	secure := New(h, fakeAuth{}, &countingLimiter{}, m, log, Options{HandshakeTimeout: 2 * time.Second, TLS: true, Sessions: sessions})
	plainLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn := tls.NewListener(tcpLn, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, srv := range []struct {
		s  *Server
		ln net.Listener
	}{{plain, plainLn}, {secure, tlsLn}} {
		wg.Go(func() {
			if err := srv.s.Serve(ctx, srv.ln); err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	defer func() {
		h.Close()
		cancel()
		wg.Wait()
	}()

	pub, err := h.Publish("demo", hub.PublishInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tracks := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264, SPS: testSPS, PPS: testPPS}}
	stop := make(chan struct{})
	var feed sync.WaitGroup
	feed.Go(func() {
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for i := 0; i < 100000; i++ {
			d := time.Duration(i) * time.Second / 30
			au := [][]byte{{0x41, 0x9a, 0x02, 0x04}}
			if i%30 == 0 {
				au = [][]byte{{0x65, 0x88, 0x84, 0x00, 0x33}}
			}
			pub.Write(&media.Frame{Tracks: tracks, Video: true, Key: i%30 == 0, DTS: d, PTS: d, AU: au})
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	})
	defer func() { close(stop); feed.Wait() }()
	stream := h.Stream("demo", false)

	for _, tc := range []struct {
		proto, other, url string
	}{
		{observe.ProtoRTMP, observe.ProtoRTMPS, "rtmp://" + plainLn.Addr().String() + "/live/demo"},
		{observe.ProtoRTMPS, observe.ProtoRTMP, "rtmps://" + tcpLn.Addr().String() + "/live/demo"},
	} {
		t.Run(tc.proto, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			c := &gortmplib.Client{URL: u, TLSConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // self-signed test certificate
			dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer dcancel()
			if err := c.Initialize(dctx); err != nil {
				t.Fatal(err)
			}
			_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
			r := &gortmplib.Reader{Conn: c}
			if err := r.Initialize(); err != nil {
				c.Close()
				t.Fatal(err)
			}
			waitUntil(t, tc.proto+" viewer counted", func() bool {
				return gauge(t, m, "huabian_viewers", "protocol", tc.proto) == 1 && stream.Viewers()[tc.proto] == 1
			})
			if g := gauge(t, m, "huabian_viewers", "protocol", tc.other); g != 0 {
				t.Errorf("huabian_viewers{protocol=%q} = %v while only a %s player is attached", tc.other, g, tc.proto)
			}
			if n := stream.Viewers()[tc.other]; n != 0 {
				t.Errorf("stream viewers[%q] = %d while only a %s player is attached", tc.other, n, tc.proto)
			}
			started, _ := sessions.counts()
			if want := "demo " + tc.proto + "  127.0.0.1"; len(started) == 0 || started[len(started)-1] != want {
				t.Errorf("sessions %q, want the last one %q", started, want)
			}
			c.Close()
			waitUntil(t, tc.proto+" viewer gone", func() bool {
				return gauge(t, m, "huabian_viewers", "protocol", tc.proto) == 0 && stream.Viewers()[tc.proto] == 0
			})
			if b := gauge(t, m, "huabian_egress_bytes_total", "protocol", tc.proto); b == 0 {
				t.Errorf("no %s egress bytes counted", tc.proto)
			}
		})
	}

	// Garbage after the TLS handshake is an RTMPS connection error.
	before := gauge(t, m, "huabian_connection_errors_total", "listener", observe.ProtoRTMP)
	conn, err := tls.Dial("tcp", tcpLn.Addr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // self-signed test certificate
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.Copy(io.Discard, conn)
	conn.Close()
	waitUntil(t, "an rtmps connection error", func() bool {
		return gauge(t, m, "huabian_connection_errors_total", "listener", observe.ProtoRTMPS) >= 1
	})
	if after := gauge(t, m, "huabian_connection_errors_total", "listener", observe.ProtoRTMP); after != before {
		t.Errorf("rtmp connection errors went from %v to %v on an RTMPS error", before, after)
	}
}

// gauge reads one series of the registry (0 when absent).
func gauge(t *testing.T, m *observe.Metrics, name, label, value string) float64 {
	t.Helper()
	v, _ := testkit.MetricValue(t, m.Registry, name, label, value)
	return v
}
