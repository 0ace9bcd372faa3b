package store

import "time"

// ChatMessage is one row of chat_messages. The author is denormalised: the
// name and badge they had when they wrote it.
type ChatMessage struct {
	ID          int64
	ChannelID   int64
	UserID      int64
	UserName    string
	DisplayName string
	Badge       string // "owner", "moderator", "admin" or ""
	Text        string
	CreatedAt   time.Time // UTC, millisecond precision
}

// ChatBan keeps a user from writing in a channel's chat: for good when Until
// is zero, else until then (a timeout).
type ChatBan struct {
	ChannelID int64
	UserID    int64
	UserName  string
	Until     time.Time // zero: permanent
	CreatedBy int64
	CreatedAt time.Time
}

// Permanent reports whether b is a ban rather than a timeout.
func (b ChatBan) Permanent() bool { return b.Until.IsZero() }

// ChatSettings are a channel's chat rules. A channel that never saved any
// has the zero value (no slow mode, no blocked words).
type ChatSettings struct {
	ChannelID       int64
	SlowModeSeconds int
	BlockedWords    []string // normalised, lower case
	UpdatedAt       time.Time
}

// ChannelModerator is a user granted moderation of a channel by its owner.
type ChannelModerator struct {
	ChannelID int64
	UserID    int64
	UserName  string
	GrantedBy int64
	CreatedAt time.Time
}
