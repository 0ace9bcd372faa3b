package chat

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/store"
)

var (
	errSlowClient = errors.New("client did not keep up")
	errShutdown   = errors.New("server shutting down")
	errGone       = errors.New("client gone")
)

// sendTimeout bounds the checks and the database write of one message.
const sendTimeout = 5 * time.Second

// client is one chat socket.
type client struct {
	s       *Service
	conn    *websocket.Conn
	user    *account.User // nil: anonymous, reads only
	name    string        // channel
	channel ChannelInfo
	queue   chan event
	ctx     context.Context // ends when the client must go; Cause says why
	cancel  context.CancelCauseFunc
	// historyUpTo is the newest message ID the hello carried; message
	// events up to it are duplicates. Only the writer uses it.
	historyUpTo int64
}

// offer queues ev without blocking; a client whose queue is full is cut.
// It may be called from the room's bus goroutine and from the client's own
// reader at once; channel operations and cancel are safe for that.
func (c *client) offer(ev event) {
	select {
	case c.queue <- ev:
	default:
		if c.ctx.Err() == nil {
			c.s.drops.Add(1)
		}
		c.cancel(errSlowClient)
	}
}

// SameOrigin reports whether a WebSocket upgrade comes from a page of this
// very site: the Origin header must equal scheme://host[:port] of the
// request itself (default ports aside). A request without Origin is not
// from a browser page (browsers always send it on WebSocket upgrades) and
// is allowed.
func SameOrigin(r *http.Request, trustForwardedProto bool) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if trustForwardedProto && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	if !strings.EqualFold(u.Scheme, scheme) {
		return false
	}
	return strings.EqualFold(hostPort(u.Host, scheme), hostPort(r.Host, scheme))
}

// hostPort adds the scheme's default port when host has none.
func hostPort(host, scheme string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// ServeSocket upgrades r to the chat socket of channel name and serves it
// until the client leaves, is dropped or Close is called. Errors before the
// upgrade (unknown channel, foreign Origin, shutting down) are returned for
// the caller to render; after the upgrade it returns nil.
func (s *Service) ServeSocket(w http.ResponseWriter, r *http.Request, name string) error {
	if !SameOrigin(r, s.o.TrustForwardedProto) {
		return refuse(CodeCrossOrigin)
	}
	ch, err := s.channel(r.Context(), name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	// Origin was checked above, exactly; coder/websocket's own check
	// would also accept a missing Host match by pattern.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.log.Debug("chat upgrade", "channel", name, "err", err)
		return nil
	}
	conn.SetReadLimit(maxFrameBytes)
	u := account.FromContext(r.Context())
	if u != nil && u.Disabled {
		u = nil
	}
	c := &client{s: s, conn: conn, user: u, name: name, channel: ch, queue: make(chan event, s.o.SendQueue)}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	defer c.cancel(errGone)

	rm, err := s.join(name, c)
	if err != nil {
		conn.Close(websocket.StatusGoingAway, "chat unavailable")
		return nil
	}
	s.clients.Add(1)
	defer s.clients.Add(-1)
	defer s.leave(rm, c)

	hello, err := s.hello(c)
	if err != nil {
		s.log.Warn("chat hello", "channel", name, "err", err)
		conn.Close(websocket.StatusInternalError, "internal error")
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.cancel(c.writeLoop(hello))
		c.closeConn()
	}()
	c.readLoop()
	c.cancel(errGone)
	<-done
	return nil
}

// hello builds c's first frame: history, who they are, the settings.
func (s *Service) hello(c *client) ([]byte, error) {
	ctx, cancel := context.WithTimeout(c.ctx, sendTimeout)
	defer cancel()
	h := helloFrame{Type: "hello"}
	var err error
	if h.History, err = s.history(ctx, c.channel); err != nil {
		return nil, err
	}
	if n := len(h.History); n > 0 {
		c.historyUpTo = parseID(h.History[n-1].ID)
	}
	cs, err := s.o.Store.ChatSettings(ctx, c.channel.ID)
	if err != nil {
		return nil, err
	}
	h.Settings.SlowModeSeconds = cs.SlowModeSeconds
	if u := c.user; u != nil {
		r, err := s.roleOf(ctx, c.channel, u)
		if err != nil {
			return nil, err
		}
		canWrite := true
		if !r.canModerate {
			// A ban or timeout in force (the store returns only those)
			// takes the send box away; a failed lookup is an error, not
			// permission.
			switch _, err := s.o.Store.ChatBan(ctx, c.channel.ID, u.ID); {
			case err == nil:
				canWrite = false
			case !errors.Is(err, store.ErrNotFound):
				return nil, err
			}
		}
		h.Me = &Me{ID: u.ID, Name: u.Name, CanWrite: canWrite, CanModerate: r.canModerate}
	}
	if h.History == nil {
		h.History = []Message{}
	}
	return json.Marshal(h)
}

func parseID(s string) int64 {
	var n int64
	for i := 0; i < len(s); i++ {
		n = n*10 + int64(s[i]-'0')
	}
	return n
}

// readLoop reads client frames until the socket fails or closes. It also
// keeps reading while the writer pings, which is how pongs arrive.
func (c *client) readLoop() {
	for {
		typ, data, err := c.conn.Read(context.Background())
		if err != nil {
			return
		}
		if c.ctx.Err() != nil {
			return
		}
		if typ != websocket.MessageText {
			c.offer(event{data: encodeError(CodeBadFrame)})
			continue
		}
		f, err := decodeClientFrame(data)
		if err != nil {
			c.offer(event{data: encodeError(CodeBadFrame)})
			continue
		}
		ctx, cancel := context.WithTimeout(c.ctx, sendTimeout)
		err = c.s.send(ctx, c, f.Text)
		cancel()
		if err != nil {
			code := CodeOf(err)
			if code == "" {
				code = CodeInternal
				if c.ctx.Err() == nil {
					c.s.log.Warn("chat send", "channel", c.name, "err", err)
				}
			}
			c.offer(event{data: encodeError(code)})
		}
	}
}

// writeLoop writes the hello, then queued events, and pings; it returns
// why it stopped.
func (c *client) writeLoop(hello []byte) error {
	if err := c.write(hello); err != nil {
		return err
	}
	ping := time.NewTicker(c.s.o.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return context.Cause(c.ctx)
		case ev := <-c.queue:
			if ev.messageID != 0 && ev.messageID <= c.historyUpTo {
				continue
			}
			if err := c.write(ev.data); err != nil {
				return err
			}
		case <-ping.C:
			ctx, cancel := context.WithTimeout(c.ctx, c.s.o.PongTimeout)
			err := c.conn.Ping(ctx)
			cancel()
			if err != nil {
				return err
			}
		}
	}
}

func (c *client) write(data []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.s.o.WriteTimeout)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, data)
}

// closeConn closes the socket with a code that says why.
func (c *client) closeConn() {
	code, reason := websocket.StatusNormalClosure, ""
	switch context.Cause(c.ctx) {
	case errSlowClient:
		code, reason = websocket.StatusPolicyViolation, "too slow"
	case errShutdown:
		code, reason = websocket.StatusGoingAway, "server shutting down"
	case errGone:
	default:
		// A failed write or an unanswered ping: the peer is not
		// listening, so a close handshake would only wait.
		_ = c.conn.CloseNow()
		return
	}
	_ = c.conn.Close(code, reason)
}
