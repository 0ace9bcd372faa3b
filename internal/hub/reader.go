package hub

import (
	"context"
	"time"

	"github.com/huabian-live/huabian/internal/media"
)

// Reader is one consumer of a Stream. Its methods must be called from one
// goroutine, except Close, which may be called from anywhere.
type Reader struct {
	s         *Stream
	wakeCh    chan struct{}
	closed    chan struct{}
	unbatched bool // woken on every video frame (see SubscribeUnbatched)

	cursor      uint64 // sequence number of the next frame to deliver
	waitKey     bool   // skip frames until a keyframe (fresh start or after a drop)
	behindSince time.Time
	batch       []*media.Frame
	dropped     uint64
}

func (r *Reader) wake() {
	select {
	case r.wakeCh <- struct{}{}:
	default:
	}
}

// Close detaches the reader. Safe to call more than once and concurrently
// with Next.
func (r *Reader) Close() {
	select {
	case <-r.closed:
		return
	default:
	}
	r.s.unsubscribe(r)
	close(r.closed)
}

// Dropped returns the number of frames this reader skipped.
func (r *Reader) Dropped() uint64 { return r.dropped }

// Stream returns the stream the reader is attached to.
func (r *Reader) Stream() *Stream { return r.s }

// Next blocks until at least one frame is available and returns every frame
// available now, oldest first. The returned slice is reused by the next call.
// It returns ErrEnded once the stream has ended and everything is delivered,
// ErrTooSlow when the reader stayed behind too long, ErrReaderClosed after
// Close, or ctx.Err().
func (r *Reader) Next(ctx context.Context) ([]*media.Frame, error) {
	for {
		batch, err := r.collect()
		if err != nil || len(batch) > 0 {
			return batch, err
		}
		if r.s.ended.Load() {
			return nil, ErrEnded
		}
		select {
		case <-r.wakeCh:
		case <-r.closed:
			return nil, ErrReaderClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TryNext is Next without blocking: it returns what is available now
// (possibly nothing).
func (r *Reader) TryNext() ([]*media.Frame, error) {
	return r.collect()
}

func (r *Reader) collect() ([]*media.Frame, error) {
	s := r.s
	head := s.head.Load()
	r.batch = r.batch[:0]
	if r.cursor >= head {
		return r.batch, nil
	}

	// Lapped by the writer, or too far behind in media time: skip to the
	// newest keyframe.
	oldest := s.frame(r.cursor)
	newest := s.frame(head - 1)
	behind := oldest == nil || (newest != nil && newest.DTS-oldest.DTS > s.opts.MaxLag)
	if behind {
		now := time.Now()
		if r.behindSince.IsZero() {
			r.behindSince = now
		} else if now.Sub(r.behindSince) > s.opts.SlowTimeout {
			s.Counters.SlowReaders.Add(1)
			if t := s.opts.Totals; t != nil {
				t.SlowReaders.Add(1)
			}
			return nil, ErrTooSlow
		}
		if k := s.lastKey.Load(); k > 0 && k-1 > r.cursor && s.frame(k-1) != nil {
			skipped := k - 1 - r.cursor
			r.dropped += skipped
			s.countDrops(skipped)
			r.cursor = k - 1
		} else if oldest == nil {
			// Lapped and no keyframe to land on: wait for the next one.
			skipped := head - r.cursor
			r.dropped += skipped
			s.countDrops(skipped)
			r.cursor = head
			r.waitKey = true
			return r.batch, nil
		}
	} else {
		r.behindSince = time.Time{}
	}

	hasVideo := s.hasVideoTrack()
	for ; r.cursor < head; r.cursor++ {
		f := s.frame(r.cursor)
		if f == nil {
			// Overwritten while we were reading: resynchronise next call.
			break
		}
		if r.waitKey {
			if !f.Key || (hasVideo && !f.Video) {
				continue
			}
			r.waitKey = false
		}
		r.batch = append(r.batch, f)
	}
	return r.batch, nil
}

func (s *Stream) hasVideoTrack() bool {
	t := s.tracks.Load()
	return t != nil && t.Video != nil
}

func (s *Stream) countDrops(n uint64) {
	s.Counters.Drops.Add(n)
	if t := s.opts.Totals; t != nil {
		t.Drops.Add(n)
	}
}
