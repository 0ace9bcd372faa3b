package flv

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/abema/go-mp4"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/huabian-live/huabian/internal/media"
)

func TestAppendFileHeader(t *testing.T) {
	for _, tc := range []struct {
		name         string
		video, audio bool
		flags        byte
	}{
		{"none", false, false, 0x00},
		{"video", true, false, 0x01},
		{"audio", false, true, 0x04},
		{"both", true, true, 0x05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendFileHeader([]byte{0xEE}, tc.video, tc.audio)
			want := []byte{0xEE, 'F', 'L', 'V', 1, tc.flags, 0, 0, 0, 9, 0, 0, 0, 0}
			if !bytes.Equal(got, want) {
				t.Fatalf("got % x, want % x", got, want)
			}
			h, err := NewReader(bytes.NewReader(got[1:])).ReadHeader()
			if err != nil {
				t.Fatal(err)
			}
			if h != (Header{HasVideo: tc.video, HasAudio: tc.audio}) {
				t.Fatalf("ReadHeader = %+v", h)
			}
		})
	}
}

// checkTag verifies the framing of one complete tag and returns its body.
func checkTag(t *testing.T, tag []byte, wantType uint8, wantTS uint32) []byte {
	t.Helper()
	typ, ts, body, err := TagBody(tag)
	if err != nil {
		t.Fatal(err)
	}
	if typ != wantType || ts != wantTS {
		t.Fatalf("type %d ts %d, want %d %d", typ, ts, wantType, wantTS)
	}
	if len(tag) != TagHeaderSize+len(body)+PreviousTagSizeLen {
		t.Fatalf("tag is %d bytes, body %d", len(tag), len(body))
	}
	if got := binary.BigEndian.Uint32(tag[len(tag)-4:]); got != uint32(TagHeaderSize+len(body)) {
		t.Fatalf("PreviousTagSize %d, want %d", got, TagHeaderSize+len(body))
	}
	if !bytes.Equal(tag[8:11], []byte{0, 0, 0}) {
		t.Fatalf("StreamID % x", tag[8:11])
	}
	return body
}

func TestAppendFrameTagTimestamps(t *testing.T) {
	tr := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264}}
	for _, tc := range []struct {
		name     string
		dts, pts time.Duration
		wantTS   uint32
		wantCTS  int32
		tsBytes  [4]byte // Timestamp (UI24) + TimestampExtended
	}{
		{"zero", 0, 0, 0, 0, [4]byte{0, 0, 0, 0}},
		{"plain", ms(1500), ms(1533), 1500, 33, [4]byte{0, 0x05, 0xDC, 0}},
		{"sub-ms truncated", 1500*time.Millisecond + 999*time.Microsecond, ms(1500), 1500, 0, [4]byte{0, 0x05, 0xDC, 0}},
		{"extended byte", ms(0x01ABCDEF), ms(0x01ABCDEF), 0x01ABCDEF, 0, [4]byte{0xAB, 0xCD, 0xEF, 0x01}},
		{"max uint32", ms(math.MaxUint32), ms(math.MaxUint32), math.MaxUint32, 0, [4]byte{0xFF, 0xFF, 0xFF, 0xFF}},
		{"wraps past 2^32 ms", ms(1<<32 + 7), ms(1<<32 + 7), 7, 0, [4]byte{0, 0, 7, 0}},
		{"negative clamps", ms(-40), ms(-40), 0, 0, [4]byte{0, 0, 0, 0}},
		{"negative cts", ms(100), ms(60), 100, -40, [4]byte{0, 0, 100, 0}},
		{"cts clamps high", 0, 10 * time.Hour, 0, 1<<23 - 1, [4]byte{}},
		{"cts clamps low", 10 * time.Hour, 0, 36000000, -1 << 23, [4]byte{0x25, 0x51, 0x00, 0x02}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &media.Frame{Tracks: tr, Video: true, DTS: tc.dts, PTS: tc.pts, AU: [][]byte{{0x65, 1}}}
			tag, ok := AppendFrameTag(nil, f)
			if !ok {
				t.Fatal("not ok")
			}
			if got := [4]byte(tag[4:8]); got != tc.tsBytes {
				t.Fatalf("timestamp bytes % x, want % x", got, tc.tsBytes)
			}
			body := checkTag(t, tag, TagVideo, tc.wantTS)
			p, err := ParseVideo(body)
			if err != nil {
				t.Fatal(err)
			}
			if p.CompositionTime != tc.wantCTS {
				t.Fatalf("cts %d, want %d", p.CompositionTime, tc.wantCTS)
			}
		})
	}
}

func TestAppendFrameTagBodies(t *testing.T) {
	h264 := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264}}
	h265 := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH265}}
	av1 := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1}}
	aac := &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecAAC, SampleRate: 48000, ChannelCount: 2}}
	mp3 := &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecMP3, SampleRate: 44100, ChannelCount: 2}}
	mp3Mono := &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecMP3, SampleRate: 22050, ChannelCount: 1}}
	for _, tc := range []struct {
		name string
		f    media.Frame
		body []byte
		typ  uint8
	}{
		{
			"h264 key", media.Frame{Tracks: h264, Video: true, Key: true, PTS: ms(2), AU: [][]byte{{0x65, 0xAA}, {}, {0x06}}},
			[]byte{0x17, 1, 0, 0, 2, 0, 0, 0, 2, 0x65, 0xAA, 0, 0, 0, 1, 0x06}, TagVideo,
		},
		{
			"h264 inter", media.Frame{Tracks: h264, Video: true, AU: [][]byte{{0x41}}},
			[]byte{0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41}, TagVideo,
		},
		{
			"h265 key", media.Frame{Tracks: h265, Video: true, Key: true, DTS: ms(10), PTS: ms(9), AU: [][]byte{{0x26, 0x01, 0xAF}}},
			[]byte{0x91, 'h', 'v', 'c', '1', 0xFF, 0xFF, 0xFF, 0, 0, 0, 3, 0x26, 0x01, 0xAF}, TagVideo,
		},
		{
			"h265 inter", media.Frame{Tracks: h265, Video: true, AU: [][]byte{{0x02, 0x01}}},
			[]byte{0xA1, 'h', 'v', 'c', '1', 0, 0, 0, 0, 0, 0, 2, 0x02, 0x01}, TagVideo,
		},
		{
			// Temporal delimiter without size field gets obu_size 0; a frame
			// OBU that already has one is copied; an OBU with the extension
			// flag keeps its extension byte before the inserted size.
			"av1", media.Frame{Tracks: av1, Video: true, Key: true, AU: [][]byte{{0x10}, {0x32, 0x02, 0xAB, 0xCD}, {0x34, 0x08, 0xEE}}},
			[]byte{0x91, 'a', 'v', '0', '1', 0x12, 0x00, 0x32, 0x02, 0xAB, 0xCD, 0x36, 0x08, 0x01, 0xEE}, TagVideo,
		},
		{
			"aac", media.Frame{Tracks: aac, Key: true, AU: [][]byte{{0x21, 0x10, 0x04}}},
			[]byte{0xAF, 1, 0x21, 0x10, 0x04}, TagAudio,
		},
		{
			"mp3", media.Frame{Tracks: mp3, Key: true, AU: [][]byte{{0xFF, 0xFB, 0x90}}},
			[]byte{0x2F, 0xFF, 0xFB, 0x90}, TagAudio,
		},
		{
			"mp3 22k mono", media.Frame{Tracks: mp3Mono, Key: true, AU: [][]byte{{0xFF, 0xF3}}},
			[]byte{0x2A, 0xFF, 0xF3}, TagAudio,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag, ok := AppendFrameTag(nil, &tc.f)
			if !ok {
				t.Fatal("not ok")
			}
			body := checkTag(t, tag, tc.typ, uint32(tc.f.DTS.Milliseconds()))
			if !bytes.Equal(body, tc.body) {
				t.Fatalf("body\n got % x\nwant % x", body, tc.body)
			}
		})
	}
}

func TestAppendFrameTagNotCarried(t *testing.T) {
	big := make([]byte, MaxBodySize)
	for _, tc := range []struct {
		name string
		f    *media.Frame
	}{
		{"nil frame", nil},
		{"nil tracks", &media.Frame{Video: true}},
		{"no video track", &media.Frame{Tracks: &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecAAC}}, Video: true}},
		{"no audio track", &media.Frame{Tracks: &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264}}}},
		{"opus", &media.Frame{Tracks: &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecOpus}}, AU: [][]byte{{1}}}},
		{"zero codec", &media.Frame{Tracks: &media.Tracks{Video: &media.VideoTrack{}}, Video: true}},
		{"audio codec as video", &media.Frame{Tracks: &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAAC}}, Video: true}},
		{"too big h264", &media.Frame{Tracks: &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264}}, Video: true, AU: [][]byte{big}}},
		{"too big av1", &media.Frame{Tracks: &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1}}, Video: true, AU: [][]byte{big}}},
		{"too big aac", &media.Frame{Tracks: &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecAAC}}, AU: [][]byte{big}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte{1, 2, 3}
			out, ok := AppendFrameTag(dst, tc.f)
			if ok || !bytes.Equal(out, []byte{1, 2, 3}) {
				t.Fatalf("ok=%v out=% x", ok, out)
			}
		})
	}
}

func TestAppendFrameTagLargestBody(t *testing.T) {
	tr := &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecAAC}}
	f := &media.Frame{Tracks: tr, AU: [][]byte{make([]byte, MaxBodySize-2)}}
	tag, ok := AppendFrameTag(nil, f)
	if !ok {
		t.Fatal("largest body rejected")
	}
	checkTag(t, tag, TagAudio, 0)
}

func TestAppendMetadataTag(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tracks *media.Tracks
		want   map[string]any
	}{
		{"nil tracks", nil, map[string]any{"encoder": "Huabian Live"}},
		{
			"h264 aac",
			&media.Tracks{
				Video: &media.VideoTrack{Codec: media.CodecH264, Width: 1280, Height: 720, FPS: 29.97},
				Audio: &media.AudioTrack{Codec: media.CodecAAC, SampleRate: 48000, ChannelCount: 2},
			},
			map[string]any{
				"width": 1280.0, "height": 720.0, "framerate": 29.97, "videocodecid": 7.0,
				"audiocodecid": 10.0, "audiosamplerate": 48000.0, "stereo": true, "encoder": "Huabian Live",
			},
		},
		{
			"hevc mp3 mono, no fps",
			&media.Tracks{
				Video: &media.VideoTrack{Codec: media.CodecH265, Width: 320, Height: 240},
				Audio: &media.AudioTrack{Codec: media.CodecMP3, SampleRate: 44100, ChannelCount: 1},
			},
			map[string]any{
				"width": 320.0, "height": 240.0, "videocodecid": float64(0x68766331),
				"audiocodecid": 2.0, "audiosamplerate": 44100.0, "stereo": false, "encoder": "Huabian Live",
			},
		},
		{
			"av1, opus not carried",
			&media.Tracks{
				Video: &media.VideoTrack{Codec: media.CodecAV1, Width: 640, Height: 360, FPS: 60},
				Audio: &media.AudioTrack{Codec: media.CodecOpus, SampleRate: 48000, ChannelCount: 2},
			},
			map[string]any{
				"width": 640.0, "height": 360.0, "framerate": 60.0, "videocodecid": 1635135537.0,
				"encoder": "Huabian Live",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := AppendMetadataTag(nil, tc.tracks)
			body := checkTag(t, tag, TagScript, 0)
			// Decode with gortmplib's AMF0 decoder as an independent check.
			data, err := amf0.Unmarshal(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) != 2 || data[0] != "onMetaData" {
				t.Fatalf("data %#v", data)
			}
			arr, ok := data[1].(amf0.ECMAArray)
			if !ok {
				t.Fatalf("second value is %T", data[1])
			}
			got := map[string]any{}
			for _, e := range arr {
				got[e.Key] = e.Value
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("%s = %#v, want %#v", k, got[k], v)
				}
			}
			if n := binary.BigEndian.Uint32(body[14:]); int(n) != len(tc.want) {
				t.Fatalf("ECMA array count %d, want %d", n, len(tc.want))
			}
		})
	}
}

// unmarshalBox decodes a configuration record with go-mp4, an independent
// implementation of the ISO box layouts.
func unmarshalBox(t *testing.T, b []byte, box mp4.IBox) {
	t.Helper()
	if _, err := mp4.Unmarshal(bytes.NewReader(b), uint64(len(b)), box, mp4.Context{}); err != nil {
		t.Fatal(err)
	}
}

func TestSequenceHeadersH264(t *testing.T) {
	c := loadH264(t)
	a := loadAAC(t)
	out := AppendSequenceHeaders(nil, h264Tracks(c, &a), ms(1234))

	vbody := checkTag(t, out[:TagHeaderSize+5+11+len(c.sps)+len(c.pps)+PreviousTagSizeLen], TagVideo, 1234)
	if !bytes.Equal(vbody[:5], []byte{0x17, 0, 0, 0, 0}) {
		t.Fatalf("video header % x", vbody[:5])
	}
	var avcC mp4.AVCDecoderConfiguration
	avcC.SetType(mp4.BoxTypeAvcC())
	unmarshalBox(t, vbody[5:], &avcC)
	if avcC.Profile != c.sps[1] || avcC.ProfileCompatibility != c.sps[2] || avcC.Level != c.sps[3] ||
		avcC.LengthSizeMinusOne != 3 || len(avcC.SequenceParameterSets) != 1 || len(avcC.PictureParameterSets) != 1 ||
		!bytes.Equal(avcC.SequenceParameterSets[0].NALUnit, c.sps) || !bytes.Equal(avcC.PictureParameterSets[0].NALUnit, c.pps) {
		t.Fatalf("avcC %+v", avcC)
	}

	rest := out[TagHeaderSize+len(vbody)+PreviousTagSizeLen:]
	abody := checkTag(t, rest, TagAudio, 1234)
	if !bytes.Equal(abody, append([]byte{0xAF, 0}, a.asc...)) {
		t.Fatalf("audio body % x", abody)
	}
}

func TestSequenceHeadersHEVC(t *testing.T) {
	tr := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH265, VPS: hevcVPS, SPS: hevcSPS, PPS: hevcPPS}}
	out := AppendSequenceHeaders(nil, tr, 0)
	body := checkTag(t, out, TagVideo, 0)
	if !bytes.Equal(body[:5], []byte{0x90, 'h', 'v', 'c', '1'}) {
		t.Fatalf("header % x", body[:5])
	}
	var s h265.SPS
	if err := s.Unmarshal(hevcSPS); err != nil {
		t.Fatal(err)
	}
	var hvcC mp4.HvcC
	unmarshalBox(t, body[5:], &hvcC)
	ptl := s.ProfileTierLevel
	if hvcC.ConfigurationVersion != 1 ||
		hvcC.GeneralProfileSpace != ptl.GeneralProfileSpace || hvcC.GeneralTierFlag != (ptl.GeneralTierFlag == 1) ||
		hvcC.GeneralProfileIdc != ptl.GeneralProfileIdc || hvcC.GeneralProfileCompatibility != ptl.GeneralProfileCompatibilityFlag ||
		hvcC.GeneralLevelIdc != ptl.GeneralLevelIdc || hvcC.ChromaFormatIdc != uint8(s.ChromaFormatIdc) ||
		hvcC.BitDepthLumaMinus8 != uint8(s.BitDepthLumaMinus8) || hvcC.BitDepthChromaMinus8 != uint8(s.BitDepthChromaMinus8) ||
		hvcC.NumTemporalLayers != s.MaxSubLayersMinus1+1 || (hvcC.TemporalIdNested == 1) != s.TemporalIDNestingFlag ||
		hvcC.LengthSizeMinusOne != 3 || hvcC.NumOfNaluArrays != 3 {
		t.Fatalf("hvcC %+v\nsps %+v", hvcC, s)
	}
	// x265 Main: progressive_source, frame_only (and non_packed 0) in the
	// first constraint byte, the rest zero.
	if hvcC.GeneralProfileIdc != 1 || hvcC.GeneralConstraintIndicator != [6]byte{0x90, 0, 0, 0, 0, 0} || hvcC.GeneralLevelIdc != 60 {
		t.Fatalf("profile %d constraints % x level %d", hvcC.GeneralProfileIdc, hvcC.GeneralConstraintIndicator, hvcC.GeneralLevelIdc)
	}
	for i, want := range [][]byte{hevcVPS, hevcSPS, hevcPPS} {
		a := hvcC.NaluArrays[i]
		if !a.Completeness || a.NaluType != uint8(32+i) || a.NumNalus != 1 || !bytes.Equal(a.Nalus[0].NALUnit, want) {
			t.Fatalf("array %d: %+v", i, a)
		}
	}
	vps, sps, pps, err := ParseHEVCConfig(body[5:])
	if err != nil || !bytes.Equal(vps, hevcVPS) || !bytes.Equal(sps, hevcSPS) || !bytes.Equal(pps, hevcPPS) {
		t.Fatalf("ParseHEVCConfig: %v", err)
	}
}

// An SPS that mediacommon refuses still yields a record, from the raw
// profile_tier_level bytes.
func TestSequenceHeaderHEVCFallback(t *testing.T) {
	sps := append([]byte(nil), hevcSPS[:20]...) // truncated after profile_tier_level
	var s h265.SPS
	if s.Unmarshal(sps) == nil {
		t.Fatal("expected mediacommon to reject the truncated SPS")
	}
	tr := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH265, VPS: hevcVPS, SPS: sps, PPS: hevcPPS}}
	body := checkTag(t, AppendSequenceHeaders(nil, tr, 0), TagVideo, 0)
	var hvcC mp4.HvcC
	unmarshalBox(t, body[5:], &hvcC)
	if hvcC.GeneralProfileIdc != 1 || hvcC.GeneralLevelIdc != 60 || !hvcC.GeneralProfileCompatibility[1] ||
		hvcC.GeneralConstraintIndicator != [6]byte{0x90} || hvcC.ChromaFormatIdc != 1 || hvcC.NumTemporalLayers != 1 {
		t.Fatalf("hvcC %+v", hvcC)
	}
}

func TestSequenceHeadersAV1(t *testing.T) {
	c := loadAV1(t)
	for _, tc := range []struct {
		name string
		seq  []byte
	}{
		{"without size field", c.seq},
		{"with size field", av1SeqHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1, AV1SequenceHeader: tc.seq}}
			body := checkTag(t, AppendSequenceHeaders(nil, tr, 0), TagVideo, 0)
			if !bytes.Equal(body[:5], []byte{0x90, 'a', 'v', '0', '1'}) {
				t.Fatalf("header % x", body[:5])
			}
			var av1C mp4.Av1C
			unmarshalBox(t, body[5:], &av1C)
			if av1C.Marker != 1 || av1C.Version != 1 || av1C.SeqProfile != 0 || av1C.SeqLevelIdx0 != 0 ||
				av1C.HighBitdepth != 0 || av1C.ChromaSubsamplingX != 1 || av1C.ChromaSubsamplingY != 1 ||
				!bytes.Equal(av1C.ConfigOBUs, av1SeqHeader) {
				t.Fatalf("av1C %+v", av1C)
			}
		})
	}
}

func TestSequenceHeadersSkipped(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   *media.Tracks
	}{
		{"nil", nil},
		{"empty", &media.Tracks{}},
		{"opus", &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecOpus}}},
		{"mp3 has no sequence header", &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecMP3, SampleRate: 44100}}},
		{"aac without config or usable rate", &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecAAC, SampleRate: 12345, ChannelCount: 2}}},
		{"h264 short sps", &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264, SPS: []byte{0x67, 0x64}, PPS: []byte{0x68}}}},
		{"h264 no pps", &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH264, SPS: []byte{0x67, 0x64, 0, 0x1f}}}},
		{"h265 no vps", &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH265, SPS: hevcSPS, PPS: hevcPPS}}},
		{"h265 swapped", &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH265, VPS: hevcSPS, SPS: hevcVPS, PPS: hevcPPS}}},
		{"h265 sps too short for ptl", &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH265, VPS: hevcVPS, SPS: hevcSPS[:10], PPS: hevcPPS}}},
		{"av1 no header", &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1}}},
		{"av1 not a sequence header", &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1, AV1SequenceHeader: []byte{0x12, 0}}}},
		{"av1 forbidden bit", &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1, AV1SequenceHeader: []byte{0x88, 0}}}},
		{"av1 size lies", &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1, AV1SequenceHeader: []byte{0x0a, 0x7f, 0}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out := AppendSequenceHeaders([]byte{9}, tc.tr, 0); !bytes.Equal(out, []byte{9}) {
				t.Fatalf("out % x", out)
			}
		})
	}
}

func TestSequenceHeaderAACBuiltConfig(t *testing.T) {
	tr := &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecAAC, SampleRate: 48000, ChannelCount: 2}}
	body := checkTag(t, AppendSequenceHeaders(nil, tr, 0), TagAudio, 0)
	p, err := ParseAudio(body)
	if err != nil || !p.SequenceHeader {
		t.Fatal(p, err)
	}
	rate, ch, err := ParseAudioSpecificConfig(p.Data)
	if err != nil || rate != 48000 || ch != 2 {
		t.Fatalf("rate %d ch %d err %v (% x)", rate, ch, err, p.Data)
	}
}

func TestTagBody(t *testing.T) {
	tag, _ := AppendFrameTag(nil, &media.Frame{
		Tracks: &media.Tracks{Audio: &media.AudioTrack{Codec: media.CodecAAC}}, DTS: ms(0x1234567), AU: [][]byte{{1, 2, 3}},
	})
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"complete", tag, true},
		{"trailing bytes ignored", append(append([]byte(nil), tag...), 0xFF, 0xFF), true},
		{"missing PreviousTagSize", tag[:len(tag)-1], false},
		{"header only", tag[:TagHeaderSize], false},
		{"empty", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, ts, body, err := TagBody(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
			if !tc.ok {
				return
			}
			if typ != TagAudio || ts != 0x1234567 || !bytes.Equal(body, []byte{0xAF, 1, 1, 2, 3}) || cap(body) != len(body) {
				t.Fatalf("typ %d ts %x body % x cap %d", typ, ts, body, cap(body))
			}
		})
	}
}

// Walking the output of AppendSequenceHeaders with TagBody, as the RTMP
// side does.
func TestTagBodyWalk(t *testing.T) {
	c := loadH264(t)
	a := loadAAC(t)
	buf := AppendSequenceHeaders(nil, h264Tracks(c, &a), 0)
	var types []uint8
	for len(buf) > 0 {
		typ, _, body, err := TagBody(buf)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, typ)
		buf = buf[TagHeaderSize+len(body)+PreviousTagSizeLen:]
	}
	if !bytes.Equal(types, []byte{TagVideo, TagAudio}) {
		t.Fatalf("types %v", types)
	}
}
