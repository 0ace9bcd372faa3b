package flv

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/huabian-live/huabian/internal/media"
)

// Real HEVC parameter sets, extracted from the first access unit of
//
//	ffmpeg -f lavfi -i testsrc2=size=320x240:rate=30 -t 1 -c:v libx265 -f hevc out.hevc
//
// (ffmpeg 5.1.9, libx265 Main profile, level 2 (60), 4:2:0 8-bit). The SPS
// contains emulation-prevention bytes (00 00 03), which exercises the raw
// constraint-flag extraction in appendHEVCConfig.
var (
	hevcVPS = mustHex("40010c01ffff01600000030090000003000003003c959809")
	hevcSPS = mustHex("42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003003c10")
	hevcPPS = mustHex("4401c172b46240")
)

// av1SeqHeader is the sequence header OBU (with obu_has_size_field) that
// libaom-av1 wrote at the start of testdata/testsrc2_320x240.obu: profile 0,
// level 0 (2.0), 8-bit 4:2:0, 320x240.
var av1SeqHeader = mustHex("0a0b000000043cffbcdaf90040")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// h264Clip is testdata/testsrc2_160x120.h264 (10 frames, High profile, no
// B-frames, one slice per frame) split into access units, parameter sets
// moved to the track.
type h264Clip struct {
	sps, pps []byte
	aus      [][][]byte
	keys     []bool
}

func loadH264(t testing.TB) h264Clip {
	t.Helper()
	var nalus h264.AnnexB
	if err := nalus.Unmarshal(readTestdata(t, "testsrc2_160x120.h264")); err != nil {
		t.Fatal(err)
	}
	var c h264Clip
	var au [][]byte
	key := false
	for _, n := range nalus {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			c.sps = n
		case h264.NALUTypePPS:
			c.pps = n
		case h264.NALUTypeIDR, h264.NALUTypeNonIDR:
			key = key || h264.NALUType(n[0]&0x1f) == h264.NALUTypeIDR
			c.aus = append(c.aus, append(au, n))
			c.keys = append(c.keys, key)
			au, key = nil, false
		default:
			au = append(au, n)
		}
	}
	if c.sps == nil || c.pps == nil || len(c.aus) != 10 || !c.keys[0] {
		t.Fatalf("unexpected clip: sps %d pps %d aus %d", len(c.sps), len(c.pps), len(c.aus))
	}
	return c
}

// aacClip is testdata/sine_44100_stereo.aac (ADTS, AAC-LC 44.1 kHz stereo).
type aacClip struct {
	asc    []byte
	frames [][]byte
}

func loadAAC(t testing.TB) aacClip {
	t.Helper()
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(readTestdata(t, "sine_44100_stereo.aac")); err != nil {
		t.Fatal(err)
	}
	asc, err := mpeg4audio.AudioSpecificConfig{
		Type:          pkts[0].Type,
		SampleRate:    pkts[0].SampleRate,
		ChannelConfig: pkts[0].ChannelConfig,
	}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c := aacClip{asc: asc}
	for _, p := range pkts {
		c.frames = append(c.frames, p.AU)
	}
	return c
}

// av1Clip is testdata/testsrc2_320x240.obu (libaom, 2 temporal units, low
// overhead format) with OBUs stripped of their size fields, as a publisher
// would hand them over; tus[i] in wire form is rawTUs[i].
type av1Clip struct {
	seq    []byte // without size field
	tus    [][][]byte
	rawTUs [][]byte
}

func loadAV1(t testing.TB) av1Clip {
	t.Helper()
	raw := readTestdata(t, "testsrc2_320x240.obu")
	var bs av1.Bitstream
	if err := bs.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	var c av1Clip
	pos := 0
	for _, obu := range bs {
		typ := av1.OBUType(obu[0] >> 3 & 0xf)
		if typ == av1.OBUTypeTemporalDelimiter {
			c.tus = append(c.tus, nil)
			c.rawTUs = append(c.rawTUs, nil)
		}
		if typ == av1.OBUTypeSequenceHeader && c.seq == nil {
			c.seq = obu
		}
		i := len(c.tus) - 1
		c.tus[i] = append(c.tus[i], obu)
		n := obuWireSize(obu)
		c.rawTUs[i] = append(c.rawTUs[i], raw[pos:pos+n]...)
		pos += n
	}
	if c.seq == nil || len(c.tus) != 2 || pos != len(raw) {
		t.Fatalf("unexpected clip: %d TUs, %d/%d bytes", len(c.tus), pos, len(raw))
	}
	return c
}

func h264Tracks(c h264Clip, a *aacClip) *media.Tracks {
	tr := &media.Tracks{Video: &media.VideoTrack{
		Codec: media.CodecH264, SPS: c.sps, PPS: c.pps, Width: 160, Height: 120, FPS: 30,
	}}
	if a != nil {
		tr.Audio = &media.AudioTrack{Codec: media.CodecAAC, Config: a.asc, SampleRate: 44100, ChannelCount: 2}
	}
	return tr
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }
