package srt

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
)

// Parameter sets of a 160x120 x264 stream.
var (
	synthSPS, _ = hex.DecodeString("6764000bacb20508fcb80880000003008000001e078a1524")
	synthPPS, _ = hex.DecodeString("68ebc0c4b22c")
	synthTracks = &media.Tracks{
		Video: &media.VideoTrack{Codec: media.CodecH264, SPS: synthSPS, PPS: synthPPS, Width: 160, Height: 120},
		Audio: &media.AudioTrack{Codec: media.CodecAAC, Config: []byte{0x12, 0x10}, SampleRate: 44100, ChannelCount: 2},
	}
)

// synthFrames returns the frames of media time [i*33ms, (i+1)*33ms): one
// video frame (a keyframe every 30) and one or two AAC frames.
func synthFrames(i int) []*media.Frame {
	d := time.Duration(i) * time.Second / 30
	key := i%30 == 0
	nal := []byte{0x41, 0x9a, 0x02, 0x04, 0x10, 0x20}
	if key {
		nal = []byte{0x65, 0x88, 0x84, 0x00, 0x33, 0x44, 0x55}
	}
	out := []*media.Frame{{Tracks: synthTracks, Video: true, Key: key, DTS: d, PTS: d, AU: [][]byte{nal}}}
	// AAC frames of 1024 samples at 44.1 kHz, ~23 ms each.
	const aac = 1024 * time.Second / 44100
	for a := (d + aac - 1) / aac; a*aac < d+time.Second/30; a++ {
		out = append(out, &media.Frame{Tracks: synthTracks, Key: true, DTS: a * aac, PTS: a * aac, AU: [][]byte{{0x21, 0x10, 0x05, 0x20}}})
	}
	return out
}

// testFeed is a hub stream with a publisher and a feed on it, without SRT.
type testFeed struct {
	h    *hub.Hub
	pub  *hub.Publisher
	feed *tsFeed
	n    int // frame periods published
	// videoSize, when set, pads each video frame to about this size.
	videoSize int
}

func newTestFeed(t testing.TB, opts feedOptions) *testFeed {
	t.Helper()
	h := hub.New(hub.HubOptions{})
	t.Cleanup(h.Close)
	pub, err := h.Publish("demo", hub.PublishInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tf := &testFeed{h: h, pub: pub}
	tf.publish(1) // the stream exists once it has a frame
	tf.feed = newFeed(h.Stream("demo", false), opts, slog.New(slog.DiscardHandler))
	t.Cleanup(tf.feed.hr.Close)
	return tf
}

func (tf *testFeed) publish(n int) {
	for range n {
		for _, f := range synthFrames(tf.n) {
			if f.Video && tf.videoSize > 0 {
				nal := make([]byte, tf.videoSize)
				copy(nal, f.AU[0])
				f.AU = [][]byte{nal}
			}
			tf.pub.Write(f)
		}
		tf.n++
	}
}

// advance publishes n frame periods and muxes them, in steps the feed's
// hub reader keeps up with (it would skip past MaxLag).
func (tf *testFeed) advance(t testing.TB, n int) {
	t.Helper()
	for n > 0 {
		k := min(n, 10)
		tf.publish(k)
		tf.pump(t)
		n -= k
	}
}

// pump muxes what the hub holds for the feed, synchronously.
func (tf *testFeed) pump(t testing.TB) {
	t.Helper()
	batch, err := tf.feed.hr.TryNext()
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.feed.muxBatch(batch); err != nil {
		t.Fatal(err)
	}
}

// Entries are whole TS packets; key entries start with PAT and PMT and
// hold a keyframe; other entries never start with a keyframe.
func TestFeedEntries(t *testing.T) {
	tf := newTestFeed(t, feedOptions{})
	tf.advance(t, 95)
	f := tf.feed
	head := f.head.Load()
	if head == 0 {
		t.Fatal("no entries")
	}
	keys := 0
	for seq := range head {
		e := f.entry(seq)
		if e == nil {
			t.Fatalf("entry %d missing", seq)
		}
		if len(e.b)%188 != 0 {
			t.Errorf("entry %d: %d bytes, not whole TS packets", seq, len(e.b))
		}
		for p := 0; p < len(e.b); p += 188 {
			if e.b[p] != 0x47 {
				t.Fatalf("entry %d: no sync byte at %d", seq, p)
			}
		}
		if e.key {
			keys++
			if !isPAT(e.b) {
				t.Errorf("key entry %d does not start with a PAT", seq)
			}
			// The packet after the PAT is the PMT (PID 4096 with mediacommon).
			if pid := int(e.b[189]&0x1F)<<8 | int(e.b[190]); pid != 4096 {
				t.Errorf("key entry %d: second packet PID %d, want the PMT", seq, pid)
			}
		}
	}
	// 96 frame periods from frame 0: keyframes at 0, 30, 60, 90.
	if keys != 4 {
		t.Errorf("%d key entries, want 4", keys)
	}
	if f.muxed.Load() == 0 {
		t.Error("muxed counter not kept")
	}
}

// A reader starts at the newest key entry, and every reader gets the very
// same byte slices.
func TestFeedReadersShareEntries(t *testing.T) {
	tf := newTestFeed(t, feedOptions{})
	tf.advance(t, 40)
	a, b := tf.feed.attach(), tf.feed.attach()
	ea, err := a.collect(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(ea) == 0 || !ea[0].key || ea[0].seq != tf.feed.lastKey.Load()-1 {
		t.Fatalf("%d entries, want the newest key entry (seq %d) first", len(ea), tf.feed.lastKey.Load()-1)
	}
	ea = append([]*tsEntry(nil), ea...)
	eb, _ := b.collect(time.Now())
	if len(ea) != len(eb) {
		t.Fatalf("readers got %d and %d entries", len(ea), len(eb))
	}
	for i := range ea {
		if &ea[i].b[0] != &eb[i].b[0] {
			t.Errorf("entry %d: readers got different copies of the bytes", i)
		}
	}
}

// A reader whose sends block holds up neither the feed nor another reader.
func TestFeedBlockedReaderDoesNotDelayOthers(t *testing.T) {
	tf := newTestFeed(t, feedOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { tf.feed.run(ctx) })
	stuck, fast := tf.feed.attach(), tf.feed.attach()
	var stuckSends atomic.Int64
	blocked := func(ctx context.Context, _ []byte) error {
		stuckSends.Add(1)
		<-ctx.Done() // a socket that takes nothing
		return ctx.Err()
	}
	var got bytes.Buffer
	var mu sync.Mutex
	var gotN atomic.Int64
	collect := func(_ context.Context, b []byte) error {
		mu.Lock()
		got.Write(b)
		mu.Unlock()
		gotN.Add(int64(len(b)))
		return nil
	}
	stuckCtx, stopStuck := context.WithCancel(ctx)
	stuckDone := make(chan error, 1)
	go func() { stuckDone <- stuck.serve(stuckCtx, blocked, nil) }()
	fastDone := make(chan error, 1)
	go func() { fastDone <- fast.serve(ctx, collect, nil) }()

	// 10 s of media in steps the fast reader keeps up with (a third of a
	// second each, well under maxLag).
	for step := range 30 {
		tf.publish(10)
		waitFor(t, fmt.Sprintf("the fast reader to get every entry (step %d)", step), func() bool {
			return tf.feed.muxed.Load() > 0 && gotN.Load() == ringBytes(tf.feed)
		})
	}
	if n := stuckSends.Load(); n != 1 {
		t.Errorf("stuck reader made %d sends, want 1 (blocked in the first)", n)
	}
	stopStuck()
	if err := <-stuckDone; !errors.Is(err, context.Canceled) {
		t.Errorf("stuck reader ended with %v", err)
	}
	tf.h.Kick("demo", true) // end the stream: the feed ends, the fast reader drains
	if err := <-fastDone; !errors.Is(err, errFeedEnded) {
		t.Errorf("fast reader ended with %v, want errFeedEnded", err)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if !isPAT(got.Bytes()) {
		t.Error("the fast reader's bytes do not start with a PAT")
	}
}

// ringBytes is the size of every entry pushed so far (the ring must not
// have wrapped).
func ringBytes(f *tsFeed) int64 {
	var n int64
	for seq := range f.head.Load() {
		if e := f.entry(seq); e != nil {
			n += int64(len(e.b))
		}
	}
	return n
}

// The slow-reader policy: more than maxLag behind skips to the newest key
// entry; behind for longer than slowTimeout disconnects; catching up
// clears the clock.
func TestFeedSlowReaderPolicy(t *testing.T) {
	tf := newTestFeed(t, feedOptions{maxLag: time.Second, slowTimeout: 10 * time.Second})
	tf.advance(t, 5)
	r := tf.feed.attach()
	t0 := time.Unix(1000, 0)
	if b, err := r.collect(t0); err != nil || len(b) == 0 {
		t.Fatalf("first collect: %d entries, %v", len(b), err)
	}
	// 4 s of media arrive while the reader is busy: it skips to the newest
	// keyframe (media time 3 s).
	tf.advance(t, 120)
	b, err := r.collect(t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 || !b[0].key || b[0].seq != tf.feed.lastKey.Load()-1 || r.skipped == 0 {
		t.Fatalf("after falling behind: %d entries, skipped %d; want the newest key entry (seq %d) first", len(b), r.skipped, tf.feed.lastKey.Load()-1)
	}
	// Behind again, 11 s after first falling behind: disconnected.
	tf.advance(t, 120)
	if _, err := r.collect(t0.Add(12 * time.Second)); !errors.Is(err, errTooSlow) {
		t.Fatalf("behind for 11 s: %v, want errTooSlow", err)
	}

	// A reader that catches up in between starts the clock afresh.
	r2 := tf.feed.attach()
	if _, err := r2.collect(t0); err != nil {
		t.Fatal(err)
	}
	tf.advance(t, 120)
	if _, err := r2.collect(t0.Add(time.Second)); err != nil { // behind: skip
		t.Fatal(err)
	}
	tf.advance(t, 10)
	if _, err := r2.collect(t0.Add(5 * time.Second)); err != nil { // caught up
		t.Fatal(err)
	}
	tf.advance(t, 120)
	if _, err := r2.collect(t0.Add(20 * time.Second)); err != nil { // behind anew
		t.Fatalf("behind again after catching up: %v, want a skip", err)
	}
}

// A reader lapped by the ring with no key entry left waits for the next
// key entry, and starts there.
func TestFeedLappedReaderWaitsForKey(t *testing.T) {
	tf := newTestFeed(t, feedOptions{ringSize: 16, maxLag: time.Hour})
	tf.advance(t, 5)
	r := tf.feed.attach()
	if _, err := r.collect(time.Now()); err != nil {
		t.Fatal(err)
	}
	for range 20 { // 20 frame periods, one entry each: the ring wraps
		tf.publish(1)
		tf.pump(t)
	}
	b, err := r.collect(time.Now())
	if err != nil || len(b) != 0 || !r.waitKey {
		t.Fatalf("lapped: %d entries, waitKey %v, %v; want none until a key entry", len(b), r.waitKey, err)
	}
	tf.publish(10) // reaches frame 30, a keyframe
	tf.pump(t)
	b, err = r.collect(time.Now())
	if err != nil || len(b) == 0 || !b[0].key {
		t.Fatalf("after the next keyframe: %d entries, %v; want a key entry first", len(b), err)
	}
}

// The fan-out cost: one frame period (a 10 KB video frame, about
// 2.5 Mbit/s at 30 fps, and its audio) muxed once, then delivered to every
// reader in SRT payloads. allocs/op must not grow with the number of
// readers; ns/op grows by the per-reader cost.
func BenchmarkFanOut(b *testing.B) {
	for _, readers := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) {
			tf := newTestFeed(b, feedOptions{})
			tf.videoSize = 10 << 10
			tf.publish(1)
			tf.pump(b)
			rs := make([]*feedReader, readers)
			for i := range rs {
				rs[i] = tf.feed.attach()
			}
			var sent int64
			send := func(b []byte) { sent += int64(len(b)) } // a socket write
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				tf.publish(1)
				tf.pump(b)
				for _, r := range rs {
					batch, err := r.collect(now)
					if err != nil {
						b.Fatal(err)
					}
					for _, e := range batch {
						for p := e.b; len(p) > 0; {
							n := min(len(p), tsChunk)
							send(p[:n])
							p = p[n:]
						}
					}
				}
			}
			b.ReportMetric(float64(sent)/float64(b.N)/float64(readers), "B/reader/op")
		})
	}
}
