package llhls

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/observe"
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
	l.started = append(l.started, channel+" "+protocol+" "+vid)
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.ended++
			l.mu.Unlock()
		})
	}
}

func (l *sessionLog) counts() (started []string, ended int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.started...), l.ended
}

func TestViewerSessionHook(t *testing.T) {
	log := &sessionLog{}
	e := newEnv(t, Options{Sessions: log}, nil)
	stop := e.startPublish("demo", 2, 0, nil)

	// One player: the multivariant playlist, then its media playlist,
	// reloaded and followed by segments and parts, all one session.
	mv := e.mustGet("/live/demo/index.m3u8?vid=player-0001")
	m := mediaURIRe.FindStringSubmatch(mv.body)
	if m == nil {
		t.Fatalf("no media playlist URI in:\n%s", mv.body)
	}
	mediaURI := "/live/demo/" + m[1]
	for range 5 {
		mp := e.mustGet(mediaURI)
		for line := range strings.SplitSeq(mp.body, "\n") {
			if strings.HasSuffix(line, ".mp4") && !strings.Contains(line, "#") && !strings.HasPrefix(line, "gap") {
				e.get("/live/demo/" + line)
				break
			}
		}
	}
	started, _ := log.counts()
	want := "demo " + observe.ProtoLLHLS + " player-0001"
	if len(started) != 1 || started[0] != want {
		t.Fatalf("sessions started = %q, want one %q", started, want)
	}

	// A second player (a new multivariant load) is a second session.
	e.mustGet("/live/demo/index.m3u8?vid=player-0002")
	if started, _ = log.counts(); len(started) != 2 {
		t.Fatalf("sessions started = %q, want 2", started)
	}

	// Both end when the stream ends.
	stop()
	e.hub.Kick("demo", true)
	waitFor(t, 10*time.Second, "both sessions to end", func() bool {
		_, ended := log.counts()
		return ended == 2
	})
}
