package bench

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// playRTMP is one RTMP viewer. It reads messages straight from the
// gortmplib Client rather than through gortmplib.Reader: Reader first
// buffers ~2 s of media to detect tracks and then replays it, which would
// shift every arrival time the report is about, and its callbacks split
// access units into NAL units, which a load generator has no use for.
// message.Video/Audio already carry DTS, the keyframe flag and the payload.
func playRTMP(ctx context.Context, r *run, v *viewer) error {
	connCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	c := &gortmplib.Client{URL: r.rtmpURL}
	err := c.Initialize(connCtx)
	cancel()
	if err != nil {
		return err
	}
	nc := c.NetConn()
	defer nc.Close()
	unblock := context.AfterFunc(ctx, func() { nc.Close() })
	defer unblock()
	v.setConnected(time.Now())

	base := int64(c.BytesReceived()) // handshake and command replies are not stream data
	for {
		msg, err := c.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errServerClosed
			}
			return err
		}
		// Byte counts move with socket reads, which may have pulled in
		// several messages at once (even with the replies Initialize
		// consumed), so the first byte is the first stream message.
		now := time.Now()
		v.countBytes(int64(c.BytesReceived()) - base - v.bytes)
		f, isFrame := rtmpFrame(msg)
		switch msg.(type) {
		case *message.DataAMF0, *message.Video, *message.Audio,
			*message.VideoExSequenceStart, *message.VideoExCodedFrames, *message.VideoExFramesX,
			*message.AudioExSequenceStart, *message.AudioExCodedFrames:
			v.gotData(now)
		}
		if isFrame {
			v.frame(now, f)
		}
		if _, ok := msg.(*message.UserControlStreamEOF); ok {
			return errServerClosed
		}
	}
}

// rtmpFrame interprets a message as a media frame (not a sequence header).
func rtmpFrame(msg message.Message) (frameInfo, bool) {
	switch m := msg.(type) {
	case *message.Video:
		return frameInfo{TS: m.DTS, Video: true, Key: m.IsKeyFrame, Size: len(m.AU)}, m.Type == message.VideoTypeAU
	case *message.VideoExCodedFrames:
		return frameInfo{TS: m.DTS, Video: true, Key: hasIDR(m.FourCC, m.Payload), Size: len(m.Payload)}, true
	case *message.VideoExFramesX:
		return frameInfo{TS: m.DTS, Video: true, Key: hasIDR(m.FourCC, m.Payload), Size: len(m.Payload)}, true
	case *message.Audio:
		isConfig := m.Codec == message.CodecMPEG4Audio && m.AACType == message.AudioAACTypeConfig
		return frameInfo{TS: m.DTS, Size: len(m.AU)}, !isConfig
	case *message.AudioExCodedFrames:
		return frameInfo{TS: m.DTS, Size: len(m.Payload)}, true
	}
	return frameInfo{}, false
}

// hasIDR reports whether a length-prefixed H.264 or H.265 access unit holds
// a random-access NAL unit. Enhanced-RTMP frames carry their frame type in a
// header that gortmplib does not expose, so this walks the NAL unit headers
// (never the payloads) instead. AV1 and VP9 report false.
func hasIDR(fourCC message.FourCC, au []byte) bool {
	for len(au) >= 5 {
		n := int(au[0])<<24 | int(au[1])<<16 | int(au[2])<<8 | int(au[3])
		if n <= 0 || n > len(au)-4 {
			return false
		}
		switch fourCC {
		case message.FourCCAVC:
			if au[4]&0x1f == 5 {
				return true
			}
		case message.FourCCHEVC:
			if t := au[4] >> 1 & 0x3f; t >= 16 && t <= 21 {
				return true
			}
		default:
			return false
		}
		au = au[4+n:]
	}
	return false
}
