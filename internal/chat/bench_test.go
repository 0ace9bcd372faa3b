package chat

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
)

// BenchmarkRoomFanout measures delivering one encoded event to every local
// client of a room until each client's writer goroutine has taken it from
// its queue: the room's bus goroutine offers the shared bytes to every
// queue, then the op waits for all writers (which here only receive).
// Nothing is encoded or copied per client.
//
//	go test -run='^$' -bench=RoomFanout -benchmem ./internal/chat
func BenchmarkRoomFanout(b *testing.B) {
	for _, n := range []int{1, 100, 2000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			s := &Service{}
			r := &room{name: "bench"}
			var wg, received sync.WaitGroup
			clients := make([]*client, n)
			for i := range clients {
				c := &client{s: s, queue: make(chan event, 256)}
				c.ctx, c.cancel = context.WithCancelCause(context.Background())
				clients[i] = c
				r.add(c)
				wg.Go(func() {
					for {
						select {
						case <-c.ctx.Done():
							return
						case <-c.queue:
							received.Done()
						}
					}
				})
			}
			m := nats.NewMsg(subject("bench"))
			m.Data = []byte(`{"type":"message","message":{"id":"1","user":{"id":1,"name":"bench","display_name":"","badge":""},"text":"hello","at":"2026-01-01T00:00:00Z"}}`)
			m.Header.Set(headerMessageID, "1")
			for b.Loop() {
				received.Add(n)
				r.deliver(m)
				received.Wait()
			}
			b.StopTimer()
			for _, c := range clients {
				c.cancel(errGone)
			}
			wg.Wait()
			if d := s.drops.Load(); d > 0 {
				b.ReportMetric(float64(d), "drops")
			}
		})
	}
}
