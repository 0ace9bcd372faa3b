package flv

import (
	"bytes"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"

	"github.com/huabian-live/huabian/internal/media"
)

// TestRTMPInterop sends the tag bodies (via TagBody, as the RTMP sender
// does) through gortmplib's chunk writer and message reader, an independent
// Enhanced RTMP implementation, and checks what it decodes. This covers the
// H.265 and AV1 paths that the local FFmpeg cannot demux.
func TestRTMPInterop(t *testing.T) {
	av := loadAV1(t)
	hevc := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecH265, VPS: hevcVPS, SPS: hevcSPS, PPS: hevcPPS}}
	av1Tracks := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1, AV1SequenceHeader: av.seq}}
	h := loadH264(t)
	a := loadAAC(t)
	h264AAC := h264Tracks(h, &a)

	for _, tc := range []struct {
		name  string
		tr    *media.Tracks
		frame *media.Frame
		check func(t *testing.T, msgs []message.Message)
	}{
		{"h265", hevc, &media.Frame{Tracks: hevc, Video: true, Key: true, DTS: ms(100), PTS: ms(140), AU: [][]byte{{0x26, 0x01, 0xAF}}},
			func(t *testing.T, msgs []message.Message) {
				ss, ok := msgs[0].(*message.VideoExSequenceStart)
				if !ok || ss.FourCC != message.FourCCHEVC || ss.HEVCConfig == nil || len(ss.HEVCConfig.NaluArrays) != 3 ||
					!bytes.Equal(ss.HEVCConfig.NaluArrays[1].Nalus[0].NALUnit, hevcSPS) {
					t.Fatalf("%#v", msgs[0])
				}
				cf, ok := msgs[1].(*message.VideoExCodedFrames)
				if !ok || cf.FourCC != message.FourCCHEVC || cf.DTS != ms(100) || cf.PTSDelta != ms(40) ||
					!bytes.Equal(cf.Payload, []byte{0, 0, 0, 3, 0x26, 0x01, 0xAF}) {
					t.Fatalf("%#v", msgs[1])
				}
			}},
		{"av1", av1Tracks, &media.Frame{Tracks: av1Tracks, Video: true, Key: true, DTS: ms(33), PTS: ms(33), AU: av.tus[0]},
			func(t *testing.T, msgs []message.Message) {
				ss, ok := msgs[0].(*message.VideoExSequenceStart)
				if !ok || ss.FourCC != message.FourCCAV1 || ss.AV1Config == nil || !bytes.Equal(ss.AV1Config.ConfigOBUs, av1SeqHeader) {
					t.Fatalf("%#v", msgs[0])
				}
				cf, ok := msgs[1].(*message.VideoExCodedFrames)
				if !ok || cf.FourCC != message.FourCCAV1 || cf.DTS != ms(33) || !bytes.Equal(cf.Payload, av.rawTUs[0]) {
					t.Fatalf("%#v", msgs[1])
				}
			}},
		{"h264+aac", h264AAC, &media.Frame{Tracks: h264AAC, Video: true, Key: true, DTS: ms(0x1000000), PTS: ms(0x1000000 + 66), AU: h.aus[0]},
			func(t *testing.T, msgs []message.Message) {
				v, ok := msgs[0].(*message.Video)
				if !ok || v.Codec != message.CodecH264 || v.Type != message.VideoTypeConfig || v.AVCConfig == nil ||
					!bytes.Equal(v.AVCConfig.SequenceParameterSets[0].NALUnit, h.sps) {
					t.Fatalf("%#v", msgs[0])
				}
				au, ok := msgs[1].(*message.Audio)
				if !ok || au.Codec != message.CodecMPEG4Audio || au.AACType != message.AudioAACTypeConfig ||
					au.AACConfig == nil || au.AACConfig.SampleRate != 44100 || au.AACConfig.ChannelConfig != 2 {
					t.Fatalf("%#v", msgs[1])
				}
				f, ok := msgs[2].(*message.Video)
				if !ok || !f.IsKeyFrame || f.Type != message.VideoTypeAU || f.DTS != ms(0x1000000) || f.PTSDelta != ms(66) {
					t.Fatalf("%#v", msgs[2])
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tags := AppendSequenceHeaders(nil, tc.tr, 0)
			tags, _ = AppendFrameTag(tags, tc.frame)

			var buf bytes.Buffer
			bcw := bytecounter.NewWriter(&buf)
			w := rawmessage.NewWriter(bcw, bcw, false)
			n := 0
			for len(tags) > 0 {
				typ, ts, body, err := TagBody(tags)
				if err != nil {
					t.Fatal(err)
				}
				err = w.Write(&rawmessage.Message{
					ChunkStreamID: 6, Timestamp: time.Duration(ts) * time.Millisecond,
					Type: typ, MessageStreamID: 1, Body: body,
				})
				if err != nil {
					t.Fatal(err)
				}
				tags = tags[TagHeaderSize+len(body)+PreviousTagSizeLen:]
				n++
			}

			bcr := bytecounter.NewReader(&buf)
			r := message.NewReader(bcr, bcr, nil)
			var msgs []message.Message
			for range n {
				m, err := r.Read()
				if err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, m)
			}
			tc.check(t, msgs)
		})
	}
}
