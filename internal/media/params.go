package media

import (
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// H264Track describes an H.264 track from its parameter sets; size and
// frame rate come from the SPS when it parses (else they stay 0). Every
// ingest (RTMP, SRT, WHIP) builds its tracks here, so they agree.
func H264Track(sps, pps []byte) *VideoTrack {
	t := &VideoTrack{Codec: CodecH264, SPS: sps, PPS: pps}
	var p h264.SPS
	if err := p.Unmarshal(sps); err == nil {
		t.Width, t.Height, t.FPS = p.Width(), p.Height(), p.FPS()
	}
	return t
}

// H265Track is H264Track for H.265 (HEVC).
func H265Track(vps, sps, pps []byte) *VideoTrack {
	t := &VideoTrack{Codec: CodecH265, VPS: vps, SPS: sps, PPS: pps}
	var p h265.SPS
	if err := p.Unmarshal(sps); err == nil {
		t.Width, t.Height, t.FPS = p.Width(), p.Height(), p.FPS()
	}
	return t
}
