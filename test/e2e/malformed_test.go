package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/handshake"
)

// RTMP 1.0 message type IDs (spec §5.4, §7.1).
const (
	msgSetChunkSize  = 1
	msgWindowAckSize = 5
	msgCommandAMF0   = 20
)

// rtmpChunk0 builds one chunk with a type-0 header (RTMP 1.0 §5.3.1): basic
// header fmt=0 with a one-byte csid (2..63), then timestamp (3 bytes),
// message length (3 bytes, the declared length, which may differ from
// len(payload)), type ID (1) and message stream ID (4, little-endian), then
// payload.
func rtmpChunk0(csid byte, typ byte, streamID uint32, declared int, payload []byte) []byte {
	b := []byte{csid & 0x3F, 0, 0, 0, byte(declared >> 16), byte(declared >> 8), byte(declared), typ}
	b = binary.LittleEndian.AppendUint32(b, streamID)
	return append(b, payload...)
}

// amf0String and friends encode the few AMF0 values a connect command needs.
func amf0String(s string) []byte {
	b := []byte{0x02, byte(len(s) >> 8), byte(len(s))}
	return append(b, s...)
}

func amf0Number(f float64) []byte {
	b := []byte{0x00}
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

// connectCommand is a minimal AMF0 "connect" (transaction 1) for app live.
func connectCommand(tcURL string) []byte {
	var b bytes.Buffer
	b.Write(amf0String("connect"))
	b.Write(amf0Number(1))
	b.WriteByte(0x03) // object
	for _, kv := range [][2]string{{"app", "live"}, {"type", "nonprivate"}, {"tcUrl", tcURL}} {
		b.Write([]byte{byte(len(kv[0]) >> 8), byte(len(kv[0]))})
		b.WriteString(kv[0])
		b.Write(amf0String(kv[1]))
	}
	b.Write([]byte{0, 0, 0x09}) // object end
	return b.Bytes()
}

// TestMalformedRTMPClosesOnlyThatConnection sends broken RTMP to the RTMP
// port while a channel is live. Each bad connection must be closed by the
// server within a bounded time; the live stream keeps flowing to an
// HTTP-FLV viewer that was attached before, /healthz stays OK, and a fresh
// RTMP player still works afterwards.
func TestMalformedRTMPClosesOnlyThatConnection(t *testing.T) {
	requireTools(t)
	srv := startServer(t)
	key := srv.createChannel(t, "demo")
	guardKey := srv.createChannel(t, "guard")
	pub := startPublisher(t, srv.publishURL(key))
	srv.waitLive(t, "demo", pub.proc, true)
	st0 := srv.status(t, "demo")
	viewer := startFLVViewer(t, srv.url("/live/demo.flv"))
	viewer.waitVideo(t, 1, 20*time.Second)
	errs0, _ := metricValue(srv.metrics(t), "huabian_connection_errors_total", `listener="rtmp"`)
	frames0 := viewer.stats().VideoFrames

	// The server's handshake/command deadline is 10 s; allow that plus a
	// generous margin for a loaded machine.
	const closeWithin = 25 * time.Second
	const handshakeTimeout = 10 * time.Second
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}

	cases := []struct {
		name string
		// conn opens the connection (nil: a plain TCP dial).
		conn func(t *testing.T) net.Conn
		// send writes the malformed input on c.
		send func(t *testing.T, c net.Conn)
		// prompt: the input is a protocol error the server can see at once,
		// so it must not wait for the handshake deadline to close.
		prompt bool
	}{
		{
			name: "truncated_handshake", // C0 + 100 of the 1536 bytes of C1, then nothing
			send: func(t *testing.T, c net.Conn) {
				write(t, c, append([]byte{0x03}, garbage[:100]...))
			},
		},
		{
			// RELIABILITY §3(a)3: a chunk size of 0 is a protocol error and
			// must close the connection, not leave it to the deadline.
			name: "set_chunk_size_0_before_connect",
			send: func(t *testing.T, c net.Conn) {
				clientHandshake(t, c)
				write(t, c, rtmpChunk0(2, msgSetChunkSize, 0, 4, []byte{0, 0, 0, 0}))
			},
			prompt: true,
		},
		{
			name: "set_chunk_size_0_before_connect_then_connect",
			send: func(t *testing.T, c net.Conn) {
				clientHandshake(t, c)
				write(t, c, rtmpChunk0(2, msgSetChunkSize, 0, 4, []byte{0, 0, 0, 0}))
				cmd := connectCommand("rtmp://" + srv.rtmpAddr + "/live")
				write(t, c, rtmpChunk0(3, msgCommandAMF0, 0, len(cmd), cmd))
			},
			prompt: true,
		},
		{
			// Length 0xFFFFFF with 1 byte sent: the server cannot tell yet
			// (it reads a whole 128-byte chunk first); it must not allocate
			// for the declared size and must close at the deadline.
			name: "message_declaring_16MiB_1_byte_sent",
			send: func(t *testing.T, c net.Conn) {
				clientHandshake(t, c)
				write(t, c, rtmpChunk0(3, msgCommandAMF0, 0, 0xFFFFFF, []byte{0x02}))
			},
		},
		{
			// The same header with its first full 128-byte chunk: the
			// declared size is now known to be over any sane maximum.
			name: "message_declaring_16MiB_first_chunk_sent",
			send: func(t *testing.T, c net.Conn) {
				clientHandshake(t, c)
				write(t, c, rtmpChunk0(3, msgCommandAMF0, 0, 0xFFFFFF, garbage[:128]))
			},
			prompt: true,
		},
		{
			name: "empty_set_chunk_size",
			send: func(t *testing.T, c net.Conn) {
				clientHandshake(t, c)
				write(t, c, rtmpChunk0(2, msgSetChunkSize, 0, 0, nil))
			},
			prompt: true,
		},
		{
			name: "empty_window_ack_size",
			send: func(t *testing.T, c net.Conn) {
				clientHandshake(t, c)
				write(t, c, rtmpChunk0(2, msgWindowAckSize, 0, 0, nil))
			},
			prompt: true,
		},
		{
			name: "http_request_to_rtmp_port",
			send: func(t *testing.T, c net.Conn) {
				write(t, c, []byte("GET /live/demo.flv HTTP/1.1\r\nHost: "+srv.rtmpAddr+"\r\n\r\n"))
			},
			prompt: true,
		},
		{
			name: "garbage_after_valid_c0", // 0x03, then 4 KiB of random bytes
			send: func(t *testing.T, c net.Conn) {
				write(t, c, append([]byte{0x03}, garbage...))
			},
		},
		{
			// An authenticated publisher (another channel) sends SetChunkSize
			// 0 after publish: the stage where the server screens chunk sizes.
			name: "set_chunk_size_0_while_publishing",
			conn: func(t *testing.T) net.Conn {
				u := &url.URL{Scheme: "rtmp", Host: srv.rtmpAddr, Path: "/live", Fragment: guardKey}
				cl := &gortmplib.Client{URL: u, Publish: true}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := cl.Initialize(ctx); err != nil {
					t.Fatalf("RTMP publish: %v", err)
				}
				t.Cleanup(cl.Close)
				return cl.NetConn()
			},
			send: func(t *testing.T, c net.Conn) {
				write(t, c, rtmpChunk0(2, msgSetChunkSize, 0, 4, []byte{0, 0, 0, 0}))
			},
			prompt: true,
		},
	}

	// Open every bad connection at once (the slow cases wait for the
	// server's 10 s deadline concurrently), then report each as a subtest.
	type closeResult struct {
		took time.Duration
		how  string
		err  error // still open at the deadline
	}
	results := make([]chan closeResult, len(cases))
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, tc := range cases {
		var c net.Conn
		if tc.conn != nil {
			c = tc.conn(t)
		} else {
			c = dialTCP(t, srv.rtmpAddr)
		}
		tc.send(t, c)
		results[i] = make(chan closeResult, 1)
		wg.Go(func() {
			took, how, err := waitClosed(c, closeWithin)
			results[i] <- closeResult{took, fmt.Sprintf("from %s: %s", c.LocalAddr(), how), err}
		})
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := <-results[i]
			if r.err != nil {
				t.Fatal(r.err)
			}
			t.Logf("server closed the connection %.2fs after the input (%s)", r.took.Seconds(), r.how)
			if tc.prompt && r.took >= handshakeTimeout-time.Second {
				t.Errorf("%s: the server did not reject this protocol error; it only closed the connection when its %s deadline expired (%.1fs after the input)",
					tc.name, handshakeTimeout, r.took.Seconds())
			}
		})
	}

	// The live channel was not disturbed.
	st := viewer.stats()
	if st.Done {
		t.Fatalf("the HTTP-FLV viewer attached before lost its stream: %v", st.Err)
	}
	if st.VideoFrames-frames0 < 30 {
		t.Errorf("the HTTP-FLV viewer got only %d video frames while the malformed connections ran", st.VideoFrames-frames0)
	}
	if len(st.Backwards) > 0 {
		t.Errorf("viewer timestamps went backwards: %v", st.Backwards)
	}
	if code, _, err := srv.get("/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("/healthz after the malformed connections: %d %v", code, err)
	}
	if now := srv.status(t, "demo"); !now.Live || !now.StartedAt.Equal(*st0.StartedAt) {
		t.Errorf("publish session changed: before %v, after %v", st0, now)
	}
	errs, _ := metricValue(srv.metrics(t), "huabian_connection_errors_total", `listener="rtmp"`)
	t.Logf(`huabian_connection_errors_total{listener="rtmp"}: %v → %v for %d malformed connections`, errs0, errs, len(cases))
	if errs < errs0+float64(len(cases)) {
		t.Errorf(`huabian_connection_errors_total{listener="rtmp"} rose by %v, want ≥ %d (one per malformed connection)`, errs-errs0, len(cases))
	}
	res, stderr := ffprobe(t, "rtmp://"+srv.rtmpAddr+"/live/demo", 2)
	checkPlayback(t, "rtmp play after malformed input", res, stderr, 1.5)
}

func write(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// clientHandshake performs a plain (unencrypted) RTMP client handshake.
func clientHandshake(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, _, err := handshake.DoClient(c, false, false); err != nil {
		t.Fatalf("RTMP handshake: %v", err)
	}
	_ = c.SetDeadline(time.Time{})
}

// waitClosed reads (discarding) until the server closes c or d passes; an
// error means c was still open at the deadline.
func waitClosed(c net.Conn, d time.Duration) (time.Duration, string, error) {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(d))
	n, err := io.Copy(io.Discard, c)
	took := time.Since(start)
	var ne net.Error
	switch {
	case err == nil:
		return took, "EOF after " + strconv.FormatInt(n, 10) + " bytes from the server", nil
	case errors.As(err, &ne) && ne.Timeout():
		return took, "", fmt.Errorf("connection still open %s after the malformed input (%d bytes received)", d, n)
	}
	return took, err.Error(), nil
}
