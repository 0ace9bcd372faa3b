// Package store defines the records Huabian Live persists and the errors its
// store implementations share. The implementation lives in store/sqlstore;
// domain packages declare the few methods they need as their own interfaces.
package store

import (
	"errors"
	"time"
)

var (
	// ErrNotFound means no record matched.
	ErrNotFound = errors.New("not found")
	// ErrExists means a record with the same unique name already exists.
	ErrExists = errors.New("already exists")
)

// ChannelKey is a channel's stream key as stored: never the key itself.
type ChannelKey struct {
	Hash   []byte // SHA-256 of the key, for lookup when a publisher connects
	Sealed []byte // the key encrypted with the data directory's secret
	Hint   string // last characters of the key, to tell keys apart in lists
}

// Channel is one row of the channels table.
type Channel struct {
	ID        int64
	Name      string
	Key       ChannelKey
	CreatedAt time.Time // UTC, millisecond precision
	UpdatedAt time.Time // UTC, millisecond precision; changes when the key does
}
