package httpflv

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// maskedFrame builds a client frame (clients must mask).
func maskedFrame(opcode byte, payload []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	out := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	}
	out = append(out, key[:]...)
	for i, b := range payload {
		out = append(out, b^key[i%4])
	}
	return out
}

// countingReader reports how far the frame reader got.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestReadClientFrames(t *testing.T) {
	ping := maskedFrame(0x9, []byte("hi"))
	text := maskedFrame(0x1, bytes.Repeat([]byte("x"), 300))
	closeF := maskedFrame(0x8, []byte{0x03, 0xe8})
	cases := []struct {
		name     string
		in       []byte
		consumed int // bytes read before the reader stops
	}{
		{"ping, data, close: stops at close", concat(ping, text, closeF, ping), len(ping) + len(text) + len(closeF)},
		{"unmasked frame: protocol error", concat(ping, []byte{0x89, 0x00}, ping), len(ping) + 2},
		{"oversize frame: stops at its header", concat([]byte{0x82, 0x80 | 127, 0, 0, 0, 0, 1, 0, 0, 0}, make([]byte, 100)), 10},
		{"truncated: stops at EOF", ping[:3], 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &countingReader{r: bytes.NewReader(tc.in)}
			readClientFrames(r)
			if r.n != tc.consumed {
				t.Fatalf("consumed %d bytes, want %d", r.n, tc.consumed)
			}
		})
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// FuzzReadClientFrames: whatever a WebSocket viewer sends, the frame reader
// returns (at EOF at the latest) without panicking or reading past a close.
func FuzzReadClientFrames(f *testing.F) {
	f.Add(maskedFrame(0x8, nil))
	f.Add(concat(maskedFrame(0x9, []byte("a")), maskedFrame(0x2, make([]byte, 200))))
	f.Add([]byte{0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0x82, 0x7E})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &countingReader{r: bytes.NewReader(in)}
		readClientFrames(r)
		if r.n > len(in) {
			t.Fatalf("read %d of %d bytes", r.n, len(in))
		}
	})
}

func TestWebSocketAccept(t *testing.T) {
	r, _ := http.NewRequest("GET", "/live/demo.flv", nil)
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	got, err := websocketAccept(r)
	if err != nil || got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" { // RFC 6455 §1.3 example
		t.Fatalf("accept %q, %v", got, err)
	}
	r.Header.Set("Sec-WebSocket-Key", "short")
	if _, err := websocketAccept(r); err == nil {
		t.Fatal("bad key accepted")
	}
	r.Header.Set("Sec-WebSocket-Version", "8")
	if _, err := websocketAccept(r); err == nil {
		t.Fatal("version 8 accepted")
	}
}
