// Package channel holds the rules for channels and their stream keys:
// which names are valid, how keys are made, stored and checked, and how
// often an address may present a wrong key. It also keeps what streamers
// say about their channels (profile, category, tags, images), who follows
// them, and builds the public directory from the store and the live
// registry.
//
// The channel name is public (it is in every playback URL); the stream key
// is the publishing secret. The store keeps only a key's SHA-256, for
// lookup, and a copy sealed with the data directory's secret, so that
// "huabian channel key NAME" can show it again.
package channel

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

// Errors returned by Service. ErrNotFound and ErrExists are the store's, so
// errors.Is works with either name.
var (
	// ErrBadKey means a stream key matches no channel.
	ErrBadKey = errors.New("stream key not recognized")
	// ErrNotFound means no channel has that name.
	ErrNotFound = store.ErrNotFound
	// ErrExists means a channel with that name already exists.
	ErrExists = store.ErrExists
	// ErrDisabled means an admin disabled the channel: it may not publish
	// and is not shown.
	ErrDisabled = errors.New("channel disabled")
	// ErrLimit means the user owns MaxChannelsPerUser channels already.
	ErrLimit = store.ErrLimit
)

// sealContext is the additional data of every sealed stream key, so that a
// value sealed for another purpose never opens as a key.
var sealContext = []byte("huabian stream key")

// Store is what Service needs from the database.
type Store interface {
	CreateChannel(ctx context.Context, name string, key store.ChannelKey) (store.Channel, error)
	ChannelByName(ctx context.Context, name string) (store.Channel, error)
	ChannelByKeyHash(ctx context.Context, hash []byte) (store.Channel, error)
	ListChannels(ctx context.Context) ([]store.Channel, error)
	UpdateChannelKey(ctx context.Context, name string, key store.ChannelKey) (store.Channel, error)
	DeleteChannel(ctx context.Context, name string) error

	CreateOwnedChannel(ctx context.Context, name string, key store.ChannelKey, ownerID int64,
		p store.ChannelProfile, maxPerOwner int) (store.ChannelRecord, error)
	ChannelRecord(ctx context.Context, name string, viewerID int64) (store.ChannelRecord, error)
	ChannelRecords(ctx context.Context, f store.ChannelFilter) ([]store.ChannelRecord, error)
	UpdateChannelProfile(ctx context.Context, name string, p store.ChannelProfile) error
	SetChannelImage(ctx context.Context, name string, kind store.ImageKind, file string) (old string, err error)
	SetChannelDisabled(ctx context.Context, name string, disabled bool) error
	ChannelDisabled(ctx context.Context, id int64) (bool, error)
	SetChannelLastLive(ctx context.Context, name string, at time.Time) error
	SetFollow(ctx context.Context, userID, channelID int64, follow bool) (followers int, err error)
}

// Channel is a channel as the rest of the program sees it; it carries no
// usable secret.
type Channel struct {
	ID        int64
	Name      string
	KeyHint   string // last 4 characters of the stream key
	KeyHash   []byte // SHA-256 of the stream key, for KeyStillValid
	CreatedAt time.Time
	UpdatedAt time.Time // last key change
}

// RedactedKey shows the key as logs do: sk_… and its last 2 characters.
func (c Channel) RedactedKey() string {
	if len(c.KeyHint) < 2 {
		return KeyPrefix + "…"
	}
	return KeyPrefix + "…" + c.KeyHint[len(c.KeyHint)-2:]
}

// Service manages channels and checks stream keys. It is safe for
// concurrent use.
type Service struct {
	st         Store
	sealer     *Sealer
	maxPerUser int
}

// NewService returns a Service over st; sealer (non-nil) seals and unseals
// stored keys.
func NewService(st Store, sealer *Sealer) *Service {
	return &Service{st: st, sealer: sealer, maxPerUser: MaxChannelsPerUser}
}

// Create makes a channel called name and returns its new stream key.
// A name taken already gives ErrExists; an invalid one ErrBadName.
func (s *Service) Create(ctx context.Context, name string) (StreamKey, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	key := GenerateKey()
	if _, err := s.st.CreateChannel(ctx, name, s.storedKey(key)); err != nil {
		return "", err
	}
	return key, nil
}

// Key returns the stream key of the channel called name.
func (s *Service) Key(ctx context.Context, name string) (StreamKey, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	c, err := s.st.ChannelByName(ctx, name)
	if err != nil {
		return "", err
	}
	plain, err := s.sealer.Open(c.Key.Sealed, sealContext)
	if err == nil && subtle.ConstantTimeCompare(HashKey(string(plain)), c.Key.Hash) != 1 {
		err = errors.New("sealed key does not match its hash")
	}
	if err != nil {
		return "", fmt.Errorf("channel %q: stored key unreadable (was %s replaced?); make a new key with --rotate: %w",
			name, SecretFile, err)
	}
	return StreamKey(plain), nil
}

// Rotate gives the channel called name a new stream key and returns it.
// The old key stops working at once; live publishes made with it end at
// the next KeyStillValid poll.
func (s *Service) Rotate(ctx context.Context, name string) (StreamKey, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	key := GenerateKey()
	if _, err := s.st.UpdateChannelKey(ctx, name, s.storedKey(key)); err != nil {
		return "", err
	}
	return key, nil
}

// Exists reports whether a channel called name exists. An invalid name
// exists never.
func (s *Service) Exists(ctx context.Context, name string) (bool, error) {
	if ValidateName(name) != nil {
		return false, nil
	}
	_, err := s.st.ChannelByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// List returns every channel, ordered by name.
func (s *Service) List(ctx context.Context) ([]Channel, error) {
	rows, err := s.st.ListChannels(ctx)
	if err != nil {
		return nil, err
	}
	cs := make([]Channel, len(rows))
	for i, r := range rows {
		cs[i] = fromStore(r)
	}
	return cs, nil
}

// Delete removes the channel called name.
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return s.st.DeleteChannel(ctx, name)
}

// Authenticate returns the channel whose stream key is key, or ErrBadKey;
// a disabled channel gives ErrDisabled. The key is found by its hash and the
// hashes compared in constant time; error messages never contain the key.
func (s *Service) Authenticate(ctx context.Context, key string) (Channel, error) {
	if !wellFormed(key) {
		return Channel{}, ErrBadKey
	}
	h := HashKey(key)
	c, err := s.st.ChannelByKeyHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Channel{}, ErrBadKey
	}
	if err != nil {
		return Channel{}, fmt.Errorf("authenticate stream key: %w", err)
	}
	if subtle.ConstantTimeCompare(c.Key.Hash, h) != 1 {
		return Channel{}, ErrBadKey
	}
	disabled, err := s.st.ChannelDisabled(ctx, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Channel{}, ErrBadKey // deleted meanwhile
	}
	if err != nil {
		return Channel{}, fmt.Errorf("authenticate stream key: %w", err)
	}
	if disabled {
		return Channel{}, fmt.Errorf("channel %q: %w", c.Name, ErrDisabled)
	}
	return fromStore(c), nil
}

// CheckKey reports whether keyHash is still the key of channel channelID:
// nil if so, ErrBadKey if the key was rotated or the channel deleted,
// ErrDisabled if the channel was disabled, and another error if the
// database could not tell.
func (s *Service) CheckKey(ctx context.Context, channelID int64, keyHash []byte) error {
	c, err := s.st.ChannelByKeyHash(ctx, keyHash)
	if errors.Is(err, store.ErrNotFound) {
		return ErrBadKey
	}
	if err != nil {
		return fmt.Errorf("check stream key of channel %d: %w", channelID, err)
	}
	if c.ID != channelID || subtle.ConstantTimeCompare(c.Key.Hash, keyHash) != 1 {
		return ErrBadKey
	}
	disabled, err := s.st.ChannelDisabled(ctx, channelID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrBadKey // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("check stream key of channel %d: %w", channelID, err)
	}
	if disabled {
		return ErrDisabled
	}
	return nil
}

// KeyStillValid is CheckKey for a live publish polled every second: it is
// false only when the key is known to be revoked or the channel disabled.
// A database error keeps the publish alive until a later poll can tell (a
// busy disk must not cut every stream); callers wanting to see that error
// use CheckKey.
func (s *Service) KeyStillValid(ctx context.Context, channelID int64, keyHash []byte) bool {
	err := s.CheckKey(ctx, channelID, keyHash)
	return !errors.Is(err, ErrBadKey) && !errors.Is(err, ErrDisabled)
}

func (s *Service) storedKey(k StreamKey) store.ChannelKey {
	return store.ChannelKey{
		Hash:   HashKey(string(k)),
		Sealed: s.sealer.Seal([]byte(k), sealContext),
		Hint:   hint(k),
	}
}

func fromStore(c store.Channel) Channel {
	return Channel{
		ID:        c.ID,
		Name:      c.Name,
		KeyHint:   c.Key.Hint,
		KeyHash:   c.Key.Hash,
		CreatedAt: c.CreatedAt,
		UpdatedAt: c.UpdatedAt,
	}
}
