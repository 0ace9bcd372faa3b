package bench

import (
	"testing"
	"time"
)

// TestLatencyCalibration replays a publish log and a viewer's arrivals for
// servers that shift timestamps in different ways, and checks that the
// viewer finds its offset and measures the latency it was given.
func TestLatencyCalibration(t *testing.T) {
	t.Parallel()
	fx, err := loadFixture(fixtureFLV)
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Now()
	type pub struct {
		dts  time.Duration
		size int
		key  bool
	}
	var frames []pub
	log := newPubLog(epoch)
	for i := 0; ; i++ {
		tag, dts := fx.at(i)
		if dts > 25*time.Second {
			break
		}
		if tag.video {
			frames = append(frames, pub{dts, tag.size, tag.key})
			log.add(dts, epoch.Add(dts), tag.size, tag.key) // published in real time
		}
	}

	tests := []struct {
		name    string
		latency time.Duration
		join    time.Duration                 // wall time (since epoch) the viewer connects
		shift   func(first time.Duration) int // server offset, given the first DTS sent
		resize  func(p pub) int               // size as the viewer sees it
		wantCal bool
	}{
		{"timestamps kept, 40 ms", 40 * time.Millisecond, 3500 * time.Millisecond,
			func(time.Duration) int { return 0 }, func(p pub) int { return p.size }, true},
		{"rebased to 0 per viewer", 40 * time.Millisecond, 12300 * time.Millisecond, // across a loop boundary
			func(first time.Duration) int { return -int(first / time.Millisecond) }, func(p pub) int { return p.size }, true},
		{"constant shift, latency over a GOP", 1700 * time.Millisecond, 5200 * time.Millisecond,
			func(time.Duration) int { return 123456 }, func(p pub) int { return p.size }, true},
		{"parameter sets added to keyframes", 300 * time.Millisecond, 4100 * time.Millisecond,
			func(time.Duration) int { return -1000 }, func(p pub) int {
				if p.key {
					return p.size + 17
				}
				return p.size
			}, true},
		{"sizes unrelated: give up", 40 * time.Millisecond, 3500 * time.Millisecond,
			func(time.Duration) int { return 0 }, func(p pub) int { return int(p.dts) % 9973 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hist := &histogram{}
			tr := &latencyTracker{log: log, hist: hist}
			// The server starts the viewer at the newest keyframe it had
			// when the viewer joined (a GOP cache).
			start := 0
			for i, p := range frames {
				if p.key && p.dts <= tc.join {
					start = i
				}
			}
			shift := time.Duration(tc.shift(frames[start].dts)) * time.Millisecond
			for _, p := range frames[start:] {
				// Frames older than the join arrive in a burst at the join.
				arrival := epoch.Add(max(p.dts+tc.latency, tc.join))
				if arrival.Sub(epoch) > tc.join+8*time.Second {
					break
				}
				tr.frame(arrival, frameInfo{TS: p.dts + shift, Video: true, Key: p.key, Size: tc.resize(p)})
			}
			tr.flush()
			if tr.calibrated != tc.wantCal {
				t.Fatalf("calibrated = %v, want %v (attempts %d)", tr.calibrated, tc.wantCal, tr.attempts)
			}
			if !tc.wantCal {
				if hist.count.Load() != 0 {
					t.Errorf("%d samples recorded without calibration", hist.count.Load())
				}
				return
			}
			if tr.offset != shift {
				t.Errorf("offset = %v, want %v", tr.offset, shift)
			}
			if tr.unmatched != 0 {
				t.Errorf("%d frames unmatched", tr.unmatched)
			}
			// Steady state dominates: p50 is the latency given (to the
			// histogram's precision); the GOP-cache burst only raises max.
			d := hist.dist()
			if diff := d.P50 - tc.latency; diff < -tc.latency/30 || diff > tc.latency/30 {
				t.Errorf("p50 = %v, want %v", d.P50, tc.latency)
			}
			if d.Max < tc.latency {
				t.Errorf("max = %v < %v", d.Max, tc.latency)
			}
		})
	}
}

func TestPubLogTrim(t *testing.T) {
	t.Parallel()
	epoch := time.Now()
	l := newPubLog(epoch)
	l.keep = 10
	for i := range 35 {
		d := time.Duration(i) * 33 * time.Millisecond
		l.add(d, epoch.Add(d), 100+i, i%30 == 0)
	}
	if n := len(l.frames); n < 10 || n >= 20 {
		t.Errorf("kept %d frames, want between keep and 2·keep", n)
	}
	if _, ok := l.lookup(34 * 33 * time.Millisecond); !ok {
		t.Error("newest frame not found")
	}
	if _, ok := l.lookup(0); ok {
		t.Error("trimmed frame still found")
	}
	if p, ok := l.lookup(34*33*time.Millisecond + 4*time.Millisecond); !ok || p.Size != 134 {
		t.Errorf("lookup within tolerance = %+v, %v", p, ok)
	}
}
