package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/huabian-live/huabian/internal/media"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testTracks = &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264}, Audio: &media.AudioTrack{Codec: media.CodecAAC}}

// frames returns n video frames at 30 fps with a keyframe every gop frames.
func frames(tr *media.Tracks, start, n, gop int) []*media.Frame {
	out := make([]*media.Frame, n)
	for i := range out {
		k := start + i
		d := time.Duration(k) * time.Second / 30
		out[i] = &media.Frame{Tracks: tr, Video: true, Key: k%gop == 0, DTS: d, PTS: d, AU: [][]byte{{byte(k)}}}
	}
	return out
}

func TestReaderStartsAtLastKeyframe(t *testing.T) {
	s := NewStream("a", Options{})
	for _, f := range frames(testTracks, 0, 45, 30) {
		s.Write(f)
	}
	r := s.Subscribe()
	defer r.Close()
	batch, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != 15 || !batch[0].Key || batch[0].Seq != 30 {
		t.Fatalf("got %d frames starting at seq %d key=%v; want 15 from keyframe 30", len(batch), batch[0].Seq, batch[0].Key)
	}
}

func TestReaderBeforeFirstKeyframeWaits(t *testing.T) {
	s := NewStream("a", Options{})
	for _, f := range frames(testTracks, 1, 5, 30) { // no keyframe
		s.Write(f)
	}
	r := s.Subscribe()
	defer r.Close()
	if b, _ := r.TryNext(); len(b) != 0 {
		t.Fatalf("got %d frames before any keyframe", len(b))
	}
	for _, f := range frames(testTracks, 30, 2, 30) {
		s.Write(f)
	}
	b, err := r.Next(context.Background())
	if err != nil || len(b) != 2 || !b[0].Key {
		t.Fatalf("got %d frames, err %v; want 2 starting with a keyframe", len(b), err)
	}
}

// Many readers see every frame in order, concurrently with the writer.
func TestManyReaders(t *testing.T) {
	// The writer here is not paced in real time, so allow any lag.
	s := NewStream("a", Options{MaxLag: time.Hour})
	const readers, total = 50, 600
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	s.Write(frames(testTracks, 0, 1, 30)[0])
	for range readers {
		r := s.Subscribe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			want := uint64(0)
			for {
				b, err := r.Next(context.Background())
				if errors.Is(err, ErrEnded) {
					if want != total {
						errs <- fmt.Errorf("reader ended at %d, want %d", want, total)
					}
					return
				}
				if err != nil {
					errs <- err
					return
				}
				for _, f := range b {
					if f.Seq != want {
						errs <- fmt.Errorf("got seq %d, want %d", f.Seq, want)
						return
					}
					want++
				}
			}
		}()
	}
	for _, f := range frames(testTracks, 1, total-1, 30) {
		s.Write(f)
	}
	s.End()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A reader that never reads skips forward to a keyframe (counted as drops),
// is eventually told it is too slow, and never delays the writer or the
// other reader.
func TestSlowReaderSkipsAndIsDropped(t *testing.T) {
	s := NewStream("a", Options{RingSize: 256, MaxLag: time.Second, SlowTimeout: 50 * time.Millisecond})
	slow := s.Subscribe()
	defer slow.Close()
	fast := s.Subscribe()
	defer fast.Close()
	got := 0
	for _, f := range frames(testTracks, 0, 1000, 30) {
		s.Write(f)
		b, err := fast.TryNext()
		if err != nil {
			t.Fatal(err)
		}
		got += len(b)
	}
	if got != 1000 {
		t.Fatalf("fast reader got %d frames, want 1000", got)
	}
	// First look: far behind, so it lands on the newest keyframe.
	b, err := slow.TryNext()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 || !b[0].Key || b[0].Seq != 990 {
		t.Fatalf("slow reader resumed at %v; want keyframe 990", b)
	}
	if slow.Dropped() != 990 || s.Counters.Drops.Load() != 990 {
		t.Fatalf("dropped %d (stream %d), want 990", slow.Dropped(), s.Counters.Drops.Load())
	}
	// Stay behind past SlowTimeout: disconnect.
	deadline := time.Now().Add(5 * time.Second)
	for i := 1000; ; i += 100 {
		for _, f := range frames(testTracks, i, 100, 30) {
			s.Write(f)
		}
		if _, err := slow.TryNext(); errors.Is(err, ErrTooSlow) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slow reader was never dropped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.Counters.SlowReaders.Load() != 1 {
		t.Fatalf("slow readers %d, want 1", s.Counters.SlowReaders.Load())
	}
}

func TestReconnectWithinGraceKeepsReaders(t *testing.T) {
	h := New(HubOptions{Grace: time.Second})
	defer h.Close()
	p1, err := h.Publish("a", PublishInfo{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames(testTracks, 0, 60, 30) {
		p1.Write(f)
	}
	r := p1.Stream().Subscribe()
	defer r.Close()
	if _, err := r.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	p1.Close()
	if h.Stream("a", false) != nil || h.Stream("a", true) == nil {
		t.Fatal("stream should be in its grace window")
	}
	tracks2 := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264, Width: 1}}
	p2, err := h.Publish("a", PublishInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if p2.Stream() != p1.Stream() {
		t.Fatal("reconnect within grace must resume the same stream")
	}
	for _, f := range frames(tracks2, 0, 30, 30) { // timestamps restart at 0
		p2.Write(f)
	}
	b, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b[0].Tracks != tracks2 {
		t.Fatal("reader should see the new tracks")
	}
	if b[0].DTS <= 59*time.Second/30 {
		t.Fatalf("timestamps not rebased: first DTS after reconnect %v", b[0].DTS)
	}
	p2.Close()
	// After the grace window the reader gets end-of-stream.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, err := r.Next(ctx)
		if errors.Is(err, ErrEnded) {
			break
		}
		if err != nil {
			t.Fatalf("want ErrEnded, got %v", err)
		}
	}
}

func TestSecondPublisherBusyUnlessDead(t *testing.T) {
	h := New(HubOptions{DeadAfter: 100 * time.Millisecond})
	defer h.Close()
	p1, err := h.Publish("a", PublishInfo{})
	if err != nil {
		t.Fatal(err)
	}
	p1.Write(frames(testTracks, 0, 1, 30)[0])
	if _, err := h.Publish("a", PublishInfo{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second publisher: got %v, want ErrBusy", err)
	}
	time.Sleep(150 * time.Millisecond) // p1 now silent past DeadAfter
	p2, err := h.Publish("a", PublishInfo{})
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	select {
	case <-p1.Done():
	default:
		t.Fatal("old publisher not ended on takeover")
	}
	if !errors.Is(p1.Err(), ErrTakenOver) {
		t.Fatalf("old publisher err %v", p1.Err())
	}
	p1.Close() // the old connection's cleanup must not disturb the new one
	if h.Stream("a", false) == nil {
		t.Fatal("new publisher should be live")
	}
	p2.Close()
}

func TestKeyCheckEndsPublish(t *testing.T) {
	h := New(HubOptions{})
	defer h.Close()
	valid := true
	var mu sync.Mutex
	p, err := h.Publish("a", PublishInfo{KeyCheck: func() bool { mu.Lock(); defer mu.Unlock(); return valid }})
	if err != nil {
		t.Fatal(err)
	}
	h.CheckKeys()
	select {
	case <-p.Done():
		t.Fatal("ended while key valid")
	default:
	}
	mu.Lock()
	valid = false
	mu.Unlock()
	h.CheckKeys()
	<-p.Done()
	p.Close()
}

func TestHubCloseEndsEverything(t *testing.T) {
	h := New(HubOptions{})
	p, _ := h.Publish("a", PublishInfo{})
	p.Write(frames(testTracks, 0, 1, 30)[0])
	r := p.Stream().Subscribe()
	defer r.Close()
	h.Close()
	<-p.Done()
	for {
		if _, err := r.Next(context.Background()); err != nil {
			if !errors.Is(err, ErrEnded) {
				t.Fatalf("got %v, want ErrEnded", err)
			}
			break
		}
	}
	if _, err := h.Publish("b", PublishInfo{}); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

func TestBackwardsTimestampIsClamped(t *testing.T) {
	s := NewStream("a", Options{})
	fs := frames(testTracks, 0, 3, 30)
	fs[2].DTS, fs[2].PTS = 0, 0 // goes backwards
	for _, f := range fs {
		s.Write(f)
	}
	if fs[2].DTS < fs[1].DTS {
		t.Fatalf("DTS went backwards: %v after %v", fs[2].DTS, fs[1].DTS)
	}
}

func TestWakeBatching(t *testing.T) {
	s := NewStream("a", Options{WakeInterval: time.Hour})
	fs := frames(testTracks, 0, 3, 30) // keyframe, then two frames
	batched, eager := s.Subscribe(), s.SubscribeUnbatched()
	defer batched.Close()
	defer eager.Close()
	<-batched.wakeCh // drain the wake-up Subscribe gives
	<-eager.wakeCh
	s.Write(fs[0]) // keyframes always wake
	for _, r := range []*Reader{batched, eager} {
		select {
		case <-r.wakeCh:
		default:
			t.Fatal("a keyframe did not wake a reader")
		}
	}
	s.Write(fs[1])
	select {
	case <-batched.wakeCh:
		t.Fatal("batched reader woken inside its window")
	default:
	}
	select {
	case <-eager.wakeCh:
	default:
		t.Fatal("unbatched reader not woken")
	}
}
