// Package observe holds the process-wide instruments: Prometheus metrics and
// the slog logger set-up. Components get a *Metrics from app and bump
// counters; gauges that mirror live state are computed at scrape time from
// the sources registered with Watch, so they can never drift.
package observe

import (
	"io"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Protocols that viewers use, as metric label values. RTMPS is RTMP on
// the TLS listener: the same server code, counted apart so operators can
// see how many players use the encrypted port.
const (
	ProtoHTTPFLV = "httpflv"
	ProtoWSFLV   = "wsflv"
	ProtoRTMP    = "rtmp"
	ProtoRTMPS   = "rtmps"
	ProtoSRT     = "srt"
	ProtoLLHLS   = "llhls"
	ProtoWebRTC  = "webrtc" // WHEP viewers
)

// connProtos are the connection-based viewer protocols counted by
// ViewerStarted, in the order of Metrics.viewers. LL-HLS has no
// connection: its gauge comes from LiveSource at scrape time.
var connProtos = [...]string{ProtoHTTPFLV, ProtoWSFLV, ProtoRTMP, ProtoRTMPS, ProtoSRT, ProtoWebRTC}

// Listeners are the ConnErrors label values.
var listeners = [...]string{ProtoRTMP, ProtoRTMPS, ProtoSRT}

// Metrics is the set of counters shared by the servers.
type Metrics struct {
	Registry *prometheus.Registry

	BytesIn          prometheus.Counter
	BytesOut         *prometheus.CounterVec // by protocol
	ViewerSessions   *prometheus.CounterVec // by protocol
	RefusedPublishes *prometheus.CounterVec // by reason
	SlowViewers      *prometheus.CounterVec // disconnected as too slow, by protocol
	Publishes        prometheus.Counter
	ConnErrors       *prometheus.CounterVec // connections closed on a protocol error, by listener

	viewers [len(connProtos)]atomic.Int64 // current viewers, indexed like connProtos
}

// LiveSource reports live state for the gauges at scrape time.
type LiveSource interface {
	// Publishers returns the number of live publishers.
	Publishers() int
	// FrameDrops returns the cumulative frames skipped by lagging viewers.
	FrameDrops() uint64
	// HLSViewers returns the current LL-HLS viewer sessions.
	HLSViewers() int
}

// NewMetrics registers every metric on a fresh registry. live may be nil.
func NewMetrics(live LiveSource) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		BytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huabian_ingest_bytes_total", Help: "Media payload bytes received from publishers.",
		}),
		BytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huabian_egress_bytes_total", Help: "Bytes written to viewers.",
		}, []string{"protocol"}),
		ViewerSessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huabian_viewer_sessions_total", Help: "Viewer sessions started.",
		}, []string{"protocol"}),
		RefusedPublishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huabian_publishes_refused_total", Help: "Publish attempts refused, by reason.",
		}, []string{"reason"}),
		SlowViewers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huabian_slow_viewers_disconnected_total", Help: "Viewers disconnected because they stayed behind.",
		}, []string{"protocol"}),
		Publishes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huabian_publishes_total", Help: "Publish sessions accepted.",
		}),
		ConnErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huabian_connection_errors_total", Help: "Connections closed on a protocol error.",
		}, []string{"listener"}),
	}
	reg.MustRegister(m.BytesIn, m.BytesOut, m.ViewerSessions, m.RefusedPublishes, m.SlowViewers, m.Publishes, m.ConnErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Create every known series at zero so rate() and absence alerts work
	// from the first scrape, not from the first event.
	for _, p := range append(connProtos[:], ProtoLLHLS) {
		m.BytesOut.WithLabelValues(p)
		m.ViewerSessions.WithLabelValues(p)
		m.SlowViewers.WithLabelValues(p)
	}
	for _, r := range []string{"bad_key", "busy", "rate_limited", "unavailable"} {
		m.RefusedPublishes.WithLabelValues(r)
	}
	for _, l := range listeners {
		m.ConnErrors.WithLabelValues(l)
	}
	viewers := prometheus.NewDesc("huabian_viewers", "Current viewers by protocol.", []string{"protocol"}, nil)
	reg.MustRegister(&funcCollector{descs: []*prometheus.Desc{viewers}, collect: func(ch chan<- prometheus.Metric) {
		for i, p := range connProtos {
			ch <- prometheus.MustNewConstMetric(viewers, prometheus.GaugeValue, float64(m.viewers[i].Load()), p)
		}
		hls := 0
		if live != nil {
			hls = live.HLSViewers()
		}
		ch <- prometheus.MustNewConstMetric(viewers, prometheus.GaugeValue, float64(hls), ProtoLLHLS)
	}})
	if live != nil {
		pubs := prometheus.NewDesc("huabian_publishers", "Live publishers.", nil, nil)
		drops := prometheus.NewDesc("huabian_frame_drops_total", "Frames skipped by viewers that fell behind.", nil, nil)
		reg.MustRegister(&funcCollector{descs: []*prometheus.Desc{pubs, drops}, collect: func(ch chan<- prometheus.Metric) {
			ch <- prometheus.MustNewConstMetric(pubs, prometheus.GaugeValue, float64(live.Publishers()))
			ch <- prometheus.MustNewConstMetric(drops, prometheus.CounterValue, float64(live.FrameDrops()))
		}})
	}
	return m
}

// RegisterParkedRequests exports n as huabian_http_parked_requests: HTTP
// requests waiting for their answer (LL-HLS blocking reloads and preload
// hints) whose connections are parked outside net/http.
func (m *Metrics) RegisterParkedRequests(n func() int) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "huabian_http_parked_requests",
		Help: "HTTP requests waiting for their answer with their connection parked (LL-HLS blocking requests).",
	}, func() float64 { return float64(n()) }))
}

func protoIndex(p string) int {
	for i, c := range connProtos {
		if c == p {
			return i
		}
	}
	return -1
}

// ViewerStarted counts a new viewer of a connection-based protocol and
// returns the function to call when it leaves.
func (m *Metrics) ViewerStarted(proto string) (done func()) {
	m.ViewerSessions.WithLabelValues(proto).Inc()
	i := protoIndex(proto)
	if i < 0 {
		return func() {}
	}
	m.viewers[i].Add(1)
	var once atomic.Bool
	return func() {
		if !once.Swap(true) {
			m.viewers[i].Add(-1)
		}
	}
}

type funcCollector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *funcCollector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// NewLogger returns a logger writing to w in format "text" or "json" at level
// "debug", "info", "warn" or "error".
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
