package webrtc

import (
	"strings"
	"testing"
)

// FuzzCheckOffer feeds arbitrary SDP to the offer checks: they must never
// panic, and anything accepted must have a bounded number of m-lines.
func FuzzCheckOffer(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AA\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"))
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := CheckOffer(b); err == nil {
			if n := strings.Count(string(b), "m="); n == 0 {
				t.Fatalf("accepted an offer without media sections")
			}
		}
	})
}
