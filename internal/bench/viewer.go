package bench

import (
	"sync/atomic"
	"time"
)

// stallLag is how far a viewer's media clock may fall behind the wall clock
// before the viewer counts as stalled.
const stallLag = 2 * time.Second

// frameInfo is one received media frame, whatever the protocol.
type frameInfo struct {
	TS    time.Duration // decode timestamp as received (server time base)
	Video bool
	Key   bool // video keyframe (random-access point)
	Size  int  // payload bytes without codec/container framing
}

// counters are the live totals of a run, for the progress line.
type counters struct {
	connected, failed atomic.Int64
	bytes             atomic.Int64
}

// viewer is the state of one simulated viewer. Its protocol client runs in
// one goroutine, the only one to touch the viewer until it has exited; live
// totals go to the shared counters.
type viewer struct {
	c     *counters
	start time.Time // connect started

	connectedAt time.Time // protocol session established (zero: never)
	firstByte   time.Time // first byte of stream data
	firstFrame  time.Time
	firstKey    time.Time // first video keyframe
	end         time.Time

	// lag tracking: lag(t) = (wall(t) − wall0) − (maxTS − ts0)
	ts0, maxTS time.Duration
	maxLag     time.Duration
	frames     int

	lat *latencyTracker // nil without an in-process publisher

	early bool  // the stream ended before the run did
	err   error // why the viewer failed or ended early
	bytes int64
}

// setConnected marks the protocol session as established.
func (v *viewer) setConnected(now time.Time) {
	if v.connectedAt.IsZero() {
		v.connectedAt = now
		v.c.connected.Add(1)
	}
}

// addBytes counts stream bytes that arrived at now; the first call also
// stamps the time to first byte.
func (v *viewer) addBytes(now time.Time, n int64) {
	if n > 0 {
		v.gotData(now)
		v.countBytes(n)
	}
}

// gotData stamps the time to first byte, for clients that learn of stream
// data other than by counting bytes.
func (v *viewer) gotData(now time.Time) {
	if v.firstByte.IsZero() {
		v.firstByte = now
	}
}

// setBytes is addBytes for clients that only know a running total.
func (v *viewer) setBytes(now time.Time, total int64) {
	v.addBytes(now, total-v.bytes)
}

// countBytes counts received stream bytes.
func (v *viewer) countBytes(n int64) {
	v.bytes += n
	v.c.bytes.Add(n)
}

// frame records a received media frame at wall time now.
func (v *viewer) frame(now time.Time, f frameInfo) {
	if v.frames == 0 {
		v.firstFrame, v.ts0, v.maxTS = now, f.TS, f.TS
	}
	v.frames++
	v.maxTS = max(v.maxTS, f.TS)
	v.checkLag(now)
	if f.Video && f.Key && v.firstKey.IsZero() {
		v.firstKey = now
	}
	if f.Video && v.lat != nil {
		v.lat.frame(now, f)
	}
}

func (v *viewer) checkLag(now time.Time) {
	if v.frames == 0 {
		return
	}
	lag := now.Sub(v.firstFrame) - (v.maxTS - v.ts0)
	v.maxLag = max(v.maxLag, lag)
}

// finish closes the viewer at wall time now. A viewer that was still
// receiving when the run ended gets its lag checked at the end, so one
// starved of data (no frame arrived to trigger the check) still counts.
func (v *viewer) finish(now time.Time, early bool, err error) {
	if v.connectedAt.IsZero() {
		v.c.failed.Add(1)
	}
	v.end = now
	v.early = early
	v.err = err
	if !early {
		v.checkLag(now)
	}
	if v.lat != nil {
		v.lat.flush()
	}
}

func (v *viewer) stalled() bool { return v.frames > 0 && v.maxLag > stallLag }
