package srt

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
)

// SRT playback muxes once per stream and fans out many. A tsFeed is one
// stream's MPEG-TS: it holds the stream's only hub reader, muxes each frame
// once, and keeps the result in a ring of tsEntry values shared read-only by
// every SRT reader of the stream. A reader's own work is walking the ring
// and handing slices of the shared bytes to its connection.
//
// The feed is created by the first SRT reader of a stream and torn down
// when the last one leaves (Server.joinFeed, Server.leaveFeed).
//
// Readers follow the hub's slow-reader policy, on the feed's ring: one that
// falls more than maxLag (media time) behind, or is lapped, skips to the
// newest keyframe entry; one that stays behind for slowTimeout is
// disconnected. Neither the feed nor other readers ever wait for a reader.

// Errors a feedReader returns.
var (
	errFeedEnded = errors.New("srt feed ended")
	errTooSlow   = errors.New("srt reader too slow")
)

// tsEntry is MPEG-TS muxed from one or more consecutive frames. A keyframe
// always starts a new entry, so a reader can start at any key entry.
type tsEntry struct {
	seq uint64
	b   []byte        // whole 188-byte TS packets; never modified once pushed
	dts time.Duration // DTS of the entry's first frame
	// key marks a start point: PAT and PMT, then a random-access frame
	// (a video keyframe, or any audio frame of an audio-only stream).
	key bool
}

// feedOptions tune a feed; zero values take the hub's defaults.
type feedOptions struct {
	ringSize    int           // entries kept, a power of two; default 1024
	maxLag      time.Duration // default 3 s, as hub.Options.MaxLag
	slowTimeout time.Duration // default 10 s, as hub.Options.SlowTimeout
}

func (o *feedOptions) setDefaults() {
	if o.ringSize <= 0 {
		// About 30 entries a second (one per hub wake-up, plus one per
		// keyframe): over 30 s, so the latest GOP is always there.
		o.ringSize = 1024
	}
	n := 1
	for n < o.ringSize {
		n <<= 1
	}
	o.ringSize = n
	if o.maxLag <= 0 {
		o.maxLag = 3 * time.Second
	}
	if o.slowTimeout <= 0 {
		o.slowTimeout = 10 * time.Second
	}
}

// tsFeed is one stream's shared MPEG-TS; see the comment at the top.
type tsFeed struct {
	stream *hub.Stream
	opts   feedOptions
	log    *slog.Logger
	mask   uint64

	ring []atomic.Pointer[tsEntry]
	// head is the sequence number of the next entry; lastKey is 1 + the
	// sequence number of the newest key entry (0: none yet).
	head    atomic.Uint64
	lastKey atomic.Uint64
	ended   atomic.Bool
	readers atomic.Pointer[[]*feedReader] // copy-on-write under mu
	muxed   atomic.Uint64                 // frames muxed, for tests and logs

	mu sync.Mutex // serialises changes of the reader set

	// Guarded by Server.feedMu: readers joined through the Server, and
	// the function that stops run.
	refs   int
	cancel context.CancelFunc

	// Used only by the feed's own goroutine (run) or before it starts.
	hr      *hub.Reader
	mux     tsMuxer // mux.buf holds the bytes of the entry being built
	pendKey bool
	pendDTS time.Duration
}

// newFeed subscribes to stream at once, so that a reader joining now gets
// the GOP cached at this moment; run muxes it.
func newFeed(stream *hub.Stream, opts feedOptions, log *slog.Logger) *tsFeed {
	opts.setDefaults()
	f := &tsFeed{
		stream: stream,
		opts:   opts,
		log:    log,
		mask:   uint64(opts.ringSize - 1),
		ring:   make([]atomic.Pointer[tsEntry], opts.ringSize),
	}
	empty := []*feedReader{}
	f.readers.Store(&empty)
	// Unbatched: a frame of delay here would reach every SRT reader.
	f.hr = stream.SubscribeUnbatched()
	return f
}

// run muxes the stream until it ends, ctx ends or muxing fails, then lets
// the readers drain what is in the ring.
func (f *tsFeed) run(ctx context.Context) {
	defer f.end()
	defer f.hr.Close()
	for {
		batch, err := f.hr.Next(ctx)
		if err != nil {
			if errors.Is(err, hub.ErrTooSlow) {
				f.log.Warn("srt feed fell behind the stream", "dropped_frames", f.hr.Dropped())
			}
			return
		}
		if err := f.muxBatch(batch); err != nil {
			f.log.Warn("srt feed stopped: cannot mux", "err", err)
			return
		}
	}
}

// muxBatch muxes frames into entries: one entry per batch, except that a
// start-point frame opens a new one.
func (f *tsFeed) muxBatch(batch []*media.Frame) error {
	for _, fr := range batch {
		if fr.FLVOnly {
			continue // the AAC rendition of an Opus stream is for FLV/RTMP players
		}
		start := startPoint(fr)
		if start {
			f.flush()
		}
		before := f.mux.buf.Len()
		if err := f.mux.write(fr); err != nil {
			return err
		}
		f.muxed.Add(1)
		out := f.mux.buf.Bytes()[before:]
		if len(out) == 0 {
			continue
		}
		if before == 0 {
			f.pendDTS = fr.DTS
			// The writer puts PAT and PMT right before a random-access
			// frame of its PCR track; only then can a reader start here.
			f.pendKey = start && isPAT(out)
		}
	}
	f.flush()
	return nil
}

// startPoint reports whether a reader may start at fr.
func startPoint(fr *media.Frame) bool {
	if !fr.Key {
		return false
	}
	return fr.Video || fr.Tracks == nil || fr.Tracks.Video == nil
}

// isPAT reports whether b starts with a TS packet of PID 0.
func isPAT(b []byte) bool {
	return len(b) >= 188 && b[0] == 0x47 && b[1]&0x1F == 0 && b[2] == 0
}

// flush publishes the pending bytes as an entry. The bytes are copied once
// into a slice of their own: readers keep references to it.
func (f *tsFeed) flush() {
	if f.mux.buf.Len() == 0 {
		return
	}
	e := &tsEntry{b: bytes.Clone(f.mux.buf.Bytes()), dts: f.pendDTS, key: f.pendKey}
	f.mux.buf.Reset()
	f.push(e)
}

// push appends e and nudges the readers (one non-blocking send each).
func (f *tsFeed) push(e *tsEntry) {
	seq := f.head.Load()
	e.seq = seq
	f.ring[seq&f.mask].Store(e)
	f.head.Store(seq + 1)
	if e.key {
		f.lastKey.Store(seq + 1)
	}
	for _, r := range *f.readers.Load() {
		r.wake()
	}
}

// end marks the feed finished: readers drain the ring, then get
// errFeedEnded.
func (f *tsFeed) end() {
	f.ended.Store(true)
	for _, r := range *f.readers.Load() {
		r.wake()
	}
}

// entry returns the entry with sequence number seq, or nil if it has been
// overwritten or not written yet.
func (f *tsFeed) entry(seq uint64) *tsEntry {
	e := f.ring[seq&f.mask].Load()
	if e == nil || e.seq != seq {
		return nil
	}
	return e
}

// attach adds a reader positioned at the newest key entry, or, if there is
// none yet, at the next one.
func (f *tsFeed) attach() *feedReader {
	r := &feedReader{f: f, wakeCh: make(chan struct{}, 1)}
	f.mu.Lock()
	old := *f.readers.Load()
	next := make([]*feedReader, len(old), len(old)+1)
	copy(next, old)
	next = append(next, r)
	f.readers.Store(&next)
	if k := f.lastKey.Load(); k > 0 && f.entry(k-1) != nil {
		r.cursor = k - 1
	} else {
		r.cursor = f.head.Load()
		r.waitKey = true
	}
	f.mu.Unlock()
	r.wake()
	return r
}

func (f *tsFeed) detach(r *feedReader) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := *f.readers.Load()
	next := make([]*feedReader, 0, len(old))
	for _, x := range old {
		if x != r {
			next = append(next, x)
		}
	}
	f.readers.Store(&next)
}

// feedReader is one SRT reader's position in a feed. Its methods are called
// from the reader's goroutine only.
type feedReader struct {
	f      *tsFeed
	wakeCh chan struct{}

	cursor      uint64 // sequence number of the next entry to send
	waitKey     bool   // skip entries until a key entry
	behindSince time.Time
	batch       []*tsEntry
	skipped     uint64 // entries skipped by the slow-reader policy
}

func (r *feedReader) wake() {
	select {
	case r.wakeCh <- struct{}{}:
	default:
	}
}

// next blocks until entries are available and returns them, oldest first
// (the slice is reused by the next call). It returns errFeedEnded once the
// feed has ended and everything is delivered, errTooSlow after slowTimeout
// behind, or ctx.Err().
func (r *feedReader) next(ctx context.Context) ([]*tsEntry, error) {
	for {
		// Read ended before collecting: the feed pushes its last entries
		// before it ends, so none can be missed.
		ended := r.f.ended.Load()
		batch, err := r.collect(time.Now())
		if err != nil || len(batch) > 0 {
			return batch, err
		}
		if ended {
			return nil, errFeedEnded
		}
		select {
		case <-r.wakeCh:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// collect returns the entries available now, applying the slow-reader
// policy (see hub.Reader, which it mirrors).
func (r *feedReader) collect(now time.Time) ([]*tsEntry, error) {
	f := r.f
	head := f.head.Load()
	r.batch = r.batch[:0]
	if r.cursor >= head {
		return r.batch, nil
	}
	oldest := f.entry(r.cursor)
	newest := f.entry(head - 1)
	behind := oldest == nil || (newest != nil && newest.dts-oldest.dts > f.opts.maxLag)
	if behind {
		if r.behindSince.IsZero() {
			r.behindSince = now
		} else if now.Sub(r.behindSince) > f.opts.slowTimeout {
			return nil, errTooSlow
		}
		if k := f.lastKey.Load(); k > 0 && k-1 > r.cursor && f.entry(k-1) != nil {
			r.skipped += k - 1 - r.cursor
			r.cursor = k - 1
		} else if oldest == nil {
			// Lapped with no key entry to land on: wait for the next.
			r.skipped += head - r.cursor
			r.cursor = head
			r.waitKey = true
			return r.batch, nil
		}
	} else {
		r.behindSince = time.Time{}
	}
	for ; r.cursor < head; r.cursor++ {
		e := f.entry(r.cursor)
		if e == nil {
			break // overwritten while we read: resynchronise next call
		}
		if r.waitKey {
			if !e.key {
				r.skipped++
				continue
			}
			r.waitKey = false
		}
		r.batch = append(r.batch, e)
	}
	return r.batch, nil
}

// sendFunc writes one SRT payload (at most tsChunk bytes).
type sendFunc func(ctx context.Context, b []byte) error

// serve sends the feed to one reader until an error: each entry goes out in
// payloads of tsChunk bytes, slices of the shared entry bytes. sent, if
// set, is told the size of each payload written.
func (r *feedReader) serve(ctx context.Context, send sendFunc, sent func(n int)) error {
	for {
		batch, err := r.next(ctx)
		if err != nil {
			return err
		}
		for _, e := range batch {
			for b := e.b; len(b) > 0; {
				n := min(len(b), tsChunk)
				if err := send(ctx, b[:n]); err != nil {
					return err
				}
				if sent != nil {
					sent(n)
				}
				b = b[n:]
			}
		}
	}
}
