package account

import (
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHashPasswordFormat(t *testing.T) {
	t.Parallel()
	// The production parameters, once: the format and the cost are what
	// get stored.
	h, err := hashPassword("correct horse battery", DefaultHashParams)
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(h) {
		t.Fatalf("hash %q is not argon2id PHC with OWASP parameters", h)
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"correct horse battery", true},
		{"correct horse batterY", false},
		{"", false},
	} {
		ok, err := verifyPassword(h, tc.password)
		if err != nil || ok != tc.want {
			t.Errorf("verify %q = %v, %v; want %v", tc.password, ok, err, tc.want)
		}
	}
	again, err := hashPassword("correct horse battery", DefaultHashParams)
	if err != nil || again == h {
		t.Errorf("two hashes of one password are equal (salt not random): %v", err)
	}
}

func TestVerifyPasswordRefusesBadHashes(t *testing.T) {
	t.Parallel()
	good, err := hashPassword("password-long-enough", HashParams{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":       "",
		"argon2i":     strings.Replace(good, "argon2id", "argon2i", 1),
		"version":     strings.Replace(good, "v=19", "v=16", 1),
		"huge memory": "$argon2id$v=19$m=4194304,t=1,p=1$" + parts[4] + "$" + parts[5],
		"zero time":   "$argon2id$v=19$m=64,t=0,p=1$" + parts[4] + "$" + parts[5],
		"bad salt":    "$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
		"short key":   "$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$AAAA",
		"bcrypt":      "$2a$12$abcdefghijklmnopqrstuv",
	} {
		if ok, err := verifyPassword(h, "password-long-enough"); ok || err == nil {
			t.Errorf("%s: verify = %v, %v; want an error", name, ok, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		pw   string
		ok   bool
	}{
		{"11", strings.Repeat("a", 11), false},
		{"12", strings.Repeat("a", 12), true},
		{"12 runes of CJK", strings.Repeat("密", 12), true},
		{"1024", strings.Repeat("a", 1024), true},
		{"1025", strings.Repeat("a", 1025), false},
	} {
		if err := ValidatePassword(tc.pw); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestRandomPassword(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		p, err := RandomPassword()
		if err != nil || len(p) < 16 || ValidatePassword(p) != nil || seen[p] {
			t.Fatalf("RandomPassword = %q, %v", p, err)
		}
		seen[p] = true
	}
}

func TestFailureLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := newFailureLimiter(3, 15*time.Minute, func() time.Time { return now })
	for i := range 3 {
		if w := l.attempt("a"); w != 0 {
			t.Fatalf("attempt %d: wait %v", i, w)
		}
		now = now.Add(time.Minute)
	}
	// Failures at t=0,1,2 min; now t=3 min: the first leaves at t=15.
	if w := l.retryAfter("a"); w != 12*time.Minute {
		t.Errorf("wait = %v, want 12m", w)
	}
	if w := l.retryAfter("b"); w != 0 {
		t.Errorf("other key waits %v", w)
	}
	now = now.Add(12 * time.Minute)
	if w := l.retryAfter("a"); w != 0 {
		t.Errorf("after the window: wait %v", w)
	}
	if w := l.attempt("a"); w != 0 {
		t.Errorf("attempt after the oldest failure left: wait %v", w)
	}
	if w := l.retryAfter("a"); w == 0 {
		t.Error("three failures within the window not limited")
	}
	l.reset("a")
	if w := l.retryAfter("a"); w != 0 {
		t.Errorf("after reset: wait %v", w)
	}
}

func TestCleanDisplayName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"  Alice  ", "Alice", true},
		{"e\u0301", "é", true}, // NFC
		{"花辨主播", "花辨主播", true},
		{strings.Repeat("x", 64), strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), "", false},
		{"a\u202eb", "", false},
		{"a\u2066b", "", false},
		{"a\nb", "", false},
		{"a\x00b", "", false},
		{"\xff", "", false},
	} {
		got, err := CleanDisplayName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CleanDisplayName(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestFailureLimiterConcurrentAttempts(t *testing.T) {
	t.Parallel()
	l := newFailureLimiter(10, time.Minute, time.Now)
	var wg sync.WaitGroup
	var allowed atomic.Int32
	for range 50 {
		wg.Go(func() {
			if l.attempt("k") == 0 {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Errorf("%d concurrent attempts allowed, want 10", n)
	}
	l.refund("k")
	if l.attempt("k") != 0 {
		t.Error("a refunded attempt was not given back")
	}
	if l.attempt("k") == 0 {
		t.Error("attempt past the limit allowed")
	}
}
