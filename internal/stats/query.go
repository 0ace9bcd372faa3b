package stats

import (
	"context"
	"fmt"

	"github.com/huabian-live/huabian/internal/store"
)

// TopViewers returns up to limit channels ranked by unique viewers over the
// ranking window (24 h), most first. The full ranking is cached for
// RankingCacheTTL, so directory pages cost one query per period.
func (s *Service) TopViewers(ctx context.Context, limit int) ([]store.ChannelViewers, error) {
	limit = min(max(limit, 0), MaxRankingLimit)
	now := s.now()
	s.mu.Lock()
	if s.rankingsOK && now.Sub(s.rankedAt) < s.opts.RankingCacheTTL && !now.Before(s.rankedAt) {
		r := s.rankings
		s.mu.Unlock()
		return r[:min(limit, len(r))], nil
	}
	s.mu.Unlock()
	r, err := s.st.TopChannelsByViewers(ctx, now.Add(-s.opts.RankingWindow), now, MaxRankingLimit)
	if err != nil {
		return nil, fmt.Errorf("stats ranking: %w", err)
	}
	s.mu.Lock()
	s.rankings, s.rankedAt, s.rankingsOK = r, now, true
	s.mu.Unlock()
	return r[:min(limit, len(r))], nil
}

// Broadcasts returns the newest broadcasts of channel, newest first; a
// running one carries its current peak and unique viewers.
func (s *Service) Broadcasts(ctx context.Context, channel string, limit int) ([]store.Broadcast, error) {
	bs, err := s.st.ChannelBroadcasts(ctx, channel, limit)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.live[channel]; b != nil && b.id > 0 {
		for i := range bs {
			if bs[i].ID == b.id {
				bs[i].PeakViewers, bs[i].UniqueViewers = b.peak, len(b.uniques)
			}
		}
	}
	return bs, nil
}

// BroadcastViewers returns the viewer samples of broadcast id of channel;
// store.ErrNotFound if channel has no such broadcast.
func (s *Service) BroadcastViewers(ctx context.Context, channel string, id int64) ([]store.ViewerSample, error) {
	b, err := s.st.BroadcastByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	if b.Channel != channel {
		return nil, fmt.Errorf("stats: broadcast %d of %q: %w", id, channel, store.ErrNotFound)
	}
	smp, err := s.st.BroadcastSamples(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return smp, nil
}
