package webrtc

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"

	"github.com/huabian-live/huabian/internal/hub"
)

// A viewer that reports a lost video packet gets it again, with its own
// header and the shared payload, from the history kept without copies.
func TestWHEPRetransmitsNackedPacket(t *testing.T) {
	fx := encodeFixture(t, false, "")
	h := hub.New(hub.HubOptions{})
	defer h.Close()
	ctx, stop := context.WithCancel(context.Background())
	wait := publish(ctx, t, h, "nack", fx, false)
	defer func() { stop(); wait() }()
	waitFor(t, "stream live", func() bool { return h.Stream("nack", false) != nil })
	s, hs := newTestServer(t, h, Options{})
	defer func() {
		hs.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()

	// A client without interceptors and without SRTP replay protection, so
	// that it can ask for a packet it has seen and recognise the resend.
	api := clientAPI(t, func(se *pion.SettingEngine) { se.DisableSRTPReplayProtection(true) })
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()

	type sent struct {
		ts      uint32
		payload []byte
	}
	var (
		mu       sync.Mutex
		seen     = map[uint16]sent{}
		received int
		asked    = -1 // sequence number NACKed
		resent   int  // copies of it received after the NACK (with the same timestamp and payload)
		mismatch string
		readers  sync.WaitGroup
	)
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		if tr.Kind() != pion.RTPCodecTypeVideo {
			return
		}
		readers.Go(func() {
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				mu.Lock()
				seq := p.SequenceNumber
				if asked >= 0 && int(seq) == asked {
					if orig := seen[seq]; orig.ts == p.Timestamp && bytes.Equal(orig.payload, p.Payload) {
						resent++
					} else {
						mismatch = "a packet with the NACKed sequence number carries other media"
					}
				}
				if _, dup := seen[seq]; !dup {
					seen[seq] = sent{ts: p.Timestamp, payload: bytes.Clone(p.Payload)}
				}
				received++
				ask := asked < 0 && received == 150
				if ask {
					asked = int(seq - 40) // well inside the 256-packet history
				}
				mu.Unlock()
				if ask {
					_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
						MediaSSRC: uint32(tr.SSRC()),
						Nacks:     rtcp.NackPairsFromSequenceNumbers([]uint16{uint16(asked)}),
					}})
				}
			}
		})
	})
	resp, answer := post(t, hs.URL+"/live/nack/whep", "application/sdp", clientOffer(t, pc))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST whep: %d %s", resp.StatusCode, answer)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the NACKed packet resent", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return resent > 0 || mismatch != ""
	})
	mu.Lock()
	if mismatch != "" {
		t.Error(mismatch)
	}
	t.Logf("packet %d resent after %d packets received", asked, received)
	mu.Unlock()
	_ = pc.Close()
	readers.Wait()
}
