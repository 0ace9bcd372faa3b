package webrtc

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"

	"github.com/huabian-live/huabian/internal/hub"
)

// clientAPIOn is clientAPI restricted to the given ICE network types.
func clientAPIOn(t *testing.T, networks ...pion.NetworkType) *pion.API {
	t.Helper()
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes(networks)
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se))
}

// playUntilIDR plays channel name over WHEP with api until an IDR carrying
// SPS and PPS arrives, and returns the transport protocol of the client's
// selected ICE candidate pair. It ends the session before returning.
func playUntilIDR(t *testing.T, hs *httptest.Server, api *pion.API, name string) pion.ICEProtocol {
	t.Helper()
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	defer func() { _ = pc.Close(); readers.Wait() }()
	gotIDR := make(chan struct{})
	var once sync.Once
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		if tr.Kind() != pion.RTPCodecTypeVideo {
			return
		}
		readers.Go(func() {
			var dep codecs.H264Packet
			var au []byte
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				b, err := dep.Unmarshal(p.Payload)
				if err != nil {
					continue
				}
				au = append(au, b...)
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
					once.Do(func() { close(gotIDR) })
				}
			}
		})
	})
	resp, answer := post(t, hs.URL+"/live/"+name+"/whep", "application/sdp", clientOffer(t, pc))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST whep: %d %s", resp.StatusCode, answer)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "IDR with SPS/PPS", func() bool {
		select {
		case <-gotIDR:
			return true
		default:
			return false
		}
	})
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("selected candidate pair: %v, %v", pair, err)
	}
	return pair.Local.Protocol
}

// TestWHEPOverTCP plays a stream with a client that can only use TCP, as
// behind a firewall that blocks UDP, and with one that uses UDP while
// ICE-TCP is also on.
func TestWHEPOverTCP(t *testing.T) {
	fx := encodeFixture(t, false, "")
	h := hub.New(hub.HubOptions{})
	defer h.Close()
	ctx, stop := context.WithCancel(context.Background())
	wait := publish(ctx, t, h, "demo", fx, false)
	defer func() { stop(); wait() }()
	waitFor(t, "GOP cached", func() bool { st := h.Stream("demo", false); return st != nil && st.Tracks() != nil })

	s, hs := newTestServer(t, h, Options{TCP: "127.0.0.1:0"})
	defer func() {
		hs.Close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	if s.TCPAddr() == nil {
		t.Fatal("TCPAddr() = nil with TCP set")
	}
	for _, tc := range []struct {
		name    string
		network pion.NetworkType
		want    pion.ICEProtocol
	}{
		{"tcp only client", pion.NetworkTypeTCP4, pion.ICEProtocolTCP},
		{"udp client with tcp on", pion.NetworkTypeUDP4, pion.ICEProtocolUDP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := playUntilIDR(t, hs, clientAPIOn(t, tc.network), "demo"); got != tc.want {
				t.Fatalf("selected pair over %s, want %s", got, tc.want)
			}
		})
	}
	waitFor(t, "sessions gone", func() bool { return s.Sessions() == 0 })
	tcpAddr := s.TCPAddr().String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The ICE-TCP port is released on Close.
	ln, err := net.Listen("tcp", tcpAddr)
	if err != nil {
		t.Fatalf("TCP port still held after Close: %v", err)
	}
	ln.Close()
}

// Without TCP set, no TCP port is opened and a TCP-only client cannot
// connect.
func TestWHEPTCPOff(t *testing.T) {
	s, hs := serverWithLiveChannel(t, Options{TCP: "off"})
	if a := s.TCPAddr(); a != nil {
		t.Fatalf("TCPAddr() = %v with TCP off", a)
	}
	pc, err := clientAPIOn(t, pion.NetworkTypeTCP4).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	resp, answer := post(t, hs.URL+"/live/demo/whep", "application/sdp", clientOffer(t, pc))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST whep: %d %s", resp.StatusCode, answer)
	}
	if containsTCPCandidate(t, answer) {
		t.Fatalf("answer offers a TCP candidate with TCP off:\n%s", answer)
	}
}

func containsTCPCandidate(t *testing.T, answer string) bool {
	t.Helper()
	for _, c := range answerCandidates(t, answer) {
		if c.NetworkType().IsTCP() {
			return true
		}
	}
	return false
}

// TCP candidates carry the announced public IP, like UDP ones.
func TestWHEPTCPCandidatesUsePublicIP(t *testing.T) {
	const public = "203.0.113.7"
	_, hs := serverWithLiveChannel(t, Options{TCP: "127.0.0.1:0", PublicIPs: []string{public}})
	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	resp, answer := post(t, hs.URL+"/live/demo/whep", "application/sdp", clientOffer(t, pc))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST whep: %d %s", resp.StatusCode, answer)
	}
	got := map[string]string{} // network → address
	for _, c := range answerCandidates(t, answer) {
		got[c.NetworkType().NetworkShort()] = c.Address()
	}
	for _, network := range []string{"udp", "tcp"} {
		if got[network] != public {
			t.Errorf("%s candidate address %q, want %s (answer:\n%s)", network, got[network], public, answer)
		}
	}
}

func answerCandidates(t *testing.T, answer string) []ice.Candidate {
	t.Helper()
	desc := pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}
	sd, err := desc.Unmarshal()
	if err != nil {
		t.Fatal(err)
	}
	var out []ice.Candidate
	for _, m := range sd.MediaDescriptions {
		for _, a := range m.Attributes {
			if a.Key != "candidate" {
				continue
			}
			if c, err := ice.UnmarshalCandidate(a.Value); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// A TCP connection that never sends its first STUN request (a port scan, a
// health check) does not hold up Close: the ICE TCP mux would wait 30 s for
// it.
func TestWHEPTCPCloseWithIdleConnection(t *testing.T) {
	h := hub.New(hub.HubOptions{})
	defer h.Close()
	s, hs := newTestServer(t, h, Options{TCP: "127.0.0.1:0"})
	defer hs.Close()
	c, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second): // well under the mux's 30 s
		t.Fatal("Close waited for the idle TCP connection")
	}
	// The server closed its side: the client reads EOF.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("idle connection still open after Close")
	}
}
