package webrtc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/transcode"
)

// Authenticator resolves a stream key to the channel it publishes (the
// RTMP server's Authenticator satisfies it).
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (channel string, stillValid func() bool, err error)
}

// Limiter throttles failed publish attempts per remote IP (shared with RTMP).
type Limiter interface {
	Allow(ip string) bool
	Fail(ip string)
}

// WHIPOptions enable WHIP ingest (POST /whip, Authorization: Bearer KEY).
// WHIP is off while Hub or Auth is nil.
type WHIPOptions struct {
	Hub     *hub.Hub
	Auth    Authenticator
	Limiter Limiter // optional
	// BasePath prefixes session resources (Location); default "/whip/".
	BasePath string
	// OpusToAAC is the ffmpeg binary that transcodes a publisher's Opus to
	// AAC for FLV/RTMP viewers (one process per publish session); "" or
	// "off" leaves them without audio (the FLV output carries no Opus).
	OpusToAAC string
}

// whipSession is one WHIP publisher.
type whipSession struct {
	id, ip string
	pc     *pion.PeerConnection
	pub    *hub.Publisher
	cancel context.CancelFunc
	once   sync.Once

	mu     sync.Mutex // serialises hub writes from the video and audio tracks
	start  time.Time
	video  *media.VideoTrack
	audio  *media.AudioTrack
	tracks *media.Tracks
	// aac makes the AAC rendition of the Opus track for FLV/RTMP viewers;
	// nil when off or failed.
	aac *transcode.OpusToAAC
	log *slog.Logger
}

func (ws *whipSession) close() {
	ws.once.Do(func() {
		ws.cancel()
		_ = ws.pc.Close()
		ws.pub.Close()
	})
}

// ServeWHIP handles POST (and OPTIONS) on /whip.
func (s *Server) ServeWHIP(w http.ResponseWriter, r *http.Request) {
	cors(w)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	wo := s.opts.WHIP
	if wo.Hub == nil || wo.Auth == nil {
		writeError(w, http.StatusNotFound, "WHIP is disabled")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	ip := s.clientIP(r)
	if wo.Limiter != nil && !wo.Limiter.Allow(ip) {
		writeError(w, http.StatusTooManyRequests, "too many failed attempts; try later")
		return
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key == "" {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeError(w, http.StatusUnauthorized, "stream key required (Authorization: Bearer KEY)")
		return
	}
	body, ok := readOffer(w, r)
	if !ok {
		return
	}
	channel, stillValid, err := wo.Auth.Authenticate(r.Context(), key)
	if err != nil {
		if wo.Limiter != nil {
			wo.Limiter.Fail(ip)
		}
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeError(w, http.StatusUnauthorized, "stream key not recognized")
		return
	}
	id, err := s.reserve(ip)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	pub, err := wo.Hub.Publish(channel, hub.PublishInfo{Protocol: "webrtc", Remote: ip, KeyCheck: stillValid})
	if err != nil {
		s.release(id, ip)
		status := http.StatusServiceUnavailable
		if errors.Is(err, hub.ErrBusy) {
			status = http.StatusConflict
		}
		writeError(w, status, err.Error())
		return
	}
	answer, err := s.newWHIPSession(id, ip, pub, string(body))
	if err != nil {
		pub.Close()
		s.release(id, ip)
		writeError(w, http.StatusBadRequest, "negotiation: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", s.whipBase()+id)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

func (s *Server) whipBase() string {
	if s.opts.WHIP.BasePath != "" {
		return s.opts.WHIP.BasePath
	}
	return "/whip/"
}

// ServeWHIPSession handles DELETE (and OPTIONS) on the WHIP BasePath + ID.
func (s *Server) ServeWHIPSession(w http.ResponseWriter, r *http.Request) {
	cors(w)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, s.whipBase())
	if r.Method != http.MethodDelete {
		w.Header().Set("Allow", "DELETE, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	s.mu.Lock()
	ws := s.whips[id]
	s.mu.Unlock()
	if !ok || ws == nil {
		writeError(w, http.StatusNotFound, "no such session")
		return
	}
	ws.close()
	w.WriteHeader(http.StatusOK)
}

func (s *Server) newWHIPSession(id, ip string, pub *hub.Publisher, offer string) (string, error) {
	pc, err := s.api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	ws := &whipSession{id: id, ip: ip, pc: pc, pub: pub, cancel: cancel, start: time.Now(),
		tracks: &media.Tracks{}, log: s.log.With("channel", pub.Stream().Name(), "conn", id)}
	fail := func(err error) (string, error) {
		cancel()
		_ = pc.Close()
		return "", err
	}
	connected := make(chan struct{})
	var connOnce sync.Once
	pc.OnConnectionStateChange(func(st pion.PeerConnectionState) {
		switch st {
		case pion.PeerConnectionStateConnected:
			connOnce.Do(func() { close(connected) })
		case pion.PeerConnectionStateFailed, pion.PeerConnectionStateClosed:
			cancel()
		}
	})
	var readers sync.WaitGroup
	var trackMu sync.Mutex
	stopped := false
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		trackMu.Lock()
		defer trackMu.Unlock()
		if stopped {
			return
		}
		switch tr.Codec().MimeType {
		case pion.MimeTypeH264:
			readers.Go(func() { ws.readH264(tr) })
		case pion.MimeTypeOpus:
			readers.Go(func() { ws.readOpus(ctx, tr, s.opts.WHIP.OpusToAAC) })
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
	s.whips[id] = ws
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(s.opts.ConnectTimeout)
		defer t.Stop()
		select {
		case <-connected:
			select {
			case <-ctx.Done():
			case <-pub.Done():
			}
		case <-t.C:
		case <-ctx.Done():
		case <-pub.Done():
		}
		ws.close() // ends ReadRTP in the track readers
		trackMu.Lock()
		stopped = true
		trackMu.Unlock()
		readers.Wait()
		s.mu.Lock()
		delete(s.whips, id)
		s.mu.Unlock()
		s.release(id, ip)
	}()
	return pc.LocalDescription().SDP, nil
}

// clock turns 32-bit RTP timestamps into media time: the first packet of a
// track is placed at its arrival time since the session began (a coarse
// cross-track alignment), later ones by their unwrapped RTP distance.
type clock struct {
	rate  int64
	init  bool
	last  uint32
	ticks int64
	base  time.Duration
}

func (c *clock) pts(ts uint32, since time.Duration) time.Duration {
	if !c.init {
		c.init, c.last, c.base = true, ts, since
		return c.base
	}
	c.ticks += int64(int32(ts - c.last))
	c.last = ts
	return c.base + time.Duration(c.ticks*int64(time.Second)/c.rate)
}

func (ws *whipSession) readH264(tr *pion.TrackRemote) {
	var dep codecs.H264Packet
	var buf []byte
	clk := clock{rate: 90000}
	var lastSeq uint16
	haveSeq, broken := false, false
	var lastPLI, lastKey time.Time
	lastKey = time.Now()
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if haveSeq && p.SequenceNumber != lastSeq+1 {
			broken = true // loss: drop this AU, wait for the next keyframe
		}
		haveSeq, lastSeq = true, p.SequenceNumber
		b, err := dep.Unmarshal(p.Payload)
		if err != nil {
			broken = true
		} else {
			buf = append(buf, b...)
		}
		if !p.Marker {
			continue
		}
		nalus := splitAnnexB(buf)
		buf = buf[:0]
		pts := clk.pts(p.Timestamp, time.Since(ws.start))
		if broken {
			broken = false
			ws.waitKey()
			// Ask the publisher for a fresh keyframe, at most once a second.
			if now := time.Now(); now.Sub(lastPLI) > time.Second {
				lastPLI = now
				_ = ws.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
			}
			continue
		}
		// Browsers' WebRTC encoders send a keyframe only at the start and
		// when asked; viewers (FLV, LL-HLS segments, new WHEP peers) need
		// one every couple of seconds, so ask for it.
		now := time.Now()
		for _, n := range nalus {
			if len(n) > 0 && n[0]&0x1f == 5 {
				lastKey = now
				break
			}
		}
		if now.Sub(lastKey) >= WHIPKeyframeInterval && now.Sub(lastPLI) >= time.Second {
			lastPLI = now
			_ = ws.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
		}
		ws.writeH264(pts, nalus)
	}
}

// WHIPKeyframeInterval is how often a WHIP publisher is asked for a
// keyframe (RTCP PLI) when it does not send one by itself: the GOP length
// that viewers joining, and LL-HLS segments, depend on.
const WHIPKeyframeInterval = 2 * time.Second

func (ws *whipSession) waitKey() {
	ws.mu.Lock()
	ws.video = nil // resume at the next IDR carrying SPS/PPS or with known ones
	ws.mu.Unlock()
}

func (ws *whipSession) writeH264(pts time.Duration, nalus [][]byte) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	var sps, pps []byte
	au := make([][]byte, 0, len(nalus))
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1F) {
		case h264.NALUTypeSPS:
			sps = append([]byte(nil), n...)
		case h264.NALUTypePPS:
			pps = append([]byte(nil), n...)
		case h264.NALUTypeAccessUnitDelimiter:
		default:
			au = append(au, append([]byte(nil), n...))
		}
	}
	cur := ws.tracks.Video
	if sps != nil && pps != nil && (cur == nil || string(cur.SPS) != string(sps) || string(cur.PPS) != string(pps)) {
		ws.tracks = &media.Tracks{Video: media.H264Track(sps, pps), Audio: ws.tracks.Audio, FLVAudio: ws.tracks.FLVAudio}
	}
	key := h264.IsRandomAccess(au)
	if ws.tracks.Video == nil || len(au) == 0 {
		return
	}
	if ws.video == nil {
		if !key {
			return
		}
		ws.video = ws.tracks.Video
	}
	ws.pub.Write(&media.Frame{Tracks: ws.tracks, Video: true, Key: key, DTS: pts, PTS: pts, AU: au})
}

func (ws *whipSession) readOpus(ctx context.Context, tr *pion.TrackRemote, ffmpeg string) {
	clk := clock{rate: 48000}
	audio := &media.AudioTrack{Codec: media.CodecOpus, SampleRate: 48000, ChannelCount: 2}
	aac, aacTrack := ws.startAAC(ctx, ffmpeg, audio.ChannelCount)
	if aac != nil {
		defer aac.Close() // not under ws.mu: its emit takes ws.mu
	}
	ws.mu.Lock()
	ws.tracks = &media.Tracks{Video: ws.tracks.Video, Audio: audio}
	if aac != nil {
		ws.aac = aac
		ws.tracks.FLVAudio = aacTrack
	}
	ws.mu.Unlock()
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if len(p.Payload) == 0 {
			continue
		}
		pts := clk.pts(p.Timestamp, time.Since(ws.start))
		au := append([]byte(nil), p.Payload...)
		ws.mu.Lock()
		if ws.aac != nil && ws.aac.Failed() {
			// FLV/RTMP viewers fall back to video only.
			ws.aac = nil
			ws.tracks = &media.Tracks{Video: ws.tracks.Video, Audio: ws.tracks.Audio}
		}
		ws.pub.Write(&media.Frame{Tracks: ws.tracks, Key: true, DTS: pts, PTS: pts, AU: [][]byte{au}})
		if ws.aac != nil {
			ws.aac.Write(pts, au) // the hub shares au read-only; so does ffmpeg's feed
		}
		ws.mu.Unlock()
	}
}

// startAAC starts the Opus→AAC transcoder, or returns nil (logged) when it
// is off or cannot start: FLV/RTMP viewers then get video only (FLV output
// carries no Opus).
func (ws *whipSession) startAAC(ctx context.Context, ffmpeg string, channels int) (*transcode.OpusToAAC, *media.AudioTrack) {
	if ffmpeg == "" || ffmpeg == "off" {
		return nil, nil
	}
	track, err := transcode.AACTrack(channels)
	if err != nil {
		ws.log.Warn("Opus→AAC transcoder not started", "err", err)
		return nil, nil
	}
	path, err := exec.LookPath(ffmpeg)
	if err != nil {
		ws.log.Warn("ffmpeg not found: FLV/RTMP viewers get no audio", "err", err)
		return nil, nil
	}
	aac, err := transcode.StartOpusToAAC(ctx, path, channels, ws.log, ws.writeAAC)
	if err != nil {
		ws.log.Warn("Opus→AAC transcoder not started: FLV/RTMP viewers get no audio", "err", err)
		return nil, nil
	}
	ws.log.Info("Opus→AAC transcoder started")
	return aac, track
}

// writeAAC writes one frame of the AAC rendition into the hub, serialised
// with the session's other writes (the hub has a single writer).
func (ws *whipSession) writeAAC(pts time.Duration, au []byte) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.aac == nil || ws.tracks.FLVAudio == nil {
		return
	}
	ws.pub.Write(&media.Frame{Tracks: ws.tracks, FLVOnly: true, Key: true, DTS: pts, PTS: pts, AU: [][]byte{au}})
}

// splitAnnexB splits an Annex-B byte stream at start codes.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				for end > start && b[end-1] == 0 {
					end--
				}
				out = append(out, b[start:end])
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}
