package glass

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// Options configure Run.
type Options struct {
	Publish  string        // rtmp://HOST/live/KEY, rtmps://… or srt://HOST:PORT?streamid=publish:KEY
	Page     string        // web page that plays the stream (e.g. http://HOST/c/NAME?latency=realtime)
	Selector string        // CSS selector of the video element; default "video"
	Duration time.Duration // how long to measure once the first coded picture is shown
	Warmup   time.Duration // publish this long before the page opens (the stream is live)
	Timeout  time.Duration // give up when no coded picture is shown this long after the page opened; default 30 s
	Width    int           // default 1280
	Height   int           // default 720
	FPS      int           // default 30
	Preset   string        // x264 preset; default "veryfast" (OBS's default)
	BitrateK int           // video kbit/s; default 2500
	NoAudio  bool          // publish video only
	FFmpeg   string        // default "ffmpeg"
	Chromium string        // default: chromium on PATH
}

func (o *Options) setDefaults() {
	if o.Selector == "" {
		o.Selector = "video"
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Width == 0 {
		o.Width = 1280
	}
	if o.Height == 0 {
		o.Height = 720
	}
	if o.FPS == 0 {
		o.FPS = 30
	}
	if o.Preset == "" {
		o.Preset = "veryfast"
	}
	if o.BitrateK == 0 {
		o.BitrateK = 2500
	}
	if o.FFmpeg == "" {
		o.FFmpeg = "ffmpeg"
	}
	if o.Chromium == "" {
		o.Chromium = FindChromium()
	}
}

func (o *Options) validate() error {
	if o.Publish == "" || o.Page == "" {
		return errors.New("need a publish URL and a page URL")
	}
	if u, err := url.Parse(o.Page); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("page %q: want an http:// or https:// URL", o.Page)
	}
	if o.Duration <= 0 {
		return errors.New("duration must be positive")
	}
	if o.FPS < 1 || o.FPS > 120 {
		return fmt.Errorf("fps %d: want 1–120", o.FPS)
	}
	if o.BitrateK < 100 || o.BitrateK > 100_000 {
		return fmt.Errorf("bitrate %d kbit/s: want 100–100000", o.BitrateK)
	}
	if o.Chromium == "" {
		return errors.New("no chromium on PATH (apt-get install chromium) and none given")
	}
	return checkSize(o.Width, o.Height)
}

// Report is what Run measured.
type Report struct {
	FirstFrame time.Duration   // page opened → first picture with a readable code shown
	Latency    []time.Duration // per picture shown: presentation time − time code, sorted
	Sent       int             // pictures handed to the encoder between the first and the last one shown
	Unreadable int             // presented pictures whose code did not read
	Repeats    int             // presentations of a picture already counted
}

// Percentile returns the p-th percentile (0–100) of the latencies.
func (r Report) Percentile(p float64) time.Duration {
	if len(r.Latency) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(r.Latency)))) - 1
	i = max(0, min(i, len(r.Latency)-1))
	return r.Latency[i]
}

// Run publishes the time-coded test picture with ffmpeg, opens the page
// in headless Chromium and measures, for each picture the page presents,
// how long ago the picture was handed to the encoder. Publisher, browser
// and this process share one clock (one machine).
func Run(ctx context.Context, o Options, out io.Writer) (Report, error) {
	var rep Report
	o.setDefaults()
	if err := o.validate(); err != nil {
		return rep, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Codes are the low 32 bits of Unix milliseconds (they wrap every 49
	// days): a picture left over from an earlier run still reads as its
	// true age.
	base := time.UnixMilli(0)
	src, err := startSource(ctx, sourceOptions{
		FFmpeg: o.FFmpeg, URL: o.Publish, Width: o.Width, Height: o.Height, FPS: o.FPS,
		Preset: o.Preset, BitrateK: o.BitrateK, Audio: !o.NoAudio, Base: base,
	})
	if err != nil {
		return rep, err
	}
	srcCtx, stopSrc := context.WithCancel(ctx)
	srcErr := make(chan error, 1)
	go func() { srcErr <- src.run(srcCtx) }()
	defer func() {
		// Close the encoder's input first: a write blocked on a stalled
		// encoder returns, and the feeding goroutine with it.
		stopSrc()
		src.stop()
		<-srcErr
	}()
	fmt.Fprintf(out, "publishing a %dx%d %d fps time-coded picture (x264 %s, %d kbit/s%s) to %s; page %s\n",
		o.Width, o.Height, o.FPS, o.Preset, o.BitrateK, map[bool]string{true: ", AAC tone", false: ""}[!o.NoAudio],
		redact(o.Publish), o.Page)

	select {
	case <-time.After(o.Warmup):
	case err := <-srcErr:
		return rep, err
	case <-ctx.Done():
		return rep, ctx.Err()
	}

	dir, err := os.MkdirTemp("", "huabian-glass-")
	if err != nil {
		return rep, fmt.Errorf("browser profile: %w", err)
	}
	defer os.RemoveAll(dir)
	v, err := startViewer(ctx, o.Chromium, dir)
	if err != nil {
		return rep, err
	}
	defer v.close()

	opened := time.Now()
	if err := v.open(o.Page, o.Selector); err != nil {
		return rep, err
	}
	var (
		seen      = map[uint32]bool{}
		measuring bool
		end       time.Time
		lo, hi    uint32 // lowest and highest code shown
		tick      = time.NewTicker(250 * time.Millisecond)
	)
	defer tick.Stop()
	for {
		select {
		case err := <-srcErr:
			return rep, err
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-tick.C:
		}
		samples, err := v.collect()
		if err != nil {
			// A page that navigates (a player reloading) loses the
			// sampler: put it back and go on.
			if ierr := v.install(o.Selector); ierr != nil {
				return rep, fmt.Errorf("collect samples: %w (%s)", err, v.state())
			}
			continue
		}
		for _, s := range samples {
			if len(s) != 1+2*codeBits {
				rep.Unreadable++
				continue
			}
			top, bottom := make([]byte, codeBits), make([]byte, codeBits)
			for i := range codeBits {
				top[i], bottom[i] = clampByte(s[1+i]), clampByte(s[1+codeBits+i])
			}
			code, ok := decodeCode(top, bottom)
			if !ok {
				rep.Unreadable++
				continue
			}
			if seen[code] {
				rep.Repeats++
				continue
			}
			seen[code] = true
			shown := time.UnixMilli(int64(s[0]))
			if !measuring {
				measuring = true
				rep.FirstFrame = shown.Sub(opened)
				end = time.Now().Add(o.Duration)
				lo, hi = code, code
				fmt.Fprintf(out, "first picture shown %s after the page opened\n", rep.FirstFrame.Round(time.Millisecond))
			}
			lo, hi = min(lo, code), max(hi, code) // a wrap inside one run is a 49-day coincidence
			rep.Latency = append(rep.Latency, shown.Sub(codeTime(code, shown)))
		}
		if !measuring && time.Since(opened) > o.Timeout {
			return rep, fmt.Errorf("%w within %s (%s)", errNoFrames, o.Timeout, v.state())
		}
		if measuring && time.Now().After(end) {
			break
		}
	}
	// Pictures leave the source every 1/FPS; the codes are their send
	// times in ms, so the span between the first and the last shown says
	// how many were sent in between.
	rep.Sent = int(math.Round(float64(hi-lo)*float64(o.FPS)/1000)) + 1
	sort.Slice(rep.Latency, func(i, j int) bool { return rep.Latency[i] < rep.Latency[j] })
	rep.print(out, o)
	return rep, nil
}

func (r Report) print(out io.Writer, o Options) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(out, "%-34s %s\n", "page", o.Page)
	fmt.Fprintf(out, "%-34s %s\n", "first picture shown", ms(r.FirstFrame))
	if len(r.Latency) > 0 {
		fmt.Fprintf(out, "%-34s p50 %s, p95 %s, min %s, max %s (p5 %s, p25 %s, p75 %s, p99 %s)\n", "glass-to-glass latency",
			ms(r.Percentile(50)), ms(r.Percentile(95)), ms(r.Latency[0]), ms(r.Latency[len(r.Latency)-1]),
			ms(r.Percentile(5)), ms(r.Percentile(25)), ms(r.Percentile(75)), ms(r.Percentile(99)))
	}
	shownPct := 0.0
	if r.Sent > 0 {
		shownPct = 100 * float64(len(r.Latency)) / float64(r.Sent)
	}
	fmt.Fprintf(out, "%-34s %d of %d sent (%.0f %%); %d unreadable, %d repeated\n", "pictures shown once",
		len(r.Latency), r.Sent, shownPct, r.Unreadable, r.Repeats)
}

// codeTime is the send time a code stands for: the instant whose Unix
// milliseconds end in code's 32 bits, nearest to shown.
func codeTime(code uint32, shown time.Time) time.Time {
	ms := shown.UnixMilli()
	t := ms&^0xffffffff | int64(code)
	const wrap = 1 << 32
	switch {
	case t-ms > wrap/2:
		t -= wrap
	case ms-t > wrap/2:
		t += wrap
	}
	return time.UnixMilli(t)
}

func clampByte(f float64) byte {
	return byte(max(0, min(255, math.Round(f))))
}

// redact hides a stream key in a publish URL: the streamid's key, or the
// last path element.
func redact(raw string) string {
	if i := strings.Index(raw, "streamid="); i >= 0 {
		rest := raw[i:]
		if j := strings.LastIndexByte(rest, ':'); j >= 0 {
			end := strings.IndexAny(rest[j:], "&")
			if end < 0 {
				return raw[:i] + rest[:j+1] + "…"
			}
			return raw[:i] + rest[:j+1] + "…" + rest[j+end:]
		}
		return raw
	}
	if i := strings.LastIndexByte(raw, '/'); i > strings.Index(raw, "://")+2 && i < len(raw)-1 {
		return raw[:i+1] + "…"
	}
	return raw
}
