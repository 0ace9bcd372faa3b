package channel

import (
	"context"
	"fmt"
)

// Follow makes userID follow (follow=true) or stop following the channel
// called name, and returns its follower count afterwards. Disabled
// channels cannot be followed (ErrNotFound).
func (s *Service) Follow(ctx context.Context, userID int64, name string, follow bool) (followers int, err error) {
	rec, err := s.Record(ctx, name, userID)
	if err != nil {
		return 0, err
	}
	if rec.Disabled && follow {
		return 0, fmt.Errorf("follow channel %q: %w", name, ErrNotFound)
	}
	return s.st.SetFollow(ctx, userID, rec.ID, follow)
}
