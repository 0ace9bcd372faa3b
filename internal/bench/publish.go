package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
)

const (
	connectTimeout = 10 * time.Second
	ioTimeout      = 10 * time.Second // per blocking write (and read, where settable)
)

// PublishOptions configure Publish.
type PublishOptions struct {
	URL      string        // rtmp://HOST[:PORT]/APP/KEY
	Duration time.Duration // 0: until ctx is done
	File     string        // FLV file with H.264 (+ AAC); "": the built-in fixture
}

// errServerClosed reports that the server ended a publish or play session.
var errServerClosed = errors.New("server closed the connection")

// Publish publishes an FLV file over RTMP, looped in real time: each frame is
// sent when the wall clock reaches its DTS, and every loop adds the file's
// length to the timestamps so they keep increasing. It returns nil when
// Duration has elapsed or ctx is done, and an error if the server refused
// or dropped the stream.
func Publish(ctx context.Context, o PublishOptions, out io.Writer) error {
	fx, name, err := openFixture(o.File)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "publishing %s (%.2f Mbit/s, %s loop) to %s\n",
		name, fx.bitrate()/1e6, fx.period.Round(time.Millisecond), redactURL(o.URL))
	st, err := publish(ctx, o.URL, fx, o.Duration, nil)
	if st.frames > 0 {
		fmt.Fprintf(out, "published %d frames (%.1f loops, %.1f MB) in %s\n",
			st.frames, float64(st.frames)/float64(len(fx.tags)), float64(st.bytes)/1e6,
			st.elapsed.Round(time.Millisecond))
	}
	return err
}

func openFixture(file string) (*fixture, string, error) {
	if file == "" {
		fx, err := loadFixture(fixtureFLV)
		return fx, "built-in fixture", err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, "", err
	}
	fx, err := loadFixture(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", file, err)
	}
	return fx, file, nil
}

// bitrate is the mean payload bitrate of one loop, in bit/s.
func (f *fixture) bitrate() float64 {
	return float64(f.bytes) * 8 / f.period.Seconds()
}

type publishStats struct {
	frames  int
	bytes   uint64
	elapsed time.Duration
}

// videoSent is called for each video frame just before it is written to the
// socket, with the wall time at which the write begins: the frame cannot
// reach anyone before that, whereas the time the write returns may come
// after a viewer on the same machine has already received it.
type videoSent func(dts time.Duration, wall time.Time, size int, key bool)

// publish runs one RTMP publish session; onVideo may be nil.
func publish(ctx context.Context, rawURL string, fx *fixture, d time.Duration, onVideo videoSent,
) (st publishStats, err error) {
	u, err := rtmpURL(rawURL)
	if err != nil {
		return st, err
	}
	runCtx := ctx
	if d > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	fail := func(err error) (publishStats, error) {
		if runCtx.Err() != nil {
			return st, nil // the run is over; errors from tearing down don't count
		}
		return st, fmt.Errorf("rtmp publish %s: %w", redactURL(rawURL), err)
	}

	connCtx, cancelConn := context.WithTimeout(runCtx, connectTimeout)
	defer cancelConn()
	c := &gortmplib.Client{URL: u, Publish: true}
	if err := c.Initialize(connCtx); err != nil {
		return fail(err)
	}
	nc := c.NetConn()

	// Drain whatever the server sends (acknowledgements, pings) without
	// parsing it: reading through the client would race with our writes.
	// The drain ending means the server hung up.
	loopCtx, stop := context.WithCancelCause(runCtx)
	defer stop(nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := io.Copy(io.Discard, nc); err != nil {
			stop(fmt.Errorf("%w: %v", errServerClosed, err))
		}
		stop(errServerClosed)
	})
	defer wg.Wait()
	defer nc.Close()
	unblock := context.AfterFunc(loopCtx, func() { nc.Close() })
	defer unblock()

	vt := &gortmplib.Track{Codec: &codecs.H264{SPS: fx.sps, PPS: fx.pps}}
	tracks := []*gortmplib.Track{vt}
	var at *gortmplib.Track
	if fx.asc != nil {
		at = &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: fx.asc}}
		tracks = append(tracks, at)
	}
	w := &gortmplib.Writer{Conn: c, Tracks: tracks}
	_ = nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if err := w.Initialize(); err != nil {
		return fail(err)
	}

	timer := time.NewTimer(0)
	defer timer.Stop()
	start := time.Now()
	defer func() { st.elapsed = time.Since(start) }()
	for i := 0; ; i++ {
		t, dts := fx.at(i)
		if wait := time.Until(start.Add(dts)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-loopCtx.Done():
				return fail(context.Cause(loopCtx))
			case <-timer.C:
			}
		}
		sent := time.Now()
		if t.video && onVideo != nil {
			onVideo(dts, sent, t.size, t.key) // before the write: a viewer may look it up at once
		}
		_ = nc.SetWriteDeadline(sent.Add(ioTimeout))
		if t.video {
			err = w.WriteH264(vt, dts+t.cts, dts, t.nalus)
		} else {
			err = w.WriteMPEG4Audio(at, dts, t.au)
		}
		if err != nil {
			if cause := context.Cause(loopCtx); cause != nil {
				err = cause
			}
			return fail(err)
		}
		st.frames++
		st.bytes += uint64(t.size)
	}
}

// rtmpURL converts rtmp://HOST[:PORT]/APP/NAME[?QUERY] into the form
// gortmplib expects (application in the path, stream name in the fragment),
// splitting at the first path element like ffmpeg and OBS do. A URL that
// already has a fragment is passed through.
func rtmpURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "rtmp" && u.Scheme != "rtmps" {
		return nil, fmt.Errorf("%q is not an rtmp:// or rtmps:// URL", redactURL(raw))
	}
	if u.Fragment != "" {
		return u, nil
	}
	app, name, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if app == "" || name == "" {
		return nil, fmt.Errorf("%q: want rtmp://HOST/APP/NAME", redactURL(raw))
	}
	if u.RawQuery != "" {
		name += "?" + u.RawQuery
	}
	return &url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host, Path: "/" + app, Fragment: name}, nil
}

// redactURL shortens the last path element (a stream key when publishing)
// and drops credentials and the query, for printing.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	dir, key := "/", strings.TrimPrefix(u.Path, "/")
	if i := strings.LastIndexByte(u.Path, '/'); i >= 0 {
		dir, key = u.Path[:i+1], u.Path[i+1:]
	}
	if len(key) > 8 {
		key = key[:2] + "…" + key[len(key)-2:]
	}
	s := u.Scheme + "://" + u.Host + dir + key
	if u.RawQuery != "" {
		s += "?…"
	}
	return s
}
