package hub

import (
	"fmt"
	"testing"
)

// BenchmarkStreamWrite measures the publisher's cost per frame with n
// attached readers that are parked (waiting for a wake-up), which is the
// common case between frames. Allocations must not grow with n.
func BenchmarkStreamWrite(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("readers=%d", n), func(b *testing.B) {
			s := NewStream("bench", Options{})
			for range n {
				r := s.Subscribe()
				b.Cleanup(r.Close)
			}
			fs := frames(testTracks, 0, 1024, 30)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				// Reuse frame values; Write only stores pointers.
				s.Write(fs[i&1023])
				i++
			}
		})
	}
}
