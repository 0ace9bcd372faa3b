package llhls

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
)

// fixture is a decoded test stream: frames in file order with timestamps
// relative to the first one, and the period after which it can be looped.
type fixture struct {
	tracks *media.Tracks
	frames []media.Frame
	period time.Duration
}

// loadFixture reads testdata/h264_aac_320x240.flv, made with
//
//	ffmpeg -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine=frequency=440:sample_rate=44100 \
//	  -t 4 -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 30 -keyint_min 30 \
//	  -sc_threshold 0 -bf 0 -b:v 120k -maxrate 150k -bufsize 150k -c:a aac -b:a 48k -ac 1 -f flv x.flv
//
// It is a minimal FLV reader for this fixture only (AVC + AAC tags), kept
// here so the test does not depend on internal/codec/flv.
func loadFixture(t testing.TB) *fixture {
	t.Helper()
	b, err := os.ReadFile("testdata/h264_aac_320x240.flv")
	if err != nil {
		t.Fatal(err)
	}
	fx, err := parseFLV(b)
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

func parseFLV(b []byte) (*fixture, error) {
	if len(b) < 13 || string(b[:3]) != "FLV" {
		return nil, fmt.Errorf("not an FLV file")
	}
	pos := int(binary.BigEndian.Uint32(b[5:9])) + 4
	vt := &media.VideoTrack{Codec: media.CodecH264}
	at := &media.AudioTrack{Codec: media.CodecAAC}
	fx := &fixture{tracks: &media.Tracks{Video: vt, Audio: at}}
	var lastV time.Duration
	for pos+11 <= len(b) {
		typ := b[pos]
		size := int(b[pos+1])<<16 | int(b[pos+2])<<8 | int(b[pos+3])
		ts := time.Duration(uint32(b[pos+7])<<24|uint32(b[pos+4])<<16|uint32(b[pos+5])<<8|uint32(b[pos+6])) * time.Millisecond
		if pos+11+size > len(b) {
			return nil, fmt.Errorf("truncated tag at %d", pos)
		}
		body := b[pos+11 : pos+11+size]
		pos += 11 + size + 4
		switch {
		case typ == 9 && len(body) >= 5 && body[0]&0x0f == 7: // AVC
			key := body[0]>>4 == 1
			cts := int32(uint32(body[2])<<16|uint32(body[3])<<8|uint32(body[4])) << 8 >> 8
			data := body[5:]
			switch body[1] {
			case 0: // AVCDecoderConfigurationRecord
				sps, pps, err := parseAVCC(data)
				if err != nil {
					return nil, err
				}
				vt.SPS, vt.PPS = sps, pps
			case 1:
				var au [][]byte
				for len(data) >= 4 {
					n := int(binary.BigEndian.Uint32(data))
					if n > len(data)-4 {
						return nil, fmt.Errorf("bad NALU length")
					}
					nalu := data[4 : 4+n]
					data = data[4+n:]
					if t := nalu[0] & 0x1f; t == 7 || t == 8 {
						continue // parameter sets travel in Tracks
					}
					au = append(au, nalu)
				}
				fx.frames = append(fx.frames, media.Frame{
					Tracks: fx.tracks, Video: true, Key: key,
					DTS: ts, PTS: ts + time.Duration(cts)*time.Millisecond, AU: au,
				})
				lastV = ts
			}
		case typ == 8 && len(body) >= 2 && body[0]>>4 == 10: // AAC
			if body[1] == 0 {
				at.Config = append([]byte(nil), body[2:]...)
				at.SampleRate, at.ChannelCount = 44100, 1
				continue
			}
			fx.frames = append(fx.frames, media.Frame{
				Tracks: fx.tracks, Key: true, DTS: ts, PTS: ts, AU: [][]byte{body[2:]},
			})
		}
	}
	if vt.SPS == nil || at.Config == nil {
		return nil, fmt.Errorf("missing sequence headers")
	}
	// Loop on the video cadence; drop the audio frames that would overlap the
	// next pass, so every pass continues the timeline without a jump.
	fx.period = lastV + 33*time.Millisecond
	kept := fx.frames[:0]
	for _, f := range fx.frames {
		if f.Video || f.DTS+24*time.Millisecond <= fx.period {
			kept = append(kept, f)
		}
	}
	fx.frames = kept
	return fx, nil
}

func parseAVCC(b []byte) (sps, pps []byte, err error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("short AVCDecoderConfigurationRecord")
	}
	pos := 5
	if b[pos]&0x1f < 1 {
		return nil, nil, fmt.Errorf("no SPS")
	}
	pos++
	n := int(binary.BigEndian.Uint16(b[pos:]))
	sps = b[pos+2 : pos+2+n]
	pos += 2 + n
	pos++ // numOfPictureParameterSets
	n = int(binary.BigEndian.Uint16(b[pos:]))
	pps = b[pos+2 : pos+2+n]
	return sps, pps, nil
}

// publish writes the fixture in a loop into p at speed times real time,
// until ctx ends or loops passes are done (loops <= 0: forever).
// tracksFor, when set, gives the tracks of each pass. It closes the
// publisher before returning.
func (fx *fixture) publish(ctx context.Context, p *hub.Publisher, speed float64, loops int, tracksFor func(loop int) *media.Tracks) {
	defer p.Close()
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for loop := 0; loops <= 0 || loop < loops; loop++ {
		off := time.Duration(loop) * fx.period
		tracks := fx.tracks
		if tracksFor != nil {
			tracks = tracksFor(loop)
		}
		for i := range fx.frames {
			f := fx.frames[i] // copy: the hub rewrites timestamps in place
			f.Tracks = tracks
			f.DTS += off
			f.PTS += off
			due := start.Add(time.Duration(float64(f.DTS) / speed))
			if d := time.Until(due); d > 0 {
				t.Reset(d)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			} else if ctx.Err() != nil {
				return
			}
			p.Write(&f)
		}
	}
}
