// Package chat runs the chat rooms of channels: one WebSocket per viewer,
// messages persisted to the store and carried between nodes on NATS
// (subject huabian.chat.<channel>), so every node sharing a NATS cluster
// serves the same room. It also holds chat moderation: deleting messages,
// timeouts and bans, slow mode, blocked words and moderator grants.
//
// Fan-out has the shape of the media hub: an event is encoded once (by the
// node that accepted it) and the very same bytes go to every local client
// through a bounded per-client queue; a client whose queue is full is
// disconnected rather than allowed to slow the room.
package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/store"
)

// SubjectPrefix is the NATS subject prefix of chat rooms:
// huabian.chat.<channel>.
const SubjectPrefix = "huabian.chat."

// headerMessageID carries a message event's ID beside its encoded bytes, so
// a node can skip duplicates of its hello history without decoding.
const headerMessageID = "Huabian-Chat-Message"

// MaxTimeout is the longest timeout; longer means a ban.
const MaxTimeout = 14 * 24 * time.Hour

// ChannelInfo is what chat needs to know of a channel.
type ChannelInfo struct {
	ID      int64
	OwnerID int64 // 0: owned by no one (created from the command line)
}

// UserInfo is what chat needs to know of a user named in a moderation
// request.
type UserInfo struct {
	ID          int64
	Name        string
	DisplayName string
	IsAdmin     bool
}

var (
	// ErrChannelNotFound (or store.ErrNotFound) is what Options.Channels
	// returns for an unknown channel.
	ErrChannelNotFound = errors.New("channel not found")
	// ErrUserNotFound (or store.ErrNotFound) is what Options.UserByName
	// returns for an unknown user.
	ErrUserNotFound = errors.New("user not found")
	// ErrClosed is returned once the service is shutting down.
	ErrClosed = errors.New("chat is shutting down")
)

// Store is the persistence chat needs (implemented by sqlstore.Store).
type Store interface {
	AddChatMessage(ctx context.Context, m store.ChatMessage) (store.ChatMessage, error)
	ChatHistory(ctx context.Context, channelID int64, limit int) ([]store.ChatMessage, error)
	DeleteChatMessage(ctx context.Context, channelID, id int64) error
	LastChatMessageAt(ctx context.Context, channelID, userID int64) (time.Time, bool, error)
	PutChatBan(ctx context.Context, b store.ChatBan) error
	DeleteChatBan(ctx context.Context, channelID, userID int64) error
	ChatBan(ctx context.Context, channelID, userID int64) (store.ChatBan, error)
	ChatBans(ctx context.Context, channelID int64) ([]store.ChatBan, error)
	ChatSettings(ctx context.Context, channelID int64) (store.ChatSettings, error)
	PutChatSettings(ctx context.Context, cs store.ChatSettings) error
	AddChannelModerator(ctx context.Context, m store.ChannelModerator) error
	RemoveChannelModerator(ctx context.Context, channelID, userID int64) error
	IsChannelModerator(ctx context.Context, channelID, userID int64) (bool, error)
	ChannelModerators(ctx context.Context, channelID int64) ([]store.ChannelModerator, error)
}

// Options configure a Service. Store, Conn, Channels and UserByName are
// required; zero limits take the documented defaults.
type Options struct {
	Store Store
	// Conn is the NATS connection rooms publish and subscribe on.
	Conn *nats.Conn
	// Channels looks a channel up by name.
	Channels func(ctx context.Context, name string) (ChannelInfo, error)
	// UserByName looks a user up by name, for bans and grants.
	UserByName func(ctx context.Context, name string) (UserInfo, error)
	Log        *slog.Logger

	// RateBurst messages per RatePer are allowed per user (default 5 per
	// 5 s), across every room and socket of this node.
	RateBurst int
	RatePer   time.Duration
	// History is how many messages a hello and the history API carry
	// (default 200).
	History int
	// SendQueue is each client's queue of events not yet written (default
	// 256). A client whose queue is full is disconnected.
	SendQueue int
	// WriteTimeout bounds the write of one frame (default 10 s).
	WriteTimeout time.Duration
	// PingInterval is how often each socket is pinged (default 30 s); a
	// pong must come back within PongTimeout (default 10 s).
	PingInterval time.Duration
	PongTimeout  time.Duration
	// TrustForwardedProto makes the Origin check take the scheme from
	// X-Forwarded-Proto, for a server behind a TLS-terminating proxy.
	TrustForwardedProto bool
}

func (o *Options) defaults() {
	if o.RateBurst <= 0 {
		o.RateBurst = 5
	}
	if o.RatePer <= 0 {
		o.RatePer = 5 * time.Second
	}
	if o.History <= 0 {
		o.History = 200
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 256
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Service is every chat room of this node.
type Service struct {
	o       Options
	log     *slog.Logger
	limiter *userLimiter

	drops   atomic.Uint64 // clients disconnected for a full queue
	clients atomic.Int64  // sockets open now

	// wg counts running ServeSocket calls; Close waits for them.
	wg sync.WaitGroup

	// mu guards the fields below it.
	mu     sync.Mutex
	rooms  map[string]*room
	conns  map[*client]struct{}
	closed bool
}

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Conn == nil || o.Channels == nil || o.UserByName == nil {
		return nil, errors.New("chat: Store, Conn, Channels and UserByName are required")
	}
	o.defaults()
	return &Service{
		o:       o,
		log:     o.Log.With("component", "chat"),
		limiter: newUserLimiter(o.RateBurst, o.RatePer),
		rooms:   make(map[string]*room),
		conns:   make(map[*client]struct{}),
	}, nil
}

// Close disconnects every chat socket (close code 1001) and waits until
// their goroutines have ended. http.Server.Shutdown does not do this for
// hijacked connections; register Close with RegisterOnShutdown or call it
// before.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.cancel(errShutdown)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Stats are counters of a Service.
type Stats struct {
	Clients int64  // sockets open now
	Rooms   int    // rooms with a local client
	Dropped uint64 // clients disconnected because they did not keep up
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	n := len(s.rooms)
	s.mu.Unlock()
	return Stats{Clients: s.clients.Load(), Rooms: n, Dropped: s.drops.Load()}
}

func subject(channel string) string { return SubjectPrefix + channel }

// channel looks a channel up, mapping "not found" to CodeChannelNotFound.
func (s *Service) channel(ctx context.Context, name string) (ChannelInfo, error) {
	info, err := s.o.Channels(ctx, name)
	if errors.Is(err, ErrChannelNotFound) || errors.Is(err, store.ErrNotFound) {
		return ChannelInfo{}, &Error{Code: CodeChannelNotFound, Err: err}
	}
	if err != nil {
		return ChannelInfo{}, fmt.Errorf("chat channel %q: %w", name, err)
	}
	return info, nil
}

func (s *Service) userByName(ctx context.Context, name string) (UserInfo, error) {
	u, err := s.o.UserByName(ctx, name)
	if errors.Is(err, ErrUserNotFound) || errors.Is(err, store.ErrNotFound) {
		return UserInfo{}, &Error{Code: CodeUserNotFound, Err: err}
	}
	if err != nil {
		return UserInfo{}, fmt.Errorf("chat user %q: %w", name, err)
	}
	return u, nil
}

// role is what a user is in a channel's chat.
type role struct {
	badge       string
	canModerate bool
}

func (s *Service) roleOf(ctx context.Context, ch ChannelInfo, u *account.User) (role, error) {
	if u == nil || u.Disabled {
		return role{}, nil
	}
	switch {
	case ch.OwnerID != 0 && ch.OwnerID == u.ID:
		return role{badge: BadgeOwner, canModerate: true}, nil
	case u.IsAdmin():
		return role{badge: BadgeAdmin, canModerate: true}, nil
	}
	ok, err := s.o.Store.IsChannelModerator(ctx, ch.ID, u.ID)
	if err != nil {
		return role{}, err
	}
	if ok {
		return role{badge: BadgeModerator, canModerate: true}, nil
	}
	return role{}, nil
}

// moderator resolves a channel and checks that actor may moderate it.
func (s *Service) moderator(ctx context.Context, actor *account.User, name string) (ChannelInfo, error) {
	if actor == nil || actor.Disabled {
		return ChannelInfo{}, refuse(CodeLoginRequired)
	}
	ch, err := s.channel(ctx, name)
	if err != nil {
		return ChannelInfo{}, err
	}
	r, err := s.roleOf(ctx, ch, actor)
	if err != nil {
		return ChannelInfo{}, err
	}
	if !r.canModerate {
		return ChannelInfo{}, refuse(CodeForbidden)
	}
	return ch, nil
}

// owner resolves a channel and checks that actor owns it or is an admin.
func (s *Service) owner(ctx context.Context, actor *account.User, name string) (ChannelInfo, error) {
	if actor == nil || actor.Disabled {
		return ChannelInfo{}, refuse(CodeLoginRequired)
	}
	ch, err := s.channel(ctx, name)
	if err != nil {
		return ChannelInfo{}, err
	}
	if !(ch.OwnerID != 0 && ch.OwnerID == actor.ID) && !actor.IsAdmin() {
		return ChannelInfo{}, refuse(CodeForbidden)
	}
	return ch, nil
}

// publish encodes v once and publishes it to the room's subject; every
// node's subscription hands those bytes to its clients as they are.
func (s *Service) publish(channel string, v any, messageID int64) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode chat event: %w", err)
	}
	m := nats.NewMsg(subject(channel))
	m.Data = data
	if messageID > 0 {
		m.Header.Set(headerMessageID, strconv.FormatInt(messageID, 10))
	}
	if err := s.o.Conn.PublishMsg(m); err != nil {
		return fmt.Errorf("publish chat event to %s: %w", channel, err)
	}
	return nil
}

// send handles a "send" frame from c: every check, then persist, then
// publish. It returns an *Error for refusals.
func (s *Service) send(ctx context.Context, c *client, text string) error {
	u := c.user
	if u == nil {
		return refuse(CodeLoginRequired)
	}
	if !s.limiter.allow(u.ID, time.Now()) {
		return refuse(CodeRateLimited)
	}
	text, code := normaliseText(text)
	if code != "" {
		return refuse(code)
	}
	ch := c.channel
	r, err := s.roleOf(ctx, ch, u)
	if err != nil {
		return err
	}
	if !r.canModerate {
		switch b, err := s.o.Store.ChatBan(ctx, ch.ID, u.ID); {
		case err == nil && b.Permanent():
			return refuse(CodeBanned)
		case err == nil:
			return refuse(CodeTimedOut)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	cs, err := s.o.Store.ChatSettings(ctx, ch.ID)
	if err != nil {
		return err
	}
	if containsBlocked(text, cs.BlockedWords) {
		return refuse(CodeBlockedWord)
	}
	if cs.SlowModeSeconds > 0 && !r.canModerate {
		last, ok, err := s.o.Store.LastChatMessageAt(ctx, ch.ID, u.ID)
		if err != nil {
			return err
		}
		if ok && time.Since(last) < time.Duration(cs.SlowModeSeconds)*time.Second {
			return refuse(CodeSlowMode)
		}
	}
	m, err := s.o.Store.AddChatMessage(ctx, store.ChatMessage{
		ChannelID: ch.ID, UserID: u.ID, UserName: u.Name, DisplayName: u.DisplayName, Badge: r.badge, Text: text,
	})
	if err != nil {
		return err
	}
	// Persisted first: if the publish fails the message is still in the
	// history every new client gets.
	return s.publish(c.name, messageFrame{Type: "message", Message: messageOf(m)}, m.ID)
}

// History returns the last messages of a channel, oldest first.
func (s *Service) History(ctx context.Context, name string) ([]Message, error) {
	ch, err := s.channel(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.history(ctx, ch)
}

func (s *Service) history(ctx context.Context, ch ChannelInfo) ([]Message, error) {
	ms, err := s.o.Store.ChatHistory(ctx, ch.ID, s.o.History)
	if err != nil {
		return nil, err
	}
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[i] = messageOf(m)
	}
	return out, nil
}

// DeleteMessage removes message id from a channel's chat, for everyone.
func (s *Service) DeleteMessage(ctx context.Context, actor *account.User, name, id string) error {
	ch, err := s.moderator(ctx, actor, name)
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return refuse(CodeMessageNotFound)
	}
	if err := s.o.Store.DeleteChatMessage(ctx, ch.ID, n); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &Error{Code: CodeMessageNotFound, Err: err}
		}
		return err
	}
	return s.publish(name, deleteFrame{Type: "delete", ID: strconv.FormatInt(n, 10)}, 0)
}

// BanUser is the user of a ban in the API.
type BanUser struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Ban is a ban (Until nil) or timeout in force.
type Ban struct {
	User      BanUser    `json:"user"`
	Until     *time.Time `json:"until"`
	CreatedAt time.Time  `json:"created_at"`
}

func banOf(b store.ChatBan) Ban {
	out := Ban{User: BanUser{ID: b.UserID, Name: b.UserName}, CreatedAt: b.CreatedAt}
	if !b.Until.IsZero() {
		t := b.Until.UTC()
		out.Until = &t
	}
	return out
}

// BanUser bans (d = 0) or times out (d > 0, at most MaxTimeout) the user
// called userName in a channel; their messages disappear from every
// client.
func (s *Service) BanUser(ctx context.Context, actor *account.User, name, userName string, d time.Duration) (Ban, error) {
	ch, err := s.moderator(ctx, actor, name)
	if err != nil {
		return Ban{}, err
	}
	if d < 0 || d > MaxTimeout {
		return Ban{}, refuse(CodeBadDuration)
	}
	target, err := s.userByName(ctx, userName)
	if err != nil {
		return Ban{}, err
	}
	if target.ID == actor.ID || target.ID == ch.OwnerID || target.IsAdmin {
		return Ban{}, refuse(CodeCannotBan)
	}
	b := store.ChatBan{ChannelID: ch.ID, UserID: target.ID, UserName: target.Name, CreatedBy: actor.ID}
	if d > 0 {
		b.Until = time.Now().Add(d).UTC().Truncate(time.Millisecond)
	}
	if err := s.o.Store.PutChatBan(ctx, b); err != nil {
		return Ban{}, err
	}
	b.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
	return banOf(b), s.publish(name, purgeFrame{Type: "purge", UserID: target.ID}, 0)
}

// Unban lifts the ban or timeout of the user called userName.
func (s *Service) Unban(ctx context.Context, actor *account.User, name, userName string) error {
	ch, err := s.moderator(ctx, actor, name)
	if err != nil {
		return err
	}
	target, err := s.userByName(ctx, userName)
	if err != nil {
		return err
	}
	if err := s.o.Store.DeleteChatBan(ctx, ch.ID, target.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &Error{Code: CodeNotBanned, Err: err}
		}
		return err
	}
	return nil
}

// Bans lists the bans and timeouts in force in a channel.
func (s *Service) Bans(ctx context.Context, actor *account.User, name string) ([]Ban, error) {
	ch, err := s.moderator(ctx, actor, name)
	if err != nil {
		return nil, err
	}
	bs, err := s.o.Store.ChatBans(ctx, ch.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Ban, len(bs))
	for i, b := range bs {
		out[i] = banOf(b)
	}
	return out, nil
}

// Settings are a channel's chat rules as moderators see and set them.
type Settings struct {
	SlowModeSeconds int      `json:"slow_mode_seconds"`
	BlockedWords    []string `json:"blocked_words"`
}

// Settings returns a channel's chat settings.
func (s *Service) Settings(ctx context.Context, actor *account.User, name string) (Settings, error) {
	ch, err := s.moderator(ctx, actor, name)
	if err != nil {
		return Settings{}, err
	}
	cs, err := s.o.Store.ChatSettings(ctx, ch.ID)
	if err != nil {
		return Settings{}, err
	}
	words := cs.BlockedWords
	if words == nil {
		words = []string{}
	}
	return Settings{SlowModeSeconds: cs.SlowModeSeconds, BlockedWords: words}, nil
}

// PutSettings replaces a channel's chat settings; blocked words are stored
// normalised and lower case. Every client is told the new slow mode.
func (s *Service) PutSettings(ctx context.Context, actor *account.User, name string, in Settings) (Settings, error) {
	ch, err := s.moderator(ctx, actor, name)
	if err != nil {
		return Settings{}, err
	}
	words, ok := normaliseWords(in.BlockedWords)
	if !ok || in.SlowModeSeconds < 0 || in.SlowModeSeconds > MaxSlowModeSeconds {
		return Settings{}, refuse(CodeBadSettings)
	}
	if err := s.o.Store.PutChatSettings(ctx, store.ChatSettings{
		ChannelID: ch.ID, SlowModeSeconds: in.SlowModeSeconds, BlockedWords: words,
	}); err != nil {
		return Settings{}, err
	}
	out := Settings{SlowModeSeconds: in.SlowModeSeconds, BlockedWords: words}
	return out, s.publish(name, settingsFrame{Type: "settings", Settings: PublicSettings{SlowModeSeconds: out.SlowModeSeconds}}, 0)
}

// Moderator is a granted moderator of a channel.
type Moderator struct {
	User      BanUser   `json:"user"`
	CreatedAt time.Time `json:"created_at"`
}

// Moderators lists a channel's granted moderators (not its owner or the
// site's admins, who moderate anyway). Any moderator may look.
func (s *Service) Moderators(ctx context.Context, actor *account.User, name string) ([]Moderator, error) {
	ch, err := s.moderator(ctx, actor, name)
	if err != nil {
		return nil, err
	}
	ms, err := s.o.Store.ChannelModerators(ctx, ch.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Moderator, len(ms))
	for i, m := range ms {
		out[i] = Moderator{User: BanUser{ID: m.UserID, Name: m.UserName}, CreatedAt: m.CreatedAt}
	}
	return out, nil
}

// Grant makes the user called userName a moderator of a channel; only its
// owner or an admin may.
func (s *Service) Grant(ctx context.Context, actor *account.User, name, userName string) (Moderator, error) {
	ch, err := s.owner(ctx, actor, name)
	if err != nil {
		return Moderator{}, err
	}
	target, err := s.userByName(ctx, userName)
	if err != nil {
		return Moderator{}, err
	}
	if err := s.o.Store.AddChannelModerator(ctx, store.ChannelModerator{
		ChannelID: ch.ID, UserID: target.ID, UserName: target.Name, GrantedBy: actor.ID,
	}); err != nil {
		if errors.Is(err, store.ErrExists) {
			return Moderator{}, &Error{Code: CodeAlreadyGranted, Err: err}
		}
		return Moderator{}, err
	}
	return Moderator{User: BanUser{ID: target.ID, Name: target.Name}, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}, nil
}

// Revoke takes moderation of a channel away from the user called userName.
func (s *Service) Revoke(ctx context.Context, actor *account.User, name, userName string) error {
	ch, err := s.owner(ctx, actor, name)
	if err != nil {
		return err
	}
	target, err := s.userByName(ctx, userName)
	if err != nil {
		return err
	}
	if err := s.o.Store.RemoveChannelModerator(ctx, ch.ID, target.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &Error{Code: CodeNotModerator, Err: err}
		}
		return err
	}
	return nil
}
