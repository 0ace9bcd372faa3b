package hub

import (
	"sync"
	"time"
)

// rates measures ingest bitrate and video frame rate over whole seconds.
// Updated by Write under Stream.mu; read through Stream.Rates.
type rates struct {
	sec             int64 // unix second being accumulated
	bytes, frames   int64 // in the current second
	lastBytesPerSec int64 // the last complete second
	lastFPS         int64
}

func (r *rates) add(now time.Time, size int, video bool) {
	sec := now.Unix()
	if sec != r.sec {
		if sec == r.sec+1 {
			r.lastBytesPerSec, r.lastFPS = r.bytes, r.frames
		} else {
			r.lastBytesPerSec, r.lastFPS = 0, 0 // a gap: the last second had nothing
		}
		r.sec, r.bytes, r.frames = sec, 0, 0
	}
	r.bytes += int64(size)
	if video {
		r.frames++
	}
}

// Rates returns the ingest bitrate (bits/s) and video frames per second
// measured over the last complete second.
func (s *Stream) Rates() (bitrate int64, fps int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Now().Unix() > s.rates.sec+1 {
		return 0, 0 // nothing received for over a second
	}
	return s.rates.lastBytesPerSec * 8, s.rates.lastFPS
}

// viewerSet counts attached viewers by protocol for the status API.
type viewerSet struct {
	mu sync.Mutex
	n  map[string]int
}

// AddViewer counts a viewer of protocol proto and returns the function that
// uncounts it (idempotent).
func (s *Stream) AddViewer(proto string) (done func()) {
	v := &s.viewers
	v.mu.Lock()
	if v.n == nil {
		v.n = map[string]int{}
	}
	v.n[proto]++
	v.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			v.mu.Lock()
			v.n[proto]--
			v.mu.Unlock()
		})
	}
}

// Viewers returns the viewer counts by protocol.
func (s *Stream) Viewers() map[string]int {
	v := &s.viewers
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.n))
	for k, n := range v.n {
		out[k] = n
	}
	return out
}

// KeyframeInterval returns the media time between the last two video
// keyframes (0 before the second one): one atomic load, for health charts.
func (s *Stream) KeyframeInterval() time.Duration {
	return time.Duration(s.Counters.LastKeyPeriod.Load())
}
