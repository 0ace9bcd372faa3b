package glass

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sourceOptions describe the published test picture and its encoding.
type sourceOptions struct {
	FFmpeg   string // ffmpeg binary
	URL      string // rtmp://…, rtmps://… or srt://…
	Width    int
	Height   int
	FPS      int
	Preset   string // x264 preset
	BitrateK int    // video kbit/s
	Audio    bool   // add a 48 kHz stereo tone, encoded as AAC
	Base     time.Time
}

// source feeds pictures to an ffmpeg child that encodes and publishes them.
// Each picture carries, as its time code, the milliseconds since Base at
// the moment it is handed to the encoder: that is the "glass" at the
// sending end.
type source struct {
	o      sourceOptions
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	audio  *os.File // write end of the tone's pipe; nil without audio
	stderr *tailBuffer
	done   chan struct{} // closed when the ffmpeg process has exited
	err    error         // ffmpeg's exit error, set before done closes
	frames atomic.Int64  // pictures written to the encoder
}

// ffmpegArgs builds the encoder's command line: raw pictures on stdin,
// x264 with a 1 s GOP and no B-frames (what a low-latency streamer uses),
// the container the URL's scheme needs.
func ffmpegArgs(o sourceOptions) ([]string, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("publish URL: %w", err)
	}
	var format string
	switch u.Scheme {
	case "rtmp", "rtmps":
		format = "flv"
	case "srt":
		format = "mpegts"
	default:
		return nil, fmt.Errorf("publish URL %s://…: want rtmp://, rtmps:// or srt://", u.Scheme)
	}
	args := []string{"-hide_banner", "-nostats", "-loglevel", "error",
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", fmt.Sprintf("%dx%d", o.Width, o.Height),
		"-framerate", strconv.Itoa(o.FPS), "-i", "pipe:0"}
	if o.Audio {
		// The tone comes from this process too, written with each picture
		// on a second pipe (fd 3): both inputs are live and in step, as a
		// capture device's are. A generated source (lavfi) would run ahead
		// of the pictures or, paced with -re, start apart from them.
		args = append(args, "-f", "s16le", "-ar", strconv.Itoa(audioRate), "-ac", "2", "-i", "pipe:3")
	}
	kbps := strconv.Itoa(o.BitrateK) + "k"
	args = append(args,
		"-map", "0:v",
		"-c:v", "libx264", "-preset", o.Preset, "-tune", "zerolatency",
		"-g", strconv.Itoa(o.FPS), "-keyint_min", strconv.Itoa(o.FPS), "-sc_threshold", "0", "-bf", "0",
		"-b:v", kbps, "-maxrate", kbps, "-bufsize", strconv.Itoa(o.BitrateK/2)+"k",
		"-pix_fmt", "yuv420p")
	if o.Audio {
		args = append(args, "-map", "1:a", "-c:a", "aac", "-b:a", "128k", "-ac", "2")
	}
	args = append(args, "-flush_packets", "1", "-f", format)
	if format == "flv" {
		args = append(args, "-flvflags", "no_duration_filesize")
	}
	return append(args, o.URL), nil
}

func startSource(ctx context.Context, o sourceOptions) (*source, error) {
	args, err := ffmpegArgs(o)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, o.FFmpeg, args...)
	cmd.WaitDelay = 3 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("encoder stdin: %w", err)
	}
	s := &source{o: o, cmd: cmd, stdin: stdin, stderr: &tailBuffer{max: 4096}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	var audioR *os.File
	if o.Audio {
		if audioR, s.audio, err = os.Pipe(); err != nil {
			stdin.Close()
			return nil, fmt.Errorf("tone pipe: %w", err)
		}
		cmd.ExtraFiles = []*os.File{audioR} // fd 3 in the child
	}
	err = cmd.Start()
	if audioR != nil {
		audioR.Close() // the child has its copy
	}
	if err != nil {
		stdin.Close()
		if s.audio != nil {
			s.audio.Close()
		}
		return nil, fmt.Errorf("start %s: %w", o.FFmpeg, err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// run hands pictures and tone to the encoder at the frame rate until ctx
// ends or the encoder exits. Each input has its own writer goroutine:
// ffmpeg opens its inputs one after the other, and a write waiting on one
// pipe must never hold back the other (or the clock). A picture's time
// code is read from the clock just before the picture is written.
func (s *source) run(ctx context.Context) error {
	var wg sync.WaitGroup
	// Queues of 10 s: while ffmpeg opens its inputs it reads neither pipe
	// for a moment, and nothing may be dropped then — the encoder counts
	// pictures and samples for timestamps, so a drop on one side would
	// shift audio against video for the whole run.
	pictures := make(chan int, 10*s.o.FPS)
	wg.Go(func() {
		buf := make([]byte, frameSize(s.o.Width, s.o.Height))
		for n := range pictures {
			drawFrame(buf, s.o.Width, s.o.Height, n, uint32(time.Since(s.o.Base).Milliseconds()))
			if _, err := s.stdin.Write(buf); err != nil {
				for range pictures { // the encoder is gone; run sees s.done
				}
				return
			}
			s.frames.Add(1)
		}
	})
	var (
		tone  toneWriter
		tones chan []byte
	)
	if s.audio != nil {
		tones = make(chan []byte, 10*s.o.FPS)
		wg.Go(func() {
			for b := range tones {
				if _, err := s.audio.Write(b); err != nil {
					for range tones {
					}
					return
				}
			}
		})
	}
	defer func() {
		close(pictures)
		if tones != nil {
			close(tones)
		}
		// A writer blocked on a full pipe returns when stop closes it.
		wg.Wait()
	}()

	interval := time.Second / time.Duration(s.o.FPS)
	next := time.Now()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return s.exitError()
		case <-time.After(time.Until(next)):
		}
		if tones != nil {
			select {
			case tones <- append([]byte(nil), tone.next(audioRate*(n+1)/s.o.FPS)...):
			default:
				return errors.New("the encoder has not read its audio input for 10 s")
			}
		}
		select {
		case pictures <- n:
		default:
			return errors.New("the encoder has not read a picture for 10 s")
		}
		next = next.Add(interval)
		if behind := time.Since(next); behind > time.Second {
			// Far behind (an overloaded machine): restart the clock
			// rather than burst.
			next = time.Now()
		}
	}
}

func (s *source) exitError() error {
	msg := bytes.TrimSpace(s.stderr.Bytes())
	if s.err != nil {
		return fmt.Errorf("encoder exited: %v: %s", s.err, msg)
	}
	return fmt.Errorf("encoder exited: %s", msg)
}

// stop closes the encoder's inputs and waits for it to finish.
func (s *source) stop() {
	s.stdin.Close()
	if s.audio != nil {
		s.audio.Close()
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

const audioRate = 48000

// toneWriter generates a continuous 440 Hz stereo tone, s16le.
type toneWriter struct {
	written int // samples per channel so far
	buf     []byte
}

// next returns the samples from the last call up to total samples per
// channel since the start.
func (t *toneWriter) next(total int) []byte {
	n := total - t.written
	t.buf = t.buf[:0]
	for i := range n {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(t.written+i)/audioRate))
		t.buf = append(t.buf, byte(v), byte(v>>8), byte(v), byte(v>>8))
	}
	t.written = total
	return t.buf
}

// tailBuffer keeps the last max bytes written (ffmpeg's error output).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.b...)
}

var errNoFrames = errors.New("no picture with a readable time code was shown")
