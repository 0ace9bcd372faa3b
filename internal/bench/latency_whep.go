package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"
)

// playWHEPStamps plays over WHEP with pion (recvonly video and audio) and
// looks for stamps in the RTP payloads of each video frame: the SEI NAL unit
// is small, so the packetiser sends it whole (single NAL unit or STAP-A),
// never split across FU-A fragments. A frame ends at a packet with the
// marker bit; it is recorded at that packet's arrival.
func playWHEPStamps(ctx context.Context, raw string, rec *stampRecorder) error {
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return err
	}
	se := pion.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	if u, err := url.Parse(raw); err == nil {
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
			se.SetIncludeLoopbackCandidate(true)
			se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		}
	}
	api := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return err
	}
	defer pc.Close()
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			return err
		}
	}
	readers := make(chan struct{}, 2)
	var nTracks int
	trackCh := make(chan struct{}, 2)
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		trackCh <- struct{}{}
		defer func() { readers <- struct{}{} }()
		video := tr.Kind() == pion.RTPCodecTypeVideo
		var frame [][]byte
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if !video {
				continue
			}
			if len(frame) < 4096 { // bounded: a frame is a few hundred packets
				frame = append(frame, p.Payload)
			}
			if p.Marker {
				rec.frame(time.Now(), frame...)
				frame = frame[:0]
			}
		}
	})
	var location string
	defer func() {
		if location != "" {
			httpDelete(location)
		}
		pc.Close() // ends ReadRTP; then wait for the readers, bounded
		timeout := time.After(10 * time.Second)
		for range nTracks {
			select {
			case <-readers:
			case <-timeout:
				return
			}
		}
	}()

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	postCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(postCtx, http.MethodPost, raw, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("WHEP POST: HTTP %s: %s", resp.Status, strings.TrimSpace(string(answer)))
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		if u, err := resp.Request.URL.Parse(loc); err == nil {
			location = u.String()
		}
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		return err
	}
	failed := make(chan struct{}, 1)
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateFailed || s == pion.PeerConnectionStateClosed {
			select {
			case failed <- struct{}{}:
			default:
			}
		}
	})
	// Count the tracks that started, so the cleanup waits for their readers.
	for {
		select {
		case <-trackCh:
			nTracks++
		case <-failed:
			return errors.New("WebRTC connection failed")
		case <-ctx.Done():
			// Drain track starts that raced with the end.
			for {
				select {
				case <-trackCh:
					nTracks++
				default:
					return ctx.Err()
				}
			}
		}
	}
}
