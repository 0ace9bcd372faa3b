package chat

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// userLimiter is a token bucket per user. Buckets that have refilled are
// forgotten at most once a minute, so the map holds only recent writers.
type userLimiter struct {
	limit rate.Limit
	burst int

	// mu guards the fields below it.
	mu        sync.Mutex
	buckets   map[int64]*rate.Limiter
	lastSweep time.Time
}

func newUserLimiter(burst int, per time.Duration) *userLimiter {
	return &userLimiter{
		limit:   rate.Limit(float64(burst) / per.Seconds()),
		burst:   burst,
		buckets: make(map[int64]*rate.Limiter),
	}
}

func (l *userLimiter) allow(userID int64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		l.lastSweep = now
		for id, b := range l.buckets {
			if b.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, id)
			}
		}
	}
	b := l.buckets[userID]
	if b == nil {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[userID] = b
	}
	return b.AllowN(now, 1)
}
