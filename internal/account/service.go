package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/huabian-live/huabian/internal/store"
)

// Errors the Service returns; the HTTP layer maps each to a status and code.
var (
	ErrBadName            = errors.New("user names are 3 to 32 characters from a-z, 0-9, \"_\" and \"-\"")
	ErrBadPassword        = errors.New("password length")
	ErrBadDisplayName     = errors.New("display names are at most 64 characters, without control characters")
	ErrNameTaken          = errors.New("user name taken")
	ErrInvalidCredentials = errors.New("wrong user name or password")
	ErrDisabled           = errors.New("account disabled")
	ErrSignupClosed       = errors.New("sign-up is closed")
	ErrBadSetupToken      = errors.New("setup link invalid, used or expired")
	ErrNotFound           = errors.New("no such user")
	ErrLastAdmin          = errors.New("the site needs at least one enabled admin")
	ErrBadRole            = errors.New("role must be viewer, streamer or admin")
	ErrBadSetting         = errors.New("invalid site setting")
	ErrBadTokenName       = errors.New("token names are 1 to 64 characters")
	ErrTooManyTokens      = errors.New("too many API tokens")
	ErrTokenNotFound      = errors.New("no such API token")
)

// RateLimitedError means too many recent failures: try again after Wait.
type RateLimitedError struct{ Wait time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many attempts; retry after %s", e.Wait.Round(time.Second))
}

// RetryAfter returns Wait (for callers that only know the method).
func (e *RateLimitedError) RetryAfter() time.Duration { return e.Wait }

// Limits and lifetimes. Sessions end after IdleTimeout without a request,
// and AbsoluteTimeout after sign-in whatever the activity.
const (
	DefaultIdleTimeout     = 30 * 24 * time.Hour
	DefaultAbsoluteTimeout = 90 * 24 * time.Hour
	// SetupTokenLifetime is how long a first-start setup link works.
	SetupTokenLifetime = 24 * time.Hour
	// MaxAPITokens is how many personal API tokens one user may hold.
	MaxAPITokens = 50
	// touchEvery bounds how often a session's last activity is written.
	touchEvery = time.Hour
	// purgeEvery bounds how often expired sessions are deleted.
	purgeEvery = time.Hour
)

// Store is what the Service needs from the database (sqlstore.Store).
type Store interface {
	CreateUser(ctx context.Context, u store.User, setupTokenHash []byte) (store.User, error)
	UserByID(ctx context.Context, id int64) (store.User, error)
	UserByName(ctx context.Context, name string) (store.User, error)
	ListUsers(ctx context.Context, query string, limit, offset int) ([]store.User, int, error)
	CountAdmins(ctx context.Context) (int, error)
	UpdateUser(ctx context.Context, id int64, upd store.UserUpdate) (store.User, error)
	DeleteUser(ctx context.Context, id int64) error

	CreateSession(ctx context.Context, se store.Session) error
	SessionByHash(ctx context.Context, hash []byte) (store.Session, store.User, error)
	TouchSession(ctx context.Context, hash []byte, t time.Time) error
	DeleteSession(ctx context.Context, hash []byte) error
	DeleteUserSessions(ctx context.Context, userID int64, keep []byte) error
	DeleteExpiredSessions(ctx context.Context, now, idleSince time.Time) (int64, error)

	CreateAPIToken(ctx context.Context, t store.APIToken) (store.APIToken, error)
	APITokenByHash(ctx context.Context, hash []byte) (store.APIToken, store.User, error)
	ListAPITokens(ctx context.Context, userID int64) ([]store.APIToken, error)
	DeleteAPIToken(ctx context.Context, userID, id int64) error
	TouchAPIToken(ctx context.Context, id int64, t time.Time) error

	SiteSettings(ctx context.Context) (map[string]string, error)
	PutSiteSettings(ctx context.Context, m map[string]string) error
	ReplaceSetupToken(ctx context.Context, hash []byte, expires time.Time) error
}

// Options tune a Service; the zero value gives the production defaults.
type Options struct {
	// Hash sets the argon2id cost of new password hashes. Default
	// DefaultHashParams; tests pass something cheap.
	Hash HashParams
	// IdleTimeout and AbsoluteTimeout bound sessions. Defaults
	// DefaultIdleTimeout and DefaultAbsoluteTimeout.
	IdleTimeout, AbsoluteTimeout time.Duration
	// AccountFailures and IPFailures are the failed sign-ins allowed per
	// account name and per client address within FailureWindow. Defaults
	// 10 and 30 per 15 minutes; negative means no limit.
	AccountFailures, IPFailures int
	FailureWindow               time.Duration
	// SignupsPerIP is how many sign-ups one address may make per hour.
	// Default 10; negative means no limit.
	SignupsPerIP int
	Log          *slog.Logger
	// Now replaces time.Now in tests.
	Now func() time.Time
}

// Service manages users, sessions, API tokens and site settings.
type Service struct {
	st   Store
	opts Options
	log  *slog.Logger
	// dummyHash is verified against for unknown names, to cost the same
	// as a real check; made on first use.
	dummyHash func() (string, error)

	byAccount, byIP, signups *failureLimiter

	mu        sync.Mutex
	lastPurge time.Time
}

// NewService returns a Service over st.
func NewService(st Store, opts Options) *Service {
	if opts.Hash == (HashParams{}) {
		opts.Hash = DefaultHashParams
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.AbsoluteTimeout <= 0 {
		opts.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if opts.AccountFailures == 0 {
		opts.AccountFailures = 10
	}
	if opts.IPFailures == 0 {
		opts.IPFailures = 30
	}
	if opts.FailureWindow <= 0 {
		opts.FailureWindow = 15 * time.Minute
	}
	if opts.SignupsPerIP == 0 {
		opts.SignupsPerIP = 10
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{
		st:        st,
		opts:      opts,
		log:       opts.Log.With("component", "account"),
		dummyHash: sync.OnceValues(func() (string, error) { return hashPassword("not a password of anyone", opts.Hash) }),
		byAccount: newFailureLimiter(opts.AccountFailures, opts.FailureWindow, opts.Now),
		byIP:      newFailureLimiter(opts.IPFailures, opts.FailureWindow, opts.Now),
		signups:   newFailureLimiter(opts.SignupsPerIP, time.Hour, opts.Now),
	}
}

var namePattern = regexp.MustCompile(`^[a-z0-9_-]{3,32}$`)

// NormalizeName lower-cases and trims a user name as typed.
func NormalizeName(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// ValidateName checks a (normalised) user name.
func ValidateName(name string) error {
	if !namePattern.MatchString(name) {
		return ErrBadName
	}
	return nil
}

// CleanDisplayName returns s in NFC without surrounding space, or
// ErrBadDisplayName when it is longer than 64 characters or holds control
// or bidirectional-override characters.
func CleanDisplayName(s string) (string, error) {
	return cleanText(s, 64, ErrBadDisplayName)
}

func cleanText(s string, max int, bad error) (string, error) {
	if !utf8.ValidString(s) {
		return "", bad
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	if utf8.RuneCountInString(s) > max {
		return "", bad
	}
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) {
			return "", bad
		}
	}
	return s, nil
}

// isBidiControl reports the embedding, override and isolate controls that
// can reorder the text around a name (Trojan Source).
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x061C || r == 0x200E || r == 0x200F
}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleViewer, RoleStreamer, RoleAdmin:
		return r, nil
	}
	return "", ErrBadRole
}

func toUser(u store.User) *User {
	dn := u.DisplayName
	if dn == "" {
		dn = u.Name
	}
	return &User{ID: u.ID, Name: u.Name, DisplayName: dn, Role: Role(u.Role), Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

// SignupRequest is what a visitor fills in to create an account.
type SignupRequest struct {
	Name, Password, DisplayName string
	// SetupToken, from the first-start link, makes the first admin even
	// while sign-up is closed.
	SetupToken string
}

// Signup creates a viewer account (an admin with a valid setup token).
// ip is the client address, for the per-address sign-up limit.
func (s *Service) Signup(ctx context.Context, req SignupRequest, ip string) (*User, error) {
	name := NormalizeName(req.Name)
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if err := ValidatePassword(req.Password); err != nil {
		return nil, err
	}
	display, err := CleanDisplayName(req.DisplayName)
	if err != nil {
		return nil, err
	}
	var setupHash []byte
	role := RoleViewer
	if req.SetupToken != "" {
		h := sha256.Sum256([]byte(req.SetupToken))
		setupHash, role = h[:], RoleAdmin
	} else {
		set, err := s.Settings(ctx)
		if err != nil {
			return nil, err
		}
		if !set.SignupOpen {
			return nil, ErrSignupClosed
		}
	}
	if wait := s.signups.attempt(ip); wait > 0 { // every attempt counts, successful or not
		return nil, &RateLimitedError{Wait: wait}
	}
	hash, err := hashPassword(req.Password, s.opts.Hash)
	if err != nil {
		return nil, err
	}
	u, err := s.st.CreateUser(ctx, store.User{Name: name, DisplayName: display, Role: string(role), PasswordHash: hash}, setupHash)
	switch {
	case errors.Is(err, store.ErrExists):
		return nil, ErrNameTaken
	case setupHash != nil && errors.Is(err, store.ErrNotFound):
		return nil, ErrBadSetupToken
	case err != nil:
		return nil, err
	}
	if role == RoleAdmin {
		s.log.Info("first admin created with the setup link", "user", name)
	}
	return toUser(u), nil
}

// AddUser creates an account with a random one-time password and returns
// both (for "huabian user add").
func (s *Service) AddUser(ctx context.Context, name string, role Role) (*User, string, error) {
	name = NormalizeName(name)
	if err := ValidateName(name); err != nil {
		return nil, "", err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, "", err
	}
	password, err := RandomPassword()
	if err != nil {
		return nil, "", err
	}
	hash, err := hashPassword(password, s.opts.Hash)
	if err != nil {
		return nil, "", err
	}
	u, err := s.st.CreateUser(ctx, store.User{Name: name, Role: string(role), PasswordHash: hash}, nil)
	if errors.Is(err, store.ErrExists) {
		return nil, "", ErrNameTaken
	}
	if err != nil {
		return nil, "", err
	}
	return toUser(u), password, nil
}

// RandomPassword returns 20 random letters and digits (about 119 bits).
func RandomPassword() (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	buf := make([]byte, 1)
	for i := 0; i < len(b); {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("random password: %w", err)
		}
		if int(buf[0]) >= 256-256%len(alphabet) {
			continue // reject to keep the choice uniform
		}
		b[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(b), nil
}

// Login checks a user name and password from client address ip. Wrong
// name and wrong password give the same ErrInvalidCredentials after the
// same hashing work. Failures count per name and per address; over either
// limit Login returns *RateLimitedError without checking anything.
func (s *Service) Login(ctx context.Context, name, password, ip string) (*User, error) {
	name = NormalizeName(name)
	if err := s.limited(name, ip); err != nil {
		return nil, err
	}
	su, err := s.st.UserByName(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.succeeded(name, ip) // not a failure of the caller's
		return nil, err
	}
	if !s.checkPassword(su, err == nil, password) {
		return nil, ErrInvalidCredentials
	}
	s.succeeded(name, ip)
	if su.Disabled {
		return nil, ErrDisabled
	}
	return toUser(su), nil
}

// Reauthenticate checks the password of a signed-in user before a
// sensitive action (revealing a stream key, deleting the account).
// Failures count as failed sign-ins.
func (s *Service) Reauthenticate(ctx context.Context, u *User, password, ip string) error {
	if u == nil {
		return ErrInvalidCredentials
	}
	if err := s.limited(u.Name, ip); err != nil {
		return err
	}
	su, err := s.st.UserByID(ctx, u.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.succeeded(u.Name, ip)
		return err
	}
	if !s.checkPassword(su, err == nil, password) || su.Disabled {
		return ErrInvalidCredentials
	}
	s.succeeded(u.Name, ip)
	return nil
}

// CheckPassword re-authenticates userID with password for the channel
// routes (key reveal, rotation, deletion); the client address comes from
// ctx (ClientIP). It returns nil, ErrInvalidCredentials or
// *RateLimitedError.
func (s *Service) CheckPassword(ctx context.Context, userID int64, password string) error {
	u, err := s.UserByID(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return ErrInvalidCredentials
	}
	if err != nil {
		return err
	}
	return s.Reauthenticate(ctx, u, password, ClientIP(ctx).String())
}

// limited counts a password attempt for name and ip in advance (see
// failureLimiter.attempt), or refuses it when either is over its limit.
func (s *Service) limited(name, ip string) error {
	if wait := s.byAccount.attempt(name); wait > 0 {
		return &RateLimitedError{Wait: wait}
	}
	if wait := s.byIP.attempt(ip); wait > 0 {
		s.byAccount.refund(name)
		return &RateLimitedError{Wait: wait}
	}
	return nil
}

// succeeded takes back the attempt limited counted: the account's slate is
// wiped, the address gets its one attempt back.
func (s *Service) succeeded(name, ip string) {
	s.byAccount.reset(name)
	s.byIP.refund(ip)
}

// checkPassword verifies password against su's hash, or against a dummy
// hash when there is no such user, so both cost the same.
func (s *Service) checkPassword(su store.User, found bool, password string) bool {
	if len(password) > 4*MaxPasswordLen {
		password = password[:4*MaxPasswordLen]
	}
	encoded := su.PasswordHash
	if !found {
		var err error
		if encoded, err = s.dummyHash(); err != nil {
			s.log.Error("dummy password hash", "err", err)
			return false
		}
	}
	ok, err := verifyPassword(encoded, password)
	if err != nil {
		s.log.Error("stored password hash unreadable", "user", su.Name, "err", err)
		return false
	}
	return ok && found
}

// sessionIDBytes is the entropy of a session ID: 256 bits.
const sessionIDBytes = 32

// NewSessionID returns a fresh random session ID (base64url, 43
// characters). Anonymous visitors carry one too, as their pre-session: it
// binds their CSRF token until they sign in and get a stored one.
func NewSessionID() string {
	return randomToken(sessionIDBytes)
}

// ValidSessionID reports whether id has the shape NewSessionID produces.
func ValidSessionID(id string) bool {
	if len(id) != base64.RawURLEncoding.EncodedLen(sessionIDBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil
}

// CSRFToken returns the CSRF token bound to a session or pre-session ID:
// derived from the secret ID, so it needs no storage and changes with it.
func CSRFToken(sessionID string) string {
	h := sha256.Sum256([]byte("huabian csrf\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// StartSession stores a new session for userID and returns its ID, which
// is always fresh (never a value the client sent before signing in).
func (s *Service) StartSession(ctx context.Context, userID int64) (string, error) {
	s.purgeExpired(ctx)
	id := NewSessionID()
	now := s.opts.Now()
	err := s.st.CreateSession(ctx, store.Session{
		IDHash: hashID(id), UserID: userID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.opts.AbsoluteTimeout),
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// SessionLifetime is the absolute session timeout, for cookie Max-Age.
func (s *Service) SessionLifetime() time.Duration { return s.opts.AbsoluteTimeout }

// SessionUser returns the user of session id, or nil when id is not a live
// session (unknown, expired, idle too long) or its user is disabled.
func (s *Service) SessionUser(ctx context.Context, id string) (*User, error) {
	if !ValidSessionID(id) {
		return nil, nil
	}
	hash := hashID(id)
	se, su, err := s.st.SessionByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	if !now.Before(se.ExpiresAt) || now.Sub(se.LastSeenAt) >= s.opts.IdleTimeout {
		return nil, s.st.DeleteSession(ctx, hash)
	}
	if su.Disabled {
		return nil, nil
	}
	if now.Sub(se.LastSeenAt) >= touchEvery {
		if err := s.st.TouchSession(ctx, hash, now); err != nil {
			s.log.Warn("session activity not recorded", "err", err)
		}
	}
	return toUser(su), nil
}

// EndSession deletes session id server-side (sign-out).
func (s *Service) EndSession(ctx context.Context, id string) error {
	if !ValidSessionID(id) {
		return nil
	}
	return s.st.DeleteSession(ctx, hashID(id))
}

// purgeExpired deletes dead sessions at most once per purgeEvery.
func (s *Service) purgeExpired(ctx context.Context) {
	now := s.opts.Now()
	s.mu.Lock()
	due := now.Sub(s.lastPurge) >= purgeEvery
	if due {
		s.lastPurge = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	if _, err := s.st.DeleteExpiredSessions(ctx, now, now.Add(-s.opts.IdleTimeout)); err != nil {
		s.log.Warn("expired sessions not purged", "err", err)
	}
}

// UpdateDisplayName changes a user's display name.
func (s *Service) UpdateDisplayName(ctx context.Context, userID int64, displayName string) (*User, error) {
	dn, err := CleanDisplayName(displayName)
	if err != nil {
		return nil, err
	}
	u, err := s.st.UpdateUser(ctx, userID, store.UserUpdate{DisplayName: &dn})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return toUser(u), nil
}

// ChangePassword replaces u's password after checking the current one, and
// ends every other session of u (the one with ID keepSession stays).
func (s *Service) ChangePassword(ctx context.Context, u *User, current, next, ip, keepSession string) error {
	if err := ValidatePassword(next); err != nil {
		return err
	}
	if err := s.Reauthenticate(ctx, u, current, ip); err != nil {
		return err
	}
	hash, err := hashPassword(next, s.opts.Hash)
	if err != nil {
		return err
	}
	if _, err := s.st.UpdateUser(ctx, u.ID, store.UserUpdate{PasswordHash: &hash}); err != nil {
		return err
	}
	var keep []byte
	if ValidSessionID(keepSession) {
		keep = hashID(keepSession)
	}
	return s.st.DeleteUserSessions(ctx, u.ID, keep)
}

// DeleteAccount deletes u after checking the password; sessions, tokens
// and everything referencing the user go with it.
func (s *Service) DeleteAccount(ctx context.Context, u *User, password, ip string) error {
	if err := s.Reauthenticate(ctx, u, password, ip); err != nil {
		return err
	}
	err := s.st.DeleteUser(ctx, u.ID)
	if errors.Is(err, store.ErrLastAdmin) {
		return ErrLastAdmin
	}
	return err
}

// APIToken describes a personal API token; the secret itself is shown only
// once, when created.
type APIToken struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Hint       string     `json:"hint"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// APITokenPrefix starts every personal API token.
const APITokenPrefix = "hbt_"

func toAPIToken(t store.APIToken) APIToken {
	at := APIToken{ID: t.ID, Name: t.Name, Hint: t.Hint, CreatedAt: t.CreatedAt}
	if !t.LastUsedAt.IsZero() {
		lu := t.LastUsedAt
		at.LastUsedAt = &lu
	}
	return at
}

// CreateAPIToken makes a token for userID and returns it (hbt_ and 256
// random bits) with its description.
func (s *Service) CreateAPIToken(ctx context.Context, userID int64, name string) (string, APIToken, error) {
	name, err := cleanText(name, 64, ErrBadTokenName)
	if err != nil || name == "" {
		return "", APIToken{}, ErrBadTokenName
	}
	existing, err := s.st.ListAPITokens(ctx, userID)
	if err != nil {
		return "", APIToken{}, err
	}
	if len(existing) >= MaxAPITokens {
		return "", APIToken{}, ErrTooManyTokens
	}
	secret := APITokenPrefix + randomToken(32)
	t, err := s.st.CreateAPIToken(ctx, store.APIToken{
		UserID: userID, Name: name, Hash: hashID(secret), Hint: "…" + secret[len(secret)-4:],
	})
	if err != nil {
		return "", APIToken{}, err
	}
	return secret, toAPIToken(t), nil
}

// APITokens lists the tokens of userID, newest first.
func (s *Service) APITokens(ctx context.Context, userID int64) ([]APIToken, error) {
	ts, err := s.st.ListAPITokens(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]APIToken, len(ts))
	for i, t := range ts {
		out[i] = toAPIToken(t)
	}
	return out, nil
}

// DeleteAPIToken revokes token id of userID.
func (s *Service) DeleteAPIToken(ctx context.Context, userID, id int64) error {
	err := s.st.DeleteAPIToken(ctx, userID, id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrTokenNotFound
	}
	return err
}

// TokenUser returns the user of a personal API token, or nil when the
// token is unknown or its user disabled.
func (s *Service) TokenUser(ctx context.Context, token string) (*User, error) {
	if !strings.HasPrefix(token, APITokenPrefix) || len(token) > 128 {
		return nil, nil
	}
	t, su, err := s.st.APITokenByHash(ctx, hashID(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if su.Disabled {
		return nil, nil
	}
	if now := s.opts.Now(); now.Sub(t.LastUsedAt) >= time.Minute {
		if err := s.st.TouchAPIToken(ctx, t.ID, now); err != nil {
			s.log.Warn("API token use not recorded", "err", err)
		}
	}
	return toUser(su), nil
}

// Users lists users whose name or display name contains query, with the
// total number matching.
func (s *Service) Users(ctx context.Context, query string, limit, offset int) ([]*User, int, error) {
	us, total, err := s.st.ListUsers(ctx, query, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*User, len(us))
	for i, u := range us {
		out[i] = toUser(u)
	}
	return out, total, nil
}

// UserByName returns the user called name, or ErrNotFound.
func (s *Service) UserByName(ctx context.Context, name string) (*User, error) {
	u, err := s.st.UserByName(ctx, NormalizeName(name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return toUser(u), nil
}

// UserByID returns the user with id, or ErrNotFound.
func (s *Service) UserByID(ctx context.Context, id int64) (*User, error) {
	u, err := s.st.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return toUser(u), nil
}

// AdminChange is an admin's edit of a user; nil fields stay.
type AdminChange struct {
	Disabled *bool
	Role     *Role
}

// AdminUpdate applies an admin's change to user id. Disabling ends the
// user's sessions. The last enabled admin cannot be demoted or disabled.
func (s *Service) AdminUpdate(ctx context.Context, id int64, c AdminChange) (*User, error) {
	var upd store.UserUpdate
	if c.Role != nil {
		if _, err := ParseRole(string(*c.Role)); err != nil {
			return nil, err
		}
		r := string(*c.Role)
		upd.Role = &r
	}
	upd.Disabled = c.Disabled
	u, err := s.st.UpdateUser(ctx, id, upd)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotFound
	case errors.Is(err, store.ErrLastAdmin):
		return nil, ErrLastAdmin
	case err != nil:
		return nil, err
	}
	if u.Disabled {
		if err := s.st.DeleteUserSessions(ctx, id, nil); err != nil {
			return nil, err
		}
	}
	s.log.Info("user changed by an admin", "user", u.Name, "role", u.Role, "disabled", u.Disabled)
	return toUser(u), nil
}

// PromoteToStreamer makes a viewer a streamer (on creating their first
// channel). Streamers and admins keep their role.
func (s *Service) PromoteToStreamer(ctx context.Context, userID int64) error {
	u, err := s.st.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if Role(u.Role) != RoleViewer {
		return nil
	}
	r := string(RoleStreamer)
	_, err = s.st.UpdateUser(ctx, userID, store.UserUpdate{Role: &r})
	return err
}

// EnsureSetupToken is called at startup. While the site has no enabled
// admin it replaces any earlier setup token with a new one, valid for
// SetupTokenLifetime, and returns it for a /setup?token=… link; signing
// up with it creates an admin, once. With an admin it removes leftover
// tokens and returns "".
func (s *Service) EnsureSetupToken(ctx context.Context) (string, error) {
	n, err := s.st.CountAdmins(ctx)
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "", s.st.ReplaceSetupToken(ctx, nil, time.Time{})
	}
	token := randomToken(32)
	if err := s.st.ReplaceSetupToken(ctx, hashID(token), s.opts.Now().Add(SetupTokenLifetime)); err != nil {
		return "", err
	}
	return token, nil
}
