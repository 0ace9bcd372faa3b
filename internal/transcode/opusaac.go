// Package transcode runs ffmpeg child processes that re-encode a stream's
// audio once per stream, for outputs that cannot carry the source codec.
package transcode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"

	"github.com/huabian-live/huabian/internal/media"
)

// AACRate is the sample rate of the AAC rendition; Opus always decodes at
// 48 kHz, so no resampling is involved.
const AACRate = 48000

// aacFrameSamples is the number of samples in one AAC-LC frame.
const aacFrameSamples = 1024

// queueLen bounds the Opus packets waiting for ffmpeg (~5 s of 20 ms
// packets); a stalled ffmpeg loses packets instead of blocking the
// publisher.
const queueLen = 256

// OpusToAACArgs is the ffmpeg argument vector (no shell): Ogg/Opus on stdin,
// ADTS AAC-LC on stdout. aresample=async fills input gaps (lost packets)
// with silence, so the count of output samples stays on the source clock.
func OpusToAACArgs(channels int) []string {
	return []string{
		"-hide_banner", "-loglevel", "error", "-nostdin",
		"-fflags", "nobuffer", "-probesize", "32", "-analyzeduration", "0",
		"-f", "ogg", "-i", "pipe:0",
		"-vn", "-af", "aresample=async=1",
		"-c:a", "aac", "-profile:a", "aac_low", "-b:a", "128k",
		"-ar", fmt.Sprint(AACRate), "-ac", fmt.Sprint(channels),
		"-f", "adts", "-flush_packets", "1", "pipe:1",
	}
}

// AACTrack returns the track of the AAC rendition for channels channels.
func AACTrack(channels int) (*media.AudioTrack, error) {
	cfg := mpeg4audio.AudioSpecificConfig{
		Type: mpeg4audio.ObjectTypeAACLC, SampleRate: AACRate, ChannelCount: channels,
	}
	b, err := cfg.Marshal()
	if err != nil {
		return nil, fmt.Errorf("aac config: %w", err)
	}
	return &media.AudioTrack{Codec: media.CodecAAC, Config: b, SampleRate: AACRate, ChannelCount: channels}, nil
}

// EmitFunc receives each AAC frame (raw, no ADTS header) with its
// presentation time on the source stream's clock.
type EmitFunc func(pts time.Duration, au []byte)

type opusPacket struct {
	pts time.Duration
	pkt []byte
}

// OpusToAAC is one ffmpeg process turning a stream's Opus packets into AAC
// frames. Write feeds it (never blocks); emit is called from its own
// goroutine; Close kills and reaps ffmpeg.
type OpusToAAC struct {
	channels int
	log      *slog.Logger
	emit     EmitFunc
	in       chan opusPacket
	cancel   context.CancelFunc
	done     chan struct{} // closed when ffmpeg has exited and been reaped
	failed   atomic.Bool
	wg       sync.WaitGroup

	base    time.Duration // PTS of the first packet fed; set by the feeder
	baseSet atomic.Bool
}

// StartOpusToAAC starts ffmpeg (binary ffmpegPath) for a stream of
// channels-channel Opus. log should carry the channel field; a failure of
// ffmpeg is logged once there.
func StartOpusToAAC(ctx context.Context, ffmpegPath string, channels int, log *slog.Logger, emit EmitFunc) (*OpusToAAC, error) {
	if channels < 1 || channels > 2 {
		channels = 2
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, ffmpegPath, OpusToAACArgs(channels)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("ffmpeg stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("ffmpeg stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start ffmpeg: %w", err)
	}
	t := &OpusToAAC{
		channels: channels, log: log, emit: emit,
		in: make(chan opusPacket, queueLen), cancel: cancel, done: make(chan struct{}),
	}
	t.wg.Go(func() {
		defer close(t.done)
		var feed sync.WaitGroup
		feed.Go(func() {
			defer stdin.Close()
			if err := t.feed(ctx, stdin); err != nil && ctx.Err() == nil {
				t.fail(fmt.Errorf("write to ffmpeg: %w", err))
			}
		})
		err := t.readADTS(stdout)
		if ctx.Err() == nil {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			t.fail(fmt.Errorf("ffmpeg output ended: %w", err))
		}
		cancel() // kills ffmpeg if it is still running, ends feed
		feed.Wait()
		_ = cmd.Wait()
	})
	return t, nil
}

// fail records that ffmpeg stopped working and logs it once.
func (t *OpusToAAC) fail(err error) {
	if !t.failed.Swap(true) {
		t.log.Warn("Opus→AAC transcoder failed: FLV/RTMP viewers get no audio", "err", err)
	}
}

// Failed reports whether ffmpeg died or stopped producing output while the
// stream was live.
func (t *OpusToAAC) Failed() bool { return t.failed.Load() }

// Done is closed once ffmpeg has exited and been reaped.
func (t *OpusToAAC) Done() <-chan struct{} { return t.done }

// Write queues one Opus packet with its PTS on the stream's clock. It never
// blocks: a full queue or a stopped process drops the packet.
func (t *OpusToAAC) Write(pts time.Duration, pkt []byte) {
	select {
	case t.in <- opusPacket{pts: pts, pkt: pkt}:
	default:
	}
}

// Close kills ffmpeg and waits until it is reaped and emit is no longer
// called. It must not be called from emit.
func (t *OpusToAAC) Close() {
	t.cancel()
	t.wg.Wait()
}

// feed writes the queued packets to w as an Ogg/Opus stream, one page per
// packet; the granule position follows each packet's PTS, so gaps in the
// input are visible to ffmpeg.
func (t *OpusToAAC) feed(ctx context.Context, w io.Writer) error {
	ow := oggWriter{w: bufio.NewWriter(w), serial: 0x48424c56}
	if err := ow.headers(t.channels); err != nil {
		return err
	}
	var end int64 // granule (48 kHz samples since base) of the last packet's end
	for {
		var p opusPacket
		select {
		case <-ctx.Done():
			return nil
		case p = <-t.in:
		}
		if !t.baseSet.Load() {
			t.base = p.pts
			t.baseSet.Store(true)
		}
		start := int64((p.pts - t.base) * AACRate / time.Second)
		start = max(start, end) // never backwards
		dur := opus.PacketDuration2(p.pkt)
		if dur <= 0 {
			continue
		}
		end = start + dur
		if err := ow.page(p.pkt, end); err != nil {
			return err
		}
	}
}

// readADTS parses ADTS frames from r and emits each one's AU, timed by the
// count of samples ffmpeg has produced since the first input packet. The
// encoder's 1024-sample priming is not subtracted: an AAC decoder's own
// overlap delay cancels it, so frame n stamped at sample n·1024 plays the
// source's sample n·1024 (TestOpusToAACKeepsTiming measures this).
func (t *OpusToAAC) readADTS(r io.Reader) error {
	br := bufio.NewReader(r)
	var hdr [9]byte
	var n int64 // frames read
	for {
		if _, err := io.ReadFull(br, hdr[:7]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if hdr[0] != 0xff || hdr[1]&0xf0 != 0xf0 {
			return errors.New("lost ADTS sync")
		}
		hl := 7
		if hdr[1]&1 == 0 { // CRC present
			hl = 9
			if _, err := io.ReadFull(br, hdr[7:9]); err != nil {
				return err
			}
		}
		size := int(hdr[3]&3)<<11 | int(hdr[4])<<3 | int(hdr[5])>>5
		if size < hl {
			return fmt.Errorf("bad ADTS frame length %d", size)
		}
		au := make([]byte, size-hl)
		if _, err := io.ReadFull(br, au); err != nil {
			return err
		}
		off := n * aacFrameSamples
		n++
		if !t.baseSet.Load() {
			continue // cannot happen: ffmpeg outputs nothing before input
		}
		t.emit(t.base+time.Duration(off)*time.Second/AACRate, au)
	}
}
