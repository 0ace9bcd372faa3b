package observe

import (
	"testing"

	"github.com/huabian-live/huabian/internal/testkit"
)

type fakeLive struct{ hls int }

func (fakeLive) Publishers() int    { return 1 }
func (fakeLive) FrameDrops() uint64 { return 0 }
func (f fakeLive) HLSViewers() int  { return f.hls }

// Every viewer protocol and listener has its series from the first scrape.
func TestSeriesExistAtZero(t *testing.T) {
	m := NewMetrics(fakeLive{})
	for _, p := range []string{ProtoHTTPFLV, ProtoWSFLV, ProtoRTMP, ProtoRTMPS, ProtoSRT, ProtoLLHLS} {
		for _, name := range []string{"huabian_viewers", "huabian_viewer_sessions_total", "huabian_egress_bytes_total", "huabian_slow_viewers_disconnected_total"} {
			if v, ok := testkit.MetricValue(t, m.Registry, name, "protocol", p); !ok || v != 0 {
				t.Errorf("%s{protocol=%q} = %v (present %v), want 0", name, p, v, ok)
			}
		}
	}
	for _, l := range []string{"rtmp", "rtmps", "srt"} {
		if v, ok := testkit.MetricValue(t, m.Registry, "huabian_connection_errors_total", "listener", l); !ok || v != 0 {
			t.Errorf("huabian_connection_errors_total{listener=%q} = %v (present %v), want 0", l, v, ok)
		}
	}
}

// ViewerStarted moves the gauge of its own protocol only, and each done
// function counts once however often it is called.
func TestViewerStartedByProtocol(t *testing.T) {
	m := NewMetrics(fakeLive{hls: 4})
	doneSRT := m.ViewerStarted(ProtoSRT)
	doneSRT2 := m.ViewerStarted(ProtoSRT)
	doneRTMPS := m.ViewerStarted(ProtoRTMPS)
	doneRTMP := m.ViewerStarted(ProtoRTMP)
	want := map[string]float64{ProtoSRT: 2, ProtoRTMPS: 1, ProtoRTMP: 1, ProtoHTTPFLV: 0, ProtoWSFLV: 0, ProtoLLHLS: 4}
	for p, w := range want {
		if v, _ := testkit.MetricValue(t, m.Registry, "huabian_viewers", "protocol", p); v != w {
			t.Errorf("huabian_viewers{protocol=%q} = %v, want %v", p, v, w)
		}
	}
	if v, _ := testkit.MetricValue(t, m.Registry, "huabian_viewer_sessions_total", "protocol", ProtoSRT); v != 2 {
		t.Errorf("srt sessions = %v, want 2", v)
	}
	doneSRT()
	doneSRT()
	doneRTMPS()
	doneRTMP()
	for p, w := range map[string]float64{ProtoSRT: 1, ProtoRTMPS: 0, ProtoRTMP: 0} {
		if v, _ := testkit.MetricValue(t, m.Registry, "huabian_viewers", "protocol", p); v != w {
			t.Errorf("after leaving: huabian_viewers{protocol=%q} = %v, want %v", p, v, w)
		}
	}
	doneSRT2()
	if v, _ := testkit.MetricValue(t, m.Registry, "huabian_viewers", "protocol", ProtoSRT); v != 0 {
		t.Errorf("srt viewers after all left = %v, want 0", v)
	}
	// A protocol without a gauge (counted elsewhere) still counts sessions.
	m.ViewerStarted("whep")()
	if v, _ := testkit.MetricValue(t, m.Registry, "huabian_viewer_sessions_total", "protocol", "whep"); v != 1 {
		t.Errorf("whep sessions = %v, want 1", v)
	}
}
