package hub

import (
	"context"
	"testing"
	"time"
)

// retained counts the frames the ring still references.
func retained(s *Stream) int {
	n := 0
	for i := range s.ring {
		if s.ring[i].Load() != nil {
			n++
		}
	}
	return n
}

// With 1 s GOPs, the ring keeps MaxLag of media plus at most one GOP, not
// RingSize frames, and a new reader still starts at the newest keyframe.
func TestRingReleasesFramesPastMaxLag(t *testing.T) {
	s := NewStream("a", Options{MaxLag: 3 * time.Second})
	for _, f := range frames(testTracks, 0, 1500, 30) { // 50 s at 30 fps
		s.Write(f)
	}
	// Frames [1500-90-30, 1500) at most: 3 s behind the newest plus the
	// rest of the GOP that straddles that bound.
	if n := retained(s); n > 3*30+30+1 || n < 3*30 {
		t.Fatalf("ring holds %d frames; want about 3 s (90) to 4 s (120)", n)
	}
	r := s.Subscribe()
	defer r.Close()
	b, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 || !b[0].Key || b[0].Seq != 1470 {
		t.Fatalf("new reader starts at %v; want keyframe 1470", b)
	}
}

// A GOP longer than MaxLag is kept whole: it is the GOP cache.
func TestRingKeepsLongGOP(t *testing.T) {
	s := NewStream("a", Options{MaxLag: time.Second})
	for _, f := range frames(testTracks, 0, 900, 600) { // keyframes at 0 and 600 (20 s GOP)
		s.Write(f)
	}
	if n := retained(s); n < 300 {
		t.Fatalf("ring holds %d frames; want the whole GOP since keyframe 600 (300)", n)
	}
	r := s.Subscribe()
	defer r.Close()
	b, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 300 || b[0].Seq != 600 {
		t.Fatalf("new reader got %d frames from seq %v; want 300 from keyframe 600", len(b), b)
	}
}

// A reader whose position was released skips to the newest keyframe and
// counts the skipped frames as drops, as it would have by the MaxLag rule.
func TestReleasedPositionSkipsToKeyframe(t *testing.T) {
	s := NewStream("a", Options{MaxLag: time.Second, SlowTimeout: time.Hour})
	r := s.Subscribe()
	defer r.Close()
	for _, f := range frames(testTracks, 0, 300, 30) {
		s.Write(f)
	}
	if s.frame(0) != nil {
		t.Fatal("frame 0 still referenced 10 s later")
	}
	b, err := r.TryNext()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 30 || b[0].Seq != 270 || r.Dropped() != 270 {
		t.Fatalf("got %d frames from %v, dropped %d; want 30 from keyframe 270, 270 dropped", len(b), b, r.Dropped())
	}
}
