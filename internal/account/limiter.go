package account

import (
	"container/list"
	"sync"
	"time"
)

// maxLimiterKeys bounds the keys a failureLimiter remembers; beyond it the
// one that failed least recently is forgotten.
const maxLimiterKeys = 100_000

// failureLimiter counts failures per key (an account name or an IP
// address) over a sliding window and refuses a key that reached its limit
// until its oldest counted failure leaves the window. It uses the
// monotonic clock, so wall-clock steps neither lock people out nor lift a
// limit early. Safe for concurrent use; memory is bounded.
type failureLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	byKey map[string]*list.Element // values are *failureLog
	lru   list.List                // front: failed most recently
}

type failureLog struct {
	key   string
	times []time.Time // the last limit failures, oldest first
}

func newFailureLimiter(limit int, window time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{limit: limit, window: window, now: now, byKey: map[string]*list.Element{}}
}

// retryAfter returns 0 when key may try again, else how long until it may.
func (l *failureLimiter) retryAfter(key string) time.Duration {
	if l.limit <= 0 {
		return 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waitLocked(key, now)
}

func (l *failureLimiter) waitLocked(key string, now time.Time) time.Duration {
	e, ok := l.byKey[key]
	if !ok {
		return 0
	}
	times := e.Value.(*failureLog).times
	if len(times) < l.limit {
		return 0
	}
	oldest := times[len(times)-l.limit]
	if wait := l.window - now.Sub(oldest); wait > 0 {
		return wait
	}
	return 0
}

// attempt atomically checks key and, when it may try, counts the attempt
// as a failure in advance; a success gives it back with refund or reset.
// Counting first means concurrent attempts cannot all pass the check
// before any failure is recorded. It returns 0 when key may try, else how
// long until it may.
func (l *failureLimiter) attempt(key string) time.Duration {
	if l.limit <= 0 {
		return 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if wait := l.waitLocked(key, now); wait > 0 {
		return wait
	}
	l.failLocked(key, now)
	return 0
}

// refund takes back the latest failure of key (an attempt that succeeded).
func (l *failureLimiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byKey[key]
	if !ok {
		return
	}
	f := e.Value.(*failureLog)
	f.times = f.times[:len(f.times)-1]
	if len(f.times) == 0 {
		l.remove(e)
	}
}

func (l *failureLimiter) failLocked(key string, now time.Time) {
	l.expire(now)
	if e, ok := l.byKey[key]; ok {
		f := e.Value.(*failureLog)
		if len(f.times) >= l.limit {
			f.times = append(f.times[:0], f.times[len(f.times)-l.limit+1:]...)
		}
		f.times = append(f.times, now)
		l.lru.MoveToFront(e)
		return
	}
	if len(l.byKey) >= maxLimiterKeys {
		l.remove(l.lru.Back())
	}
	l.byKey[key] = l.lru.PushFront(&failureLog{key: key, times: []time.Time{now}})
}

// reset forgets the failures of key (after a success).
func (l *failureLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.byKey[key]; ok {
		l.remove(e)
	}
}

// expire forgets keys whose last failure left the window; they sit at the
// back of the list.
func (l *failureLimiter) expire(now time.Time) {
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		f := e.Value.(*failureLog)
		if now.Sub(f.times[len(f.times)-1]) < l.window {
			return
		}
		l.remove(e)
	}
}

func (l *failureLimiter) remove(e *list.Element) {
	delete(l.byKey, e.Value.(*failureLog).key)
	l.lru.Remove(e)
}
