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
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

// whepAPI is the pion API shared by all WHEP viewers of a process: one
// media engine and setting engine, built once, instead of one per peer.
// Each peer still has its own UDP socket.
var whepAPI = sync.OnceValues(func() (*pion.API, error) { return newViewerAPI(false) })

// loopbackAPI is whepAPI restricted to loopback interfaces, for servers on
// 127.0.0.1: gathering then skips the other interfaces.
var loopbackAPI = sync.OnceValues(func() (*pion.API, error) { return newViewerAPI(true) })

func newViewerAPI(loopbackOnly bool) (*pion.API, error) {
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("whep codecs: %w", err)
	}
	se := pion.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	// Loopback candidates are included so that a server on 127.0.0.1 is
	// reachable; pion only pairs them with loopback remote candidates.
	se.SetIncludeLoopbackCandidate(true)
	if loopbackOnly {
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se)), nil
}

// apiFor picks the shared API for a WHEP URL.
func apiFor(raw string) (*pion.API, error) {
	if u, err := url.Parse(raw); err == nil {
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
			return loopbackAPI()
		}
	}
	return whepAPI()
}

// whepSession is one negotiated WHEP peer.
type whepSession struct {
	pc       *pion.PeerConnection
	location string // resource URL to DELETE at the end ("" if none)
}

// close ends the session: DELETE the resource, then close the peer.
func (s *whepSession) close() {
	if s.location != "" {
		httpDelete(s.location)
	}
	s.pc.Close()
}

// dialWHEP creates a recvonly (video + audio) peer, gathers all its ICE
// candidates (no trickle), POSTs the offer and applies the answer. onTrack
// is set before negotiation so that no track is missed.
func dialWHEP(ctx context.Context, c *http.Client, raw string, onTrack func(*pion.TrackRemote)) (*whepSession, error) {
	api, err := apiFor(raw)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("whep peer: %w", err)
	}
	s := &whepSession{pc: pc}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			return nil, fmt.Errorf("whep transceiver: %w", err)
		}
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) { onTrack(tr) })
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, fmt.Errorf("whep offer: %w", err)
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, fmt.Errorf("whep offer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	answer, loc, err := postOffer(ctx, c, raw, pc.LocalDescription().SDP)
	if err != nil {
		return nil, err
	}
	s.location = loc
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		return nil, fmt.Errorf("whep answer: %w", err)
	}
	ok = true
	return s, nil
}

// postOffer does the WHEP POST and returns the answer SDP and the resource
// URL (the Location header resolved against the request URL, as it may be
// relative).
func postOffer(ctx context.Context, c *http.Client, raw, offer string) (answer, location string, err error) {
	postCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(postCtx, http.MethodPost, raw, strings.NewReader(offer))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Accept", "application/sdp")
	resp, err := c.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("WHEP POST: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return "", "", fmt.Errorf("WHEP POST: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("WHEP POST: HTTP %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		if u, err := resp.Request.URL.Parse(loc); err == nil {
			location = u.String()
		}
	}
	return string(body), location, nil
}

// playWHEP is one WHEP viewer. Time to first byte is the answer's arrival;
// frames are delimited by RTP timestamp changes and marker bits, and only
// the NAL unit types are looked at (to spot IDR frames), so a viewer costs
// little beyond pion's own packet handling.
func playWHEP(ctx context.Context, r *run, v *viewer) error {
	// The reader goroutines and this one share v: mu serialises them.
	var mu sync.Mutex
	var readers sync.WaitGroup
	var started sync.Mutex // guards readers.Add against the final Wait
	closed := false
	onTrack := func(tr *pion.TrackRemote) {
		started.Lock()
		defer started.Unlock()
		if closed {
			return
		}
		readers.Go(func() { readWHEPTrack(tr, &mu, v) })
	}
	// stopReaders waits for the track readers once the peer is closed.
	stopReaders := func() {
		started.Lock()
		closed = true
		started.Unlock()
		readers.Wait()
	}
	s, err := dialWHEP(ctx, r.http, r.url, onTrack)
	if err != nil {
		stopReaders() // dialWHEP closed the peer
		return err
	}
	mu.Lock()
	now := time.Now()
	v.setConnected(now)
	v.gotData(now)
	mu.Unlock()

	failed := make(chan struct{})
	var once sync.Once
	s.pc.OnConnectionStateChange(func(st pion.PeerConnectionState) {
		if st == pion.PeerConnectionStateFailed || st == pion.PeerConnectionStateDisconnected {
			once.Do(func() { close(failed) })
		}
	})
	select {
	case <-ctx.Done():
		err = nil
	case <-failed:
		err = errors.New("WebRTC connection failed or disconnected")
	}
	s.close() // ends Read in the readers
	stopReaders()
	mu.Lock() // the caller reads v next; be sure the readers' writes are seen
	mu.Unlock()
	return err
}

// readWHEPTrack reads one track's RTP until the peer closes.
func readWHEPTrack(tr *pion.TrackRemote, mu *sync.Mutex, v *viewer) {
	video := tr.Kind() == pion.RTPCodecTypeVideo
	h264 := strings.EqualFold(tr.Codec().MimeType, pion.MimeTypeH264)
	clock := tr.Codec().ClockRate
	if clock == 0 {
		clock = 90000
	}
	var (
		p       rtp.Packet
		ts      rtpClock
		cur     frameInfo // the frame being assembled
		curTS   uint32
		haveCur bool
	)
	buf := make([]byte, 1500)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		now := time.Now()
		mu.Lock()
		v.countBytes(int64(len(p.Payload)))
		if !video {
			// Audio RTP has its own clock and random origin; mixing it into
			// the lag figure would need RTCP sender reports, so only video
			// frames are reported.
			mu.Unlock()
			continue
		}
		if haveCur && p.Timestamp != curTS { // a frame without marker ended
			v.frame(now, cur)
			haveCur = false
		}
		if !haveCur {
			cur = frameInfo{TS: ts.media(p.Timestamp, clock), Video: true}
			curTS, haveCur = p.Timestamp, true
		}
		if h264 {
			size, key := h264PayloadInfo(p.Payload)
			cur.Size += size
			cur.Key = cur.Key || key
		} else {
			cur.Size += len(p.Payload)
		}
		if p.Marker {
			v.frame(now, cur)
			haveCur = false
		}
		mu.Unlock()
	}
}

// rtpClock maps 32-bit RTP timestamps to an unwrapped media time. The
// origin is arbitrary (the sender's random offset); only differences and a
// constant offset matter to the lag and latency figures.
type rtpClock struct {
	started bool
	last    uint32
	ext     int64
}

func (c *rtpClock) media(ts uint32, rate uint32) time.Duration {
	if !c.started {
		c.started, c.last, c.ext = true, ts, int64(ts)
	} else {
		c.ext += int64(int32(ts - c.last)) // signed: tolerates reordering and wrap
		c.last = ts
	}
	return time.Duration(c.ext * int64(time.Second) / int64(rate))
}

// h264PayloadInfo reads an RFC 6184 payload: the size its NAL units will
// have in length-prefixed (AVCC) form, so frame sizes compare with what a
// publisher sent, and whether it carries (the start of) an IDR slice.
func h264PayloadInfo(b []byte) (size int, idr bool) {
	if len(b) < 1 {
		return 0, false
	}
	switch typ := b[0] & 0x1f; typ {
	case 24: // STAP-A: 16-bit sizes, then NAL units
		for b = b[1:]; len(b) >= 2; {
			n := int(b[0])<<8 | int(b[1])
			if n == 0 || len(b) < 2+n {
				break
			}
			size += 4 + n
			idr = idr || b[2]&0x1f == 5
			b = b[2+n:]
		}
		return size, idr
	case 28: // FU-A: indicator, header, fragment
		if len(b) < 2 {
			return 0, false
		}
		size = len(b) - 2
		if b[1]&0x80 != 0 { // start: the NAL header and length prefix
			size += 1 + 4
			idr = b[1]&0x1f == 5
		}
		return size, idr
	default:
		return 4 + len(b), typ == 5
	}
}
