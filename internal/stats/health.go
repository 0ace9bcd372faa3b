package stats

import (
	"time"
)

// HealthSample is one second of a live stream.
type HealthSample struct {
	At                 time.Time
	Bitrate            int64 // ingest bits per second
	FPS                int64 // video frames per second
	KeyframeIntervalMS int64 // media time between the last two keyframes
	Viewers            int   // current viewer sessions, every protocol
}

// healthRing keeps the newest samples of one stream.
type healthRing struct {
	buf  []HealthSample
	next int // index the next sample goes to
	n    int // samples held
}

func newHealthRing(size int) *healthRing {
	return &healthRing{buf: make([]HealthSample, max(size, 1))}
}

func (r *healthRing) add(h HealthSample) {
	r.buf[r.next] = h
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// since returns the samples taken after t, oldest first.
func (r *healthRing) since(t time.Time) []HealthSample {
	out := make([]HealthSample, 0, r.n)
	for i := range r.n {
		h := r.buf[(r.next-r.n+i+len(r.buf))%len(r.buf)]
		if h.At.After(t) {
			out = append(out, h)
		}
	}
	return out
}

func (r *healthRing) newest() time.Time {
	if r.n == 0 {
		return time.Time{}
	}
	return r.buf[(r.next-1+len(r.buf))%len(r.buf)].At
}

// sample takes one health sample of every live stream, raises the peaks of
// running broadcasts and forgets the samples of streams that stopped
// longer than HealthWindow ago.
func (s *Service) sample() {
	now := s.now()
	streams := s.opts.Streams()
	size := int(s.opts.HealthWindow / s.opts.SampleInterval)
	type reading struct {
		name string
		h    HealthSample
	}
	readings := make([]reading, 0, len(streams))
	for _, st := range streams {
		if !st.Live || st.Stream == nil {
			continue
		}
		bitrate, fps := st.Stream.Rates()
		readings = append(readings, reading{st.Name, HealthSample{
			At:                 now,
			Bitrate:            bitrate,
			FPS:                fps,
			KeyframeIntervalMS: st.Stream.KeyframeInterval().Milliseconds(),
		}})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rd := range readings {
		rd.h.Viewers = s.viewers[rd.name]
		r := s.health[rd.name]
		if r == nil {
			r = newHealthRing(size)
			s.health[rd.name] = r
		}
		r.add(rd.h)
		if b := s.live[rd.name]; b != nil && rd.h.Viewers > b.peak {
			b.peak = rd.h.Viewers
		}
	}
	for name, r := range s.health {
		if now.Sub(r.newest()) > s.opts.HealthWindow {
			delete(s.health, name)
		}
	}
}

// Health returns the health samples of channel from the last d (at most
// HealthWindow), oldest first; empty when it was not live.
func (s *Service) Health(channel string, d time.Duration) []HealthSample {
	d = min(d, s.opts.HealthWindow)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.health[channel]
	if r == nil {
		return []HealthSample{}
	}
	return r.since(s.now().Add(-d))
}
