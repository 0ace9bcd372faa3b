package rtmpchunk

import (
	"bytes"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"
)

// TestChunksDecode checks our encoding against an independent RTMP chunk
// decoder, including multi-chunk messages and extended timestamps.
func TestChunksDecode(t *testing.T) {
	cases := []struct {
		name      string
		typ       uint8
		ts        uint32
		size      int
		chunkSize int
	}{
		{"small", TypeAudio, 1000, 10, 128},
		{"exact chunk", TypeVideo, 33, 128, 128},
		{"multi chunk", TypeVideo, 66, 1000, 128},
		{"extended ts", TypeVideo, 0x1000000, 300, 128},
		{"extended ts single", TypeAudio, 0xFFFFFF, 5, 128},
		{"empty body", TypeDataAMF0, 0, 0, 128},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := make([]byte, tc.size)
			for i := range body {
				body[i] = byte(i * 7)
			}
			var buf bytes.Buffer
			// Two messages back to back, to check the stream stays in sync.
			buf.Write(AppendMessage(nil, CSIDVideo, tc.typ, tc.ts, 1, body, tc.chunkSize))
			buf.Write(AppendMessage(nil, CSIDVideo, tc.typ, tc.ts+40, 1, body, tc.chunkSize))
			// gortmplib reads the little-endian stream ID field big-endian, so
			// stream 1 on the wire appears as 0x1000000 there.
			r := rawmessage.NewReader(&buf, bytecounter.NewReader(&buf), func(uint32) error { return nil })
			for i, wantTS := range []uint32{tc.ts, tc.ts + 40} {
				msg, err := r.Read()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if msg.Type != tc.typ || msg.MessageStreamID != 0x1000000 || msg.ChunkStreamID != CSIDVideo {
					t.Fatalf("message %d: header %+v", i, msg)
				}
				if got, want := msg.Timestamp, time.Duration(wantTS)*time.Millisecond; got != want {
					t.Fatalf("message %d: timestamp %v, want %v", i, got, want)
				}
				if !bytes.Equal(msg.Body, body) {
					t.Fatalf("message %d: body differs (%d vs %d bytes)", i, len(msg.Body), len(body))
				}
			}
		})
	}
}

func TestChunksShareBody(t *testing.T) {
	body := make([]byte, 300)
	parts := Chunks(CSIDVideo, TypeVideo, 0, 1, body, 128)
	if len(parts) != 6 { // header, 3 body slices, 2 continuation headers
		t.Fatalf("got %d parts, want 6", len(parts))
	}
	body[0] = 42
	if parts[1][0] != 42 {
		t.Fatal("body was copied; want shared sub-slices")
	}
}
