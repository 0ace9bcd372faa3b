package channel

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestFailureLimiter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := NewFailureLimiter(3)
		const ip = "192.0.2.1"
		for i := range 3 {
			if !l.Allow(ip) {
				t.Fatalf("refused after %d failures", i)
			}
			l.Fail(ip)
		}
		if l.Allow(ip) {
			t.Error("allowed after 3 failures in a minute")
		}
		if !l.Allow("192.0.2.2") {
			t.Error("another address is refused")
		}
		time.Sleep(30 * time.Second)
		l.Fail(ip) // 4 failures: 3 at 0 s, 1 at 30 s
		time.Sleep(31 * time.Second)
		if !l.Allow(ip) {
			t.Error("refused when only 1 failure is in the last minute")
		}
		l.Fail(ip)
		l.Fail(ip)
		if l.Allow(ip) {
			t.Error("allowed with 3 failures in the last minute")
		}
		time.Sleep(2 * time.Minute)
		if !l.Allow(ip) {
			t.Error("still refused after the window")
		}
		l.Fail("192.0.2.9") // expires the stale entry
		if n := l.len(); n != 1 {
			t.Errorf("remembers %d addresses, want 1", n)
		}
	})
}

func TestFailureLimiterUnlimited(t *testing.T) {
	t.Parallel()
	l := NewFailureLimiter(0)
	for range 100 {
		l.Fail("192.0.2.1")
	}
	if !l.Allow("192.0.2.1") || l.len() != 0 {
		t.Error("perMinute 0 limits or remembers")
	}
}

func TestFailureLimiterBounded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := NewFailureLimiter(1)
		l.maxEntries = 100
		l.Fail("first")
		time.Sleep(time.Second)
		for i := range 1000 {
			l.Fail(fmt.Sprintf("198.51.100.%d", i))
		}
		if n := l.len(); n != 100 {
			t.Errorf("remembers %d addresses, want the cap 100", n)
		}
		if !l.Allow("first") {
			t.Error("oldest address was not evicted")
		}
		if l.Allow("198.51.100.999") {
			t.Error("newest address was evicted")
		}
	})
}

func TestFailureLimiterConcurrent(t *testing.T) {
	t.Parallel()
	l := NewFailureLimiter(50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				ip := fmt.Sprintf("203.0.113.%d", (g*200+i)%20)
				l.Allow(ip)
				l.Fail(ip)
			}
		})
	}
	wg.Wait()
	for i := range 20 {
		if l.Allow(fmt.Sprintf("203.0.113.%d", i)) {
			t.Errorf("address %d allowed after 80 failures", i)
		}
	}
}
