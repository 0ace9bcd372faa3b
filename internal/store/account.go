package store

import (
	"errors"
	"time"
)

// ErrLastAdmin means a change would leave the site without an enabled
// admin; the store refuses it so that two admins demoting each other at the
// same moment cannot both succeed.
var ErrLastAdmin = errors.New("would leave no enabled admin")

// User is one row of the users table.
type User struct {
	ID           int64
	Name         string
	DisplayName  string
	Role         string // viewer, streamer or admin
	Disabled     bool
	PasswordHash string    // argon2id in PHC string format
	CreatedAt    time.Time // UTC, millisecond precision
	UpdatedAt    time.Time // UTC, millisecond precision
}

// UserUpdate changes the fields that are not nil.
type UserUpdate struct {
	DisplayName  *string
	Role         *string
	Disabled     *bool
	PasswordHash *string
}

// Session is a signed-in browser. Only the SHA-256 of its ID is stored.
type Session struct {
	IDHash     []byte
	UserID     int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute end, whatever the activity
}

// APIToken is a personal API token. Only the SHA-256 of the token is
// stored; Hint is its last characters, to tell tokens apart in lists.
type APIToken struct {
	ID         int64
	UserID     int64
	Name       string
	Hash       []byte
	Hint       string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used
}
