package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"
)

// ffmpeg publishes H.264 + AAC over RTMP; a Go WebRTC client (pion) plays
// the channel over WHEP and must receive an IDR with its SPS/PPS at once
// and, for at least 5 s, video and Opus audio (the server transcodes the
// AAC once per stream); DELETE ends the session.
func TestWHEPPlaysRTMPStream(t *testing.T) {
	requireTools(t)
	udp := freeUDPAddr(t)
	srv := startServer(t, "--webrtc-udp", udp)
	key := srv.createChannel(t, "rtc")
	pub := startPublisher(t, srv.publishURL(key))
	srv.waitLive(t, "rtc", pub.proc, true)

	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	api := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}

	var (
		videoPackets, opusPackets, idrs atomic.Int64
		sawSPS, sawPPS                  atomic.Bool
		firstIDR                        atomic.Int64 // ns after the POST
		videoCodec, audioCodec          atomic.Value
	)
	start := time.Now()
	readers := make(chan struct{}, 2)
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		defer func() { readers <- struct{}{} }()
		mime := tr.Codec().MimeType
		if tr.Kind() == pion.RTPCodecTypeVideo {
			videoCodec.Store(mime)
		} else {
			audioCodec.Store(mime)
		}
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if tr.Kind() == pion.RTPCodecTypeAudio {
				opusPackets.Add(1)
				continue
			}
			videoPackets.Add(1)
			for _, nt := range h264PayloadNALTypes(p.Payload) {
				switch nt {
				case 7:
					sawSPS.Store(true)
				case 8:
					sawPPS.Store(true)
				case 5:
					if idrs.Add(1) == 1 {
						firstIDR.Store(int64(time.Since(start)))
					}
				}
			}
		}
	})

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	start = time.Now()
	req, _ := http.NewRequest(http.MethodPost, srv.url("/live/rtc/whep"), strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") == "" {
		t.Fatalf("WHEP POST: %d %s", resp.StatusCode, answer)
	}
	location := resp.Header.Get("Location")
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}

	if !poll(20*time.Second, 50*time.Millisecond, func() bool { return idrs.Load() > 0 }) {
		t.Fatalf("no IDR over WebRTC within 20 s (video packets %d, audio %d)", videoPackets.Load(), opusPackets.Load())
	}
	t.Logf("WHEP: first IDR %.0f ms after the POST", float64(firstIDR.Load())/1e6)
	if !sawSPS.Load() || !sawPPS.Load() {
		t.Errorf("the first keyframe came without SPS/PPS (sps %v, pps %v)", sawSPS.Load(), sawPPS.Load())
	}
	v0, a0 := videoPackets.Load(), opusPackets.Load()
	time.Sleep(5 * time.Second) // receive for 5 s: counts, not timing, are checked
	dv, da := videoPackets.Load()-v0, opusPackets.Load()-a0
	t.Logf("in 5 s: %d video RTP packets, %d audio packets, %d IDRs; codecs %v / %v", dv, da, idrs.Load(), videoCodec.Load(), audioCodec.Load())
	if dv < 150 {
		t.Errorf("only %d video packets in 5 s", dv)
	}
	if da < 200 { // 20 ms Opus frames: 250 in 5 s
		t.Errorf("only %d Opus packets in 5 s", da)
	}
	if idrs.Load() < 4 {
		t.Errorf("only %d IDRs (the GOP is 1 s)", idrs.Load())
	}
	if c, _ := audioCodec.Load().(string); !strings.EqualFold(c, pion.MimeTypeOpus) {
		t.Errorf("audio codec %q, want Opus", c)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	del, _ := http.NewRequestWithContext(ctx, http.MethodDelete, srv.url(location), nil)
	dresp, err := httpClient.Do(del)
	if err != nil {
		t.Fatal(err)
	}
	dresp.Body.Close()
	if dresp.StatusCode/100 != 2 {
		t.Errorf("DELETE %s: %d", location, dresp.StatusCode)
	}
	pc.Close()
	for range 2 {
		select {
		case <-readers:
		case <-time.After(10 * time.Second):
			t.Fatal("track readers did not end after close")
		}
	}
}

// h264PayloadNALTypes lists the NAL unit types an RTP H.264 payload carries
// (RFC 6184: single NAL unit, STAP-A, or the first fragment of a FU-A).
func h264PayloadNALTypes(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	switch t := p[0] & 0x1f; {
	case t >= 1 && t <= 23:
		return []byte{t}
	case t == 24: // STAP-A
		var out []byte
		for b := p[1:]; len(b) > 2; {
			n := int(b[0])<<8 | int(b[1])
			if n == 0 || len(b) < 2+n {
				break
			}
			out = append(out, b[2]&0x1f)
			b = b[2+n:]
		}
		return out
	case t == 28 && len(p) > 1 && p[1]&0x80 != 0: // FU-A start
		return []byte{p[1] & 0x1f}
	}
	return nil
}
