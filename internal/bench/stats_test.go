package bench

import (
	"encoding/json"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", ms(7), 50, 7 * time.Millisecond},
		{"one sample p95", ms(7), 95, 7 * time.Millisecond},
		{"two samples p50 is the lower", ms(1, 2), 50, 1 * time.Millisecond},
		{"two samples p95 is the upper", ms(1, 2), 95, 2 * time.Millisecond},
		{"four samples p50", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"ten samples p95", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 95, 10 * time.Millisecond},
		{"ten samples p90", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{"twenty samples p95", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20), 95, 19 * time.Millisecond},
		{"p100 is the max", ms(1, 5, 9), 100, 9 * time.Millisecond},
		{"tiny p is the min", ms(1, 5, 9), 0.1, 1 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

func TestDistOf(t *testing.T) {
	t.Parallel()
	got := distOf([]time.Duration{30, 10, 20, 40})
	want := Dist{Count: 4, P50: 20, P95: 40, Max: 40}
	if got != want {
		t.Errorf("distOf = %+v, want %+v", got, want)
	}
	if got := distOf(nil); got != (Dist{}) {
		t.Errorf("distOf(nil) = %+v, want zero", got)
	}
}

func TestHistogram(t *testing.T) {
	t.Parallel()
	var h histogram
	// 1..1000 ms: p50 = 500 ms, p95 = 950 ms.
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	d := h.dist()
	if d.Count != 1000 || d.Max != time.Second {
		t.Fatalf("count/max = %d/%v, want 1000/1s", d.Count, d.Max)
	}
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{{"p50", d.P50, 500 * time.Millisecond}, {"p95", d.P95, 950 * time.Millisecond}} {
		if diff := c.got - c.want; diff < -c.want/32 || diff > c.want/32 {
			t.Errorf("%s = %v, want %v ± 3%%", c.name, c.got, c.want)
		}
	}

	// Bucket bounds are contiguous and the index is monotonic.
	prev := -1
	for us := uint64(0); us < 1<<22; us += 1 + us/50 {
		i := histIndex(us)
		if i < prev {
			t.Fatalf("histIndex(%d) = %d < %d", us, i, prev)
		}
		if lo, hi := histLower(i), histLower(i+1); us < lo || us >= hi {
			t.Fatalf("%d µs in bucket %d = [%d, %d)", us, i, lo, hi)
		}
		prev = i
	}

	var empty histogram
	if got := empty.dist(); got != (Dist{}) {
		t.Errorf("empty dist = %+v", got)
	}
}

func TestDistJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Dist{Count: 2, P50: 1500 * time.Microsecond, P95: 2 * time.Millisecond, Max: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"count":2,"p50_ms":1.5,"p95_ms":2,"max_ms":1000}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
