package e2e

import (
	"strings"
	"testing"
)

// TestMetricsFamiliesExported: /metrics on a freshly started server lists
// every family operators alert on, with the known label values at 0 (a
// series that appears only after the first event breaks rate() and
// "absent" alerts; Prometheus instrumentation guidelines, "Avoid missing
// metrics").
func TestMetricsFamiliesExported(t *testing.T) {
	requireTools(t)
	t.Parallel()
	srv := startServer(t)
	m := srv.metrics(t)
	for _, name := range []string{"huabian_viewers", "huabian_frame_drops_total"} {
		if !metricFamilyPresent(m, name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	for _, p := range []string{"httpflv", "wsflv", "rtmp", "rtmps", "srt", "llhls", "webrtc"} {
		if _, ok := metricValue(m, "huabian_viewers", `protocol="`+p+`"`); !ok {
			t.Errorf(`/metrics has no huabian_viewers{protocol=%q}`, p)
		}
	}
	var missing []string
	for _, s := range []struct{ name, label string }{
		{"huabian_publishes_refused_total", `reason="bad_key"`},
		{"huabian_publishes_refused_total", `reason="busy"`},
		{"huabian_publishes_refused_total", `reason="rate_limited"`},
		{"huabian_connection_errors_total", `listener="rtmp"`},
		{"huabian_connection_errors_total", `listener="rtmps"`},
		{"huabian_connection_errors_total", `listener="srt"`},
		{"huabian_slow_viewers_disconnected_total", `protocol="httpflv"`},
	} {
		if _, ok := metricValue(m, s.name, s.label); !ok {
			missing = append(missing, s.name+"{"+s.label+"}")
		}
	}
	if len(missing) > 0 {
		t.Errorf("a fresh server does not export these series until the first event (labelled counters are not initialised to 0): %s",
			strings.Join(missing, ", "))
	}
}
