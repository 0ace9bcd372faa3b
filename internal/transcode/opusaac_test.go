package transcode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func needFFmpeg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	return p
}

// opusPackets encodes seconds of a sine tone with libopus (20 ms frames, one
// packet per Ogg page) and returns the packets.
func opusPackets(t *testing.T, ffmpeg string, seconds int) [][]byte {
	t.Helper()
	pkts, _ := opusSource(t, ffmpeg, "sine=frequency=440:sample_rate=48000:duration="+itoa(seconds))
	if len(pkts) < seconds*40 {
		t.Fatalf("%d Opus packets for %d s", len(pkts), seconds)
	}
	return pkts
}

// opusSource encodes the lavfi source src with libopus and returns its
// packets and the encoder's pre-skip (samples before the source's first).
func opusSource(t *testing.T, ffmpeg, src string) ([][]byte, int) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "a.ogg")
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", src,
		"-ac", "2", "-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20",
		"-page_duration", "20000", "-f", "ogg", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rd, head, err := oggreader.NewWith(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for range 100000 {
		p, _, err := rd.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(p, []byte("OpusTags")) || bytes.HasPrefix(p, []byte("OpusHead")) {
			continue
		}
		pkts = append(pkts, p)
	}
	return pkts, int(head.PreSkip)
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

type sink struct {
	mu  sync.Mutex
	pts []time.Duration
	aus [][]byte
}

func (s *sink) emit(pts time.Duration, au []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pts = append(s.pts, pts)
	s.aus = append(s.aus, au)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pts)
}

func TestOpusToAAC(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	pkts := opusPackets(t, ffmpeg, 3)
	var out sink
	tc, err := StartOpusToAAC(context.Background(), ffmpeg, 2, slog.New(slog.DiscardHandler), out.emit)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	base := 7*time.Second + 3*time.Millisecond // the stream's clock, not zero
	for i, p := range pkts {
		tc.Write(base+time.Duration(i)*20*time.Millisecond, p)
		if i%100 == 99 {
			time.Sleep(50 * time.Millisecond) // stay within the queue
		}
	}
	// ffmpeg keeps a few frames buffered while its input stays open; most
	// of the 3 s must come out without closing it, as on a live stream.
	want := len(pkts) * 20 * 48 / 1024 * 3 / 4
	deadline := time.Now().Add(20 * time.Second)
	for out.count() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := out.count(); n < want {
		t.Fatalf("%d AAC frames, want at least %d", n, want)
	}
	if tc.Failed() {
		t.Fatal("transcoder reports failure")
	}
	tc.Close()
	select {
	case <-tc.Done():
	default:
		t.Fatal("Done not closed after Close")
	}

	out.mu.Lock()
	defer out.mu.Unlock()
	if out.pts[0] != base {
		t.Errorf("first AAC frame at %v, want the first Opus packet's %v", out.pts[0], base)
	}
	step := 1024 * time.Second / 48000
	for i := 1; i < len(out.pts); i++ {
		if d := out.pts[i] - out.pts[i-1]; d < step-time.Microsecond || d > step+time.Microsecond {
			t.Fatalf("frame %d: PTS step %v, want %v", i, d, step)
		}
	}
	// The frames must be AAC-LC a decoder accepts: decode them with ffmpeg.
	track, err := AACTrack(2)
	if err != nil {
		t.Fatal(err)
	}
	var cfg mpeg4audio.AudioSpecificConfig
	if err := cfg.Unmarshal(track.Config); err != nil {
		t.Fatal(err)
	}
	var adts bytes.Buffer
	for _, au := range out.aus {
		b, err := mpeg4audio.ADTSPackets{{Type: cfg.Type, SampleRate: cfg.SampleRate, ChannelConfig: cfg.ChannelConfig, AU: au}}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		adts.Write(b)
	}
	cmd := exec.Command(ffmpeg, "-hide_banner", "-v", "error", "-xerror", "-f", "aac", "-i", "pipe:0", "-f", "null", "-")
	cmd.Stdin = &adts
	if b, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(b)) > 0 {
		t.Fatalf("decoding the AAC frames: %v: %s", err, b)
	}
}

// A transcoder whose process dies reports it, and is reaped.
func TestOpusToAACProcessDies(t *testing.T) {
	f, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1)")
	}
	var out sink
	tc, err := StartOpusToAAC(context.Background(), f, 2, slog.New(slog.DiscardHandler), out.emit)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-tc.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("dead process not reaped")
	}
	if !tc.Failed() {
		t.Error("Failed() = false after the process exited")
	}
	tc.Write(time.Second, []byte{0xfc}) // after death: dropped, never blocks
	tc.Close()
}

// Cancelling the stream's context stops ffmpeg without Close.
func TestOpusToAACContextEnds(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out sink
	tc, err := StartOpusToAAC(ctx, ffmpeg, 1, slog.New(slog.DiscardHandler), out.emit)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-tc.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("ffmpeg not reaped after the context ended")
	}
	if tc.Failed() {
		t.Error("a stop by the stream's end reported as failure")
	}
	tc.Close()
}

func TestOggCRC(t *testing.T) {
	// A page written here must be one oggreader accepts (it checks CRCs).
	var buf bytes.Buffer
	w := oggWriter{w: bufioWriter(&buf), serial: 1}
	if err := w.headers(2); err != nil {
		t.Fatal(err)
	}
	if err := w.page(bytes.Repeat([]byte{0xfc, 1}, 300), 960); err != nil {
		t.Fatal(err)
	}
	rd, hdr, err := oggreader.NewWith(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Channels != 2 || hdr.PreSkip != 0 {
		t.Fatalf("OpusHead %+v", hdr)
	}
	if _, _, err := rd.ParseNextPage(); err != nil { // OpusTags
		t.Fatal(err)
	}
	p, ph, err := rd.ParseNextPage()
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 600 || ph.GranulePosition != 960 {
		t.Fatalf("page of %d bytes at granule %d", len(p), ph.GranulePosition)
	}
}

func bufioWriter(w io.Writer) *bufio.Writer { return bufio.NewWriter(w) }

// The AAC rendition keeps the source's timing: a tone starting 1 s into the
// Opus stream starts 1 s (plus libopus's pre-skip) after the first packet's
// PTS in the AAC frames' timeline too, within one AAC frame. Packets are fed
// in real time, as from a publisher, to measure the first frame's delay.
func TestOpusToAACKeepsTiming(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	pkts, preSkip := opusSource(t, ffmpeg, "aevalsrc=exprs='if(gte(t\\,1)\\,0.5*sin(2*PI*440*t)\\,0)':sample_rate=48000:duration=3")
	var out sink
	tc, err := StartOpusToAAC(context.Background(), ffmpeg, 1, slog.New(slog.DiscardHandler), out.emit)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	base := 90 * time.Second
	start := time.Now()
	var firstOut time.Duration
	for i, p := range pkts {
		time.Sleep(time.Until(start.Add(time.Duration(i) * 20 * time.Millisecond)))
		tc.Write(base+time.Duration(i)*20*time.Millisecond, p)
		if firstOut == 0 && out.count() > 0 {
			firstOut = time.Since(start)
		}
	}
	want := 2 * 48000 / 1024 // frames covering the first 2 s, the onset included
	deadline := time.Now().Add(20 * time.Second)
	for out.count() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	tc.Close()
	t.Logf("first AAC frame %v after the first Opus packet (packets fed in real time)", firstOut)
	out.mu.Lock()
	defer out.mu.Unlock()
	if len(out.aus) < want {
		t.Fatalf("%d AAC frames, want at least %d", len(out.aus), want)
	}
	pcm := decodeAAC(t, ffmpeg, 1, out.aus)
	onset := -1
	for i := 0; i+1 < len(pcm); i += 2 {
		if v := int16(uint16(pcm[i]) | uint16(pcm[i+1])<<8); v > 4000 || v < -4000 {
			onset = i / 2
			break
		}
	}
	if onset < 0 {
		t.Fatal("tone not found in the AAC output")
	}
	got := out.pts[0] - base + time.Duration(onset)*time.Second/AACRate
	exp := time.Second + time.Duration(preSkip)*time.Second/AACRate
	frame := aacFrameSamples * time.Second / AACRate
	t.Logf("tone onset at %v on the AAC timeline, %v in the Opus stream (offset %v)", got, exp, got-exp)
	if d := got - exp; d > frame || d < -frame {
		t.Errorf("tone at %v in the AAC timeline, want %v ± %v", got, exp, frame)
	}
}

// decodeAAC decodes raw AAC-LC frames to 48 kHz s16le PCM with ffmpeg.
func decodeAAC(t *testing.T, ffmpeg string, channels int, aus [][]byte) []byte {
	t.Helper()
	track, err := AACTrack(channels)
	if err != nil {
		t.Fatal(err)
	}
	var cfg mpeg4audio.AudioSpecificConfig
	if err := cfg.Unmarshal(track.Config); err != nil {
		t.Fatal(err)
	}
	var adts bytes.Buffer
	for _, au := range aus {
		b, err := mpeg4audio.ADTSPackets{{Type: cfg.Type, SampleRate: cfg.SampleRate, ChannelConfig: cfg.ChannelConfig, AU: au}}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		adts.Write(b)
	}
	cmd := exec.Command(ffmpeg, "-hide_banner", "-v", "error", "-f", "aac", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "pipe:1")
	cmd.Stdin = &adts
	var pcm, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &pcm, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("decode AAC: %v: %s", err, stderr.Bytes())
	}
	return pcm.Bytes()
}
