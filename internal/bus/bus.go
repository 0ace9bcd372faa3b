// Package bus is the message bus that carries events, chat and the live
// registry between the parts of the platform. By default it runs a NATS
// server inside the process with no network listener, so a single node needs
// nothing external; a fleet points every node at one NATS cluster and the
// same subjects work unchanged.
package bus

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configure the bus.
type Options struct {
	// URL of an external NATS cluster; empty runs an embedded server.
	URL string
	// Listen is the embedded server's client address ("host:port"); empty
	// means no network listener (in-process connections only).
	Listen string
	// Name identifies this node in connection names.
	Name string
}

// Bus is a connected NATS client, plus the embedded server when we run one.
type Bus struct {
	Conn *nats.Conn
	srv  *server.Server
	log  *slog.Logger
}

// Open starts the embedded server (unless URL is set) and connects.
func Open(opts Options, log *slog.Logger) (*Bus, error) {
	log = log.With("component", "bus")
	name := opts.Name
	if name == "" {
		name = "huabian"
	}
	b := &Bus{log: log}
	if opts.URL != "" {
		nc, err := nats.Connect(opts.URL, nats.Name(name), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("connect to NATS %s: %w", opts.URL, err)
		}
		b.Conn = nc
		log.Info("connected to NATS", "url", nc.ConnectedUrlRedacted())
		return b, nil
	}
	so := &server.Options{ServerName: name, NoLog: true, NoSigs: true, DontListen: true}
	if opts.Listen != "" {
		host, port, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: %w", opts.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("nats listen port %q: %w", port, err)
		}
		so.DontListen, so.Host, so.Port = false, host, p
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS server did not start")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name(name))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	b.Conn, b.srv = nc, srv
	if opts.Listen != "" {
		log.Info("embedded NATS listening", "addr", srv.ClientURL())
	}
	return b, nil
}

// Event is a platform event published on the bus.
type Event struct {
	Type    string    `json:"type"` // "live.started", "live.ended"
	Channel string    `json:"channel"`
	At      time.Time `json:"at"`
}

// SubjectLive is the subject prefix of live-state events: live.<channel>.
const SubjectLive = "huabian.live."

// PublishEvent publishes ev on huabian.live.<channel>; failures are logged,
// not returned, because events are advisory.
func (b *Bus) PublishEvent(ev Event) {
	data, err := json.Marshal(ev)
	if err != nil {
		return
	}
	if err := b.Conn.Publish(SubjectLive+ev.Channel, data); err != nil {
		b.log.Warn("publish event", "type", ev.Type, "channel", ev.Channel, "err", err)
	}
}

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() {
	if b.Conn != nil {
		_ = b.Conn.Drain()
		// Drain is asynchronous; wait briefly for it to finish.
		deadline := time.Now().Add(2 * time.Second)
		for !b.Conn.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		b.Conn.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}
