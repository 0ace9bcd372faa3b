package bench

import (
	"sort"
	"sync"
	"time"
)

// Publisher→viewer latency
//
// With PlayOptions.Publish, this process is both ends of the path, so latency can be
// measured on one clock without embedding anything in the stream:
//
//  1. The in-process publisher logs, for each video frame, the DTS it sent,
//     the payload size and the wall time at which it began writing the frame
//     to the socket (pubLog). That is the earliest instant any viewer could
//     have it; the time the write returned can come after a viewer on the
//     same machine already got the frame.
//  2. A server may shift timestamps, by a constant per stream or per viewer
//     (many rebase every viewer to start at 0), so a viewer cannot look its
//     DTS up directly: it first finds its offset. It buffers the frames of
//     its first calibrationWindow of media, starting at its first video
//     keyframe, and tries as candidates every keyframe published in the
//     calibrationSpan before that keyframe arrived (the server can only
//     have sent one that was already published). A candidate fixes the
//     offset (received DTS − published DTS); it is scored by how many of the
//     buffered frames map onto a published frame whose payload size differs
//     from the received size by the most common difference (servers do not
//     repackage frames at random: the difference is 0, or constant when a
//     server adds or strips a NAL unit). A candidate that would put any
//     frame's arrival before its publication is rejected. Keyframes one GOP
//     apart have the same DTS spacing, so DTS alone cannot tell them apart;
//     the size sequence can, up to the fixture's loop length (10 s), which
//     bounds the latency this can measure. Ties go to the newest candidate.
//     The winner must explain more than half of the buffered frames; if none
//     does, the viewer tries again from its next keyframe, and after
//     maxCalibrations windows it is reported as uncalibrated.
//  3. From then on each received video frame's latency is its arrival time
//     minus the publish time of the frame with DTS = received DTS − offset.
//     Frames that match nothing (or would arrive before being sent) are
//     counted as unmatched, not guessed.
//
// Latency here is "frame written by the publisher → frame fully received by
// the viewer", for every video frame published after the viewer connected.
// The frames a server sends from its GOP cache to a new viewer were
// published before the viewer asked and are as old as the cache: they are
// counted apart (frames_from_cache), since they measure the cache's depth,
// not the path's delay. For LL-HLS it is measured per sample at the moment
// the part carrying it has been downloaded.
const (
	calibrationWindow = 2 * time.Second  // media buffered before choosing the offset
	calibrationSpan   = 10 * time.Second // how far back candidates are looked for
	dtsTolerance      = 5 * time.Millisecond
	causalSlack       = 2 * time.Millisecond // clock granularity allowance
	maxCalibrations   = 3
)

type pubFrame struct {
	DTS  time.Duration
	Wall time.Duration // since the run's epoch
	Size int32
	Key  bool
}

// pubLog is the publisher's record of sent video frames, ascending by DTS.
// One publisher goroutine appends; viewers search it concurrently.
type pubLog struct {
	epoch time.Time
	keep  int // frames kept; older ones are dropped in batches

	mu     sync.RWMutex
	frames []pubFrame
}

func newPubLog(epoch time.Time) *pubLog {
	return &pubLog{epoch: epoch, keep: 4096} // > 2 min at 30 fps
}

func (l *pubLog) add(dts time.Duration, wall time.Time, size int, key bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.frames) >= 2*l.keep {
		l.frames = append(l.frames[:0], l.frames[len(l.frames)-l.keep:]...)
	}
	l.frames = append(l.frames, pubFrame{DTS: dts, Wall: wall.Sub(l.epoch), Size: int32(size), Key: key})
}

// lookup returns the frame whose DTS is within dtsTolerance of dts.
func (l *pubLog) lookup(dts time.Duration) (pubFrame, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i := sort.Search(len(l.frames), func(i int) bool { return l.frames[i].DTS >= dts-dtsTolerance })
	if i < len(l.frames) && l.frames[i].DTS <= dts+dtsTolerance {
		return l.frames[i], true
	}
	return pubFrame{}, false
}

// keyframesBefore returns the keyframes published in [wall−span, wall],
// newest first.
func (l *pubLog) keyframesBefore(wall, span time.Duration) []pubFrame {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []pubFrame
	for i := len(l.frames) - 1; i >= 0; i-- {
		f := l.frames[i]
		if f.Wall > wall+causalSlack {
			continue
		}
		if f.Wall < wall-span {
			break
		}
		if f.Key {
			out = append(out, f)
		}
	}
	return out
}

// latencyTracker is one viewer's side of the measurement.
type latencyTracker struct {
	log  *pubLog
	hist *histogram // shared by all viewers
	// joined is when the viewer started connecting (since the epoch);
	// frames published before it came from the server's cache.
	joined time.Duration

	calibrated   bool
	attempts     int
	offset       time.Duration // received DTS − published DTS
	pending      []latSample
	matched      int
	unmatched    int
	cached       int  // matched frames published before the viewer joined
	uncalibrated bool // gave up: no consistent offset found
}

type latSample struct {
	dts  time.Duration
	wall time.Duration // since epoch
	size int
}

func (t *latencyTracker) frame(now time.Time, f frameInfo) {
	s := latSample{dts: f.TS, wall: now.Sub(t.log.epoch), size: f.Size}
	if t.calibrated {
		t.record(s)
		return
	}
	if t.uncalibrated || (len(t.pending) == 0 && !f.Key) {
		return
	}
	t.pending = append(t.pending, s)
	if s.dts-t.pending[0].dts >= calibrationWindow {
		t.calibrate()
	}
}

// flush calibrates on what was buffered when the viewer stops early.
func (t *latencyTracker) flush() {
	if !t.calibrated && !t.uncalibrated && len(t.pending) > 1 {
		t.calibrate()
	}
}

func (t *latencyTracker) record(s latSample) {
	p, ok := t.log.lookup(s.dts - t.offset)
	lat := s.wall - p.Wall
	if !ok || lat < -causalSlack {
		t.unmatched++
		return
	}
	t.matched++
	if p.Wall < t.joined {
		t.cached++
		return
	}
	t.hist.add(lat)
}

func (t *latencyTracker) calibrate() {
	t.attempts++
	first := t.pending[0]
	bestScore := 0
	for _, k := range t.log.keyframesBefore(first.wall, calibrationSpan) {
		if score := t.score(first.dts - k.DTS); score > bestScore {
			bestScore, t.offset = score, first.dts-k.DTS
		}
	}
	// Require the size pattern to hold for most of the window, not by luck.
	if bestScore*2 > len(t.pending) {
		t.calibrated = true
		for _, s := range t.pending {
			t.record(s)
		}
	} else if t.attempts >= maxCalibrations {
		t.uncalibrated = true
	}
	t.pending = t.pending[:0]
}

// score counts the pending frames that agree with offset (see the comment at
// the top of the file); -1 rejects the offset as acausal.
func (t *latencyTracker) score(offset time.Duration) int {
	diffs := make(map[int]int, 4)
	best := 0
	for _, s := range t.pending {
		p, ok := t.log.lookup(s.dts - offset)
		if !ok {
			continue
		}
		if s.wall < p.Wall-causalSlack {
			return -1
		}
		d := s.size - int(p.Size)
		diffs[d]++
		best = max(best, diffs[d])
	}
	return best
}

// latencyStats are the counters reported next to the latency distribution.
type latencyStats struct {
	Calibrated, Uncalibrated int // viewers
	Matched, Unmatched       int // frames
}
