package httppark

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// FuzzKeptRequest feeds what a client may send on a kept connection to the
// Listener's own request reading: the request line peek that decides
// whether the Listener keeps the request, then net/http's parser and the
// server-side checks. Nothing may panic, and the peek consumes nothing.
func FuzzKeptRequest(f *testing.F) {
	for _, s := range []string{
		"GET /live/demo/video1_stream.m3u8?_HLS_msn=3&_HLS_part=1 HTTP/1.1\r\nHost: a\r\n\r\n",
		"HEAD /live/demo/x_video1_part9.mp4 HTTP/1.0\r\n\r\n",
		"GET /live/demo/index.m3u8 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"POST /live/demo/whep HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"GET http://evil/live/a/b.m3u8 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /x HTTP/2.0\r\n\r\n",
		"GET  /x HTTP/1.1\n\n",
		"\r\n\r\n",
		"GET /live/a/b.m3u8 HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
		"GET /" + strings.Repeat("a", 2000) + " HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(b), 1<<10)
		method, target, ok := peekRequestLine(br)
		if ok {
			if !printable([]byte(method)) || !printable([]byte(target)) {
				t.Fatalf("peek gave method %q target %q", method, target)
			}
		}
		rest, _ := br.Peek(br.Buffered())
		if !bytes.HasPrefix(b, rest) {
			t.Fatal("the peek consumed input")
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if checkRequest(req) == nil && req.ProtoAtLeast(1, 1) && req.Host == "" {
			t.Fatal("an HTTP/1.1 request without Host passed the checks")
		}
	})
}
