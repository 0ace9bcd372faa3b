package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PlayOptions configure Play.
type PlayOptions struct {
	// URL picks the protocol: http(s)://…/NAME.flv is HTTP-FLV, ws(s)://… is
	// WS-FLV, rtmp(s)://HOST/APP/NAME is RTMP play, …/index.m3u8 is LL-HLS,
	// …/whep is WebRTC (WHEP).
	URL      string
	Viewers  int           // concurrent viewers (≥ 1)
	Duration time.Duration // run length; every viewer stops when it ends
	// Ramp spreads the connects evenly over this long, from the start of the
	// run. Default (0): min(Duration/5, 2 s); negative: all at once.
	Ramp time.Duration
	// PID, when set, is the server process to sample once a second (CPU % of
	// one core from /proc/PID/stat, RSS from /proc/PID/status).
	PID int
	// Publish, when set (rtmp://HOST/APP/KEY), makes Play publish the
	// built-in fixture itself, starting a second before the viewers, so the
	// report can include publisher→viewer latency (see latency.go).
	Publish string
	// Markdown prints the report as a Markdown table (for docs) and skips
	// the progress lines.
	Markdown bool
}

// progressEvery is the interval of the progress lines printed during a run.
const progressEvery = 5 * time.Second

// publishWarmup is how much media the in-process publisher sends before the
// viewers start, so the server has a stream (and a GOP) to serve. RTMP
// servers built on gortmplib (ours, MediaMTX) probe a new publish for 2 s of
// media before it goes live, so time to first keyframe would otherwise
// measure that probe rather than the server's start-up path.
const publishWarmup = 3 * time.Second

// run is what the viewers of one Play share (read-only once they start,
// except the atomics and the histogram).
type run struct {
	url     string
	rtmpURL *url.URL
	http    *http.Client
	pubLog  *pubLog    // nil without Publish
	latency *histogram // publisher→viewer, all viewers
	c       counters
}

type playFunc func(ctx context.Context, r *run, v *viewer) error

// protocolOf picks the client for a URL.
func protocolOf(raw string) (string, playFunc, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, err
	}
	switch u.Scheme {
	case "rtmp", "rtmps":
		return "rtmp", playRTMP, nil
	case "ws", "wss":
		return "ws-flv", playWSFLV, nil
	case "http", "https":
		switch {
		case strings.HasSuffix(u.Path, ".flv"):
			return "http-flv", playHTTPFLV, nil
		case strings.HasSuffix(u.Path, ".m3u8"):
			return "ll-hls", playLLHLS, nil
		case strings.HasSuffix(u.Path, "/whep"):
			return "whep", playWHEP, nil
		}
	}
	return "", nil, fmt.Errorf("%s: want http(s)://…/NAME.flv, ws(s)://…, rtmp://…, …/index.m3u8 or …/whep", raw)
}

// Play runs o.Viewers concurrent viewers of o.URL for o.Duration, prints
// progress and then the report to out, and returns the report. The run ends
// by itself; cancelling ctx ends it early with a report of what was
// measured. Every goroutine Play starts has exited when it returns. The
// error is non-nil only when the run could not take place (bad options, or
// the in-process publisher failed to start).
func Play(ctx context.Context, o PlayOptions, out io.Writer) (PlayReport, error) {
	proto, play, err := protocolOf(o.URL)
	if err != nil {
		return PlayReport{}, err
	}
	if o.Viewers < 1 || o.Duration <= 0 {
		return PlayReport{}, errors.New("bench play needs at least one viewer and a positive duration")
	}
	ramp := o.Ramp
	switch {
	case ramp == 0:
		ramp = min(o.Duration/5, 2*time.Second)
	case ramp < 0:
		ramp = 0
	}
	ramp = min(ramp, o.Duration)

	r := &run{url: o.URL, http: newHTTPClient(o.Viewers), latency: &histogram{}}
	defer r.http.CloseIdleConnections()
	if proto == "rtmp" {
		if r.rtmpURL, err = rtmpURL(o.URL); err != nil {
			return PlayReport{}, err
		}
	}
	if o.PID != 0 {
		if _, err := readProc(fmt.Sprint(o.PID)); err != nil {
			return PlayReport{}, fmt.Errorf("server pid %d: %w", o.PID, err)
		}
	}

	var wg sync.WaitGroup // everything Play starts
	defer wg.Wait()

	// The publisher outlives the viewers: it stops after they all have.
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	var pub struct {
		frames atomic.Int64
		err    error // set before done is closed
		done   chan struct{}
	}
	if o.Publish != "" {
		fx, err := loadFixture(fixtureFLV)
		if err != nil {
			return PlayReport{}, err
		}
		r.pubLog = newPubLog(time.Now())
		ready := make(chan struct{})
		var readyOnce sync.Once
		var firstKey time.Time // publisher goroutine only
		onVideo := func(dts time.Duration, wall time.Time, size int, key bool) {
			r.pubLog.add(dts, wall, size, key)
			pub.frames.Add(1)
			if key && firstKey.IsZero() {
				firstKey = wall
			}
			if !firstKey.IsZero() && wall.Sub(firstKey) >= publishWarmup {
				readyOnce.Do(func() { close(ready) })
			}
		}
		pub.done = make(chan struct{})
		wg.Go(func() {
			defer close(pub.done)
			_, pub.err = publish(pubCtx, o.Publish, fx, 0, onVideo)
		})
		select {
		case <-ready:
		case <-pub.done:
			if pub.err == nil {
				pub.err = ctx.Err()
			}
			return PlayReport{}, pub.err
		case <-ctx.Done():
			stopPub()
			<-pub.done
			return PlayReport{}, ctx.Err()
		}
		if !o.Markdown {
			fmt.Fprintf(out, "publishing the built-in fixture to %s\n", redactURL(o.Publish))
		}
	}

	start := time.Now()
	runCtx, cancel := context.WithDeadline(ctx, start.Add(o.Duration))
	defer cancel()

	self, server := newProcSampler(0), (*procSampler)(nil)
	samplers := []*procSampler{self}
	if o.PID != 0 {
		server = newProcSampler(o.PID)
		samplers = append(samplers, server)
	}
	var bg sync.WaitGroup // samplers and progress: end with the run
	bg.Go(func() { sampleProcs(runCtx, samplers...) })
	if !o.Markdown {
		fmt.Fprintf(out, "bench play %s: %d viewers for %s (ramp %s)\n", proto, o.Viewers, o.Duration, ramp)
		bg.Go(func() { printProgress(runCtx, out, &r.c, o.Viewers, start) })
	}

	viewers := make([]*viewer, 0, o.Viewers)
	var vwg sync.WaitGroup
	timer := time.NewTimer(0)
	<-timer.C
ramping:
	for i := range o.Viewers {
		at := start.Add(ramp * time.Duration(i) / time.Duration(o.Viewers))
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-runCtx.Done():
				break ramping
			case <-timer.C:
			}
		}
		if runCtx.Err() != nil {
			break
		}
		v := &viewer{c: &r.c, start: time.Now()}
		if r.pubLog != nil {
			v.lat = &latencyTracker{log: r.pubLog, hist: r.latency, joined: v.start.Sub(r.pubLog.epoch)}
		}
		viewers = append(viewers, v)
		vwg.Go(func() {
			err := play(runCtx, r, v)
			connected := !v.connectedAt.IsZero()
			if !connected && runCtx.Err() != nil {
				err = fmt.Errorf("connect cut short by the end of the run: %w", err)
			}
			v.finish(time.Now(), connected && runCtx.Err() == nil, err)
		})
	}
	vwg.Wait()
	end := time.Now()
	cancel()
	bg.Wait()

	rep := r.report(o, proto, viewers, start, end)
	rep.Generator = self.stats
	if server != nil {
		rep.Server = &server.stats
	}
	if o.Publish != "" {
		stopPub()
		<-pub.done
		rep.Latency.Published = int(pub.frames.Load())
		if pub.err != nil {
			rep.Latency.PublishError = pub.err.Error()
		}
	}
	if err := rep.Print(out, o.Markdown); err != nil {
		return rep, err
	}
	return rep, nil
}

func printProgress(ctx context.Context, out io.Writer, c *counters, n int, start time.Time) {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	last, lastAt := c.bytes.Load(), start
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			b := c.bytes.Load()
			rate := float64(b-last) * 8 / now.Sub(lastAt).Seconds()
			last, lastAt = b, now
			fmt.Fprintf(out, "%6s  connected %d/%d  failed %d  receiving %s\n",
				now.Sub(start).Round(time.Second), c.connected.Load(), n, c.failed.Load(), fmtBitrate(rate))
		}
	}
}
