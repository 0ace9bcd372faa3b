package transcode

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/media"
)

// recorder is a FrameWriter keeping what it was given.
type recorder struct {
	mu     sync.Mutex
	frames []media.Frame
}

func (r *recorder) Write(f *media.Frame) {
	r.mu.Lock()
	r.frames = append(r.frames, *f)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []media.Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]media.Frame(nil), r.frames...)
}

func (r *recorder) aac() int {
	n := 0
	for _, f := range r.snapshot() {
		if f.FLVOnly {
			n++
		}
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// An Opus publish gets an AAC rendition: its frames carry Tracks with
// FLVAudio, AAC frames follow as FLVOnly frames; when the publisher
// switches to AAC the transcoder stops and frames pass through as sent.
func TestAACRendition(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	pkts := opusPackets(t, ffmpeg, 2)
	rec := &recorder{}
	r := NewAACRendition(context.Background(), rec, ffmpeg, slog.New(slog.DiscardHandler))
	defer r.Close()

	video := &media.VideoTrack{Codec: media.CodecH264}
	opus := &media.Tracks{Video: video, Audio: &media.AudioTrack{Codec: media.CodecOpus, SampleRate: 48000, ChannelCount: 2}}
	r.Write(&media.Frame{Tracks: opus, Video: true, Key: true, AU: [][]byte{{0x65}}})
	for i, p := range pkts {
		pts := time.Duration(i) * 20 * time.Millisecond
		r.Write(&media.Frame{Tracks: opus, Key: true, DTS: pts, PTS: pts, AU: [][]byte{p}})
	}
	waitUntil(t, "AAC frames", func() bool { return rec.aac() >= 80 }) // ~1.9 s of 1024-sample frames
	var carried *media.Tracks
	for _, f := range rec.snapshot() {
		if carried == nil {
			carried = f.Tracks
		}
		switch {
		case f.Tracks != carried:
			t.Fatal("the rendition's frames do not share one Tracks")
		case f.Tracks.FLVAudio == nil || f.Tracks.FLVAudio.Codec != media.CodecAAC:
			t.Fatalf("frames announce FLV audio %+v", f.Tracks.FLVAudio)
		case f.Tracks.Audio != opus.Audio || f.Tracks.Video != video:
			t.Fatal("the source tracks were not kept")
		case f.FLVOnly && (f.Video || len(f.AU) != 1 || len(f.AU[0]) == 0):
			t.Fatalf("AAC frame %+v", f)
		}
	}

	// The publisher switches to AAC: frames pass through, the transcoder stops.
	aac := &media.Tracks{Video: video, Audio: &media.AudioTrack{Codec: media.CodecAAC, SampleRate: 48000, ChannelCount: 2}}
	r.Write(&media.Frame{Tracks: aac, Key: true, AU: [][]byte{{1, 2}}})
	frames := rec.snapshot()
	if last := frames[len(frames)-1]; last.Tracks != aac || last.FLVOnly {
		t.Fatalf("AAC publish: frame carries %+v", last.Tracks)
	}
	r.mu.Lock()
	running := r.tc != nil
	r.mu.Unlock()
	if running {
		t.Fatal("transcoder still running for an AAC publish")
	}
}

func TestAACRenditionOff(t *testing.T) {
	rec := &recorder{}
	r := NewAACRendition(context.Background(), rec, "off", slog.New(slog.DiscardHandler))
	defer r.Close()
	opus := &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecOpus, SampleRate: 48000, ChannelCount: 2}}
	f := &media.Frame{Tracks: opus, Key: true, AU: [][]byte{{0xfc}}}
	r.Write(f)
	if got := rec.snapshot(); len(got) != 1 || got[0].Tracks != opus {
		t.Fatalf("off: %+v", got)
	}
}
