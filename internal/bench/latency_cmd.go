package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	gosrt "github.com/datarhei/gosrt"

	"github.com/huabian-live/huabian/internal/codec/flv"
)

// E2ELatencyOptions configure Latency.
type E2ELatencyOptions struct {
	Publish  string        // rtmp://HOST/live/KEY or srt://HOST:PORT?streamid=publish:KEY
	Play     string        // .flv, index.m3u8, rtmp://, srt://…read:NAME or …/whep
	Duration time.Duration // how long the player measures
	Warmup   time.Duration // publish this long before the player connects
}

// E2ELatencyReport is what Latency measured.
type E2ELatencyReport struct {
	PublishProto, PlayProto string
	FirstFrame              time.Duration // player connect start → first stamped frame; 0: none
	Latency                 Dist          // stamp → receipt, per stamped video frame sent after the player connected
	Frames                  int           // video frames received
	Unstamped               int           // of which carried no stamp
	FromCache               int           // stamped before the player connected (not in Latency)
	Published               int           // video frames published during the run
}

// Latency publishes the built-in fixture in real time with a send-time stamp
// in every video access unit (see latency_sei.go), plays the stream back
// and reports stamp → receipt per frame. Both ends run in this process, on
// one clock. The error is non-nil when either end failed.
func E2ELatency(ctx context.Context, o E2ELatencyOptions, out io.Writer) (E2ELatencyReport, error) {
	var rep E2ELatencyReport
	pubProto, err := latencyPublishProto(o.Publish)
	if err != nil {
		return rep, err
	}
	playProto, play, err := latencyPlayerOf(o.Play)
	if err != nil {
		return rep, err
	}
	rep.PublishProto, rep.PlayProto = pubProto, playProto
	fx, err := loadFixture(fixtureFLV)
	if err != nil {
		return rep, err
	}
	fmt.Fprintf(out, "publishing the built-in fixture over %s to %s, playing %s (%s) for %s\n",
		pubProto, redactURL(o.Publish), redactURL(o.Play), playProto, o.Duration)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg             sync.WaitGroup
		pubErr         error
		pubMu          sync.Mutex
		published      int
		measureStarted = make(chan struct{})
	)
	wg.Go(func() {
		err := stampPublish(ctx, pubProto, o.Publish, fx, func() {
			select {
			case <-measureStarted:
				pubMu.Lock()
				published++
				pubMu.Unlock()
			default:
			}
		})
		if err != nil && ctx.Err() == nil {
			pubErr = err
			cancel()
		}
	})
	defer wg.Wait()

	warm := o.Warmup
	if warm <= 0 {
		// Let the server see the stream go live: as in Play, RTMP servers
		// built on gortmplib probe a new publish for 2 s of media first.
		warm = publishWarmup
	}
	if err := sleep(ctx, warm); err != nil {
		cancel()
		wg.Wait()
		if pubErr != nil {
			return rep, pubErr
		}
		return rep, err
	}

	rec := &stampRecorder{}
	playCtx, stopPlay := context.WithTimeout(ctx, o.Duration)
	defer stopPlay()
	close(measureStarted)
	rec.start = time.Now()
	playErr := play(playCtx, o.Play, rec)
	cutShort := playCtx.Err() != nil // before stopPlay, which sets it anyway
	stopPlay()
	cancel()
	wg.Wait()

	pubMu.Lock()
	rep.Published = published
	pubMu.Unlock()
	rec.mu.Lock()
	rep.FirstFrame, rep.Frames, rep.Unstamped, rep.FromCache = rec.first, rec.frames, rec.unstamped, rec.cached
	rep.Latency = distOf(rec.lat)
	rec.mu.Unlock()
	rep.Print(out)
	if pubErr != nil {
		return rep, pubErr
	}
	if playErr != nil && !cutShort {
		return rep, fmt.Errorf("%s player: %w", playProto, playErr)
	}
	if rep.Latency.Count == 0 {
		return rep, errors.New("no stamped frame received")
	}
	return rep, nil
}

// Print writes the report as a few lines of text.
func (r E2ELatencyReport) Print(w io.Writer) {
	fmt.Fprintf(w, "%s → server → %s\n", r.PublishProto, r.PlayProto)
	fmt.Fprintf(w, "  video frames     %d received (%d without stamp, %d sent before connecting), %d published while playing\n",
		r.Frames, r.Unstamped, r.FromCache, r.Published)
	if r.FirstFrame > 0 {
		fmt.Fprintf(w, "  first frame      %s after connecting\n", fmtDur(r.FirstFrame))
	} else {
		fmt.Fprintf(w, "  first frame      none\n")
	}
	fmt.Fprintf(w, "  latency          p50 %s  p95 %s  max %s  (%d frames)\n",
		fmtDur(r.Latency.P50), fmtDur(r.Latency.P95), fmtDur(r.Latency.Max), r.Latency.Count)
}

// stampRecorder collects the player side.
type stampRecorder struct {
	start time.Time // player began connecting

	mu        sync.Mutex
	first     time.Duration
	frames    int
	unstamped int
	cached    int
	lat       []time.Duration
}

const maxLatencySamples = 1 << 20

// frame records one received video frame (or RTP packet run ending a
// frame) whose bytes are b, received at now.
func (r *stampRecorder) frame(now time.Time, b ...[]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames++
	n := 0
	for _, p := range b {
		n += r.stamps(now, p)
	}
	if n == 0 {
		r.unstamped++
	}
}

// stamps records the stamps in b, without counting a frame; the caller
// holds mu.
func (r *stampRecorder) stamps(now time.Time, b []byte) int {
	return findStamps(b, func(t time.Time) {
		if r.first == 0 {
			r.first = now.Sub(r.start)
		}
		if t.Before(r.start) {
			r.cached++ // sent before the player asked: from the server's GOP cache
			return
		}
		if len(r.lat) < maxLatencySamples {
			r.lat = append(r.lat, now.Sub(t))
		}
	})
}

// ---- publishers ----

func latencyPublishProto(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "rtmp", "rtmps":
		return "rtmp", nil
	case "srt":
		if !strings.HasPrefix(u.Query().Get("streamid"), "publish:") {
			return "", fmt.Errorf("%s: want srt://HOST:PORT?streamid=publish:KEY", redactURL(raw))
		}
		return "srt", nil
	}
	return "", fmt.Errorf("--publish %s: want rtmp://HOST/live/KEY or srt://HOST:PORT?streamid=publish:KEY", redactURL(raw))
}

// avWriter sends one frame; pts/dts are from the fixture clock.
type avWriter interface {
	video(pts, dts time.Duration, au [][]byte) error
	audio(dts time.Duration, au []byte) error
}

// stampPublish loops the fixture in real time over proto until ctx is done,
// stamping every video access unit just before it is written. onVideo is
// called per video frame sent.
func stampPublish(ctx context.Context, proto, raw string, fx *fixture, onVideo func()) error {
	var (
		w       avWriter
		closeFn func()
		err     error
	)
	switch proto {
	case "rtmp":
		w, closeFn, err = dialRTMPPublisher(ctx, raw, fx)
	default:
		w, closeFn, err = dialSRTPublisher(ctx, raw, fx)
	}
	if err != nil {
		return fmt.Errorf("%s publish: %w", proto, err)
	}
	defer closeFn()
	timer := time.NewTimer(0)
	defer timer.Stop()
	start := time.Now()
	// Bounded by ctx: every iteration waits for the fixture clock.
	for i := 0; ; i++ {
		t, dts := fx.at(i)
		if wait := time.Until(start.Add(dts)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return nil
		}
		if t.video {
			err = w.video(dts+t.cts, dts, stampAU(t.nalus, time.Now()))
			onVideo()
		} else {
			err = w.audio(dts, t.au)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s publish: %w", proto, err)
		}
	}
}

type rtmpPub struct {
	w      *gortmplib.Writer
	vt, at *gortmplib.Track
	nc     interface{ SetWriteDeadline(time.Time) error }
}

func (p *rtmpPub) video(pts, dts time.Duration, au [][]byte) error {
	_ = p.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	return p.w.WriteH264(p.vt, pts, dts, au)
}

func (p *rtmpPub) audio(dts time.Duration, au []byte) error {
	if p.at == nil {
		return nil
	}
	_ = p.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	return p.w.WriteMPEG4Audio(p.at, dts, au)
}

func dialRTMPPublisher(ctx context.Context, raw string, fx *fixture) (avWriter, func(), error) {
	u, err := rtmpURL(raw)
	if err != nil {
		return nil, nil, err
	}
	connCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	c := &gortmplib.Client{URL: u, Publish: true}
	if err := c.Initialize(connCtx); err != nil {
		return nil, nil, err
	}
	nc := c.NetConn()
	// Drain acknowledgements and pings; closing nc on ctx unblocks writes.
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(io.Discard, nc) })
	unblock := context.AfterFunc(ctx, func() { nc.Close() })
	closeFn := func() { unblock(); nc.Close(); wg.Wait() }

	p := &rtmpPub{vt: &gortmplib.Track{Codec: &codecs.H264{SPS: fx.sps, PPS: fx.pps}}, nc: nc}
	tracks := []*gortmplib.Track{p.vt}
	if fx.asc != nil {
		p.at = &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: fx.asc}}
		tracks = append(tracks, p.at)
	}
	p.w = &gortmplib.Writer{Conn: c, Tracks: tracks}
	_ = nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if err := p.w.Initialize(); err != nil {
		closeFn()
		return nil, nil, err
	}
	return p, closeFn, nil
}

// srtPayload is the usual SRT payload: 7 TS packets.
const srtPayload = 7 * 188

type srtPub struct {
	ctx    context.Context
	conn   gosrt.Conn
	buf    bytes.Buffer
	w      *mpegts.Writer
	vt, at *mpegts.Track
	sps    []byte
	pps    []byte
}

func (p *srtPub) video(pts, dts time.Duration, au [][]byte) error {
	// MPEG-TS carries no out-of-band parameter sets: repeat them on IDRs.
	if hasIDRNALU(au) && !hasNALU(au, 7) {
		au = append([][]byte{p.sps, p.pps}, au...)
	}
	if err := p.w.WriteH264(p.vt, int64(pts)*90000/int64(time.Second), int64(dts)*90000/int64(time.Second), au); err != nil {
		return err
	}
	return p.flush()
}

func (p *srtPub) audio(dts time.Duration, au []byte) error {
	if p.at == nil {
		return nil
	}
	if err := p.w.WriteMPEG4Audio(p.at, int64(dts)*90000/int64(time.Second), [][]byte{au}); err != nil {
		return err
	}
	return p.flush()
}

// flush hands the muxed TS to gosrt in payload-sized writes, retrying for a
// while when its send queue is full (its Write does not block).
func (p *srtPub) flush() error {
	for p.buf.Len() > 0 {
		chunk := p.buf.Next(min(srtPayload, p.buf.Len()))
		deadline := time.Now().Add(ioTimeout)
		for {
			_, err := p.conn.Write(chunk)
			if err == nil {
				break
			}
			if p.ctx.Err() != nil || time.Now().After(deadline) {
				return err
			}
			if err := sleep(p.ctx, 2*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

func hasIDRNALU(au [][]byte) bool { return hasNALU(au, 5) }

func hasNALU(au [][]byte, typ byte) bool {
	for _, n := range au {
		if len(n) > 0 && n[0]&0x1f == typ {
			return true
		}
	}
	return false
}

// srtDial connects as a caller with the URL's streamid (and passphrase).
func srtDial(ctx context.Context, raw string) (gosrt.Conn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	cfg := gosrt.DefaultConfig()
	if err := cfg.UnmarshalQuery(u.RawQuery); err != nil {
		return nil, err
	}
	cfg.ConnectionTimeout = connectTimeout
	type result struct {
		c   gosrt.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := gosrt.Dial("srt", u.Host, cfg)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

func dialSRTPublisher(ctx context.Context, raw string, fx *fixture) (avWriter, func(), error) {
	conn, err := srtDial(ctx, raw)
	if err != nil {
		return nil, nil, err
	}
	p := &srtPub{ctx: ctx, conn: conn, sps: fx.sps, pps: fx.pps}
	p.vt = &mpegts.Track{Codec: &mpegts.CodecH264{}}
	tracks := []*mpegts.Track{p.vt}
	if fx.asc != nil {
		p.at = &mpegts.Track{Codec: &mpegts.CodecMPEG4Audio{Config: *fx.asc}}
		tracks = append(tracks, p.at)
	}
	p.w = &mpegts.Writer{W: &p.buf, Tracks: tracks}
	if err := p.w.Initialize(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return p, func() { conn.Close() }, nil
}

// ---- players ----

type latencyPlayer func(ctx context.Context, raw string, rec *stampRecorder) error

func latencyPlayerOf(raw string) (string, latencyPlayer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, err
	}
	switch u.Scheme {
	case "rtmp", "rtmps":
		return "rtmp", playRTMPStamps, nil
	case "srt":
		if !strings.HasPrefix(u.Query().Get("streamid"), "read:") {
			return "", nil, fmt.Errorf("%s: want srt://HOST:PORT?streamid=read:NAME", redactURL(raw))
		}
		return "srt", playSRTStamps, nil
	case "http", "https":
		switch {
		case strings.HasSuffix(u.Path, ".flv"):
			return "http-flv", playFLVStamps, nil
		case strings.HasSuffix(u.Path, ".m3u8"):
			return "ll-hls", playLLHLSStamps, nil
		case strings.HasSuffix(u.Path, "/whep"):
			return "whep", playWHEPStamps, nil
		}
	}
	return "", nil, fmt.Errorf("--play %s: want …/NAME.flv, …/index.m3u8, rtmp://…, srt://…?streamid=read:NAME or …/NAME/whep", redactURL(raw))
}

func playFLVStamps(ctx context.Context, raw string, rec *stampRecorder) error {
	resp, err := get(ctx, newHTTPClient(1), raw, connectTimeout)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r := flv.NewReader(resp.Body)
	if _, err := r.ReadHeader(); err != nil {
		return err
	}
	for {
		tag, err := r.ReadTag()
		if err != nil {
			return streamEnd(err)
		}
		// Legacy AVC video tag with AVCPacketType 1: a coded frame.
		if tag.Type == flv.TagVideo && len(tag.Data) > 5 && tag.Data[0]&0x0f == 7 && tag.Data[1] == 1 {
			rec.frame(time.Now(), tag.Data[5:])
		}
	}
}

func playRTMPStamps(ctx context.Context, raw string, rec *stampRecorder) error {
	u, err := rtmpURL(raw)
	if err != nil {
		return err
	}
	connCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	c := &gortmplib.Client{URL: u}
	err = c.Initialize(connCtx)
	cancel()
	if err != nil {
		return err
	}
	nc := c.NetConn()
	defer nc.Close()
	unblock := context.AfterFunc(ctx, func() { nc.Close() })
	defer unblock()
	for {
		msg, err := c.Read()
		if err != nil {
			return streamEnd(err)
		}
		switch m := msg.(type) {
		case *message.Video:
			if m.Type == message.VideoTypeAU {
				rec.frame(time.Now(), m.AU)
			}
		case *message.VideoExCodedFrames:
			rec.frame(time.Now(), m.Payload)
		case *message.VideoExFramesX:
			rec.frame(time.Now(), m.Payload)
		case *message.UserControlStreamEOF:
			return errServerClosed
		}
	}
}

func playSRTStamps(ctx context.Context, raw string, rec *stampRecorder) error {
	conn, err := srtDial(ctx, raw)
	if err != nil {
		return err
	}
	defer conn.Close()
	unblock := context.AfterFunc(ctx, func() { conn.Close() })
	defer unblock()
	r := &mpegts.Reader{R: conn}
	if err := r.Initialize(); err != nil {
		return err
	}
	r.OnDecodeError(func(error) {})
	video := false
	for _, t := range r.Tracks() {
		if _, ok := t.Codec.(*mpegts.CodecH264); ok {
			video = true
			r.OnDataH264(t, func(_, _ int64, au [][]byte) error {
				rec.frame(time.Now(), au...)
				return nil
			})
		}
	}
	if !video {
		return errors.New("no H.264 track in the SRT stream")
	}
	for {
		if err := r.Read(); err != nil {
			return streamEnd(err)
		}
	}
}

// playLLHLSStamps follows a low-latency media playlist from the newest
// independent part, like the load viewer (client_llhls.go), and looks for
// stamps in each part as soon as it is downloaded.
func playLLHLSStamps(ctx context.Context, raw string, rec *stampRecorder) error {
	client := newHTTPClient(1)
	base, err := url.Parse(raw)
	if err != nil {
		return err
	}
	load := func(u *url.URL, timeout time.Duration) (*hlsPlaylist, error) {
		resp, err := get(ctx, client, u.String(), timeout)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxPlaylistSize))
		if err != nil {
			return nil, err
		}
		return parsePlaylist(b)
	}
	fetch := func(p hlsPart, timeout time.Duration) ([]byte, error) {
		u, err := base.Parse(p.uri)
		if err != nil {
			return nil, err
		}
		req, err := newRangeRequest(u.String(), p.rangeStart, p.rangeLen)
		if err != nil {
			return nil, err
		}
		resp, err := do(ctx, client, req, timeout)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(io.LimitReader(resp.Body, maxPartSize))
	}
	pl, err := load(base, connectTimeout)
	if err != nil {
		return err
	}
	if !pl.media {
		if len(pl.variants) == 0 {
			return errors.New("multivariant playlist lists no variant")
		}
		if base, err = base.Parse(pl.variants[0]); err != nil {
			return err
		}
		if pl, err = load(base, connectTimeout); err != nil {
			return err
		}
	}
	if pl.mapURI == "" {
		return errors.New("no EXT-X-MAP: only fMP4 playlists are supported")
	}
	initSeg, err := fetch(hlsPart{uri: pl.mapURI, rangeStart: -1, rangeLen: -1}, pl.timeout())
	if err != nil {
		return err
	}
	tracks, err := parseInit(initSeg)
	if err != nil {
		return err
	}
	var samples []mp4Sample
	media := func(p hlsPart) error {
		b, err := fetch(p, pl.timeout())
		if err != nil {
			return err
		}
		now := time.Now()
		if samples, err = parseMedia(b, tracks, samples[:0]); err != nil {
			return err
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		stamped := rec.stamps(now, b) // one per video sample when none is lost
		videoSamples := 0
		for _, s := range samples {
			if t := tracks[s.track]; t != nil && t.video {
				videoSamples++
			}
		}
		rec.frames += videoSamples
		rec.unstamped += max(0, videoSamples-stamped)
		return nil
	}
	units := pl.units()
	var last hlsPart
	switch start := pl.startIndex(); {
	case start >= 0:
		last = before(units[start])
	case len(units) > 0:
		last = before(units[len(units)-1])
	case pl.hint != nil:
		last = before(*pl.hint)
	default:
		return errors.New("playlist lists no parts or segments")
	}
	// Bounded by ctx: each round blocks on the server for the next part.
	for ctx.Err() == nil {
		for _, p := range units {
			if p.after(last) {
				if err := media(p); err != nil {
					return err
				}
				last = p
			}
		}
		if pl.endList {
			return errServerClosed
		}
		if pl.hint != nil && pl.hint.after(last) {
			if err := media(*pl.hint); err != nil {
				return err
			}
			last = *pl.hint
		}
		next := *base
		if pl.canBlock && pl.partTarget > 0 {
			q := next.Query()
			q.Set("_HLS_msn", fmt.Sprint(last.msn))
			q.Set("_HLS_part", fmt.Sprint(last.idx+1))
			next.RawQuery = q.Encode()
		} else if err := sleep(ctx, max(pl.partTarget, pl.targetDuration)/2); err != nil {
			return err
		}
		if pl, err = load(&next, pl.timeout()); err != nil {
			return err
		}
		units = pl.units()
	}
	return ctx.Err()
}

// httpDelete ends a WHEP session; errors are ignored (the server times the
// session out anyway).
func httpDelete(u string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}
