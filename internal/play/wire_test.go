package play

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/huabian-live/huabian/internal/codec/flv"
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

// A stream with an FLV rendition of its audio: the source (Opus) frames get
// no wire forms, the FLVOnly (AAC) frames get AAC tags and chunks, and the
// sequence headers announce AAC.
func TestPrepareFrameFLVRendition(t *testing.T) {
	aac := &media.AudioTrack{Codec: media.CodecAAC, Config: []byte{0x11, 0x90}, SampleRate: 48000, ChannelCount: 2}
	tr := &media.Tracks{
		Audio:    &media.AudioTrack{Codec: media.CodecOpus, SampleRate: 48000, ChannelCount: 2},
		FLVAudio: aac,
	}
	opus := &media.Frame{Tracks: tr, Key: true, AU: [][]byte{{0xfc, 1, 2}}}
	PrepareFrame(opus)
	if opus.FLVTag != nil || opus.RTMPChunks != nil {
		t.Fatal("source Opus frame got wire forms although the stream has an AAC rendition")
	}
	r := &media.Frame{Tracks: tr, FLVOnly: true, Key: true, AU: [][]byte{{0x21, 0x10, 0x04}}}
	PrepareFrame(r)
	if r.FLVTag == nil || len(r.RTMPChunks) == 0 {
		t.Fatal("AAC rendition frame got no wire forms")
	}
	typ, _, body, err := flv.TagBody(r.FLVTag)
	if err != nil || typ != flv.TagAudio {
		t.Fatalf("tag type %d, err %v", typ, err)
	}
	p, err := flv.ParseAudio(body)
	if err != nil || p.Codec != media.CodecAAC || p.SequenceHeader || !bytes.Equal(p.Data, r.AU[0]) {
		t.Fatalf("rendition tag: %+v, err %v", p, err)
	}

	hdr := FLVHeaders(nil, tr, 0)
	var sawAAC bool
	for len(hdr) > 0 {
		typ, _, body, err := flv.TagBody(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if typ == flv.TagAudio {
			p, err := flv.ParseAudio(body)
			if err != nil || p.Codec != media.CodecAAC || !p.SequenceHeader || !bytes.Equal(p.Data, aac.Config) {
				t.Fatalf("audio sequence header %+v, err %v; want AAC with the rendition's config", p, err)
			}
			sawAAC = true
		}
		hdr = hdr[flv.TagHeaderSize+len(body)+flv.PreviousTagSizeLen:]
	}
	if !sawAAC {
		t.Fatal("FLV headers announce no audio")
	}
	if tr.Audio.Codec != media.CodecOpus {
		t.Fatal("FLVHeaders changed the stream's tracks")
	}
}
