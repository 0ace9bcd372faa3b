package store

import (
	"errors"
	"time"
)

// ErrLimit means a per-owner quota (e.g. channels per user) is used up.
var ErrLimit = errors.New("limit reached")

// ChannelProfile is what a channel's owner edits about it.
type ChannelProfile struct {
	Title       string
	Description string
	Category    string   // category slug, "" = none
	Tags        []string // normalised lower-case words
	Language    string   // BCP 47 code, "" = unspecified
	Visibility  string   // "public" or "unlisted"
}

// ChannelOwner names a channel's owner.
type ChannelOwner struct {
	ID          int64
	Name        string
	DisplayName string
}

// ChannelRecord is a channel with its profile, images, moderation state and
// follower counts.
type ChannelRecord struct {
	Channel
	ChannelProfile
	Owner      *ChannelOwner // nil: made with the CLI, owned by no one
	AvatarID   string        // file in the media directory, "" = none
	BannerID   string        // file in the media directory, "" = none
	Disabled   bool
	LastLiveAt time.Time // zero: never live
	Followers  int
	Following  bool // the user the query was made for follows the channel
}

// ChannelFilter selects channel records. Zero fields select everything.
type ChannelFilter struct {
	// Search is a lower-case substring of the name, title or a tag.
	Search string
	// Categories restricts to these category slugs.
	Categories []string
	// Names restricts to these channel names; a non-nil empty slice
	// selects nothing.
	Names []string
	// FollowedBy restricts to channels this user follows.
	FollowedBy int64
	// OwnerID restricts to channels this user owns.
	OwnerID int64
	// ListedOnly leaves out unlisted and disabled channels.
	ListedOnly bool
	// ViewerID is the user whose Following flag is filled in (0: none).
	ViewerID int64
}

// ImageKind names a channel image slot.
type ImageKind string

// Channel image slots.
const (
	ImageAvatar ImageKind = "avatar"
	ImageBanner ImageKind = "banner"
)
