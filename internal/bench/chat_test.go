package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/bus"
	"github.com/huabian-live/huabian/internal/chat"
	"github.com/huabian-live/huabian/internal/store"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

// startChat serves one chat room, "bench", on 127.0.0.1 with the real
// service, SQLite and embedded NATS; the bearer token "writer" signs in as
// user 1. It returns the socket URL.
func startChat(t *testing.T, o chat.Options) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	st, err := sqlstore.Open(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateChannel(t.Context(), "bench", store.ChannelKey{Hash: bytes.Repeat([]byte{7}, 32), Sealed: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	b, err := bus.Open(bus.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	o.Store, o.Conn, o.Log = st, b.Conn, log
	o.Channels = func(ctx context.Context, name string) (chat.ChannelInfo, error) {
		c, err := st.ChannelByName(ctx, name)
		return chat.ChannelInfo{ID: c.ID}, err
	}
	o.UserByName = func(context.Context, string) (chat.UserInfo, error) { return chat.UserInfo{}, chat.ErrUserNotFound }
	svc, err := chat.New(o)
	if err != nil {
		t.Fatal(err)
	}
	writer := &account.User{ID: 1, Name: "writer", Role: account.RoleViewer}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer writer" {
			r = r.WithContext(account.WithUser(r.Context(), writer))
		}
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/channels/"), "/chat")
		if err := svc.ServeSocket(w, r, name); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})}
	srv.RegisterOnShutdown(func() { svc.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		svc.Close()
		<-done
	})
	return "ws://" + ln.Addr().String() + "/api/v1/channels/bench/chat"
}

func TestChatBench(t *testing.T) {
	url := startChat(t, chat.Options{RateBurst: 5, RatePer: time.Second})
	rep, err := Chat(t.Context(), ChatOptions{URL: url, Readers: 20, Duration: 2 * time.Second, Rate: 20, Token: "writer"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Connected != 20 || rep.Dropped != 0 || rep.Accepted == 0 || rep.Missing != 0 {
		t.Fatalf("report %+v", rep)
	}
	if rep.Refused[chat.CodeRateLimited] == 0 || rep.Accepted+rep.Refused[chat.CodeRateLimited] != rep.Sent {
		t.Fatalf("the flood was not limited as expected: %+v", rep)
	}
	if rep.Latency.Count != rep.Accepted*20 || rep.Latency.P99 <= 0 {
		t.Fatalf("latency %+v for %d accepted", rep.Latency, rep.Accepted)
	}
}

// TestChatLoad is the load run behind docs/performance.md (Chat); it runs
// only when HUABIAN_CHAT_LOAD sets the number of readers:
//
//	HUABIAN_CHAT_LOAD=2000 go test -run=TestChatLoad -v -timeout 5m ./internal/bench
//
// HUABIAN_CHAT_LOAD_BURST=N raises the per-user limit to N messages per
// second, so that the writer's whole flood (50 messages/s) is accepted.
func TestChatLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HUABIAN_CHAT_LOAD"))
	if n <= 0 {
		t.Skip("set HUABIAN_CHAT_LOAD=N to run the chat load test with N readers")
	}
	var o chat.Options
	if burst, _ := strconv.Atoi(os.Getenv("HUABIAN_CHAT_LOAD_BURST")); burst > 0 {
		o.RateBurst, o.RatePer = burst, time.Second
	}
	url := startChat(t, o)
	var out strings.Builder
	rep, err := Chat(t.Context(), ChatOptions{URL: url, Readers: n, Duration: 20 * time.Second, Rate: 50, Token: "writer"}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dropped != 0 || rep.Missing != 0 {
		t.Errorf("drops: %+v", rep)
	}
}
