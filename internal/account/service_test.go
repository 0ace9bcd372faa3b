package account_test

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newService(t *testing.T, clock *fakeClock, opts account.Options) *account.Service {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts.Hash = account.HashParams{Memory: 64, Time: 1, Threads: 1}
	if clock != nil {
		opts.Now = clock.Now
	}
	return account.NewService(st, opts)
}

func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Now()}
	svc := newService(t, clock, account.Options{IdleTimeout: 2 * time.Hour, AbsoluteTimeout: 5 * time.Hour})
	ctx := t.Context()
	u, _, err := svc.AddUser(ctx, "alice", account.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	check := func(id string, want bool, when string) {
		t.Helper()
		got, err := svc.SessionUser(ctx, id)
		if err != nil || (got != nil) != want {
			t.Fatalf("%s: SessionUser = %v, %v; want valid = %v", when, got, err, want)
		}
	}

	idle, err := svc.StartSession(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	check(idle, true, "fresh")
	clock.Add(2*time.Hour + time.Minute)
	check(idle, false, "idle past the idle timeout")

	busy, err := svc.StartSession(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // active every 75 minutes: never idle
		clock.Add(75 * time.Minute)
		check(busy, true, "active")
	}
	clock.Add(90 * time.Minute) // 5h15 after sign-in, 1h30 after the last request
	check(busy, false, "past the absolute timeout")

	check("not-a-session-id", false, "garbage")
	check(account.NewSessionID(), false, "unknown")
}

func TestPromoteToStreamer(t *testing.T) {
	t.Parallel()
	svc := newService(t, nil, account.Options{})
	ctx := t.Context()
	for _, tc := range []struct {
		role, want account.Role
	}{
		{account.RoleViewer, account.RoleStreamer},
		{account.RoleStreamer, account.RoleStreamer},
		{account.RoleAdmin, account.RoleAdmin},
	} {
		u, _, err := svc.AddUser(ctx, "u-"+string(tc.role), tc.role)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.PromoteToStreamer(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		got, err := svc.UserByID(ctx, u.ID)
		if err != nil || got.Role != tc.want {
			t.Errorf("%s promoted to %v (%v), want %s", tc.role, got, err, tc.want)
		}
	}
	if err := svc.PromoteToStreamer(ctx, 9999); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestCheckPasswordCountsFailures(t *testing.T) {
	t.Parallel()
	svc := newService(t, nil, account.Options{AccountFailures: 2, IPFailures: 100})
	ctx := account.WithClientIP(t.Context(), netip.MustParseAddr("192.0.2.1"))
	u, password, err := svc.AddUser(ctx, "alice", account.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.CheckPassword(ctx, u.ID, password); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for range 2 {
		if err := svc.CheckPassword(ctx, u.ID, "wrong password!"); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	var rl interface{ RetryAfter() time.Duration }
	if err := svc.CheckPassword(ctx, u.ID, password); !errors.As(err, &rl) || rl.RetryAfter() <= 0 {
		t.Errorf("after 2 failures: %v, want a rate limit", err)
	}
	// Sign-in shares the counter.
	if _, err := svc.Login(ctx, "alice", password, "192.0.2.1"); !errors.As(err, &rl) {
		t.Errorf("login after re-authentication failures: %v", err)
	}
}

func TestSignupLimitPerAddress(t *testing.T) {
	t.Parallel()
	svc := newService(t, nil, account.Options{SignupsPerIP: 2})
	ctx := t.Context()
	for i, name := range []string{"one", "two"} {
		if _, err := svc.Signup(ctx, account.SignupRequest{Name: name, Password: "correct horse battery"}, "192.0.2.1"); err != nil {
			t.Fatalf("signup %d: %v", i, err)
		}
	}
	var rl *account.RateLimitedError
	if _, err := svc.Signup(ctx, account.SignupRequest{Name: "three", Password: "correct horse battery"}, "192.0.2.1"); !errors.As(err, &rl) {
		t.Errorf("third signup from one address: %v, want a rate limit", err)
	}
	if _, err := svc.Signup(ctx, account.SignupRequest{Name: "three", Password: "correct horse battery"}, "192.0.2.2"); err != nil {
		t.Errorf("signup from another address: %v", err)
	}
}
