package chat

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// event is an encoded server → client frame shared by every client it goes
// to; messageID is set for "message" events.
type event struct {
	data      []byte
	messageID int64
}

// room is one channel's chat on this node: its local clients and the one
// NATS subscription that feeds them.
type room struct {
	name string
	sub  *nats.Subscription

	// clients is a copy-on-write slice, so fan-out takes no lock.
	clients atomic.Pointer[[]*client]
	mu      sync.Mutex // serialises writers of clients
}

// deliver hands one bus message to every local client. It never blocks:
// a client that cannot take it is dropped.
func (r *room) deliver(m *nats.Msg) {
	ev := event{data: m.Data}
	if v := m.Header.Get(headerMessageID); v != "" {
		ev.messageID, _ = strconv.ParseInt(v, 10, 64)
	}
	p := r.clients.Load()
	if p == nil {
		return
	}
	for _, c := range *p {
		c.offer(ev)
	}
}

func (r *room) add(c *client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var next []*client
	if p := r.clients.Load(); p != nil {
		next = append(next, *p...)
	}
	next = append(next, c)
	r.clients.Store(&next)
}

// remove drops c and returns how many clients are left.
func (r *room) remove(c *client) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.clients.Load()
	if p == nil {
		return 0
	}
	next := make([]*client, 0, len(*p))
	for _, o := range *p {
		if o != c {
			next = append(next, o)
		}
	}
	r.clients.Store(&next)
	return len(next)
}

// join adds c to the room of channel name, subscribing this node to the
// room first if c is its first local client. The subscription is confirmed
// by the server (Flush) before join returns, so every event published after
// it reaches c.
func (s *Service) join(name string, c *client) (*room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r := s.rooms[name]
	if r == nil {
		r = &room{name: name}
		sub, err := s.o.Conn.Subscribe(subject(name), r.deliver)
		if err != nil {
			return nil, fmt.Errorf("subscribe to chat %s: %w", name, err)
		}
		if err := s.o.Conn.Flush(); err != nil {
			_ = sub.Unsubscribe()
			return nil, fmt.Errorf("subscribe to chat %s: %w", name, err)
		}
		r.sub = sub
		s.rooms[name] = r
	}
	r.add(c)
	s.conns[c] = struct{}{}
	return r, nil
}

// leave removes c; the room unsubscribes when its last local client goes.
func (s *Service) leave(r *room, c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if r.remove(c) == 0 && s.rooms[r.name] == r {
		delete(s.rooms, r.name)
		if err := r.sub.Unsubscribe(); err != nil {
			s.log.Debug("unsubscribe chat room", "channel", r.name, "err", err)
		}
	}
}
