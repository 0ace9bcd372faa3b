package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// progress parses ffmpeg's `-progress pipe:1` key=value lines.
type progress struct {
	mu      sync.Mutex
	partial []byte

	frames    atomic.Int64 // frame=
	outTimeUS atomic.Int64 // out_time_us=
	updates   atomic.Int64 // progress= lines seen
}

func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(p.partial[:i]))
		p.partial = p.partial[i+1:]
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		switch key {
		case "frame":
			if err == nil {
				p.frames.Store(n)
			}
		case "out_time_us":
			if err == nil {
				p.outTimeUS.Store(n)
			}
		case "progress":
			p.updates.Add(1)
		}
	}
	return len(b), nil
}

// publisher is an ffmpeg child publishing a 1280x720 30 fps test pattern
// (H.264, keyframe every second) and a 440 Hz tone (AAC) over RTMP.
type publisher struct {
	*proc
	progress *progress
}

// startPublisher starts the encoder for rtmpURL. It is killed (by PID) when
// the test ends.
func startPublisher(t *testing.T, rtmpURL string) *publisher {
	t.Helper()
	pr := &progress{}
	p := startProc(t, pr, "ffmpeg",
		"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", "30", "-keyint_min", "30", "-pix_fmt", "yuv420p", "-b:v", "2500k",
		"-c:a", "aac", "-b:a", "128k",
		"-progress", "pipe:1",
		"-f", "flv", rtmpURL)
	return &publisher{proc: p, progress: pr}
}

// expectRefused waits up to 15 s for a publisher that the server should
// refuse, and checks that it exited with a non-zero status.
func expectRefused(t *testing.T, p *publisher, what string) {
	t.Helper()
	if !p.waitExit(15 * time.Second) {
		t.Fatalf("%s: ffmpeg still running 15 s after connecting; the server accepted the publish (stderr:\n%s)", what, lastLines(p.stderr.String(), 20))
	}
	if p.exitCode() == 0 {
		t.Errorf("%s: ffmpeg exited with status 0, want a failure (refused publish)", what)
	}
	t.Logf("%s: ffmpeg exited %.1fs after start with status %d: %s", what,
		time.Since(p.started).Seconds(), p.exitCode(), strings.ReplaceAll(lastLines(p.stderr.String(), 3), "\n", " | "))
}

// probeResult is ffprobe's JSON for -show_streams and -show_frames.
type probeResult struct {
	Streams []struct {
		Index     int    `json:"index"`
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
	Frames []struct {
		MediaType   string `json:"media_type"`
		StreamIndex int    `json:"stream_index"`
		PktDTSTime  string `json:"pkt_dts_time"`
		KeyFrame    int    `json:"key_frame"`
	} `json:"frames"`
}

// ffprobe decodes input (a URL or a file) with ffprobe -show_frames (which
// decodes every frame), reading the first seconds of media when seconds > 0.
// stderr holds ffprobe's warnings and decoding errors.
func ffprobe(t *testing.T, input string, seconds int) (res probeResult, stderr string) {
	t.Helper()
	args := []string{"-hide_banner", "-v", "error"}
	if strings.Contains(input, "://") {
		args = append(args, "-rw_timeout", "15000000") // µs: a stalled server fails instead of hanging
	}
	if seconds > 0 {
		args = append(args, "-read_intervals", fmt.Sprintf("%%+%d", seconds))
	}
	args = append(args,
		"-show_entries", "stream=index,codec_type,codec_name,width,height:frame=media_type,stream_index,pkt_dts_time,key_frame",
		"-of", "json", input)
	out, errOut, code := runCmd(t, 60*time.Second, "ffprobe", args...)
	if code != 0 {
		t.Fatalf("ffprobe %s: exit %d: %s", input, code, lastLines(errOut, 20))
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("ffprobe %s: bad JSON: %v\n%.2000s", input, err, out)
	}
	return res, errOut
}

// playbackReport summarises a probe for the log.
type playbackReport struct {
	videoFrames, audioFrames int
	videoSpan, audioSpan     float64 // seconds between first and last DTS
	maxVideoGap              float64
}

// checkPlayback asserts what a viewer must get: H.264 1280x720 and AAC
// streams; at least minVideoSeconds of decoded video at ~30 fps; DTS
// strictly increasing per stream; no gap above 1 s between consecutive video
// frames; audio frames present; no decoding errors.
func checkPlayback(t *testing.T, label string, res probeResult, stderr string, minVideoSeconds float64) playbackReport {
	t.Helper()
	var rep playbackReport
	videoIdx, audioIdx := -1, -1
	for _, s := range res.Streams {
		switch s.CodecType {
		case "video":
			videoIdx = s.Index
			if s.CodecName != "h264" || s.Width != 1280 || s.Height != 720 {
				t.Errorf("%s: video stream is %s %dx%d, want h264 1280x720", label, s.CodecName, s.Width, s.Height)
			}
		case "audio":
			audioIdx = s.Index
			if s.CodecName != "aac" {
				t.Errorf("%s: audio stream is %s, want aac", label, s.CodecName)
			}
		}
	}
	if videoIdx < 0 || audioIdx < 0 {
		t.Fatalf("%s: want a video and an audio stream, got %+v", label, res.Streams)
	}
	last := map[int]float64{}
	first := map[int]float64{}
	missing := 0
	for i, f := range res.Frames {
		if f.PktDTSTime == "" || f.PktDTSTime == "N/A" {
			missing++
			continue
		}
		dts, err := strconv.ParseFloat(f.PktDTSTime, 64)
		if err != nil {
			t.Fatalf("%s: frame %d: bad pkt_dts_time %q", label, i, f.PktDTSTime)
		}
		prev, seen := last[f.StreamIndex]
		if seen && dts <= prev {
			t.Errorf("%s: stream %d (%s): DTS not increasing at frame %d: %.3f after %.3f", label, f.StreamIndex, f.MediaType, i, dts, prev)
		}
		if !seen {
			first[f.StreamIndex] = dts
		}
		if f.StreamIndex == videoIdx {
			rep.videoFrames++
			if seen {
				rep.maxVideoGap = max(rep.maxVideoGap, dts-prev)
			}
		} else if f.StreamIndex == audioIdx {
			rep.audioFrames++
		}
		last[f.StreamIndex] = dts
	}
	rep.videoSpan = last[videoIdx] - first[videoIdx]
	rep.audioSpan = last[audioIdx] - first[audioIdx]
	if missing > 0 {
		t.Errorf("%s: %d decoded frames without a DTS", label, missing)
	}
	if minFrames := int(minVideoSeconds * 30 * 0.9); rep.videoFrames < minFrames || rep.videoSpan < minVideoSeconds-0.1 {
		t.Errorf("%s: %d video frames spanning %.2fs, want ≥ %d frames spanning ≥ %.1fs", label, rep.videoFrames, rep.videoSpan, minFrames, minVideoSeconds)
	}
	if rep.maxVideoGap > 1.0 {
		t.Errorf("%s: gap of %.3fs between consecutive video frames (want ≤ 1 s)", label, rep.maxVideoGap)
	}
	// AAC at 44.1 kHz is ~43 frames/s; ask for a second's worth.
	if rep.audioFrames < 40 {
		t.Errorf("%s: only %d audio frames decoded (spanning %.2fs), want ≥ 40", label, rep.audioFrames, rep.audioSpan)
	}
	for _, bad := range []string{"error while decoding", "concealing", "Invalid NAL", "non-existing PPS", "no frame!"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("%s: decoder reported %q:\n%s", label, bad, lastLines(stderr, 20))
		}
	}
	t.Logf("%s: %d video frames over %.2fs (max gap %.3fs), %d audio frames over %.2fs",
		label, rep.videoFrames, rep.videoSpan, rep.maxVideoGap, rep.audioFrames, rep.audioSpan)
	return rep
}

// makeTestFLV encodes a small video-only FLV (320x240, 30 fps, keyframe
// every second, no B-frames) of the given length into a temp file.
func makeTestFLV(t *testing.T, seconds int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "small.flv")
	_, errOut, code := runCmd(t, 60*time.Second, "ffmpeg",
		"-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x240:rate=30:duration=%d", seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", "30", "-keyint_min", "30", "-bf", "0", "-pix_fmt", "yuv420p",
		"-an", "-f", "flv", out)
	if code != 0 {
		t.Fatalf("encode test FLV: exit %d: %s", code, errOut)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Fatalf("encode test FLV: no output (%v)", err)
	}
	return out
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
