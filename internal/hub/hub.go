package hub

import (
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/huabian-live/huabian/internal/media"
)

// Errors returned by Hub.Publish and carried by Publisher.Err.
var (
	// ErrBusy refuses a second publisher while the first is alive.
	ErrBusy = errors.New("stream busy")
	// ErrTakenOver ends a publisher that went silent when a new one arrived.
	ErrTakenOver = errors.New("taken over by a new publisher")
	// ErrKicked ends a publisher by operator action or key rotation.
	ErrKicked = errors.New("publish ended by the server")
	// ErrHubClosed is returned once the hub is shutting down.
	ErrHubClosed = errors.New("server shutting down")
)

// HubOptions tune a Hub. Zero values take the documented defaults.
type HubOptions struct {
	Stream Options
	// Grace is how long a stream outlives its publisher so that a reconnect
	// keeps viewers attached. Default 30 s.
	Grace time.Duration
	// DeadAfter is how long a publisher may send nothing before a newcomer
	// may take its place. Default 5 s.
	DeadAfter time.Duration
	// OnLive, if set, is called (outside the hub's lock, possibly from a
	// timer goroutine) when a channel goes live or its stream ends.
	OnLive func(name string, live bool)
}

// PublishInfo describes a publish session (for status and logs).
type PublishInfo struct {
	Protocol string // "rtmp", …
	Remote   string
	// KeyCheck, when set, reports whether the credentials this publisher
	// used are still valid; the owner of the hub polls it to end publishes
	// made with a rotated key.
	KeyCheck func() bool
}

// Hub is the registry of live streams, keyed by channel name.
type Hub struct {
	opts HubOptions

	mu      sync.Mutex
	entries map[string]*entry
	closed  bool

	Publishes atomic.Uint64 // accepted publish sessions
	Totals    Totals
}

type entry struct {
	stream    *Stream
	pub       *Publisher // nil while in the grace window
	graceEnds *time.Timer
	startedAt time.Time
}

// New returns an empty hub.
func New(opts HubOptions) *Hub {
	if opts.Grace <= 0 {
		opts.Grace = 30 * time.Second
	}
	if opts.DeadAfter <= 0 {
		opts.DeadAfter = 5 * time.Second
	}
	h := &Hub{opts: opts, entries: map[string]*entry{}}
	h.opts.Stream.Totals = &h.Totals
	return h
}

// Publisher is the write side of one publish session.
type Publisher struct {
	h       *Hub
	name    string
	stream  *Stream
	info    PublishInfo
	started time.Time

	lastWrite atomic.Int64 // unix nanos
	bFrames   atomic.Bool  // a video frame with PTS != DTS was written
	done      chan struct{}
	errOnce   sync.Once
	err       error
	closeOnce sync.Once
}

// Publish starts a publish session on channel name. If another publisher is
// live and has written within DeadAfter, it returns ErrBusy; a silent one is
// ended with ErrTakenOver. A stream in its grace window is resumed, so its
// readers stay attached.
func (h *Hub) Publish(name string, info PublishInfo) (*Publisher, error) {
	p, err := h.publish(name, info)
	if err == nil && h.opts.OnLive != nil {
		h.opts.OnLive(name, true)
	}
	return p, err
}

func (h *Hub) publish(name string, info PublishInfo) (*Publisher, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	e := h.entries[name]
	if e != nil && e.pub != nil {
		if time.Since(time.Unix(0, e.pub.lastWrite.Load())) < h.opts.DeadAfter {
			return nil, ErrBusy
		}
		old := e.pub
		e.pub = nil
		old.end(ErrTakenOver)
	}
	if e == nil || e.stream.Ended() {
		e = &entry{stream: NewStream(name, h.opts.Stream)}
		h.entries[name] = e
	}
	if e.graceEnds != nil {
		e.graceEnds.Stop()
		e.graceEnds = nil
	}
	e.stream.NewSession()
	p := &Publisher{h: h, name: name, stream: e.stream, info: info, started: time.Now(), done: make(chan struct{})}
	p.lastWrite.Store(time.Now().UnixNano())
	e.pub = p
	e.startedAt = p.started
	h.Publishes.Add(1)
	return p, nil
}

// Write hands f to the stream. Only the publishing goroutine calls it.
func (p *Publisher) Write(f *media.Frame) {
	select {
	case <-p.done:
		return
	default:
	}
	p.lastWrite.Store(time.Now().UnixNano())
	// WebRTC players cannot decode reordered frames; the API reports it.
	if f.Video && f.PTS != f.DTS && !p.bFrames.Load() {
		p.bFrames.Store(true)
	}
	p.stream.Write(f)
}

// Stream returns the stream being published.
func (p *Publisher) Stream() *Stream { return p.stream }

// Info returns what the publisher said about itself.
func (p *Publisher) Info() PublishInfo { return p.info }

// StartedAt returns when this publish session began.
func (p *Publisher) StartedAt() time.Time { return p.started }

// Done is closed when the server ends this publish (takeover, kick,
// shutdown). The ingest then closes the connection.
func (p *Publisher) Done() <-chan struct{} { return p.done }

// Err says why Done was closed.
func (p *Publisher) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

func (p *Publisher) end(err error) {
	p.errOnce.Do(func() {
		p.err = err
		close(p.done)
	})
}

// Close ends the publish session from the publisher's side (disconnect).
// The stream stays for the grace window, then ends.
func (p *Publisher) Close() {
	p.closeOnce.Do(func() {
		p.end(ErrKicked)
		h := p.h
		h.mu.Lock()
		defer h.mu.Unlock()
		e := h.entries[p.name]
		if e == nil || e.pub != p {
			return // already replaced or removed
		}
		e.pub = nil
		if h.closed {
			e.stream.End()
			delete(h.entries, p.name)
			return
		}
		stream := e.stream
		e.graceEnds = time.AfterFunc(h.opts.Grace, func() {
			h.mu.Lock()
			ended := h.entries[p.name] == e && e.pub == nil
			if ended {
				delete(h.entries, p.name)
			}
			h.mu.Unlock()
			if ended {
				stream.End()
				if h.opts.OnLive != nil {
					h.opts.OnLive(p.name, false)
				}
			}
		})
	})
}

// Stream returns the stream for name if it has a live publisher, else nil.
// Streams in their grace window are returned only if includeGrace is set.
func (h *Hub) Stream(name string, includeGrace bool) *Stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entries[name]
	if e == nil || (e.pub == nil && !includeGrace) {
		return nil
	}
	return e.stream
}

// Status is a snapshot of one stream for the API and metrics.
type Status struct {
	Name      string
	Live      bool // a publisher is attached (not in the grace window)
	StartedAt time.Time
	Protocol  string
	Stream    *Stream
	// BFrames is set when the live publish session has sent video frames
	// with PTS != DTS (B-frames), which WebRTC players cannot play.
	BFrames bool
}

// Lookup returns the status of name; ok=false when no stream exists.
func (h *Hub) Lookup(name string) (Status, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entries[name]
	if e == nil {
		return Status{}, false
	}
	return e.status(name), true
}

func (e *entry) status(name string) Status {
	st := Status{Name: name, Live: e.pub != nil, StartedAt: e.startedAt, Stream: e.stream}
	if e.pub != nil {
		st.Protocol = e.pub.info.Protocol
		st.BFrames = e.pub.bFrames.Load()
	}
	return st
}

// List returns the status of every stream, sorted by name.
func (h *Hub) List() []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Status, 0, len(h.entries))
	for name, e := range h.entries {
		out = append(out, e.status(name))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Kick ends the live publish of name (key rotated, channel deleted or taken
// down). With endStream the stream ends at once; otherwise it enters the
// grace window like a disconnect.
func (h *Hub) Kick(name string, endStream bool) {
	h.mu.Lock()
	e := h.entries[name]
	var pub *Publisher
	if e != nil {
		pub = e.pub
		if endStream {
			delete(h.entries, name)
			if e.graceEnds != nil {
				e.graceEnds.Stop()
			}
		}
	}
	h.mu.Unlock()
	if pub != nil {
		pub.end(ErrKicked)
		pub.Close()
	}
	if e != nil && endStream {
		e.stream.End()
		if h.opts.OnLive != nil {
			h.opts.OnLive(name, false)
		}
	}
}

// CheckKeys ends every publish whose KeyCheck now fails.
func (h *Hub) CheckKeys() {
	h.mu.Lock()
	var stale []string
	for name, e := range h.entries {
		if e.pub != nil && e.pub.info.KeyCheck != nil {
			stale = append(stale, name)
		}
	}
	pubs := make([]*Publisher, 0, len(stale))
	for _, n := range stale {
		pubs = append(pubs, h.entries[n].pub)
	}
	h.mu.Unlock()
	for _, p := range pubs {
		if !p.info.KeyCheck() {
			p.end(ErrKicked)
		}
	}
}

// Close ends every publisher and stream; later Publish calls fail.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	entries := h.entries
	h.entries = map[string]*entry{}
	h.mu.Unlock()
	for _, e := range entries {
		if e.graceEnds != nil {
			e.graceEnds.Stop()
		}
		if e.pub != nil {
			e.pub.end(ErrHubClosed)
		}
		e.stream.End()
	}
}
