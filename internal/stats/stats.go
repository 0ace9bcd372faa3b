// Package stats measures what viewers and publishers do: viewer sessions on
// every playback protocol (for the "most viewed in 24 hours" ranking), one
// health sample per second of each live stream (kept in memory for ten
// minutes), and a history of broadcasts with their viewer curves.
//
// The playback servers report viewer sessions through ViewerStarted, which
// only touches memory; Run persists them in batches, so a viewer's connect
// never waits for the database. Sessions shorter than Options.MinSession
// are never stored and so never counted: a player probing a stream or a
// page opened and left at once is not a viewer.
package stats

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/store"
)

// Store is what the package needs from the database (sqlstore.Store).
type Store interface {
	StatsSecret(ctx context.Context, generate func() []byte) ([]byte, error)
	InsertViewerSessions(ctx context.Context, sessions []*store.ViewerSession) error
	EndViewerSessions(ctx context.Context, ends map[int64]time.Time) error
	CloseOpenViewerSessions(ctx context.Context, minDuration time.Duration) (int64, error)
	PruneViewerSessions(ctx context.Context, before time.Time) (int64, error)
	TopChannelsByViewers(ctx context.Context, since, until time.Time, limit int) ([]store.ChannelViewers, error)
	StartBroadcast(ctx context.Context, channel string, at time.Time) (int64, error)
	UpdateBroadcasts(ctx context.Context, updates []store.BroadcastUpdate, samples map[int64]store.ViewerSample) error
	CloseOpenBroadcasts(ctx context.Context) (int64, error)
	ChannelBroadcasts(ctx context.Context, channel string, limit int) ([]store.Broadcast, error)
	BroadcastByID(ctx context.Context, id int64) (store.Broadcast, error)
	BroadcastSamples(ctx context.Context, id int64) ([]store.ViewerSample, error)
}

// Defaults of Options.
const (
	DefaultSampleInterval    = time.Second
	DefaultViewerSampleEvery = 10 // samples: a viewer point every 10 s
	DefaultMinSession        = 5 * time.Second
	DefaultRankingWindow     = 24 * time.Hour
	DefaultSessionRetention  = 48 * time.Hour
	DefaultHealthWindow      = 10 * time.Minute
	DefaultRankingCacheTTL   = 30 * time.Second
	// MaxRankingLimit is the most channels a ranking returns.
	MaxRankingLimit = 100
	pruneEvery      = time.Hour
)

// Options configure a Service. Zero values take the defaults above.
type Options struct {
	Store Store
	// Streams lists the hub's streams (hub.Hub.List).
	Streams func() []hub.Status
	Log     *slog.Logger
	// Now is the clock (tests move it); default time.Now.
	Now func() time.Time

	SampleInterval    time.Duration // health sampling period
	ViewerSampleEvery int           // health samples per persisted viewer sample
	MinSession        time.Duration // shorter viewer sessions are not counted
	RankingWindow     time.Duration
	SessionRetention  time.Duration // sessions are deleted this long after they end
	HealthWindow      time.Duration // health samples kept in memory
	RankingCacheTTL   time.Duration
}

// Service collects and serves the statistics. Its methods are safe for
// concurrent use; Run owns the only goroutine.
type Service struct {
	opts   Options
	st     Store
	log    *slog.Logger
	now    func() time.Time
	secret []byte

	// mu guards the fields below. Viewer connects and disconnects take it
	// once each; the sampler once per tick.
	mu         sync.Mutex
	open       map[*viewerSession]struct{}
	ended      []*viewerSession      // waiting for the next flush
	viewers    map[string]int        // open sessions per channel
	live       map[string]*broadcast // open broadcast per channel
	endedBC    []*broadcast          // ended, waiting for the final update
	health     map[string]*healthRing
	rankings   []store.ChannelViewers // cached ranking (MaxRankingLimit long)
	rankedAt   time.Time
	rankingsOK bool

	// flushMu serialises Flush (Run's ticks and direct calls), so that a
	// broadcast or session is never stored twice.
	flushMu sync.Mutex

	// Run's state (its goroutine only).
	ticks     int
	lastPrune time.Time
}

type viewerSession struct {
	rec    store.ViewerSession // ID is written under Service.mu
	bc     *broadcast          // the broadcast it started in (nil: none)
	stored bool                // handed to the store (counted)
	done   bool
}

type broadcast struct {
	id      int64 // 0 until stored; -1 when the channel is unknown to the store
	channel string
	started time.Time
	ended   time.Time
	peak    int
	uniques map[string]struct{} // viewer hashes of counted sessions
}

// New loads (or creates) the viewer-hash key and returns a Service. Call
// Run to start sampling and persisting.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.Store == nil || opts.Streams == nil {
		return nil, errors.New("stats: Store and Streams are required")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.SampleInterval, DefaultSampleInterval)
	def(&opts.MinSession, DefaultMinSession)
	def(&opts.RankingWindow, DefaultRankingWindow)
	def(&opts.SessionRetention, DefaultSessionRetention)
	def(&opts.HealthWindow, DefaultHealthWindow)
	def(&opts.RankingCacheTTL, DefaultRankingCacheTTL)
	if opts.ViewerSampleEvery <= 0 {
		opts.ViewerSampleEvery = DefaultViewerSampleEvery
	}
	secret, err := opts.Store.StatsSecret(ctx, func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥1.24)
		return b
	})
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return &Service{
		opts:    opts,
		st:      opts.Store,
		log:     opts.Log.With("component", "stats"),
		now:     opts.Now,
		secret:  secret,
		open:    map[*viewerSession]struct{}{},
		viewers: map[string]int{},
		live:    map[string]*broadcast{},
		health:  map[string]*healthRing{},
	}, nil
}

// ValidViewerID reports whether vid is a player-chosen viewer id:
// 8 to 64 of [A-Za-z0-9_-].
func ValidViewerID(vid string) bool {
	if len(vid) < 8 || len(vid) > 64 {
		return false
	}
	for i := 0; i < len(vid); i++ {
		c := vid[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// viewerHash is the keyed hash of a viewer's identity: the player's id when
// it sent a valid one, else its address and User-Agent. Only this is kept.
func (s *Service) viewerHash(vid, remote, userAgent string) []byte {
	m := hmac.New(sha256.New, s.secret)
	if ValidViewerID(vid) {
		m.Write([]byte("vid\x00"))
		m.Write([]byte(vid))
	} else {
		if len(userAgent) > 512 {
			userAgent = userAgent[:512]
		}
		m.Write([]byte("addr\x00"))
		m.Write([]byte(remote))
		m.Write([]byte{0})
		m.Write([]byte(userAgent))
	}
	return m.Sum(nil)[:16]
}

// ViewerStarted records the start of a viewer session of channel over
// protocol and returns the function that records its end (idempotent).
// vid is the player's "vid" query parameter (ignored unless valid), remote
// the client's IP address. It only touches memory: the playback servers
// call it at connect and disconnect (Service implements their
// ViewerSessions interfaces: httpflv, llhls and rtmp Options.Sessions).
func (s *Service) ViewerStarted(channel, protocol, vid, remote, userAgent string) (end func()) {
	v := &viewerSession{rec: store.ViewerSession{
		Channel:    channel,
		Protocol:   protocol,
		ViewerHash: s.viewerHash(vid, remote, userAgent),
		StartedAt:  s.now(),
	}}
	s.mu.Lock()
	v.bc = s.live[channel]
	s.open[v] = struct{}{}
	s.viewers[channel]++
	s.mu.Unlock()
	return func() { s.endSession(v) }
}

// Viewers returns the current number of viewer sessions of channel over
// every protocol.
func (s *Service) Viewers(channel string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewers[channel]
}

// OnLive records a channel going live or ending; the app calls it from the
// hub's OnLive hook. A publisher reconnecting within the grace window
// continues the running broadcast. It only touches memory.
func (s *Service) OnLive(channel string, live bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.live[channel]
	switch {
	case live && b == nil:
		s.live[channel] = &broadcast{channel: channel, started: now, uniques: map[string]struct{}{}}
	case !live && b != nil:
		delete(s.live, channel)
		b.ended = now
		s.endedBC = append(s.endedBC, b)
	}
}

// Run samples every live stream each SampleInterval and persists sessions
// and broadcasts until ctx ends; then it ends what is still open, stores
// it and returns.
func (s *Service) Run(ctx context.Context) error {
	if n, err := s.st.CloseOpenViewerSessions(ctx, s.opts.MinSession); err != nil {
		s.log.Warn("closing viewer sessions of the previous run", "err", err)
	} else if n > 0 {
		s.log.Info("closed viewer sessions of the previous run", "count", n)
	}
	if _, err := s.st.CloseOpenBroadcasts(ctx); err != nil {
		s.log.Warn("closing broadcasts of the previous run", "err", err)
	}
	t := time.NewTicker(s.opts.SampleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.shutdown()
		case <-t.C:
			s.tick(ctx)
		}
	}
}

// tick is one sampling period of Run.
func (s *Service) tick(ctx context.Context) {
	s.ticks++
	viewerSample := s.ticks%s.opts.ViewerSampleEvery == 0
	s.sample()
	if err := s.Flush(ctx, viewerSample); err != nil && ctx.Err() == nil {
		s.log.Warn("storing statistics", "err", err)
	}
	if now := s.now(); now.Sub(s.lastPrune) >= pruneEvery {
		s.lastPrune = now
		if _, err := s.st.PruneViewerSessions(ctx, now.Add(-s.opts.SessionRetention)); err != nil && ctx.Err() == nil {
			s.log.Warn("pruning viewer sessions", "err", err)
		}
	}
}

// shutdown ends every open session and broadcast and stores them.
func (s *Service) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.mu.Lock()
	open := make([]*viewerSession, 0, len(s.open))
	for v := range s.open {
		open = append(open, v)
	}
	live := make([]string, 0, len(s.live))
	for name := range s.live {
		live = append(live, name)
	}
	s.mu.Unlock()
	for _, v := range open {
		s.endSession(v)
	}
	for _, name := range live {
		s.OnLive(name, false)
	}
	if err := s.Flush(ctx, false); err != nil {
		return fmt.Errorf("stats: store on shutdown: %w", err)
	}
	return nil
}

// endSession records the end of v (once).
func (s *Service) endSession(v *viewerSession) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.done {
		return
	}
	delete(s.open, v)
	if s.viewers[v.rec.Channel]--; s.viewers[v.rec.Channel] <= 0 {
		delete(s.viewers, v.rec.Channel)
	}
	v.rec.EndedAt, v.done = now, true
	if v.stored || now.Sub(v.rec.StartedAt) >= s.opts.MinSession {
		s.ended = append(s.ended, v)
	}
}

// Flush stores the sessions that reached MinSession, the ends of stored
// sessions and the state of broadcasts (with a viewer sample of each live
// one when withSamples). Run calls it every tick.
func (s *Service) Flush(ctx context.Context, withSamples bool) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	now := s.now()
	s.mu.Lock()
	var inserts []*store.ViewerSession
	var insertOf []*viewerSession
	ends := map[int64]time.Time{}
	count := func(v *viewerSession) {
		v.stored = true
		rec := v.rec
		inserts = append(inserts, &rec)
		insertOf = append(insertOf, v)
		// The broadcast it started in, even if that ended since (its
		// final update below comes after this count).
		b := v.bc
		if b == nil {
			b = s.live[v.rec.Channel]
		}
		if b != nil {
			b.uniques[string(v.rec.ViewerHash)] = struct{}{}
		}
	}
	for v := range s.open {
		if !v.stored && now.Sub(v.rec.StartedAt) >= s.opts.MinSession {
			count(v)
		}
	}
	var pending []*viewerSession
	for _, v := range s.ended {
		switch {
		case !v.stored:
			count(v)
		case v.rec.ID > 0:
			ends[v.rec.ID] = v.rec.EndedAt
		case v.rec.ID == 0:
			pending = append(pending, v) // its insert has not come back yet
		}
	}
	s.ended = pending
	var starts []*broadcast
	for _, b := range s.live {
		if b.id == 0 {
			starts = append(starts, b)
		}
	}
	// Broadcasts that ended before this point get their final update in
	// this flush, after the sessions counted above; ones ending from now
	// on wait for the next flush, which counts their last sessions first.
	finals := s.endedBC
	s.endedBC = nil
	for _, b := range finals {
		if b.id == 0 {
			starts = append(starts, b)
		}
	}
	s.mu.Unlock()

	var errs []error
	if err := s.st.InsertViewerSessions(ctx, inserts); err != nil {
		errs = append(errs, err)
	}
	s.mu.Lock()
	for i, v := range insertOf {
		if inserts[i].ID == 0 {
			inserts[i].ID = -1 // not stored: nothing to end later
		}
		v.rec.ID = inserts[i].ID
		if v.done && v.rec.ID > 0 && !v.rec.EndedAt.IsZero() && inserts[i].EndedAt.IsZero() {
			ends[v.rec.ID] = v.rec.EndedAt // ended while it was being stored
		}
	}
	s.mu.Unlock()
	if err := s.st.EndViewerSessions(ctx, ends); err != nil {
		errs = append(errs, err)
	}

	for _, b := range starts {
		id, err := s.st.StartBroadcast(ctx, b.channel, b.started)
		if errors.Is(err, store.ErrNotFound) {
			id = -1
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		s.mu.Lock()
		b.id = id
		s.mu.Unlock()
	}

	s.mu.Lock()
	var updates []store.BroadcastUpdate
	samples := map[int64]store.ViewerSample{}
	for _, b := range s.live {
		if b.id > 0 && withSamples {
			updates = append(updates, store.BroadcastUpdate{ID: b.id, PeakViewers: b.peak, UniqueViewers: len(b.uniques)})
			samples[b.id] = store.ViewerSample{At: now, Viewers: s.viewers[b.channel]}
		}
	}
	for _, b := range finals {
		switch {
		case b.id > 0:
			updates = append(updates, store.BroadcastUpdate{ID: b.id, PeakViewers: b.peak, UniqueViewers: len(b.uniques), EndedAt: b.ended})
			// The chart's last point: the viewers left when it ended.
			samples[b.id] = store.ViewerSample{At: b.ended, Viewers: s.viewers[b.channel]}
		case b.id == 0:
			s.endedBC = append(s.endedBC, b) // retry the start next time
		}
	}
	s.mu.Unlock()
	if err := s.st.UpdateBroadcasts(ctx, updates, samples); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
