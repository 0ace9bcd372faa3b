package srt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/transcode"
)

// probeBytes bounds what a publisher may send before its MPEG-TS tables are
// known: the demuxer keeps all of it to rewind (16 MiB allows 60 Mbit/s for
// the 2 s an encoder may take to send its first PMT and audio frame).
const probeBytes = 16 << 20

// frameBytes bounds the bytes read without a complete access unit coming
// out (a PES that never ends would otherwise grow without limit).
const frameBytes = 32 << 20

func (s *Server) publish(ctx context.Context, req gosrt.ConnRequest, key string, log *slog.Logger) {
	ip := remoteIP(req.RemoteAddr())
	if !s.limiter.Allow(ip) {
		s.metrics.RefusedPublishes.WithLabelValues("rate_limited").Inc()
		log.Info("publish refused: too many failed attempts from this address")
		reject(req, gosrt.REJX_OVERLOAD)
		return
	}
	channel, stillValid, err := s.auth.Authenticate(ctx, key)
	if errors.Is(err, ErrUnknownKey) {
		s.limiter.Fail(ip)
		s.metrics.RefusedPublishes.WithLabelValues("bad_key").Inc()
		log.Info("publish refused: stream key not recognized") // never log the key
		reject(req, gosrt.REJX_UNAUTHORIZED)
		return
	}
	if err != nil {
		s.metrics.RefusedPublishes.WithLabelValues("unavailable").Inc()
		log.Error("publish refused: cannot check the stream key", "err", err)
		reject(req, gosrt.REJX_ISE)
		return
	}
	log = log.With("channel", channel)
	pub, err := s.hub.Publish(channel, hub.PublishInfo{Protocol: ProtoSRT, Remote: req.RemoteAddr().String(), KeyCheck: stillValid})
	if err != nil {
		reason, code := "busy", gosrt.REJX_CONFLICT
		if !errors.Is(err, hub.ErrBusy) {
			reason, code = "unavailable", gosrt.REJX_DOWN
		}
		s.metrics.RefusedPublishes.WithLabelValues(reason).Inc()
		log.Info("publish refused", "err", err)
		reject(req, code)
		return
	}
	defer pub.Close()
	conn, err := req.Accept()
	if err != nil {
		log.Info("publish not accepted", "err", err)
		return
	}
	defer conn.Close()
	stop := closeOn(ctx, conn, pub.Done())
	defer stop()
	s.metrics.Publishes.Inc()
	log.Info("publish started")

	// gosrt has no read deadlines: a timer closes the connection when no
	// data has come for IdleTimeout.
	var silent atomic.Bool
	idle := time.AfterFunc(s.opts.IdleTimeout, func() {
		silent.Store(true)
		conn.Close()
	})
	defer idle.Stop()
	cr := &countingReader{r: conn, idle: idle, idleTimeout: s.opts.IdleTimeout, limit: probeBytes}

	// An Opus publish gets an AAC rendition for FLV/RTMP players. Closed
	// before the publisher (defers run in reverse).
	rend := transcode.NewAACRendition(ctx, pub, s.opts.OpusToAAC, log)
	defer rend.Close()
	in := &ingest{out: rend, metrics: s.metrics, log: log, cr: cr}
	r := &mpegts.Reader{R: cr}
	err = r.Initialize()
	if err == nil {
		err = in.setup(r)
	}
	cr.limit, cr.n = frameBytes, 0
	for err == nil {
		err = r.Read()
	}
	switch {
	case pub.Err() != nil && !errors.Is(pub.Err(), hub.ErrKicked):
		log.Info("publish ended", "reason", pub.Err())
	case pub.Err() != nil:
		log.Info("publish ended by the server (key rotated, channel removed or taken down)")
	case ctx.Err() != nil:
		log.Info("publish ended: server shutting down")
	case silent.Load():
		log.Info("publish ended: publisher silent", "timeout", s.opts.IdleTimeout)
	case errors.Is(err, io.EOF):
		log.Info("publish ended: publisher disconnected")
	default:
		s.metrics.ConnErrors.WithLabelValues(ProtoSRT).Inc()
		log.Info("publish ended on error", "err", err)
	}
	if n := in.decodeErrors; n > 0 {
		log.Info("MPEG-TS decode errors during the publish", "count", n)
	}
}

// errTooMuch ends a publish that sends more than a bound allows.
var errTooMuch = errors.New("too much data without a complete frame")

// countingReader reads the connection for the demuxer: it re-arms the idle
// timer (at most once a second) and enforces a byte budget that the ingest
// resets whenever a frame comes out.
type countingReader struct {
	r           io.Reader
	idle        *time.Timer
	idleTimeout time.Duration
	lastArm     time.Time
	n, limit    int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		return 0, errTooMuch
	}
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		if now := time.Now(); now.Sub(c.lastArm) > time.Second {
			c.idle.Reset(c.idleTimeout)
			c.lastArm = now
		}
	}
	return n, err
}

// ingest turns demuxed MPEG-TS access units into media.Frames shaped like
// those of RTMP ingest: parameter sets travel in the Tracks (not in the
// AUs), AUs carry no access unit delimiters, and timestamps start near zero.
type ingest struct {
	out     transcode.FrameWriter // the hub publisher, or an AAC rendition in front of it
	metrics *observe.Metrics
	log     *slog.Logger
	cr      *countingReader

	td        mpegts.TimeDecoder // one clock for every track
	wantVideo bool               // a video track was announced: start at its first keyframe
	started   bool
	base      time.Duration

	video  *media.VideoTrack
	audio  *media.AudioTrack
	tracks *media.Tracks

	sampleRate   int
	decodeErrors int
}

// setup picks the first video and the first audio track of the PMT and
// registers the callbacks. Codecs we cannot deliver are ignored with one log
// line; a stream with neither a usable video nor audio track is refused.
func (in *ingest) setup(r *mpegts.Reader) error {
	var videoSet, audioSet bool
	for _, t := range r.Tracks() {
		switch c := t.Codec.(type) {
		case *mpegts.CodecH264:
			if videoSet {
				continue
			}
			videoSet = true
			r.OnDataH264(t, in.onH264)
		case *mpegts.CodecH265:
			if videoSet {
				continue
			}
			videoSet = true
			r.OnDataH265(t, in.onH265)
		case *mpegts.CodecMPEG4Audio:
			if audioSet {
				continue
			}
			cfg, err := c.Config.Marshal()
			if err != nil || c.Config.SampleRate <= 0 {
				in.log.Info("ignoring AAC track with an unusable configuration")
				continue
			}
			audioSet = true
			in.sampleRate = c.Config.SampleRate
			in.audio = &media.AudioTrack{Codec: media.CodecAAC, Config: cfg, SampleRate: c.Config.SampleRate, ChannelCount: c.Config.ChannelCount}
			r.OnDataMPEG4Audio(t, in.onAAC)
		case *mpegts.CodecOpus:
			if audioSet {
				continue
			}
			audioSet = true
			channels := c.ChannelCount //nolint:staticcheck // the descriptor form needs decoding we do not need
			if channels <= 0 {
				channels = 2
			}
			in.audio = &media.AudioTrack{Codec: media.CodecOpus, SampleRate: 48000, ChannelCount: channels}
			r.OnDataOpus(t, in.onOpus)
		default:
			in.log.Info("ignoring track with unsupported codec", "codec", fmt.Sprintf("%T", t.Codec))
		}
	}
	if !videoSet && !audioSet {
		return errors.New("no supported track (video: H.264, H.265; audio: AAC, Opus)")
	}
	in.wantVideo = videoSet
	in.tracks = &media.Tracks{Video: in.video, Audio: in.audio}
	r.OnDecodeError(func(error) { in.decodeErrors++ })
	attrs := []any{}
	if videoSet {
		attrs = append(attrs, "video", true)
	}
	if in.audio != nil {
		attrs = append(attrs, "audio", in.audio.Codec.String(), "rate", in.audio.SampleRate)
	}
	in.log.Info("publish tracks", attrs...)
	return nil
}

func (in *ingest) newTracks() {
	in.tracks = &media.Tracks{Video: in.video, Audio: in.audio}
}

// ticks converts a 90 kHz MPEG-TS time to a duration without overflow.
func ticks(t int64) time.Duration {
	return time.Duration(t/90000)*time.Second + time.Duration(t%90000)*time.Second/90000
}

// times decodes a PES's 33-bit PTS and DTS onto one continuous clock.
func (in *ingest) times(pts, dts int64) (p, d time.Duration) {
	dd := in.td.Decode(dts)
	return ticks(dd + (pts-dts)&0x1FFFFFFFF), ticks(dd)
}

func (in *ingest) onH264(pts, dts int64, au [][]byte) error {
	var sps, pps []byte
	keep := make([][]byte, 0, len(au))
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1F) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		case h264.NALUTypeAccessUnitDelimiter, h264.NALUTypeFillerData:
		default:
			keep = append(keep, n)
		}
	}
	if sps != nil && pps != nil && (in.video == nil || !bytes.Equal(sps, in.video.SPS) || !bytes.Equal(pps, in.video.PPS)) {
		changed := in.video != nil
		in.video = media.H264Track(sps, pps)
		in.newTracks()
		in.logVideo(changed)
	}
	if len(keep) == 0 || in.video == nil || in.video.Codec != media.CodecH264 {
		return nil // nothing to show, or not decodable yet (no SPS/PPS seen)
	}
	p, d := in.times(pts, dts)
	in.write(&media.Frame{Video: true, Key: h264.IsRandomAccess(keep), DTS: d, PTS: p, AU: keep})
	return nil
}

func (in *ingest) onH265(pts, dts int64, au [][]byte) error {
	var vps, sps, pps []byte
	keep := make([][]byte, 0, len(au))
	for _, n := range au {
		if len(n) < 2 {
			continue
		}
		switch h265.NALUType((n[0] >> 1) & 0x3F) {
		case h265.NALUType_VPS_NUT:
			vps = n
		case h265.NALUType_SPS_NUT:
			sps = n
		case h265.NALUType_PPS_NUT:
			pps = n
		case h265.NALUType_AUD_NUT:
		default:
			keep = append(keep, n)
		}
	}
	if vps != nil && sps != nil && pps != nil &&
		(in.video == nil || !bytes.Equal(vps, in.video.VPS) || !bytes.Equal(sps, in.video.SPS) || !bytes.Equal(pps, in.video.PPS)) {
		changed := in.video != nil
		in.video = media.H265Track(vps, sps, pps)
		in.newTracks()
		in.logVideo(changed)
	}
	if len(keep) == 0 || in.video == nil || in.video.Codec != media.CodecH265 {
		return nil
	}
	p, d := in.times(pts, dts)
	in.write(&media.Frame{Video: true, Key: h265.IsRandomAccess(keep), DTS: d, PTS: p, AU: keep})
	return nil
}

func (in *ingest) logVideo(changed bool) {
	msg := "video parameters received"
	if changed {
		msg = "video parameters changed"
	}
	in.log.Info(msg, "video", in.video.Codec.String(), "width", in.video.Width, "height", in.video.Height)
}

func (in *ingest) onAAC(pts int64, aus [][]byte) error {
	_, d := in.times(pts, pts)
	for i, au := range aus {
		if len(au) == 0 {
			continue
		}
		t := d + time.Duration(i)*1024*time.Second/time.Duration(in.sampleRate)
		in.write(&media.Frame{Key: true, DTS: t, PTS: t, AU: [][]byte{au}})
	}
	return nil
}

func (in *ingest) onOpus(pts int64, packets [][]byte) error {
	_, t := in.times(pts, pts)
	for _, pkt := range packets {
		if len(pkt) == 0 {
			continue
		}
		in.write(&media.Frame{Key: true, DTS: t, PTS: t, AU: [][]byte{pkt}})
		t += time.Duration(opus.PacketDuration2(pkt)) * time.Second / 48000
	}
	return nil
}

// write hands f to the hub. Nothing is written before the first video
// keyframe (when there is video), so every reader starts decodable; times
// count from that frame, and frames stamped before it are dropped.
func (in *ingest) write(f *media.Frame) {
	in.cr.n = 0
	if !in.started {
		if in.wantVideo && !(f.Video && f.Key) {
			return
		}
		in.started, in.base = true, f.DTS
	}
	f.DTS -= in.base
	f.PTS -= in.base
	if f.DTS < 0 {
		return
	}
	f.Tracks = in.tracks
	in.metrics.BytesIn.Add(float64(f.Size()))
	in.out.Write(f)
}
