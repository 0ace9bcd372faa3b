package bench

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestErrorCounter(t *testing.T) {
	t.Parallel()
	var c errorCounter
	for port := range 3 {
		c.add(fmt.Errorf("read tcp 127.0.0.1:%d->127.0.0.1:1935: read: connection reset by peer", 40000+port), 1)
	}
	c.add(errors.New("HTTP 404 Not Found"), 2)
	c.add(nil, 1)
	for i := range 10 {
		c.add(fmt.Errorf("distinct %d", i), 1)
	}
	want := []ErrorCount{
		{"read tcp 127.0.0.1:*->127.0.0.1:1935: read: connection reset by peer", 3},
		{"HTTP 404 Not Found", 2},
		{"distinct 0", 1}, {"distinct 1", 1}, {"distinct 2", 1},
	}
	if fmt.Sprint(c.list) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", c.list, want)
	}
}

func TestReportPrint(t *testing.T) {
	t.Parallel()
	rep := PlayReport{
		URL: "http://h/live/a.flv", Protocol: "http-flv", Elapsed: 3 * time.Second,
		Requested: 2, Connected: 2,
		TTFB:      Dist{Count: 2, P50: 1500 * time.Microsecond, P95: 2 * time.Millisecond, Max: 2 * time.Millisecond},
		Latency:   &LatencyReport{Dist: Dist{Count: 10, P50: 40 * time.Millisecond, P95: 80 * time.Millisecond, Max: 1200 * time.Millisecond}, Calibrated: 2},
		Errors:    []ErrorCount{{"bad | pipe", 1}},
		Generator: ProcStats{Samples: 3, CPUMean: 12, CPUMax: 20, RSSMean: 50 << 20, RSSMax: 60 << 20},
	}
	var text, md bytes.Buffer
	if err := rep.Print(&text, false); err != nil {
		t.Fatal(err)
	}
	if err := rep.Print(&md, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"time to first byte", "p50 1.50 ms, p95 2.00 ms, max 2.00 ms",
		"latency publisher → viewer", "p50 40 ms, p95 80 ms, max 1.20 s (10 frames, 2 viewers calibrated)",
		"CPU mean 12 %, max 20 % of one core; RSS mean 50.0 MiB, max 60.0 MiB",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	lines := strings.Split(strings.TrimSpace(md.String()), "\n")
	if len(lines) < 3 || lines[1] != "|---|---|" {
		t.Fatalf("no Markdown table header:\n%s", md.String())
	}
	for _, l := range slices.Delete(lines, 1, 2) {
		if !strings.HasPrefix(l, "| ") || !strings.HasSuffix(l, " |") || strings.Count(l, "|")-strings.Count(l, `\|`) != 3 {
			t.Errorf("not a two-column Markdown row: %q", l)
		}
	}
	if !strings.Contains(md.String(), `bad \| pipe`) {
		t.Errorf("pipe not escaped:\n%s", md.String())
	}
}
