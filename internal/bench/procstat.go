package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat. It is 100
// on every Linux architecture Go supports (the kernel fixes it for the ABI),
// and reading it properly needs sysconf, i.e. cgo.
const clockTicks = 100

// ProcStats summarizes the CPU and memory use of one process over a run.
type ProcStats struct {
	PID     int     `json:"pid,omitempty"`
	Samples int     `json:"samples"`
	CPUMean float64 `json:"cpu_mean_pct"` // % of one core
	CPUMax  float64 `json:"cpu_max_pct"`
	RSSMean uint64  `json:"rss_mean_bytes"`
	RSSMax  uint64  `json:"rss_max_bytes"`
	Err     string  `json:"error,omitempty"` // why sampling stopped or never started
}

// procSample is one reading of a process.
type procSample struct {
	at    time.Time
	ticks uint64 // utime + stime
	rss   uint64 // bytes
}

// readProc reads /proc/<pid>/stat and /proc/<pid>/status; pid "self" is this
// process.
func readProc(pid string) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s, err
	}
	// The command name (field 2) is in parentheses and may contain spaces and
	// parentheses: the fields after it start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, errors.New("malformed /proc stat")
	}
	fields := bytes.Fields(stat[i+1:])
	// fields[0] is field 3 (state): utime is field 14, stime 15.
	if len(fields) < 13 {
		return s, errors.New("malformed /proc stat")
	}
	ut, err1 := strconv.ParseUint(string(fields[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(fields[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("malformed /proc stat: %w", err)
	}
	s.ticks = ut + st

	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s, err
	}
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(rest) // "123456 kB"
			if len(f) >= 1 {
				kb, err := strconv.ParseUint(string(f[0]), 10, 64)
				if err != nil {
					return s, fmt.Errorf("malformed VmRSS: %w", err)
				}
				s.rss = kb * 1024
			}
			break
		}
	}
	return s, nil
}

// procSampler accumulates once-a-second samples of one process.
type procSampler struct {
	pid      string
	stats    ProcStats
	prev     procSample
	havePrev bool
	cpuSum   float64
	cpuN     int
	rssSum   uint64
}

func newProcSampler(pid int) *procSampler {
	if pid == 0 {
		return &procSampler{pid: "self"}
	}
	return &procSampler{pid: strconv.Itoa(pid), stats: ProcStats{PID: pid}}
}

// sample takes one reading; after an error the sampler stays stopped. The
// final reading is skipped when it would yield a CPU figure over too short an
// interval to mean anything (ticks are 10 ms).
func (p *procSampler) sample(final bool) {
	if p.stats.Err != "" {
		return
	}
	if final && p.cpuN > 0 && time.Since(p.prev.at) < 500*time.Millisecond {
		return
	}
	s, err := readProc(p.pid)
	if err != nil {
		p.stats.Err = err.Error()
		return
	}
	p.stats.Samples++
	p.rssSum += s.rss
	p.stats.RSSMax = max(p.stats.RSSMax, s.rss)
	p.stats.RSSMean = p.rssSum / uint64(p.stats.Samples)
	if p.havePrev {
		if dt := s.at.Sub(p.prev.at).Seconds(); dt > 0 {
			cpu := float64(s.ticks-p.prev.ticks) / clockTicks / dt * 100
			p.cpuSum += cpu
			p.cpuN++
			p.stats.CPUMax = max(p.stats.CPUMax, cpu)
			p.stats.CPUMean = p.cpuSum / float64(p.cpuN)
		}
	}
	p.prev, p.havePrev = s, true
}

// sampleProcs samples every sampler once per second until ctx is done, and
// once more at the end so a short run still gets a CPU figure.
func sampleProcs(ctx context.Context, samplers ...*procSampler) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for _, s := range samplers {
		s.sample(false)
	}
	for {
		select {
		case <-ctx.Done():
			for _, s := range samplers {
				s.sample(true)
			}
			return
		case <-tick.C:
			for _, s := range samplers {
				s.sample(false)
			}
		}
	}
}
