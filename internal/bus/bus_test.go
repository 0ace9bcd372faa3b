package bus

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

func TestEmbeddedBusDeliversEvents(t *testing.T) {
	b, err := Open(Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sub, err := b.Conn.SubscribeSync(SubjectLive + "*")
	if err != nil {
		t.Fatal(err)
	}
	want := Event{Type: "live.started", Channel: "demo", At: time.Unix(1700000000, 0).UTC()}
	b.PublishEvent(want)
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != SubjectLive+"demo" {
		t.Fatalf("subject %q", msg.Subject)
	}
	var got Event
	if err := json.Unmarshal(msg.Data, &got); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestEmbeddedBusHasNoListenerByDefault(t *testing.T) {
	b, err := Open(Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if addr := b.srv.Addr(); addr != nil {
		t.Fatalf("embedded NATS listens on %v; want no listener", addr)
	}
}
