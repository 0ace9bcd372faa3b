package bench

import (
	"encoding/json"
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
	"time"
)

// Dist summarizes a distribution of durations.
type Dist struct {
	Count int // number of samples; the other fields are zero when it is 0
	P50   time.Duration
	P95   time.Duration
	Max   time.Duration
}

// MarshalJSON writes the durations as fractional milliseconds
// ({"count":2,"p50_ms":12.5,…}), which is what dashboards and scripts expect.
func (d Dist) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Count int     `json:"count"`
		P50   float64 `json:"p50_ms"`
		P95   float64 `json:"p95_ms"`
		Max   float64 `json:"max_ms"`
	}{d.Count, ms(d.P50), ms(d.P95), ms(d.Max)})
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// distOf summarizes samples exactly; it sorts samples in place.
func distOf(samples []time.Duration) Dist {
	if len(samples) == 0 {
		return Dist{}
	}
	slices.Sort(samples)
	return Dist{
		Count: len(samples),
		P50:   percentile(samples, 50),
		P95:   percentile(samples, 95),
		Max:   samples[len(samples)-1],
	}
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted samples by
// the nearest-rank method: the smallest sample such that at least p % of the
// samples are ≤ it. It returns 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// histogram is a lock-free log-linear histogram of durations, shared by all
// viewers of a run for per-frame samples (there are far too many of them to
// keep). Values are bucketed in microseconds: exact below 64 µs, then 32
// buckets per power of two, so a reported quantile is within ~3 % of the
// true value. Count and Max are exact.
type histogram struct {
	buckets [histBuckets]atomic.Uint64
	count   atomic.Uint64
	max     atomic.Int64
}

const (
	histSub     = 32 // buckets per power of two above histLinear
	histLinear  = 2 * histSub
	histBuckets = histLinear + 40*histSub // up to 2^45 µs, beyond any run
)

func histIndex(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	shift := bits.Len64(us) - 6 // us>>shift is in [32, 64)
	i := histLinear + (shift-1)*histSub + int(us>>shift) - histSub
	return min(i, histBuckets-1)
}

// histLower is the smallest value (µs) that falls into bucket i.
func histLower(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	shift := (i-histLinear)/histSub + 1
	return uint64((i-histLinear)%histSub+histSub) << shift
}

func (h *histogram) add(d time.Duration) {
	d = max(d, 0)
	h.buckets[histIndex(uint64(d/time.Microsecond))].Add(1)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// dist reports the nearest-rank percentiles, each as the midpoint of the
// bucket holding it (clamped to the exact maximum).
func (h *histogram) dist() Dist {
	n := h.count.Load()
	if n == 0 {
		return Dist{}
	}
	d := Dist{Count: int(n), Max: time.Duration(h.max.Load())}
	d.P50 = min(h.quantile(n, 50), d.Max)
	d.P95 = min(h.quantile(n, 95), d.Max)
	return d
}

func (h *histogram) quantile(n uint64, p float64) time.Duration {
	rank := uint64(max(1, math.Ceil(p/100*float64(n))))
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			lo, hi := histLower(i), histLower(i+1)
			return time.Duration(lo+(hi-lo)/2) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load())
}
