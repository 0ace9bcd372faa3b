package rtmp

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// encode writes msgs with gortmplib's own message writer (which applies each
// SetChunkSize to the messages after it), behind a fake plain handshake.
func encode(t testing.TB, msgs []message.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteByte(3)
	buf.Write(make([]byte, 2*1536))
	w := message.NewWriter(&buf, bytecounter.NewWriter(&buf), false)
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// feedSplit feeds data to a new sniffer in random pieces.
func feedSplit(data []byte, rng *rand.Rand) (*chunkSniffer, error) {
	s := newChunkSniffer()
	for len(data) > 0 {
		n := 1 + rng.IntN(min(len(data), 700))
		if err := s.feed(data[:n]); err != nil {
			return s, err
		}
		data = data[n:]
	}
	return s, nil
}

// The sniffer follows legitimate streams (chunk size changes, extended
// timestamps, several chunk streams, messages spanning many chunks) without
// ever refusing them, and ends with the chunk size gortmplib would use.
func TestSnifferFollowsValidStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var msgs []message.Message
		want := uint32(128)
		for range 1 + rng.IntN(30) {
			switch rng.IntN(4) {
			case 0:
				want = uint32(64 + rng.IntN(maxChunkSize-63))
				msgs = append(msgs, &message.SetChunkSize{Value: want})
			case 1:
				ts := uint32(rng.IntN(1000))
				if rng.IntN(3) == 0 {
					ts = 0xFFFFFF + uint32(rng.IntN(1000)) // extended timestamp
				}
				body := make([]byte, rng.IntN(20000))
				msgs = append(msgs, &message.Video{ChunkStreamID: 6, MessageStreamID: 0x1000000, Codec: message.CodecH264,
					IsKeyFrame: true, Type: message.VideoTypeAU, AU: body, DTS: msDuration(ts)})
			case 2:
				msgs = append(msgs, &message.CommandAMF0{ChunkStreamID: 3, Name: "connect", CommandID: 1,
					Arguments: []any{strings.Repeat("x", rng.IntN(3000))}})
			default:
				msgs = append(msgs, &message.SetWindowAckSize{Value: 2500000})
			}
		}
		data := encode(t, msgs)
		s, err := feedSplit(data, rng)
		if err != nil {
			t.Fatalf("round %d: valid stream refused: %v", round, err)
		}
		if s.disabled {
			t.Fatalf("round %d: sniffer lost track of a valid stream", round)
		}
		if s.chunkSize != want {
			t.Fatalf("round %d: chunk size %d, want %d", round, s.chunkSize, want)
		}
		if s.phase != 0 {
			t.Fatalf("round %d: stream ended mid-chunk (phase %d)", round, s.phase)
		}
	}
}

func TestSnifferRefusesTinyChunkSizes(t *testing.T) {
	for _, v := range []uint32{0, 1, 63, maxChunkSize + 1, 0xFFFFFF, 0x1000000, 0x7FFFFFFF, 0x80000000} {
		data := encode(t, []message.Message{&message.SetChunkSize{Value: 128}, &message.SetChunkSize{Value: v}})
		if _, err := feedSplit(data, rand.New(rand.NewPCG(3, 4))); err == nil {
			t.Errorf("SetChunkSize %d accepted", v)
		}
	}
	for _, v := range []uint32{64, 128, 4096, maxChunkSize} {
		data := encode(t, []message.Message{&message.SetChunkSize{Value: v}})
		if _, err := feedSplit(data, rand.New(rand.NewPCG(3, 4))); err != nil {
			t.Errorf("SetChunkSize %d refused: %v", v, err)
		}
	}
}

func TestSnifferStepsAsideForEncryptedRTMP(t *testing.T) {
	data := encode(t, []message.Message{&message.SetChunkSize{Value: 0}})
	data[0] = 6 // RTMPE
	if s, err := feedSplit(data, rand.New(rand.NewPCG(5, 6))); err != nil || !s.disabled {
		t.Fatalf("RTMPE: err %v, disabled %v", err, s.disabled)
	}
}

func msDuration(ms uint32) time.Duration { return time.Duration(ms) * time.Millisecond }

func TestSnifferRefusesLargeAMFMessages(t *testing.T) {
	big := &message.DataAMF0{ChunkStreamID: 4, MessageStreamID: 0x1000000,
		Payload: []any{"@setDataFrame", strings.Repeat("x", maxAMFMessage)}}
	if _, err := feedSplit(encode(t, []message.Message{big}), rand.New(rand.NewPCG(7, 8))); err == nil {
		t.Fatal("an AMF data message over the limit was accepted")
	}
	small := &message.DataAMF0{ChunkStreamID: 4, MessageStreamID: 0x1000000,
		Payload: []any{"@setDataFrame", "onMetaData", strings.Repeat("x", 1000)}}
	if _, err := feedSplit(encode(t, []message.Message{small}), rand.New(rand.NewPCG(7, 8))); err != nil {
		t.Fatalf("a normal metadata message was refused: %v", err)
	}
}
