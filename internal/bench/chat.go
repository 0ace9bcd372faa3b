package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"
)

// ChatOptions configure Chat.
type ChatOptions struct {
	// URL is the chat socket: ws://HOST/api/v1/channels/NAME/chat.
	URL string
	// Readers is how many anonymous reader sockets to open.
	Readers int
	// Duration is how long the writer sends, after every reader is in.
	Duration time.Duration
	// Rate is how many messages per second the writer tries to send; the
	// server's per-user limit refuses what is over it, and the refusals
	// are counted.
	Rate float64
	// Cookie (a "name=value" session cookie, with CSRF as its token if the
	// server wants one) or Token (an API token, sent as a bearer) signs the
	// writer in.
	Cookie, CSRF, Token string
	// Connects bounds how many sockets are being opened at once.
	Connects int
}

// ChatReport is the outcome of Chat.
type ChatReport struct {
	URL       string `json:"url"`
	Requested int    `json:"readers_requested"`
	Connected int    `json:"readers_connected"`
	Failed    int    `json:"readers_failed"`
	// Dropped readers were disconnected by the server during the run.
	Dropped int `json:"readers_dropped"`

	Sent     int            `json:"messages_sent"`
	Accepted int            `json:"messages_accepted"` // echoed back to the writer
	Refused  map[string]int `json:"messages_refused"`  // by error code

	// Delivered counts accepted messages received by readers; Missing is
	// Accepted × readers still connected − Delivered.
	Delivered int64 `json:"deliveries"`
	Missing   int64 `json:"deliveries_missing"`
	// Latency is from the writer's send (the time is inside the text) to a
	// reader having the message, over every delivery.
	Latency ChatLatency `json:"latency"`
	Errors  []string    `json:"errors,omitempty"`
}

// ChatLatency summarises delivery latency.
type ChatLatency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

const chatTextPrefix = "bench "

// Chat opens o.Readers reader sockets and one writer on one chat room, lets
// the writer send o.Rate messages per second for o.Duration with its send
// time in the text, and measures when each reader receives each message.
// Everything runs in this process, so latency is measured on one clock.
func Chat(ctx context.Context, o ChatOptions, out io.Writer) (ChatReport, error) {
	if o.Connects <= 0 {
		o.Connects = 64
	}
	if o.Rate <= 0 {
		o.Rate = 10
	}
	rep := ChatReport{URL: o.URL, Requested: o.Readers, Refused: map[string]int{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		hist      histogram
		delivered atomic.Int64
		dropped   atomic.Int64
		errMu     sync.Mutex
		errs      = map[string]bool{}
	)
	noteErr := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(errs) < maxErrors {
			errs[err.Error()] = true
		}
	}
	handle := func(data []byte) {
		var f struct {
			Type    string `json:"type"`
			Message struct {
				Text string `json:"text"`
			} `json:"message"`
		}
		if json.Unmarshal(data, &f) != nil || f.Type != "message" {
			return
		}
		if sent, ok := parseChatText(f.Message.Text); ok {
			hist.add(time.Since(sent))
			delivered.Add(1)
		}
	}

	// Readers connect first, a bounded number at a time.
	var (
		readers sync.WaitGroup
		conns   = make([]*websocket.Conn, 0, o.Readers)
		connsMu sync.Mutex
		sem     = make(chan struct{}, o.Connects)
	)
	var connecting sync.WaitGroup
	for range o.Readers {
		connecting.Add(1)
		sem <- struct{}{}
		go func() {
			defer connecting.Done()
			defer func() { <-sem }()
			dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
			c, _, err := websocket.Dial(dctx, o.URL, nil)
			dcancel()
			if err != nil {
				noteErr(err)
				return
			}
			c.SetReadLimit(1 << 20)
			connsMu.Lock()
			conns = append(conns, c)
			connsMu.Unlock()
			readers.Go(func() {
				for {
					_, data, err := c.Read(ctx)
					if err != nil {
						if ctx.Err() == nil {
							dropped.Add(1)
							noteErr(err)
						}
						return
					}
					handle(data)
				}
			})
		}()
	}
	connecting.Wait()
	rep.Connected = len(conns)
	rep.Failed = o.Readers - rep.Connected
	defer func() {
		cancel()
		for _, c := range conns {
			c.CloseNow()
		}
		readers.Wait()
	}()

	h := http.Header{}
	switch {
	case o.Token != "":
		h.Set("Authorization", "Bearer "+o.Token)
	case o.Cookie != "":
		h.Set("Cookie", o.Cookie)
		if o.CSRF != "" {
			h.Set("X-CSRF-Token", o.CSRF)
		}
	}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	w, _, err := websocket.Dial(dctx, o.URL, &websocket.DialOptions{HTTPHeader: h})
	dcancel()
	if err != nil {
		return rep, fmt.Errorf("writer: %w", err)
	}
	defer w.CloseNow()
	w.SetReadLimit(1 << 20)
	var (
		accepted atomic.Int64
		answered atomic.Int64 // accepted or refused
		refMu    sync.Mutex
		wdone    = make(chan struct{})
	)
	go func() {
		defer close(wdone)
		for {
			_, data, err := w.Read(ctx)
			if err != nil {
				return
			}
			var f struct {
				Type    string          `json:"type"`
				Error   string          `json:"error"`
				Message json.RawMessage `json:"message"` // text in error frames
			}
			if json.Unmarshal(data, &f) != nil {
				continue
			}
			switch f.Type {
			case "hello":
			case "message":
				var m struct {
					Text string `json:"text"`
				}
				if json.Unmarshal(f.Message, &m) == nil && strings.HasPrefix(m.Text, chatTextPrefix) {
					accepted.Add(1)
					answered.Add(1)
				}
			case "error":
				refMu.Lock()
				rep.Refused[f.Error]++
				refMu.Unlock()
				answered.Add(1)
			}
		}
	}()

	interval := time.Duration(float64(time.Second) / o.Rate)
	tick := time.NewTicker(interval)
	stop := time.After(o.Duration)
	seq := 0
send:
	for {
		select {
		case <-ctx.Done():
			break send
		case <-stop:
			break send
		case <-tick.C:
			seq++
			text := fmt.Sprintf("%s%d %d", chatTextPrefix, seq, time.Now().UnixNano())
			b, _ := json.Marshal(map[string]string{"type": "send", "text": text})
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
			err := w.Write(wctx, websocket.MessageText, b)
			wcancel()
			if err != nil {
				noteErr(fmt.Errorf("writer: %w", err))
				break send
			}
			rep.Sent++
		}
	}
	tick.Stop()
	// Let the last messages arrive: wait until the writer has an answer
	// to every frame and every reader has every accepted message, or 5 s.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		want := accepted.Load() * (int64(rep.Connected) - dropped.Load())
		if answered.Load() >= int64(rep.Sent) && delivered.Load() >= want {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.Close(websocket.StatusNormalClosure, "")
	cancel()
	<-wdone

	refMu.Lock()
	rep.Accepted = int(accepted.Load())
	refMu.Unlock()
	rep.Dropped = int(dropped.Load())
	rep.Delivered = delivered.Load()
	rep.Missing = max(0, int64(rep.Accepted)*int64(rep.Connected-rep.Dropped)-rep.Delivered)
	if n := hist.count.Load(); n > 0 {
		maxD := time.Duration(hist.max.Load())
		rep.Latency = ChatLatency{
			Count: int(n),
			P50:   ms(min(hist.quantile(n, 50), maxD)),
			P95:   ms(min(hist.quantile(n, 95), maxD)),
			P99:   ms(min(hist.quantile(n, 99), maxD)),
			Max:   ms(maxD),
		}
	}
	errMu.Lock()
	for e := range errs {
		rep.Errors = append(rep.Errors, e)
	}
	errMu.Unlock()
	if out != nil {
		if err := rep.Print(out); err != nil {
			return rep, err
		}
	}
	if rep.Connected == 0 {
		return rep, errors.New("no reader connected")
	}
	return rep, nil
}

// parseChatText reads the send time from "bench SEQ UNIXNANO".
func parseChatText(s string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(s, chatTextPrefix)
	if !ok {
		return time.Time{}, false
	}
	_, ns, ok := strings.Cut(rest, " ")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// Print writes the report as an aligned table.
func (r ChatReport) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "url\t%s\n", r.URL)
	fmt.Fprintf(tw, "readers\t%d connected, %d failed, %d dropped by the server\n", r.Connected, r.Failed, r.Dropped)
	fmt.Fprintf(tw, "messages\t%d sent, %d accepted, refused %v\n", r.Sent, r.Accepted, r.Refused)
	fmt.Fprintf(tw, "deliveries\t%d, %d missing\n", r.Delivered, r.Missing)
	fmt.Fprintf(tw, "latency\tp50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms (%d samples)\n",
		r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.Latency.Count)
	for _, e := range r.Errors {
		fmt.Fprintf(tw, "error\t%s\n", e)
	}
	return tw.Flush()
}
