package store

import "time"

// ViewerSession is one viewer watching one channel over one protocol.
// ViewerHash is a keyed hash of the viewer's identity, never the address.
type ViewerSession struct {
	ID         int64 // set by the store
	Channel    string
	Protocol   string
	ViewerHash []byte
	StartedAt  time.Time
	EndedAt    time.Time // zero while the session runs
}

// ChannelViewers is a channel's count of distinct viewers in a window.
type ChannelViewers struct {
	Channel       string
	UniqueViewers int
}

// Broadcast is one live session of a channel.
type Broadcast struct {
	ID            int64
	Channel       string
	StartedAt     time.Time
	EndedAt       time.Time // zero while live
	PeakViewers   int
	UniqueViewers int
}

// ViewerSample is the number of viewers of a broadcast at one moment.
type ViewerSample struct {
	At      time.Time
	Viewers int
}

// BroadcastUpdate is the state of a running or ending broadcast.
type BroadcastUpdate struct {
	ID            int64
	PeakViewers   int
	UniqueViewers int
	EndedAt       time.Time // zero: still live
}
