package webrtc

import (
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/prometheus/client_golang/prometheus"
)

// Session kinds, refusal reasons and ICE networks used as metric labels.
const (
	KindWHEP = "whep"
	KindWHIP = "whip"

	RefusedLimit       = "limit"       // session caps (total or per IP)
	RefusedNotLive     = "not_live"    // WHEP for a channel with no publisher
	RefusedBadOffer    = "bad_offer"   // unreadable, oversized or unacceptable SDP
	RefusedBFrames     = "b_frames"    // WHEP for a stream with B-frames
	RefusedNegotiation = "negotiation" // offer accepted but no answer could be made
	RefusedShutdown    = "shutting_down"

	NetworkUDP = "udp"
	NetworkTCP = "tcp"
)

var (
	kinds          = []string{KindWHEP, KindWHIP}
	refusalReasons = []string{RefusedLimit, RefusedNotLive, RefusedBadOffer, RefusedBFrames, RefusedNegotiation, RefusedShutdown}
	networks       = []string{NetworkUDP, NetworkTCP}
)

// metrics are the server's counters; gauges are read from the server's
// state at scrape time.
type metrics struct {
	started     *prometheus.CounterVec // by kind
	refused     *prometheus.CounterVec // by reason
	iceSelected *prometheus.CounterVec // by network of the selected pair
	sentBytes   atomic.Uint64          // RTP payload bytes written to WHEP viewers
	keyRequests atomic.Uint64          // PLI/FIR written by this server (to WHIP publishers)
}

func newMetrics() *metrics {
	m := &metrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huabian_webrtc_sessions_started_total", Help: "WebRTC sessions started, by kind (whep, whip).",
		}, []string{"kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huabian_webrtc_sessions_refused_total", Help: "WebRTC session requests refused, by reason.",
		}, []string{"reason"}),
		iceSelected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huabian_webrtc_ice_selected_total", Help: "Connected WHEP sessions by network of the selected ICE candidate pair (udp, tcp).",
		}, []string{"network"}),
	}
	// Every known series exists from the first scrape, so rate() and
	// absence alerts work before the first event.
	for _, k := range kinds {
		m.started.WithLabelValues(k)
	}
	for _, r := range refusalReasons {
		m.refused.WithLabelValues(r)
	}
	for _, n := range networks {
		m.iceSelected.WithLabelValues(n)
	}
	return m
}

var (
	descSessions    = prometheus.NewDesc("huabian_webrtc_sessions", "Current WebRTC sessions, by kind (whep, whip).", []string{"kind"}, nil)
	descTranscoders = prometheus.NewDesc("huabian_webrtc_transcoders", "AAC to Opus transcoder processes running.", nil, nil)
	descPLIs        = prometheus.NewDesc("huabian_webrtc_picture_loss_received_total", "Picture-loss reports (PLI/FIR) received from WHEP viewers.", nil, nil)
	descKeyRequests = prometheus.NewDesc("huabian_webrtc_keyframe_requests_sent_total", "Keyframe requests (PLI/FIR) sent to WHIP publishers.", nil, nil)
	descSentBytes   = prometheus.NewDesc("huabian_webrtc_sent_bytes_total", "RTP payload bytes of video and passed-through audio written to WHEP viewers.", nil, nil)
	descFirstKeys   = prometheus.NewDesc("huabian_webrtc_first_keyframes_total", "WHEP viewers that were sent their first keyframe.", nil, nil)
)

// Collector returns the server's Prometheus metrics (register it once).
func (s *Server) Collector() prometheus.Collector { return (*serverCollector)(s) }

type serverCollector Server

func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	s := (*Server)(c)
	s.metrics.started.Describe(ch)
	s.metrics.refused.Describe(ch)
	s.metrics.iceSelected.Describe(ch)
	for _, d := range []*prometheus.Desc{descSessions, descTranscoders, descPLIs, descKeyRequests, descSentBytes, descFirstKeys} {
		ch <- d
	}
}

func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := (*Server)(c)
	s.metrics.started.Collect(ch)
	s.metrics.refused.Collect(ch)
	s.metrics.iceSelected.Collect(ch)
	whep, whip, transcoders := s.counts()
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(whep), KindWHEP)
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(whip), KindWHIP)
	ch <- prometheus.MustNewConstMetric(descTranscoders, prometheus.GaugeValue, float64(transcoders))
	ch <- prometheus.MustNewConstMetric(descPLIs, prometheus.CounterValue, float64(s.PLIs.Load()))
	ch <- prometheus.MustNewConstMetric(descKeyRequests, prometheus.CounterValue, float64(s.metrics.keyRequests.Load()))
	ch <- prometheus.MustNewConstMetric(descSentBytes, prometheus.CounterValue, float64(s.metrics.sentBytes.Load()))
	ch <- prometheus.MustNewConstMetric(descFirstKeys, prometheus.CounterValue, float64(s.FirstKeyframes.Load()))
}

// counts returns the WHEP sessions (reserved slots that became sessions),
// WHIP sessions and running transcoders.
func (s *Server) counts() (whep, whip, transcoders int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		if ss != nil {
			whep++
		}
	}
	return whep, len(s.whips), len(s.transcoders)
}

func (s *Server) refuse(reason string) { s.metrics.refused.WithLabelValues(reason).Inc() }

// keyRequestCounter is an interceptor that counts the PLI/FIR this server
// writes. Only WHIP sessions receive media, so every such request goes to
// a WHIP publisher; WHEP viewers' own PLIs arrive on the read side.
//
// It also counts WHIP sessions started: only WHIP peers send media, so the
// first remote stream bound on a peer connection is a publisher starting.
type keyRequestCounter struct {
	interceptor.NoOp
	m         *metrics
	publisher sync.Once
}

type keyRequestFactory struct{ m *metrics }

func (f keyRequestFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &keyRequestCounter{m: f.m}, nil
}

// BindRTCPWriter wraps the peer's RTCP writer to count keyframe requests.
func (k *keyRequestCounter) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, attrs interceptor.Attributes) (int, error) {
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				k.m.keyRequests.Add(1)
			}
		}
		return w.Write(pkts, attrs)
	})
}

// BindRemoteStream counts the first incoming media stream of a peer as a
// WHIP session started.
func (k *keyRequestCounter) BindRemoteStream(_ *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	k.publisher.Do(func() { k.m.started.WithLabelValues(KindWHIP).Inc() })
	return r
}
