package rtmp

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/play"
)

// sessionLog records the viewer sessions reported through Options.Sessions.
type sessionLog struct {
	mu      sync.Mutex
	started []string // "channel protocol vid"
	ended   int
}

func (l *sessionLog) ViewerStarted(channel, protocol, vid, remote, userAgent string) func() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.started = append(l.started, channel+" "+protocol+" "+vid+" "+remote)
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.ended++
			l.mu.Unlock()
		})
	}
}

func (l *sessionLog) counts() ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.started...), l.ended
}

func TestViewerSessionHook(t *testing.T) {
	log := &sessionLog{}
	h := hub.New(hub.HubOptions{Stream: hub.Options{Prepare: play.PrepareFrame}})
	s := New(h, fakeAuth{}, &countingLimiter{}, observe.NewMetrics(nil), slog.New(slog.DiscardHandler),
		Options{HandshakeTimeout: 2 * time.Second, Sessions: log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() {
		h.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	pub, err := h.Publish("demo", hub.PublishInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tracks := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264, SPS: testSPS, PPS: testPPS}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			d := time.Duration(i) * time.Second / 30
			au := [][]byte{{0x41, 0x9a, 0x02, 0x04}}
			if i%30 == 0 {
				au = [][]byte{{0x65, 0x88, 0x84, 0x00, 0x33}}
			}
			pub.Write(&media.Frame{Tracks: tracks, Video: true, Key: i%30 == 0, DTS: d, PTS: d, AU: au})
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	player, err := dial(t, "rtmp://"+ln.Addr().String()+"/live/demo?vid=rtmp-viewer-1", false)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		started, _ := log.counts()
		if len(started) == 1 {
			if want := "demo " + observe.ProtoRTMP + " rtmp-viewer-1 127.0.0.1"; started[0] != want {
				t.Fatalf("session = %q, want %q", started[0], want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions started = %q, want 1", started)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	player.Close()
	for {
		if _, ended := log.counts(); ended == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("session never ended after the player left")
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}
