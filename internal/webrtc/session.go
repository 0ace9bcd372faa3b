package webrtc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/observe"
)

// session is one WHEP viewer: a PeerConnection, its tracks, and the
// goroutine that copies the stream's shared RTP packets to them.
type session struct {
	s      *Server
	id, ip string
	name   string
	stream *hub.Stream
	feed   *feed
	pc     *pion.PeerConnection
	video  *pion.TrackLocalStaticRTP
	vs     *pion.RTPSender           // video sender: its transport tells the selected ICE pair
	audio  *pion.TrackLocalStaticRTP // Opus passed through; nil otherwise
	tc     *transcoder               // AAC→Opus shared by the stream; nil otherwise

	vid, userAgent string

	connected chan struct{}
	cancel    context.CancelFunc
	closeOnce sync.Once
	done      chan struct{} // closed when run returns
}

var videoCap = pion.RTPCodecCapability{
	MimeType:    pion.MimeTypeH264,
	ClockRate:   90000,
	SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
}

var opusCap = pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}

func (s *Server) newSession(id, ip, name string, st *hub.Stream, offer, vid, userAgent string) (string, error) {
	tr := st.Tracks()
	if tr != nil && tr.Video != nil && tr.Video.Codec != media.CodecH264 {
		return "", fmt.Errorf("video codec %s not supported over WebRTC (H.264 only)", tr.Video.Codec)
	}
	pc, err := s.api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	ss := &session{s: s, id: id, ip: ip, name: name, stream: st, pc: pc, cancel: cancel, vid: vid, userAgent: userAgent,
		connected: make(chan struct{}), done: make(chan struct{})}
	fail := func(err error) (string, error) {
		cancel()
		_ = pc.Close()
		if ss.tc != nil {
			s.releaseTranscoder(st, ss.tc)
		}
		return "", err
	}
	if ss.video, err = pion.NewTrackLocalStaticRTP(videoCap, "video", "huabian"); err != nil {
		return fail(err)
	}
	vs, err := pc.AddTrack(ss.video)
	if err != nil {
		return fail(err)
	}
	ss.vs = vs
	senders := []*pion.RTPSender{vs}
	if tr != nil && tr.Audio != nil && tr.Audio.Codec == media.CodecOpus {
		if ss.audio, err = pion.NewTrackLocalStaticRTP(opusCap, "audio", "huabian"); err != nil {
			return fail(err)
		}
		as, err := pc.AddTrack(ss.audio)
		if err != nil {
			return fail(err)
		}
		senders = append(senders, as)
	} else if tr != nil && tr.Audio != nil && tr.Audio.Codec == media.CodecAAC && s.ffmpeg != "" {
		tc, err := s.transcoderFor(st)
		if err != nil {
			return fail(err)
		}
		ss.tc = tc
		as, err := pc.AddTrack(tc.track)
		if err != nil {
			return fail(err)
		}
		senders = append(senders, as)
	}
	var connOnce sync.Once
	pc.OnConnectionStateChange(func(state pion.PeerConnectionState) {
		switch state {
		case pion.PeerConnectionStateConnected:
			connOnce.Do(func() { close(ss.connected) })
		case pion.PeerConnectionStateFailed, pion.PeerConnectionStateClosed:
			cancel()
		}
	})
	if err := answerOffer(pc, offer); err != nil {
		return fail(err)
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fail(errors.New("server shutting down"))
	}
	s.sessions[id] = ss
	s.wg.Add(1 + len(senders))
	s.mu.Unlock()
	ss.feed = s.feedFor(st)
	for _, snd := range senders {
		go ss.readRTCP(snd)
	}
	go ss.run(ctx)
	return pc.LocalDescription().SDP, nil
}

// readRTCP drains a sender's RTCP (so NACKs reach the responder) and counts
// PLI/FIR, which are answered by the stream's next keyframe and never
// forwarded to the publisher.
func (ss *session) readRTCP(snd *pion.RTPSender) {
	defer ss.s.wg.Done()
	for {
		pkts, _, err := snd.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				ss.s.PLIs.Add(1)
			}
		}
	}
}

func (ss *session) close() {
	ss.closeOnce.Do(func() {
		ss.cancel()
		_ = ss.pc.Close()
	})
}

// run waits for ICE+DTLS (bounded by ConnectTimeout), then copies frames
// from a hub reader that starts at the GOP cache's keyframe.
func (ss *session) run(ctx context.Context) {
	s := ss.s
	defer func() {
		ss.close()
		s.dropFeed(ss.stream)
		if ss.tc != nil {
			s.releaseTranscoder(ss.stream, ss.tc)
		}
		s.release(ss.id, ss.ip)
		close(ss.done)
		s.wg.Done()
	}()
	t := time.NewTimer(s.opts.ConnectTimeout)
	defer t.Stop()
	select {
	case <-ss.connected:
	case <-t.C:
		return
	case <-ctx.Done():
		return
	case <-ss.stream.Done():
		return
	}
	s.metrics.started.WithLabelValues(KindWHEP).Inc()
	s.metrics.iceSelected.WithLabelValues(ss.network()).Inc()
	if s.opts.Sessions != nil {
		end := s.opts.Sessions.ViewerStarted(ss.name, "whep", ss.vid, ss.ip, ss.userAgent)
		defer end()
	}
	// The channel's live viewer count (watch page, directory) includes
	// WebRTC viewers from the moment their media flows.
	defer ss.stream.AddViewer(observe.ProtoWebRTC)()
	if s.opts.Metrics != nil {
		defer s.opts.Metrics.ViewerStarted(observe.ProtoWebRTC)()
	}
	// Unbatched: each frame goes out as soon as it arrives. A WebRTC
	// receiver sizes its jitter buffer from arrival spread, so frames
	// released in pairs by the hub's wake interval would cost every viewer
	// a frame interval of extra playout delay.
	rd := ss.stream.SubscribeUnbatched()
	defer rd.Close()
	first := true
	for {
		frames, err := rd.Next(ctx)
		if err != nil {
			return
		}
		for _, f := range frames {
			if f.FLVOnly {
				continue // the AAC rendition of an Opus stream is for FLV/RTMP players
			}
			if f.Video {
				if f.PTS != f.DTS {
					s.noteBFrames(ss.name)
				}
				if first {
					if !f.Key {
						continue
					}
					first = false
					s.FirstKeyframes.Add(1)
				}
				ss.write(ss.video, ss.feed.packets(f))
			} else if ss.audio != nil {
				ss.write(ss.audio, ss.feed.packets(f))
			}
		}
	}
}

// write sends a frame's packets to track and counts their payload bytes.
func (ss *session) write(track *pion.TrackLocalStaticRTP, pkts []*rtp.Packet) {
	n := 0
	for _, p := range pkts {
		_ = track.WriteRTP(p) // errors: peer gone; ctx ends the loop
		n += len(p.Payload)
	}
	ss.s.metrics.sentBytes.Add(uint64(n))
}

// network returns "tcp" when the selected ICE candidate pair runs over TCP,
// else "udp".
func (ss *session) network() string {
	if t := ss.vs.Transport(); t != nil {
		if pair, err := t.ICETransport().GetSelectedCandidatePair(); err == nil && pair != nil &&
			pair.Local != nil && pair.Local.Protocol == pion.ICEProtocolTCP {
			return NetworkTCP
		}
	}
	return NetworkUDP
}

// feed packetises a stream's frames once; every session shares the result.
type feed struct {
	users int // guarded by Server.mu

	mu    sync.Mutex
	cache map[*media.Frame][]*rtp.Packet
	order []*media.Frame
	h264  codecs.H264Payloader
	vseq  uint16
	aseq  uint16
}

func newFeed() *feed {
	return &feed{cache: map[*media.Frame][]*rtp.Packet{}}
}

// packets returns f's RTP packets, building them on first request. The
// packets are shared: callers must not modify them (TrackLocalStaticRTP
// copies the header before rewriting SSRC and payload type).
func (fd *feed) packets(f *media.Frame) []*rtp.Packet {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if p, ok := fd.cache[f]; ok {
		return p
	}
	var out []*rtp.Packet
	if f.Video {
		out = fd.packetiseH264(f)
	} else {
		fd.aseq++
		out = []*rtp.Packet{{
			Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: fd.aseq,
				Timestamp: uint32(f.PTS * 48000 / time.Second)},
			Payload: f.AU[0],
		}}
	}
	fd.cache[f] = out
	fd.order = append(fd.order, f)
	if len(fd.order) > packetCacheLen {
		delete(fd.cache, fd.order[0])
		fd.order = fd.order[1:]
	}
	return out
}

func (fd *feed) packetiseH264(f *media.Frame) []*rtp.Packet {
	var annexB []byte
	start := []byte{0, 0, 0, 1}
	hasSPS := false
	for _, n := range f.AU {
		if len(n) > 0 && n[0]&0x1F == 7 {
			hasSPS = true
		}
	}
	if f.Key && !hasSPS && f.Tracks != nil && f.Tracks.Video != nil && len(f.Tracks.Video.SPS) > 0 {
		annexB = append(annexB, start...)
		annexB = append(annexB, f.Tracks.Video.SPS...)
		annexB = append(annexB, start...)
		annexB = append(annexB, f.Tracks.Video.PPS...)
	}
	for _, n := range f.AU {
		annexB = append(annexB, start...)
		annexB = append(annexB, n...)
	}
	payloads := fd.h264.Payload(rtpMTU, annexB)
	ts := uint32(f.PTS * 90000 / time.Second)
	out := make([]*rtp.Packet, len(payloads))
	for i, pl := range payloads {
		fd.vseq++
		out[i] = &rtp.Packet{
			Header: rtp.Header{Version: 2, Marker: i == len(payloads)-1,
				SequenceNumber: fd.vseq, Timestamp: ts},
			Payload: pl,
		}
	}
	return out
}
