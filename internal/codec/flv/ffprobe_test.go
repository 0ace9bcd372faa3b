package flv

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/huabian-live/huabian/internal/media"
)

// TestFFprobe checks that an FLV built with AppendFileHeader,
// AppendMetadataTag, AppendSequenceHeaders and AppendFrameTag from real
// H.264 and AAC is accepted by FFmpeg's demuxer and decoders. (The FFmpeg
// 5.1 found in Debian 12 predates Enhanced RTMP, so H.265/AV1 are checked by
// the round-trip and go-mp4 tests instead.)
func TestFFprobe(t *testing.T) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed; install ffmpeg to run this interoperability test")
	}
	h := loadH264(t)
	a := loadAAC(t)
	tr := h264Tracks(h, &a)

	// Interleave in DTS order: video every 33 ms, AAC every 1024/44100 s.
	var frames []*media.Frame
	vi, ai := 0, 0
	for vi < len(h.aus) || ai < len(a.frames) {
		vdts, adts := ms(vi*33), ms(ai*1024*1000/44100)
		if vi < len(h.aus) && (ai >= len(a.frames) || vdts <= adts) {
			frames = append(frames, &media.Frame{Tracks: tr, Video: true, Key: h.keys[vi], DTS: vdts, PTS: vdts, AU: h.aus[vi]})
			vi++
		} else {
			frames = append(frames, &media.Frame{Tracks: tr, Key: true, DTS: adts, PTS: adts, AU: [][]byte{a.frames[ai]}})
			ai++
		}
	}
	path := filepath.Join(t.TempDir(), "out.flv")
	if err := os.WriteFile(path, stream(t, tr, frames), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(ffprobe, "-v", "error", "-show_streams", "-show_format", "-of", "json", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var probe struct {
		Streams []struct {
			CodecType  string `json:"codec_type"`
			CodecName  string `json:"codec_name"`
			Width      int    `json:"width"`
			Height     int    `json:"height"`
			SampleRate string `json:"sample_rate"`
			Channels   int    `json:"channels"`
		} `json:"streams"`
		Format struct {
			FormatName string            `json:"format_name"`
			Tags       map[string]string `json:"tags"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if probe.Format.FormatName != "flv" || probe.Format.Tags["encoder"] != "Huabian Live" {
		t.Errorf("format %+v", probe.Format)
	}
	var sawVideo, sawAudio bool
	for _, s := range probe.Streams {
		switch s.CodecType {
		case "video":
			sawVideo = true
			if s.CodecName != "h264" || s.Width != 160 || s.Height != 120 {
				t.Errorf("video stream %+v", s)
			}
		case "audio":
			sawAudio = true
			if s.CodecName != "aac" || s.SampleRate != "44100" || s.Channels != 2 {
				t.Errorf("audio stream %+v", s)
			}
		}
	}
	if !sawVideo || !sawAudio || len(probe.Streams) != 2 {
		t.Fatalf("streams: %s", out)
	}

	// Decode everything; any demuxer or decoder complaint fails the test.
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return
	}
	cmd := exec.Command(ffmpeg, "-v", "error", "-xerror", "-i", path, "-f", "framemd5", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	md5s, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg decode: %v\n%s", err, stderr.String())
	}
	var vframes, aframes int
	for _, line := range bytes.Split(md5s, []byte("\n")) {
		switch {
		case bytes.HasPrefix(line, []byte("0,")):
			vframes++
		case bytes.HasPrefix(line, []byte("1,")):
			aframes++
		}
	}
	if vframes != len(h.aus) || aframes == 0 {
		t.Fatalf("decoded %d video and %d audio frames\n%s", vframes, aframes, md5s)
	}
}
