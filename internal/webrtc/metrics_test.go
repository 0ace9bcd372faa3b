package webrtc

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/huabian-live/huabian/internal/hub"
)

// scrape gathers c (prometheus/testutil would need another module in
// go.mod) and returns each sample keyed by name and label values,
// e.g. "huabian_webrtc_sessions{whep}".
func scrape(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			if len(m.GetLabel()) > 0 {
				key += "{" + m.GetLabel()[0].GetValue() + "}"
			}
			out[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue() // one of them is nil: 0
		}
	}
	return out
}

func TestMetricsAfterOneWHEPSession(t *testing.T) {
	fx := encodeFixture(t, false, "")
	h := hub.New(hub.HubOptions{})
	defer h.Close()
	ctx, stop := context.WithCancel(context.Background())
	wait := publish(ctx, t, h, "demo", fx, false)
	defer func() { stop(); wait() }()
	waitFor(t, "GOP cached", func() bool { st := h.Stream("demo", false); return st != nil && st.Tracks() != nil })

	s, hs := newTestServer(t, h, Options{TCP: "127.0.0.1:0"})
	defer func() { hs.Close(); _ = s.Close() }()
	// The pedantic registry checks that Collect matches Describe.
	if n := len(scrape(t, s.Collector())); n == 0 {
		t.Fatal("the collector reported no metrics")
	}

	// One refused offer (channel not live), one played session over TCP.
	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := post(t, hs.URL+"/live/nobody/whep", "application/sdp", clientOffer(t, pc))
	_ = pc.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("offer for an offline channel: %d %s", resp.StatusCode, body)
	}

	var during map[string]float64
	pc, err = clientAPIOn(t, pion.NetworkTypeTCP4).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {})
	resp, answer := post(t, hs.URL+"/live/demo/whep", "application/sdp", clientOffer(t, pc))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST whep: %d %s", resp.StatusCode, answer)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first keyframe sent and payload counted", func() bool {
		during = scrape(t, s.Collector())
		return during["huabian_webrtc_first_keyframes_total"] == 1 && during["huabian_webrtc_sent_bytes_total"] > 0
	})
	for key, want := range map[string]float64{
		"huabian_webrtc_sessions{whep}":                        1,
		"huabian_webrtc_sessions{whip}":                        0,
		"huabian_webrtc_sessions_started_total{whep}":          1,
		"huabian_webrtc_sessions_started_total{whip}":          0,
		"huabian_webrtc_sessions_refused_total{not_live}":      1,
		"huabian_webrtc_sessions_refused_total{limit}":         0,
		"huabian_webrtc_ice_selected_total{tcp}":               1,
		"huabian_webrtc_ice_selected_total{udp}":               0,
		"huabian_webrtc_transcoders":                           0,
		"huabian_webrtc_keyframe_requests_sent_total":          0,
		"huabian_webrtc_picture_loss_received_total":           0,
		"huabian_webrtc_sessions_refused_total{b_frames}":      0,
		"huabian_webrtc_sessions_refused_total{bad_offer}":     0,
		"huabian_webrtc_sessions_refused_total{negotiation}":   0,
		"huabian_webrtc_sessions_refused_total{shutting_down}": 0,
		"huabian_webrtc_first_keyframes_total":                 1,
	} {
		got, ok := during[key]
		if !ok {
			t.Errorf("%s missing from the scrape", key)
			continue
		}
		if got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}

	_ = pc.Close()
	waitFor(t, "session gone from the gauge", func() bool {
		return scrape(t, s.Collector())["huabian_webrtc_sessions{whep}"] == 0
	})
}

// A WHIP publisher counts as a started, current WHIP session, and a
// publisher that stops sending keyframes is asked for one (counted).
func TestMetricsWHIPPublisher(t *testing.T) {
	fx := encodeFixture(t, false, "")
	h := hub.New(hub.HubOptions{})
	defer h.Close()
	s, hs := newTestServer(t, h, Options{WHIP: WHIPOptions{Hub: h, Auth: keyAuth{"sk_secret": "demo"}}})
	defer func() { hs.Close(); _ = s.Close() }()

	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	vt, err := pion.NewTrackLocalStaticSample(videoCap, "video", "pub")
	if err != nil {
		t.Fatal(err)
	}
	snd, err := pc.AddTrack(vt)
	if err != nil {
		t.Fatal(err)
	}
	plis := make(chan struct{}, 1)
	var readers sync.WaitGroup
	defer readers.Wait()
	defer pc.Close() // ends ReadRTCP before readers.Wait
	readers.Go(func() {
		for {
			pkts, _, err := snd.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					select {
					case plis <- struct{}{}:
					default:
					}
				}
			}
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-g
	resp, answer := whipPost(t, hs.URL+"/whip", "sk_secret", pc.LocalDescription().SDP)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST whip: %d %s", resp.StatusCode, answer)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}

	// The first access unit is an IDR; then only P-frames, in a bounded
	// loop, until the server asks for a keyframe.
	gotPLI := false
	for i := 0; i < 500 && !gotPLI; i++ {
		au := fx.video[i%len(fx.video)]
		if i > 0 && h264.IsRandomAccess(au) {
			continue
		}
		var b []byte
		for _, n := range au {
			b = append(append(b, 0, 0, 0, 1), n...)
		}
		if err := vt.WriteSample(media.Sample{Data: b, Duration: 40 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-plis:
			gotPLI = true
		case <-time.After(40 * time.Millisecond):
		}
	}
	if !gotPLI {
		t.Fatal("the publisher was never asked for a keyframe")
	}
	m := scrape(t, s.Collector())
	for key, want := range map[string]float64{
		"huabian_webrtc_sessions{whip}":               1,
		"huabian_webrtc_sessions{whep}":               0,
		"huabian_webrtc_sessions_started_total{whip}": 1,
		"huabian_webrtc_sessions_started_total{whep}": 0,
	} {
		if m[key] != want {
			t.Errorf("%s = %v, want %v", key, m[key], want)
		}
	}
	if m["huabian_webrtc_keyframe_requests_sent_total"] < 1 {
		t.Errorf("keyframe requests sent = %v, want ≥ 1", m["huabian_webrtc_keyframe_requests_sent_total"])
	}
}
