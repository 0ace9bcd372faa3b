package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

// CreateOwned makes a channel called name owned by ownerID with profile p
// and returns it with its new stream key. A user owns at most
// MaxChannelsPerUser channels (ErrLimit).
func (s *Service) CreateOwned(ctx context.Context, ownerID int64, name string, p Profile) (Record, StreamKey, error) {
	if err := ValidateName(name); err != nil {
		return Record{}, "", err
	}
	p, err := NormalizeProfile(p)
	if err != nil {
		return Record{}, "", err
	}
	key := GenerateKey()
	rec, err := s.st.CreateOwnedChannel(ctx, name, s.storedKey(key), ownerID, p, s.maxPerUser)
	if err != nil {
		return Record{}, "", err
	}
	return rec, key, nil
}

// Record returns the channel called name with its profile; viewerID (0:
// anonymous) fills in Following. Disabled channels are returned too: the
// caller decides who may see them.
func (s *Service) Record(ctx context.Context, name string, viewerID int64) (Record, error) {
	if err := ValidateName(name); err != nil {
		return Record{}, err
	}
	return s.st.ChannelRecord(ctx, name, viewerID)
}

// Records returns the channels f selects, ordered by name.
func (s *Service) Records(ctx context.Context, f store.ChannelFilter) ([]Record, error) {
	return s.st.ChannelRecords(ctx, f)
}

// UpdateProfile changes the profile of the channel called name and returns
// the channel afterwards.
func (s *Service) UpdateProfile(ctx context.Context, name string, u ProfileUpdate, viewerID int64) (Record, error) {
	rec, err := s.Record(ctx, name, viewerID)
	if err != nil {
		return Record{}, err
	}
	p, err := NormalizeProfile(u.Apply(rec.ChannelProfile))
	if err != nil {
		return Record{}, err
	}
	if err := s.st.UpdateChannelProfile(ctx, name, p); err != nil {
		return Record{}, err
	}
	return s.st.ChannelRecord(ctx, name, viewerID)
}

// SetImage processes the uploaded image read from r, stores it in m and
// makes it the channel's avatar or banner; the image it replaces is
// removed. It returns the stored file's name.
func (s *Service) SetImage(ctx context.Context, m *Media, name string, kind store.ImageKind, r io.Reader) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	file, err := m.Save(kind, r)
	if err != nil {
		return "", err
	}
	old, err := s.st.SetChannelImage(ctx, name, kind, file)
	if err != nil {
		return "", errors.Join(err, m.Remove(file))
	}
	if err := m.Remove(old); err != nil {
		return "", fmt.Errorf("channel %q: replace %s: %w", name, kind, err)
	}
	return file, nil
}

// RemoveImage clears the channel's avatar or banner and deletes the file.
func (s *Service) RemoveImage(ctx context.Context, m *Media, name string, kind store.ImageKind) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	old, err := s.st.SetChannelImage(ctx, name, kind, "")
	if err != nil {
		return err
	}
	return m.Remove(old)
}

// DeleteWithMedia removes the channel called name and its images in m.
// Its live publish, if any, ends at the next key check.
func (s *Service) DeleteWithMedia(ctx context.Context, m *Media, name string) error {
	rec, err := s.Record(ctx, name, 0)
	if err != nil {
		return err
	}
	if err := s.st.DeleteChannel(ctx, name); err != nil {
		return err
	}
	return errors.Join(m.Remove(rec.AvatarID), m.Remove(rec.BannerID))
}

// SetDisabled disables or enables the channel called name. A disabled
// channel cannot publish (Authenticate refuses it; a live publish ends at
// the next key check) and is hidden from everyone but admins.
func (s *Service) SetDisabled(ctx context.Context, name string, disabled bool) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return s.st.SetChannelDisabled(ctx, name, disabled)
}

// RecordLive notes that the channel called name was live at at; the
// directory orders offline channels by it. Call it when a stream starts
// and when it ends.
func (s *Service) RecordLive(ctx context.Context, name string, at time.Time) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return s.st.SetChannelLastLive(ctx, name, at)
}
