package channel

import (
	"container/list"
	"sync"
	"time"
)

// maxLimiterEntries bounds the addresses a FailureLimiter remembers; beyond
// it the one that failed least recently is forgotten.
const maxLimiterEntries = 10_000

// limiterWindow is the span failures are counted over.
const limiterWindow = time.Minute

// FailureLimiter refuses publish attempts from an address that presented
// too many wrong stream keys in the last minute, against key guessing.
// Memory is bounded; it is safe for concurrent use. Pass IP addresses
// without port.
type FailureLimiter struct {
	perMinute  int
	maxEntries int

	mu   sync.Mutex
	byIP map[string]*list.Element // values are *failures
	lru  list.List                // front: failed most recently
}

type failures struct {
	ip    string
	times []time.Time // the last perMinute failures, oldest first
}

// NewFailureLimiter allows perMinute failures per address per minute;
// perMinute <= 0 means no limit.
func NewFailureLimiter(perMinute int) *FailureLimiter {
	return &FailureLimiter{
		perMinute:  perMinute,
		maxEntries: maxLimiterEntries,
		byIP:       make(map[string]*list.Element),
	}
}

// Allow reports whether ip may try to publish: false when it has failed
// perMinute times or more in the last minute.
func (l *FailureLimiter) Allow(ip string) bool {
	if l.perMinute <= 0 {
		return true
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byIP[ip]
	if !ok {
		return true
	}
	n := 0
	for _, t := range e.Value.(*failures).times {
		if now.Sub(t) < limiterWindow {
			n++
		}
	}
	return n < l.perMinute
}

// Fail records a failed attempt (a wrong key) from ip.
func (l *FailureLimiter) Fail(ip string) {
	if l.perMinute <= 0 {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expire(now)
	if e, ok := l.byIP[ip]; ok {
		f := e.Value.(*failures)
		if len(f.times) >= l.perMinute {
			f.times = append(f.times[:0], f.times[len(f.times)-l.perMinute+1:]...)
		}
		f.times = append(f.times, now)
		l.lru.MoveToFront(e)
		return
	}
	if len(l.byIP) >= l.maxEntries {
		l.remove(l.lru.Back())
	}
	l.byIP[ip] = l.lru.PushFront(&failures{ip: ip, times: []time.Time{now}})
}

// expire forgets addresses whose last failure left the window. They sit at
// the back of the list, so this costs O(1) per forgotten address.
func (l *FailureLimiter) expire(now time.Time) {
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		f := e.Value.(*failures)
		if now.Sub(f.times[len(f.times)-1]) < limiterWindow {
			return
		}
		l.remove(e)
	}
}

func (l *FailureLimiter) remove(e *list.Element) {
	delete(l.byIP, e.Value.(*failures).ip)
	l.lru.Remove(e)
}

// len returns the number of addresses remembered (for tests).
func (l *FailureLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byIP)
}
