package webrtc

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"

	"github.com/huabian-live/huabian/internal/hub"
)

// viewer is a pion WHEP client counting complete IDRs with SPS and PPS.
type viewer struct {
	pc   *pion.PeerConnection
	idrs atomic.Int64
	wg   sync.WaitGroup
}

func startViewer(t *testing.T, url string) *viewer {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := &viewer{pc: pc}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		if tr.Kind() != pion.RTPCodecTypeVideo {
			return
		}
		v.wg.Go(func() {
			var dep codecs.H264Packet
			var au []byte
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				b, err := dep.Unmarshal(p.Payload)
				if err == nil {
					au = append(au, b...)
				}
				if !p.Marker {
					continue
				}
				var sps, pps, idr bool
				for _, ty := range nalTypes(au) {
					sps = sps || ty == h264.NALUTypeSPS
					pps = pps || ty == h264.NALUTypePPS
					idr = idr || ty == h264.NALUTypeIDR
				}
				au = au[:0]
				if sps && pps && idr {
					v.idrs.Add(1)
				}
			}
		})
	})
	resp, answer := post(t, url, "application/sdp", clientOffer(t, pc))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST whep: %d %s", resp.StatusCode, answer)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *viewer) close() {
	_ = v.pc.Close()
	v.wg.Wait()
}

// Two viewers of one stream share one packetiser, and Close tears down
// live sessions (goleak in TestMain checks nothing is left running).
func TestWHEPViewersShareOnePacketiser(t *testing.T) {
	fx := encodeFixture(t, false, "")
	h := hub.New(hub.HubOptions{})
	defer h.Close()
	ctx, stop := context.WithCancel(context.Background())
	wait := publish(ctx, t, h, "demo", fx, false)
	defer func() { stop(); wait() }()
	waitFor(t, "stream live", func() bool { st := h.Stream("demo", false); return st != nil && st.Tracks() != nil })

	s, hs := newTestServer(t, h, Options{})
	a := startViewer(t, hs.URL+"/live/demo/whep")
	b := startViewer(t, hs.URL+"/live/demo/whep")
	waitFor(t, "both viewers get 2 IDRs", func() bool { return a.idrs.Load() >= 2 && b.idrs.Load() >= 2 })
	s.mu.Lock()
	nFeeds := len(s.feeds)
	var users int
	for _, f := range s.feeds {
		users = f.users
	}
	s.mu.Unlock()
	if nFeeds != 1 || users != 2 {
		t.Fatalf("feeds=%d users=%d, want one feed shared by 2 viewers", nFeeds, users)
	}
	hs.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.Sessions(); n != 0 {
		t.Fatalf("Sessions()=%d after Close", n)
	}
	a.close()
	b.close()
}
