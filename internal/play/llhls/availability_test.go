package llhls

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/play"
)

const (
	availMediaPerOp = 10 * time.Second
	// availFMP4Start is gohlslib's fmp4StartDTS: added to every fMP4
	// timestamp so that BaseTime is never negative.
	availFMP4Start = 10 * time.Second
)

type availConfig struct {
	name string
	hub  hub.HubOptions
	opts Options
	fps  int // re-time the video to this rate (0: the fixture's 30 fps)
}

// availAppHub is the hub configuration internal/app builds with the default
// configuration (live.wake_interval 50ms, frame preparation for FLV/RTMP).
var availAppHub = hub.HubOptions{
	Grace:     30 * time.Second,
	DeadAfter: 5 * time.Second,
	Stream: hub.Options{
		MaxLag:       3 * time.Second,
		SlowTimeout:  10 * time.Second,
		WakeInterval: 50 * time.Millisecond,
		Prepare:      play.PrepareFrame,
	},
}

// availAppOptions are the server's options with the default configuration.
var availAppOptions = Options{SegmentDuration: time.Second, PartDuration: 200 * time.Millisecond}

// BenchmarkPartAvailability measures how soon after its last frame reaches
// the server an LL-HLS part is announced to (and downloadable by) a client.
//
// Method
//
//   - The fixture is published in real time (each frame written when the
//     wall clock reaches its DTS, looping with increasing timestamps). For
//     every frame the benchmark records the wall time it handed the frame to
//     the hub (Frame.Received, set just before Publisher.Write) and the
//     DTS/PTS the hub stored.
//   - The LL-HLS muxer is started before the first frame (Warm, as the app
//     does on go-live with hls.always_on), so its time origin is known
//     exactly: the DTS of the first video keyframe, which the session's hub
//     reader delivers first.
//   - A client does what an LL-HLS player does: index.m3u8, then blocking
//     reloads of the video media playlist with _HLS_msn/_HLS_part for the
//     part after the newest one listed. Every part that appears in a reload
//     is "announced" at the instant that reload's body was read. The URI in
//     each new EXT-X-PRELOAD-HINT is fetched at once (a blocking GET, timed
//     to the end of its body).
//   - Frame membership is exact, read from the parts themselves rather than
//     inferred from DURATION or EXT-X-PROGRAM-DATE-TIME: each video part and
//     the audio-rendition part with the same sequence number (gohlslib rotates
//     the parts of all its streams together) are fetched and walked
//     (moof/traf/tfdt/trun): baseMediaDecodeTime plus the running sum of the
//     sample durations gives every sample's decode time in track ticks, which
//     maps one-to-one onto the frames written (gohlslib's ticks are
//     ticks(PTS-origin) plus its fixed 10 s fMP4 start offset; the fixture has
//     no B-frames, so DTS = PTS). Every sample must match a written frame or
//     the benchmark fails. (PROGRAM-DATE-TIME is per segment, in ms, and
//     DURATION is rounded; neither says which audio frames a part carries:
//     gohlslib files audio by arrival, not by the video part's DTS span.)
//   - delay = announcement (or part GET completion) − the latest write time
//     among the frames carried by the part (video samples of the video part
//     plus audio samples of its audio twin).
//
// It also splits the playlist delay into "wait": from that last frame to the
// write of the video frame that closed the part (gohlslib closes a part only
// when the next video frame shows the part has reached its duration, and it
// holds each sample until the next one gives its duration), and "ovh": from
// that closing write to the announcement (hub wake-up, muxing, the server's
// edge watcher, the held request and the HTTP round trip). With the hub's
// wake_interval (env=app) the closing frame may not wake the muxer's hub
// reader: the part then closes only at the next wake-up, one more frame
// interval later, and that shows in "ovh".
//
// Metrics (ms): p50/p95/max of the playlist delay, get-* of the part GET
// delay, wait-* and ovh-* of its two components, late-* of the publisher's
// own lateness (large values mean the machine starved the benchmark, and the
// other figures then measure that), and the number of parts measured.
// LLHLS_AVAIL_TRACE=1 prints one line per part to stderr.
//
// Run with
//
//	go test -run='^$' -bench=PartAvailability -benchtime=1x ./internal/play/llhls
//
// Each b.N iteration adds 10 s of real-time media per configuration; no
// wall-clock assertions are made.
func BenchmarkPartAvailability(b *testing.B) {
	if testing.Short() {
		b.Skip("real-time benchmark (10 s of media per iteration): skipped with -short")
	}
	for _, cfg := range []availConfig{
		// As the package tests build it (newEnv): default Options (1 s
		// segments, 200 ms parts), a hub that wakes readers on every video
		// frame.
		{name: "env=test", hub: hub.HubOptions{Grace: 50 * time.Millisecond}},
		// As internal/app builds it with the default configuration:
		// segment_duration 1s, part_duration 200ms, and the hub's
		// wake_interval 50ms and frame preparation.
		{name: "env=app", hub: availAppHub, opts: availAppOptions},
		// The same at 25 fps (the fixture re-timed): 200 ms parts are then 5
		// frames, an odd number, while the hub wakes readers on every other
		// frame only (40 ms < the 50 ms wake interval).
		{name: "env=app,fps=25", hub: availAppHub, opts: availAppOptions, fps: 25},
	} {
		b.Run(cfg.name, func(b *testing.B) { runPartAvailability(b, cfg) })
	}
}

// availFrame is one frame as written to the hub.
type availFrame struct {
	video, key bool
	dts, pts   time.Duration // as stored by the hub
	wall       time.Time     // handed to Publisher.Write
	late       time.Duration // wall - when it was due (publisher lateness)
}

// availPart is one part as announced by a blocking reload.
type availPart struct {
	file        string // video part file name
	msn         int64
	index       int
	duration    time.Duration // DURATION
	independent bool
	announced   time.Time // the reload's body was read
	requested   bool      // it is the part the reload asked for
}

// availFetch is the result of one GET of a part.
type availFetch struct {
	timed  bool // a preload-hint GET issued before the part was announced
	status int
	err    error
	body   []byte
	done   time.Time
}

func runPartAvailability(b *testing.B, cfg availConfig) {
	const name = "avail"
	fx := loadFixture(b)
	mt, _ := buildTracks(fx.tracks)
	if mt.video == nil || mt.audio == nil {
		b.Fatal("fixture tracks not muxable")
	}
	audioRate := mt.audio.ClockRate

	h := hub.New(cfg.hub)
	srv := New(func(n string) *hub.Stream { return h.Stream(n, true) }, cfg.opts)
	srvCtx, srvCancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(srvCtx) }()
	ts := httptest.NewServer(srv)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}

	p, err := h.Publish(name, hub.PublishInfo{Protocol: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	// Start the muxer before the first frame so that its time origin is the
	// first keyframe written.
	if err := srv.Warm(name); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); p.Stream().ReaderCount() == 0; {
		if time.Now().After(deadline) {
			b.Fatal("muxer did not subscribe")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}

	pubCtx, pubCancel := context.WithCancel(context.Background())
	var frames []availFrame
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		frames = availPublish(pubCtx, fx, p, cfg.fps)
	}()

	clientCtx, clientCancel := context.WithCancel(context.Background())
	var (
		fetchWG sync.WaitGroup
		mu      sync.Mutex
		fetched = map[string]*availFetch{}
	)
	cleanup := func() {
		clientCancel()
		fetchWG.Wait()
		pubCancel()
		<-pubDone
		ts.Close()
		h.Close()
		p.Close()
		srvCancel()
		if err := <-runErr; err != nil {
			b.Errorf("Run: %v", err)
		}
		tr.CloseIdleConnections()
	}
	defer func() {
		if clientCtx.Err() == nil { // b.Fatal before the normal shutdown
			cleanup()
		}
	}()

	base := ts.URL + "/live/" + name + "/"
	get := func(ctx context.Context, file string) (body []byte, status int, done time.Time, err error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+file, nil)
		if err != nil {
			return nil, 0, time.Time{}, err
		}
		res, err := client.Do(req)
		if err != nil {
			return nil, 0, time.Time{}, err
		}
		defer res.Body.Close()
		body, err = io.ReadAll(res.Body)
		return body, res.StatusCode, time.Now(), err
	}
	// fetch GETs file in the background, once, and stores the result. A
	// timed fetch is a preload-hint GET, held by the server until the part
	// is complete and canceled at the end; the others are of complete parts
	// (for their samples) and are left to finish.
	fetch := func(file string, timed bool) {
		mu.Lock()
		if _, ok := fetched[file]; ok {
			mu.Unlock()
			return
		}
		f := &availFetch{timed: timed}
		fetched[file] = f
		mu.Unlock()
		fetchWG.Go(func() {
			ctx := clientCtx
			if !timed {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
			}
			body, status, done, err := get(ctx, file)
			mu.Lock()
			f.body, f.status, f.done, f.err = body, status, done, err
			mu.Unlock()
		})
	}

	// Multivariant playlist (waits for the first segment): the video media
	// playlist and the audio rendition's stream id.
	body, status, _, err := get(clientCtx, "index.m3u8")
	if err != nil || status != http.StatusOK {
		b.Fatalf("index.m3u8: %d %v %s", status, err, body)
	}
	var mv playlist.Multivariant
	if err := mv.Unmarshal(body); err != nil || len(mv.Variants) == 0 {
		b.Fatalf("multivariant playlist: %v\n%s", err, body)
	}
	videoURI := mv.Variants[0].URI
	videoID, _ := strings.CutSuffix(stripQuery(videoURI), "_stream.m3u8")
	audioID := ""
	for _, r := range mv.Renditions {
		if r.Type == playlist.MultivariantRenditionTypeAudio && r.URI != nil {
			audioID, _ = strings.CutSuffix(stripQuery(*r.URI), "_stream.m3u8")
		}
	}
	if audioID == "" {
		b.Fatalf("no audio rendition in:\n%s", body)
	}
	audioTwin := func(videoPart string) string {
		return strings.Replace(videoPart, "_"+videoID+"_part", "_"+audioID+"_part", 1)
	}

	// Current state: parts listed now are not measured.
	seen := map[string]bool{}
	hinted := map[string]bool{}
	listParts := func(pl *playlist.Media) []availPart {
		var out []availPart
		msn := int64(pl.MediaSequence)
		for _, s := range pl.Segments {
			for i, pt := range s.Parts {
				out = append(out, availPart{file: stripQuery(pt.URI), msn: msn, index: i, duration: pt.Duration, independent: pt.Independent})
			}
			msn++
		}
		for i, pt := range pl.Parts {
			out = append(out, availPart{file: stripQuery(pt.URI), msn: msn, index: i, duration: pt.Duration, independent: pt.Independent})
		}
		return out
	}
	body, status, _, err = get(clientCtx, videoURI)
	if err != nil || status != http.StatusOK {
		b.Fatalf("media playlist: %d %v %s", status, err, body)
	}
	var pl playlist.Media
	if err := pl.Unmarshal(body); err != nil {
		b.Fatalf("media playlist: %v\n%s", err, body)
	}
	for _, pt := range listParts(&pl) {
		seen[pt.file] = true
	}

	var (
		parts          []availPart
		reloads        int
		bunched        int // reloads that announced more than one new part
		reloadFailures int
	)
	measure := time.Duration(b.N) * availMediaPerOp
	b.ResetTimer()
	start := time.Now()
	for time.Since(start) < measure {
		if pl.PreloadHint != nil {
			if f := stripQuery(pl.PreloadHint.URI); !hinted[f] {
				hinted[f] = true
				fetch(f, true)
			}
		}
		msn := int64(pl.MediaSequence) + int64(len(pl.Segments))
		part := len(pl.Parts)
		uri := videoURI + "&_HLS_msn=" + strconv.FormatInt(msn, 10) + "&_HLS_part=" + strconv.Itoa(part)
		if !strings.Contains(videoURI, "?") {
			uri = strings.Replace(uri, "&", "?", 1)
		}
		body, status, done, err := get(clientCtx, uri)
		reloads++
		if err != nil || status != http.StatusOK {
			reloadFailures++
			if reloadFailures > 5 {
				b.Fatalf("blocking reload %d.%d: %d %v %s", msn, part, status, err, body)
			}
			continue
		}
		var next playlist.Media
		if err := next.Unmarshal(body); err != nil {
			b.Fatalf("media playlist: %v\n%s", err, body)
		}
		pl = next
		fresh := 0
		for _, pt := range listParts(&pl) {
			if seen[pt.file] {
				continue
			}
			seen[pt.file] = true
			pt.announced = done
			pt.requested = fresh == 0 && pt.msn == msn && pt.index == part
			fresh++
			parts = append(parts, pt)
			if !hinted[pt.file] {
				fetch(pt.file, false) // only needed for its samples
			}
			fetch(audioTwin(pt.file), false)
		}
		if fresh > 1 {
			bunched++
		}
	}
	b.StopTimer()
	elapsed := time.Since(start)
	cleanup()

	// Frame tables: gohlslib's decode time in ticks -> frame.
	origin := time.Duration(-1)
	for _, f := range frames {
		if f.video && f.key {
			origin = f.dts
			break
		}
	}
	if origin < 0 {
		b.Fatal("no keyframe written")
	}
	byVideoTick := map[int64]int{}
	byAudioTick := map[int64]int{}
	nextVideo := make([]int, len(frames)) // index of the next video frame, -1 if none
	last := -1
	for i := len(frames) - 1; i >= 0; i-- {
		f := frames[i]
		nextVideo[i] = last
		if f.video {
			last = i
		}
		if f.pts < origin {
			continue
		}
		if f.video {
			byVideoTick[ticks(f.pts-origin, videoClockRate)+ticks(availFMP4Start, videoClockRate)] = i
		} else {
			byAudioTick[ticks(f.pts-origin, audioRate)+ticks(availFMP4Start, audioRate)] = i
		}
	}

	var (
		plDelay, getDelay, wait, ovh    []time.Duration
		noBody, untimedGet, durMismatch int
		indepMismatch, audioFar         int
		lastIsAudio, notRequested       int
		trace                           []string
	)
	for _, pt := range parts {
		vf, af := fetched[pt.file], fetched[audioTwin(pt.file)]
		if vf == nil || af == nil || vf.err != nil || af.err != nil || vf.status != http.StatusOK || af.status != http.StatusOK {
			noBody++
			continue
		}
		vs, err := availSamples(vf.body)
		if err != nil {
			b.Fatalf("%s: %v", pt.file, err)
		}
		as, err := availSamples(af.body)
		if err != nil {
			b.Fatalf("%s: %v", audioTwin(pt.file), err)
		}
		if len(vs) == 0 {
			b.Fatalf("%s: no video samples", pt.file)
		}
		lastWall, lastIdx := time.Time{}, -1
		lastVideo := -1
		var vdur int64
		for _, s := range vs {
			i, ok := byVideoTick[s.time]
			if !ok {
				b.Fatalf("%s: video sample at tick %d matches no written frame (origin %v): the tick mapping is wrong", pt.file, s.time, origin)
			}
			vdur += int64(s.duration)
			lastVideo = i
			if frames[i].wall.After(lastWall) {
				lastWall, lastIdx = frames[i].wall, i
			}
		}
		for _, s := range as {
			i, ok := byAudioTick[s.time]
			if !ok {
				b.Fatalf("%s: audio sample at tick %d matches no written frame (origin %v): the tick mapping is wrong", audioTwin(pt.file), s.time, origin)
			}
			if frames[i].wall.After(lastWall) {
				lastWall, lastIdx = frames[i].wall, i
			}
		}
		if len(as) > 0 {
			// Its audio should start near the video part's start.
			d := frames[byAudioTick[as[0].time]].dts - frames[byVideoTick[vs[0].time]].dts
			if d < -100*time.Millisecond || d > 100*time.Millisecond {
				audioFar++
			}
		}
		if !frames[lastIdx].video {
			lastIsAudio++
		}
		if d := availTicksDur(vdur, videoClockRate) - pt.duration; d < -time.Millisecond || d > time.Millisecond {
			durMismatch++
		}
		if pt.independent != frames[byVideoTick[vs[0].time]].key {
			indepMismatch++
		}
		if !pt.requested {
			notRequested++
		}
		closer := nextVideo[lastVideo]
		if closer < 0 {
			continue // no later video frame was written (cannot happen for an announced part)
		}
		plDelay = append(plDelay, pt.announced.Sub(lastWall))
		trace = append(trace, fmt.Sprintf("  part %d.%d %s v=%d a=%d dur=%v last=%s@%s closer@%s (late %.1fms) announced@%s get@%s",
			pt.msn, pt.index, pt.file, len(vs), len(as), pt.duration, map[bool]string{true: "video", false: "audio"}[frames[lastIdx].video],
			availStamp(lastWall, start), availStamp(frames[closer].wall, start), availMS(frames[closer].late),
			availStamp(pt.announced, start), availStamp(vf.done, start)))
		wait = append(wait, frames[closer].wall.Sub(lastWall))
		ovh = append(ovh, pt.announced.Sub(frames[closer].wall))
		if vf.timed {
			getDelay = append(getDelay, vf.done.Sub(lastWall))
		} else {
			untimedGet++
		}
	}
	if len(plDelay) == 0 {
		b.Fatalf("no part measured (%d announced, %d without body)", len(parts), noBody)
	}

	report := func(prefix string, ds []time.Duration) {
		if len(ds) == 0 {
			return
		}
		slices.Sort(ds)
		b.ReportMetric(availPct(ds, 50), prefix+"p50-ms")
		b.ReportMetric(availPct(ds, 95), prefix+"p95-ms")
		b.ReportMetric(availMS(ds[len(ds)-1]), prefix+"max-ms")
	}
	report("", plDelay)
	report("get-", getDelay)
	report("wait-", wait)
	report("ovh-", ovh)
	// Publisher lateness over the measured window: large values mean the
	// machine starved the benchmark and the figures above are not the
	// server's.
	var late []time.Duration
	for _, f := range frames {
		if !f.wall.Before(start) {
			late = append(late, f.late)
		}
	}
	slices.Sort(late)
	if len(late) > 0 {
		b.ReportMetric(availPct(late, 99), "late-p99-ms")
		b.ReportMetric(availMax(late), "late-max-ms")
	}
	b.ReportMetric(float64(len(plDelay)), "parts")

	b.Logf("%s: %v of media, %d frames written, %d reloads, %d parts announced, %d measured (%d with a timed hint GET)",
		cfg.name, elapsed.Round(time.Millisecond), len(frames), reloads, len(parts), len(plDelay), len(getDelay))
	b.Logf("  playlist delay ms: min %.1f p50 %.1f p95 %.1f max %.1f; part GET: min %.1f p50 %.1f max %.1f",
		availMS(plDelay[0]), availPct(plDelay, 50), availPct(plDelay, 95), availMS(plDelay[len(plDelay)-1]),
		availMin(getDelay), availPct(getDelay, 50), availMax(getDelay))
	b.Logf("  = wait for the closing frame (p50 %.1f, max %.1f) + closing frame to announcement (min %.1f p50 %.1f p95 %.1f max %.1f)",
		availPct(wait, 50), availMax(wait), availMin(ovh), availPct(ovh, 50), availPct(ovh, 95), availMax(ovh))
	b.Logf("  publisher lateness ms: p50 %.2f p99 %.2f max %.1f", availPct(late, 50), availPct(late, 99), availMax(late))
	if os.Getenv("LLHLS_AVAIL_TRACE") != "" {
		for _, r := range trace { // b.Log output of benchmarks is cut to 10 lines
			fmt.Fprintln(os.Stderr, cfg.name+r)
		}
	}
	b.Logf("  last frame of the part was audio in %d/%d; %d reloads announced >1 part, %d parts not the one requested; "+
		"checks: %d without body, %d DURATION≠trun, %d INDEPENDENT≠keyframe, %d audio twins off by >100ms, %d reload failures, %d parts without a timed GET",
		lastIsAudio, len(parts), bunched, notRequested, noBody, durMismatch, indepMismatch, audioFar, reloadFailures, untimedGet)
}

// availPublish writes fx in real time into p, looping with increasing
// timestamps, until ctx ends, and returns what it wrote. With fps > 0 the
// video frames are re-timed to exactly that rate (and the audio stretched to
// match); otherwise the fixture's own 30 fps millisecond timestamps are
// kept, as an RTMP publisher sends them.
//
// It loops on its own period rather than fixture.period: the fixture's video
// starts at 23 ms (its audio at 0), and fixture.period assumes 0, which
// leaves a 56 ms hole in the video at every pass; a part spanning it waits
// for a frame that much later.
func availPublish(ctx context.Context, fx *fixture, p *hub.Publisher, fps int) []availFrame {
	const frameDur = 33 * time.Millisecond // fixture video cadence (33/34 ms)
	firstV, lastV, nv := time.Duration(-1), time.Duration(0), 0
	for _, f := range fx.frames {
		if f.Video {
			if firstV < 0 {
				firstV = f.DTS
			}
			lastV = f.DTS
			nv++
		}
	}
	period := lastV + frameDur - firstV
	var pass []media.Frame
	for _, f := range fx.frames {
		if f.Video || f.DTS+24*time.Millisecond <= period { // no audio overlap with the next pass
			pass = append(pass, f)
		}
	}
	retime := func(f *media.Frame, loop, vidx int) {
		off := time.Duration(loop) * period
		if fps <= 0 {
			f.DTS += off
			f.PTS += off
			return
		}
		scale := 30 / float64(fps)
		cts := f.PTS - f.DTS
		if f.Video {
			f.DTS = time.Duration(math.Round(float64(firstV)*scale)) + time.Duration(loop*nv+vidx)*time.Second/time.Duration(fps)
		} else {
			f.DTS = time.Duration(math.Round(float64(f.DTS+off) * scale))
		}
		f.PTS = f.DTS + time.Duration(math.Round(float64(cts)*scale))
	}

	var out []availFrame
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for loop := 0; ; loop++ {
		vidx := 0
		for i := range pass {
			f := pass[i] // copy: the hub rewrites timestamps in place
			retime(&f, loop, vidx)
			if f.Video {
				vidx++
			}
			due := start.Add(f.DTS)
			if d := time.Until(due); d > 0 {
				t.Reset(d)
				select {
				case <-ctx.Done():
					return out
				case <-t.C:
				}
			} else if ctx.Err() != nil {
				return out
			}
			f.Received = time.Now()
			p.Write(&f)
			// Only this goroutine writes f; readers just read it.
			out = append(out, availFrame{video: f.Video, key: f.Key, dts: f.DTS, pts: f.PTS, wall: f.Received, late: f.Received.Sub(due)})
		}
	}
}

// availSample is one fMP4 sample: its decode time and duration in track
// ticks.
type availSample struct {
	time     int64
	duration uint32
}

// availSamples walks the boxes of an fMP4 part (moof/traf with tfhd, tfdt and
// trun; every part here carries a single track) and returns its samples.
func availSamples(b []byte) ([]availSample, error) {
	var out []availSample
	err := availBoxes(b, func(typ string, body []byte) error {
		if typ != "moof" {
			return nil
		}
		return availBoxes(body, func(typ string, body []byte) error {
			if typ != "traf" {
				return nil
			}
			var (
				defDur  uint32
				decode  int64
				hasTfdt bool
			)
			return availBoxes(body, func(typ string, body []byte) error {
				if len(body) < 4 {
					return fmt.Errorf("short %s", typ)
				}
				flags := binary.BigEndian.Uint32(body) & 0xffffff
				version := body[0]
				r := availReader{b: body[4:]}
				switch typ {
				case "tfhd":
					r.u32() // track_ID
					if flags&0x01 != 0 {
						r.skip(8) // base_data_offset
					}
					if flags&0x02 != 0 {
						r.skip(4) // sample_description_index
					}
					if flags&0x08 != 0 {
						defDur = r.u32()
					}
				case "tfdt":
					if version == 1 {
						decode = int64(r.u64())
					} else {
						decode = int64(r.u32())
					}
					hasTfdt = true
				case "trun":
					if !hasTfdt {
						return errors.New("trun before tfdt")
					}
					n := r.u32()
					if flags&0x01 != 0 {
						r.skip(4) // data_offset
					}
					if flags&0x04 != 0 {
						r.skip(4) // first_sample_flags
					}
					for range n {
						d := defDur
						if flags&0x100 != 0 {
							d = r.u32()
						}
						if flags&0x200 != 0 {
							r.skip(4)
						}
						if flags&0x400 != 0 {
							r.skip(4)
						}
						if flags&0x800 != 0 {
							r.skip(4)
						}
						if r.err {
							return errors.New("short trun")
						}
						out = append(out, availSample{time: decode, duration: d})
						decode += int64(d)
					}
				}
				if r.err {
					return fmt.Errorf("short %s", typ)
				}
				return nil
			})
		})
	})
	return out, err
}

// availBoxes calls fn for each ISO BMFF box in b.
func availBoxes(b []byte, fn func(typ string, body []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return errors.New("truncated box header")
		}
		size, hdr := uint64(binary.BigEndian.Uint32(b)), uint64(8)
		typ := string(b[4:8])
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return errors.New("truncated box header")
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return fmt.Errorf("bad %q box size %d", typ, size)
		}
		if err := fn(typ, b[hdr:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

type availReader struct {
	b   []byte
	err bool
}

func (r *availReader) skip(n int) {
	if len(r.b) < n {
		r.err, r.b = true, nil
		return
	}
	r.b = r.b[n:]
}

func (r *availReader) u32() uint32 {
	if len(r.b) < 4 {
		r.err, r.b = true, nil
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *availReader) u64() uint64 {
	if len(r.b) < 8 {
		r.err, r.b = true, nil
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func availTicksDur(t int64, rate int) time.Duration {
	return time.Duration(t) * time.Second / time.Duration(rate)
}

func availStamp(t, start time.Time) string {
	return strconv.FormatFloat(availMS(t.Sub(start)), 'f', 1, 64)
}

func availMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// availPct is the nearest-rank percentile of sorted ds, in ms.
func availPct(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return availMS(ds[max(i, 0)])
}

func availMin(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return math.NaN()
	}
	return availMS(ds[0])
}

func availMax(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return math.NaN()
	}
	return availMS(ds[len(ds)-1])
}
