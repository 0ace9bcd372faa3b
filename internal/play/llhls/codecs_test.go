package llhls

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	mtscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/huabian-live/huabian/internal/media"
)

// TestOtherCodecs runs H.265 + Opus, AV1 video only and AAC audio only
// through the server and checks the playlists and, if ffprobe is installed,
// what a real client reads. The H.265 and AV1 inputs are encoded by ffmpeg
// at test time (skipped without it).
func TestOtherCodecs(t *testing.T) {
	t.Run("aac audio only", func(t *testing.T) {
		e := newEnv(t, Options{}, nil)
		audio := &fixture{tracks: &media.Tracks{Audio: e.fx.tracks.Audio}, period: e.fx.period}
		for _, f := range e.fx.frames {
			if !f.Video {
				f.Tracks = audio.tracks
				audio.frames = append(audio.frames, f)
			}
		}
		e.fx = audio
		e.startPublish("aac", 2, 0, nil)
		checkPlayback(t, e, "aac", []string{"mp4a.40.2"}, []string{"codec_name=aac"}, "audio1_stream.m3u8")
	})

	ffmpeg, err := lookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed: skipping H.265/Opus and AV1")
	}
	dir := t.TempDir()

	t.Run("h265 and opus", func(t *testing.T) {
		ts := filepath.Join(dir, "h265_opus.ts")
		encode(t, ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "4",
			"-c:v", "libx265", "-preset", "ultrafast",
			"-x265-params", "keyint=25:min-keyint=25:scenecut=0:bframes=0:log-level=error",
			"-c:a", "libopus", "-b:a", "32k", "-f", "mpegts", ts)
		fx := loadTS(t, ts)
		e := newEnv(t, Options{}, nil)
		e.fx = fx
		e.startPublish("hevc", 2, 0, nil)
		checkPlayback(t, e, "hevc", []string{"hvc1.", "opus"},
			[]string{"codec_name=hevc|width=320|height=240", "codec_name=opus"}, "video1_stream.m3u8")
	})

	t.Run("av1", func(t *testing.T) {
		obu := filepath.Join(dir, "av1.obu")
		encode(t, ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "4",
			"-c:v", "libsvtav1", "-preset", "12", "-g", "25", "-f", "obu", obu)
		fx := loadOBU(t, obu, 25)
		e := newEnv(t, Options{}, nil)
		e.fx = fx
		e.startPublish("av1", 2, 0, nil)
		checkPlayback(t, e, "av1", []string{"av01."},
			[]string{"codec_name=av1|width=320|height=240"}, "video1_stream.m3u8")
	})
}

func encode(t *testing.T, ffmpeg string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)
	if out, err := runTool(ctx, ffmpeg, args...); err != nil {
		t.Skipf("ffmpeg cannot encode this input here (%v): %s", err, out)
	}
}

func checkPlayback(t *testing.T, e *env, name string, codecs, probe []string, mediaPlaylist string) {
	t.Helper()
	mv := e.mustGet("/live/" + name + "/index.m3u8")
	for _, c := range codecs {
		if !strings.Contains(mv.body, c) {
			t.Errorf("multivariant playlist lacks %q:\n%s", c, mv.body)
		}
	}
	mp := e.mustGet("/live/" + name + "/" + mediaPlaylist)
	if !strings.Contains(mp.body, "#EXT-X-PART:") || !strings.Contains(mp.body, "#EXT-X-PRELOAD-HINT") {
		t.Errorf("media playlist:\n%s", mp.body)
	}
	ffprobe, err := lookPath("ffprobe")
	if err != nil {
		t.Log("ffprobe not installed: playlist checks only")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	out, err := runTool(ctx, ffprobe, "-v", "error", "-rw_timeout", "10000000",
		"-show_entries", "stream=codec_name,width,height", "-of", "compact",
		e.ts.URL+"/live/"+name+"/index.m3u8")
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	t.Logf("ffprobe: %s", strings.ReplaceAll(strings.TrimSpace(out), "\n", "; "))
	for _, want := range probe {
		if !strings.Contains(out, want) {
			t.Errorf("ffprobe output lacks %q:\n%s", want, out)
		}
	}
}

// loadTS demuxes an H.265 + Opus MPEG-TS file into frames shaped like the
// hub's: parameter sets moved from the bitstream into Tracks.
func loadTS(t *testing.T, path string) *fixture {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &mpegts.Reader{R: f}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	vt := &media.VideoTrack{Codec: media.CodecH265}
	at := &media.AudioTrack{Codec: media.CodecOpus, SampleRate: 48000, ChannelCount: 1}
	fx := &fixture{tracks: &media.Tracks{Video: vt, Audio: at}}
	var base *int64
	rel := func(v int64) time.Duration {
		if base == nil {
			base = &v
		}
		return time.Duration(v-*base) * time.Second / 90000
	}
	var lastV time.Duration
	for _, tr := range r.Tracks() {
		switch tr.Codec.(type) {
		case *mtscodecs.H265:
			r.OnDataH265(tr, func(pts, dts int64, au [][]byte) error {
				var rest [][]byte
				for _, n := range au {
					switch h265.NALUType((n[0] >> 1) & 0x3f) {
					case h265.NALUType_VPS_NUT:
						vt.VPS = n
					case h265.NALUType_SPS_NUT:
						vt.SPS = n
					case h265.NALUType_PPS_NUT:
						vt.PPS = n
					case h265.NALUType_AUD_NUT:
					default:
						rest = append(rest, n)
					}
				}
				d := rel(dts)
				fx.frames = append(fx.frames, media.Frame{Video: true, Key: h265.IsRandomAccess(au),
					DTS: d, PTS: d + time.Duration(pts-dts)*time.Second/90000, AU: rest})
				lastV = d
				return nil
			})
		case *mtscodecs.Opus:
			r.OnDataOpus(tr, func(pts int64, packets [][]byte) error {
				d := rel(pts)
				for _, p := range packets {
					fx.frames = append(fx.frames, media.Frame{Key: true, DTS: d, PTS: d, AU: [][]byte{p}})
					d += time.Duration(opus.PacketDuration2(p)) * time.Second / 48000
				}
				return nil
			})
		}
	}
	for {
		if err := r.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
	}
	if vt.SPS == nil {
		t.Fatal("no H.265 parameter sets")
	}
	fx.period = lastV + 40*time.Millisecond
	kept := fx.frames[:0]
	for _, f := range fx.frames {
		f.Tracks = fx.tracks
		if f.DTS >= 0 && (f.Video || f.DTS+20*time.Millisecond <= fx.period) {
			kept = append(kept, f)
		}
	}
	fx.frames = kept
	return fx
}

// loadOBU reads an AV1 low-overhead bitstream (ffmpeg -f obu) into temporal
// units at fps, without temporal delimiters; a unit with a sequence header
// is a keyframe.
func loadOBU(t *testing.T, path string, fps int) *fixture {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vt := &media.VideoTrack{Codec: media.CodecAV1}
	fx := &fixture{tracks: &media.Tracks{Video: vt}}
	var tu [][]byte
	flush := func() {
		if len(tu) == 0 {
			return
		}
		d := time.Duration(len(fx.frames)) * time.Second / time.Duration(fps)
		fx.frames = append(fx.frames, media.Frame{Tracks: fx.tracks, Video: true,
			Key: av1.IsRandomAccess2(tu), DTS: d, PTS: d, AU: tu})
		tu = nil
	}
	for len(b) > 0 {
		var h av1.OBUHeader
		if err := h.Unmarshal(b); err != nil || !h.HasSize {
			t.Fatalf("OBU header: %v", err)
		}
		var size av1.LEB128
		n, err := size.Unmarshal(b[1:])
		if err != nil || 1+n+int(size) > len(b) {
			t.Fatalf("OBU size: %v", err)
		}
		obu := b[:1+n+int(size)]
		b = b[len(obu):]
		switch h.Type {
		case av1.OBUTypeTemporalDelimiter:
			flush()
		case av1.OBUTypeSequenceHeader:
			if vt.AV1SequenceHeader == nil {
				vt.AV1SequenceHeader = bytes.Clone(obu)
			}
			tu = append(tu, obu)
		default:
			tu = append(tu, obu)
		}
	}
	flush()
	if vt.AV1SequenceHeader == nil {
		t.Fatal("no AV1 sequence header")
	}
	fx.period = time.Duration(len(fx.frames)) * time.Second / time.Duration(fps)
	return fx
}
