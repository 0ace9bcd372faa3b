package play

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/huabian-live/huabian/internal/media"
)

func TestPrepareFrameSharesPayload(t *testing.T) {
	sps, _ := hex.DecodeString("6764000bacb20508fcb80880000003008000001e078a1524")
	pps, _ := hex.DecodeString("68ebc0c4b22c")
	tr := &media.Tracks{
		Video: &media.VideoTrack{Codec: media.CodecH264, SPS: sps, PPS: pps},
		Audio: &media.AudioTrack{Codec: media.CodecAAC, Config: []byte{0x12, 0x10}, SampleRate: 44100, ChannelCount: 2},
	}
	nalus := [][]byte{{0x06, 0x05, 0x01}, {0x65, 0x88, 0x84, 0x21}}
	v := &media.Frame{Tracks: tr, Video: true, Key: true, AU: [][]byte{bytes.Clone(nalus[0]), bytes.Clone(nalus[1])}}
	PrepareFrame(v)
	if v.FLVTag == nil || len(v.RTMPChunks) == 0 {
		t.Fatal("wire forms not built")
	}
	for i, n := range v.AU {
		if !bytes.Equal(n, nalus[i]) {
			t.Fatalf("NAL unit %d changed: %x", i, n)
		}
		if !sharesMemory(n, v.FLVTag) {
			t.Fatalf("NAL unit %d not re-pointed into the tag", i)
		}
	}
	a := &media.Frame{Tracks: tr, Key: true, AU: [][]byte{{0x21, 0x10, 0x04}}}
	PrepareFrame(a)
	if !bytes.Equal(a.AU[0], []byte{0x21, 0x10, 0x04}) || !sharesMemory(a.AU[0], a.FLVTag) {
		t.Fatalf("AAC frame not shared: %x", a.AU[0])
	}
	opus := &media.Frame{Tracks: &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecOpus}}, Key: true, AU: [][]byte{{1, 2}}}
	PrepareFrame(opus)
	if opus.FLVTag != nil || opus.RTMPChunks != nil {
		t.Fatal("Opus is not carried in FLV; want no wire forms")
	}
}

func sharesMemory(sub, whole []byte) bool {
	if len(sub) == 0 {
		return false
	}
	for i := range whole {
		if &whole[i] == &sub[0] {
			return true
		}
	}
	return false
}
