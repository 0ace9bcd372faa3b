package transcode

import (
	"context"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/huabian-live/huabian/internal/media"
)

// FrameWriter takes a stream's frames (a hub.Publisher).
type FrameWriter interface {
	Write(f *media.Frame)
}

// AACRendition sits between an ingest and its hub publisher. While the
// published audio is Opus, which FLV and RTMP players cannot play, it runs
// one Opus→AAC transcoder for the stream: frames go on with Tracks.FLVAudio
// set, and the AAC frames follow as FLVOnly frames, as WHIP does. Other
// audio passes through untouched. Write and Close come from the ingest's
// goroutine; the AAC frames come from the transcoder's, serialised with
// Write (the hub has one writer at a time).
type AACRendition struct {
	ctx    context.Context
	out    FrameWriter
	ffmpeg string // the ffmpeg binary; "" when the rendition is off
	log    *slog.Logger

	mu     sync.Mutex
	src    *media.Tracks // the tracks of the last frame written
	tracks *media.Tracks // what frames carry: src, plus FLVAudio while tc runs
	tc     *OpusToAAC
	token  *int // identifies tc's emit calls (a replaced transcoder's are dropped)
}

// NewAACRendition wraps out. ffmpeg is the binary to run (a name looked up
// in PATH); "" or "off" passes every frame through. log should carry the
// channel field.
func NewAACRendition(ctx context.Context, out FrameWriter, ffmpeg string, log *slog.Logger) *AACRendition {
	r := &AACRendition{ctx: ctx, out: out, log: log}
	if ffmpeg != "off" {
		r.ffmpeg = ffmpeg
	}
	return r
}

// Write passes f on (with the rendition's tracks) and feeds Opus audio to
// the transcoder. f is handed over as to the hub.
func (r *AACRendition) Write(f *media.Frame) {
	var stale *OpusToAAC
	defer func() {
		if stale != nil {
			stale.Close() // outside mu: its emit takes mu
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.Tracks != r.src {
		stale = r.retrackLocked(f.Tracks)
	}
	if r.tc != nil && r.tc.Failed() {
		// FLV/RTMP viewers fall back to video only.
		stale, r.tc, r.token, r.tracks = r.tc, nil, nil, r.src
	}
	opus := r.tc != nil && !f.Video && !f.FLVOnly
	pts, aus := f.PTS, f.AU // the hub may rewrite f's timestamps
	if f.Tracks != r.tracks {
		g := *f
		g.Tracks = r.tracks
		f = &g
	}
	r.out.Write(f)
	if opus {
		for _, au := range aus {
			r.tc.Write(pts, au) // the hub shares au read-only; so does ffmpeg's feed
		}
	}
}

// retrackLocked follows a change of the published tracks. It returns a
// transcoder to close once mu is released.
func (r *AACRendition) retrackLocked(t *media.Tracks) (stale *OpusToAAC) {
	r.src, r.tracks = t, t
	want := t != nil && t.Audio != nil && t.Audio.Codec == media.CodecOpus && t.FLVAudio == nil && r.ffmpeg != ""
	channels := 0
	if want {
		channels = t.Audio.ChannelCount
		if channels < 1 || channels > 2 {
			want = false
			r.log.Warn("Opus is transcoded for mono or stereo only: FLV/RTMP viewers get no audio", "channels", channels)
		}
	}
	if r.tc != nil && (!want || r.tc.channels != channels) {
		stale, r.tc, r.token = r.tc, nil, nil
	}
	if !want {
		return stale
	}
	track, err := AACTrack(channels)
	if err != nil {
		r.log.Warn("Opus→AAC transcoder not started", "err", err)
		return stale
	}
	if r.tc == nil {
		path, err := exec.LookPath(r.ffmpeg)
		if err != nil {
			r.log.Warn("ffmpeg not found: FLV/RTMP viewers get no audio", "err", err)
			r.ffmpeg = "" // once per publish
			return stale
		}
		token := new(int)
		tc, err := StartOpusToAAC(r.ctx, path, channels, r.log, func(pts time.Duration, au []byte) { r.emit(token, pts, au) })
		if err != nil {
			r.log.Warn("Opus→AAC transcoder not started: FLV/RTMP viewers get no audio", "err", err)
			return stale
		}
		r.log.Info("Opus→AAC transcoder started")
		r.tc, r.token = tc, token
	}
	withAAC := *t
	withAAC.FLVAudio = track
	r.tracks = &withAAC
	return stale
}

// emit writes one AAC frame of the transcoder identified by token.
func (r *AACRendition) emit(token *int, pts time.Duration, au []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if token != r.token || r.tracks == nil || r.tracks.FLVAudio == nil {
		return
	}
	r.out.Write(&media.Frame{Tracks: r.tracks, FLVOnly: true, Key: true, DTS: pts, PTS: pts, AU: [][]byte{au}})
}

// Close stops the transcoder, if one runs. Call it when the publish ends,
// before the publisher is closed.
func (r *AACRendition) Close() {
	r.mu.Lock()
	tc := r.tc
	r.tc, r.token = nil, nil
	r.mu.Unlock()
	if tc != nil {
		tc.Close()
	}
}
