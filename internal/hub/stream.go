// Package hub fans one publisher's frames out to many readers.
//
// A Stream keeps the recent frames in a fixed ring shared by every reader:
// the publisher's Write stores one pointer and nudges waiting readers with a
// non-blocking send, so it never blocks and never copies media per reader.
// Each reader walks the ring at its own pace from its own goroutine. The ring
// doubles as the GOP cache: a new reader starts at the newest keyframe. A
// reader that falls too far behind skips forward to the newest keyframe
// (counted as a drop); one that stays behind is told to disconnect
// (ErrTooSlow), like a NATS slow consumer.
package hub

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/huabian-live/huabian/internal/media"
)

// Errors returned by Reader.Next.
var (
	// ErrEnded means the stream ended (publisher gone past the grace window,
	// or the stream was taken down). Frames already delivered are complete.
	ErrEnded = errors.New("stream ended")
	// ErrTooSlow means the reader stayed behind for longer than Options.SlowTimeout.
	ErrTooSlow = errors.New("reader too slow")
	// ErrReaderClosed means Close was called on the reader.
	ErrReaderClosed = errors.New("reader closed")
)

// Options tune a Stream. Zero values take the documented defaults.
type Options struct {
	// RingSize is the most frames kept (rounded up to a power of two). It
	// bounds the GOP cache and every reader's backlog. Default 2048 (about
	// 26 s of 30 fps video with AAC audio: a whole GOP still fits for
	// keyframe intervals up to ~20 s). Frames are released earlier, once
	// they are both older than the newest keyframe and more than MaxLag
	// behind the newest frame: no reader can be served them any more (a
	// reader that far behind skips to the newest keyframe), so a stream
	// holds about max(MaxLag, one GOP) of media rather than RingSize frames.
	RingSize int
	// MaxLag is how far (in media time) a reader may be behind the newest
	// frame before it skips forward to the newest keyframe. Default 3 s.
	MaxLag time.Duration
	// SlowTimeout is how long a reader may remain behind by more than MaxLag
	// before Next returns ErrTooSlow. Default 10 s.
	SlowTimeout time.Duration
	// Prepare, when set, is called by Write for each frame after the hub has
	// rebased its timestamps and before any reader can see it; it fills the
	// frame's shared wire forms (FLV tag, RTMP chunks) exactly once.
	Prepare func(*media.Frame)
	// WakeInterval batches reader wake-ups: parked readers are woken for a
	// video frame only if this long has passed since the last wake-up (or
	// the frame is a keyframe); frames in between are delivered with the
	// next wake-up. Each wake-up costs every viewer a goroutine switch and
	// a write syscall, so a window of about two frame intervals halves that
	// work at the price of up to one frame interval of extra latency.
	// 0 wakes readers on every video frame.
	WakeInterval time.Duration
	// Totals, when set, also receives this stream's drop and slow-reader
	// counts, so process-wide counters survive the stream.
	Totals *Totals
}

// Totals are process-wide counters shared by all streams of a hub.
type Totals struct {
	Drops       atomic.Uint64
	SlowReaders atomic.Uint64
}

func (o *Options) setDefaults() {
	if o.RingSize <= 0 {
		o.RingSize = 2048
	}
	n := 1
	for n < o.RingSize {
		n <<= 1
	}
	o.RingSize = n
	if o.MaxLag <= 0 {
		o.MaxLag = 3 * time.Second
	}
	if o.SlowTimeout <= 0 {
		o.SlowTimeout = 10 * time.Second
	}
}

// Counters are cumulative per-stream statistics, safe to read at any time.
type Counters struct {
	FramesIn      atomic.Uint64
	BytesIn       atomic.Uint64
	Drops         atomic.Uint64 // frames skipped by readers that fell behind
	SlowReaders   atomic.Uint64 // readers disconnected as too slow
	KeyframesIn   atomic.Uint64
	LastKeyPeriod atomic.Int64 // media time between the last two keyframes (ns)
}

// Stream is one live channel: one publisher (at a time), many readers.
type Stream struct {
	name string
	opts Options
	mask uint64

	ring []atomic.Pointer[media.Frame]
	// head is the sequence number the next frame will get; frames
	// [head-len(ring), head) may be in the ring.
	head atomic.Uint64
	// lastKey is 1 + the sequence number of the newest video keyframe (or of
	// the newest frame for audio-only streams); 0 means none yet.
	lastKey atomic.Uint64
	readers atomic.Pointer[[]*Reader]
	ended   atomic.Bool
	tracks  atomic.Pointer[media.Tracks]

	Counters Counters

	// mu guards the reader set changes and the timestamp state below.
	mu sync.Mutex
	// Timestamps of consecutive publish sessions are rebased so that output
	// time keeps increasing across a publisher reconnect.
	offset       time.Duration // added to incoming DTS/PTS
	lastDTS      time.Duration // newest output DTS over all tracks
	lastVideoDTS time.Duration
	lastAudioDTS time.Duration
	rebaseNext   bool // next frame starts a new publish session
	wroteAny     bool
	wroteVideo   bool
	wroteAudio   bool
	hasVideo     bool
	lastKeyDTS   time.Duration // written only by Write (single goroutine)
	tail         uint64        // oldest sequence number not yet released; written only by Write
	lastWake     time.Time     // written only by Write
	rates        rates
	endedNotify  chan struct{}

	viewers viewerSet
}

// NewStream returns an empty stream called name.
func NewStream(name string, opts Options) *Stream {
	opts.setDefaults()
	s := &Stream{
		name:        name,
		opts:        opts,
		mask:        uint64(opts.RingSize - 1),
		ring:        make([]atomic.Pointer[media.Frame], opts.RingSize),
		endedNotify: make(chan struct{}),
	}
	empty := []*Reader{}
	s.readers.Store(&empty)
	return s
}

// Name returns the channel name.
func (s *Stream) Name() string { return s.name }

// Tracks returns the current tracks, or nil before the first frame.
func (s *Stream) Tracks() *media.Tracks { return s.tracks.Load() }

// Ended reports whether the stream has ended.
func (s *Stream) Ended() bool { return s.ended.Load() }

// Done is closed when the stream ends.
func (s *Stream) Done() <-chan struct{} { return s.endedNotify }

// ReaderCount returns the number of attached readers.
func (s *Stream) ReaderCount() int { return len(*s.readers.Load()) }

// NewSession marks the start of a new publish session: the next frame's
// timestamps are rebased to continue just after the last frame written, so
// readers see one continuous timeline across a publisher reconnect.
func (s *Stream) NewSession() {
	s.mu.Lock()
	s.rebaseNext = s.wroteAny
	s.mu.Unlock()
}

// Write appends f. It must be called from one goroutine at a time (the
// publisher's). It never blocks on readers and does O(1) work per reader:
// one non-blocking channel send, and only for video frames (audio frames
// ride along with the next video wake-up) or audio-only streams.
func (s *Stream) Write(f *media.Frame) {
	if s.ended.Load() {
		return
	}
	s.mu.Lock()
	if s.rebaseNext {
		// Continue one frame duration (~33 ms) after the previous session.
		s.offset = s.lastDTS + 33*time.Millisecond - f.DTS
		s.rebaseNext = false
	}
	f.DTS += s.offset
	f.PTS += s.offset
	// Keep each track's output timeline monotonic: one backwards frame must
	// not break every muxer downstream.
	if f.Video {
		if s.wroteVideo && f.DTS < s.lastVideoDTS {
			shift := s.lastVideoDTS - f.DTS
			f.DTS += shift
			f.PTS += shift
		}
		s.lastVideoDTS, s.wroteVideo, s.hasVideo = f.DTS, true, true
	} else if !f.FLVOnly { // a rendition lags the source by its encoder delay
		if s.wroteAudio && f.DTS < s.lastAudioDTS {
			shift := s.lastAudioDTS - f.DTS
			f.DTS += shift
			f.PTS += shift
		}
		s.lastAudioDTS, s.wroteAudio = f.DTS, true
	}
	if f.DTS > s.lastDTS || !s.wroteAny {
		s.lastDTS = f.DTS
	}
	s.wroteAny = true
	hasVideo := s.hasVideo
	if f.Received.IsZero() {
		f.Received = time.Now()
	}
	if !f.FLVOnly { // the ingest rate is the publisher's, not a rendition's
		s.rates.add(f.Received, f.Size(), f.Video)
	}
	s.mu.Unlock()

	if f.Tracks != nil && f.Tracks != s.tracks.Load() {
		s.tracks.Store(f.Tracks)
	}
	seq := s.head.Load()
	f.Seq = seq
	if s.opts.Prepare != nil {
		s.opts.Prepare(f)
	}
	s.ring[seq&s.mask].Store(f)
	s.head.Store(seq + 1)

	s.Counters.FramesIn.Add(1)
	s.Counters.BytesIn.Add(uint64(f.Size()))
	isKey := f.Key && (f.Video || !hasVideo)
	if isKey {
		if f.Video {
			s.Counters.KeyframesIn.Add(1)
			if s.lastKeyDTS != 0 {
				s.Counters.LastKeyPeriod.Store(int64(f.DTS - s.lastKeyDTS))
			}
			s.lastKeyDTS = f.DTS
		}
		s.lastKey.Store(seq + 1)
	}
	s.release(f)
	if f.Video || !hasVideo {
		batch := isKey || f.Received.Sub(s.lastWake) >= s.opts.WakeInterval
		if batch {
			s.lastWake = f.Received
		}
		for _, r := range *s.readers.Load() {
			if batch || r.unbatched {
				r.wake()
			}
		}
	}
}

// release clears the ring slots no reader can be served any more, so that
// their frames can be collected long before the ring wraps: those older than
// the newest keyframe (the GOP cache start) and more than MaxLag behind
// newest. A reader positioned on a released slot finds it empty, which
// collect already treats as lapped: it skips to the newest keyframe, exactly
// as the MaxLag check would have made it do. Called by Write after storing
// newest; amortised O(1).
func (s *Stream) release(newest *media.Frame) {
	key := s.lastKey.Load() // 1 + sequence number of the newest keyframe
	if key == 0 {
		return
	}
	if head := s.head.Load(); head-s.tail > uint64(len(s.ring)) {
		s.tail = head - uint64(len(s.ring)) // older slots were overwritten
	}
	for s.tail < key-1 {
		slot := &s.ring[s.tail&s.mask]
		f := slot.Load()
		if f != nil && f.Seq == s.tail {
			if newest.DTS-f.DTS <= s.opts.MaxLag {
				return
			}
			slot.CompareAndSwap(f, nil)
		}
		s.tail++
	}
}

// End ends the stream: readers drain what they have and then get ErrEnded.
func (s *Stream) End() {
	if s.ended.Swap(true) {
		return
	}
	close(s.endedNotify)
	for _, r := range *s.readers.Load() {
		r.wake()
	}
}

// frame returns the frame with sequence number seq, or nil if it has been
// overwritten (or not written yet).
func (s *Stream) frame(seq uint64) *media.Frame {
	f := s.ring[seq&s.mask].Load()
	if f == nil || f.Seq != seq {
		return nil
	}
	return f
}

// Subscribe attaches a reader that starts at the newest keyframe (the GOP
// cache), or at the next frame if no keyframe has been seen yet. Its
// wake-ups are batched by Options.WakeInterval.
func (s *Stream) Subscribe() *Reader { return s.subscribe(false) }

// SubscribeUnbatched is Subscribe for a reader woken on every video frame
// regardless of WakeInterval: a muxer feeding many viewers (one LL-HLS
// packager per stream) where a frame of delay would reach all of them.
func (s *Stream) SubscribeUnbatched() *Reader { return s.subscribe(true) }

func (s *Stream) subscribe(unbatched bool) *Reader {
	r := &Reader{
		s:         s,
		wakeCh:    make(chan struct{}, 1),
		closed:    make(chan struct{}),
		unbatched: unbatched,
	}
	s.mu.Lock()
	old := *s.readers.Load()
	next := make([]*Reader, len(old), len(old)+1)
	copy(next, old)
	next = append(next, r)
	s.readers.Store(&next)
	// Position under mu so a concurrent Write cannot slip between choosing
	// the start and registering for wake-ups in a way that loses frames.
	if k := s.lastKey.Load(); k > 0 && s.frame(k-1) != nil {
		r.cursor = k - 1
	} else {
		r.cursor = s.head.Load()
		r.waitKey = true
	}
	s.mu.Unlock()
	r.wake()
	return r
}

func (s *Stream) unsubscribe(r *Reader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.readers.Load()
	next := make([]*Reader, 0, len(old))
	for _, x := range old {
		if x != r {
			next = append(next, x)
		}
	}
	s.readers.Store(&next)
}
