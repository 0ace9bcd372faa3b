// Package play holds what every playback protocol shares: the wire forms of
// a frame that are built once per stream and written to every viewer.
package play

import (
	"time"

	"github.com/huabian-live/huabian/internal/codec/flv"
	"github.com/huabian-live/huabian/internal/codec/rtmpchunk"
	"github.com/huabian-live/huabian/internal/media"
)

// RTMPChunkSize is the chunk size the server announces to every RTMP player
// (gortmplib's ServerConn.AcceptConn sends SetChunkSize 65536), so the shared
// chunk bytes match every connection.
const RTMPChunkSize = 65536

// rtmpStreamID is the message stream ID given to every player by
// createStream.
const rtmpStreamID = 1

// PrepareFrame fills f.FLVTag and f.RTMPChunks. The hub calls it once per
// frame, in the publisher's goroutine, before any reader sees the frame.
// Frames in codecs FLV cannot carry get neither (RTMP/FLV players skip them).
// An audio stream with an FLV rendition (Tracks.FLVAudio) is carried by its
// FLVOnly frames; the source audio frames get no wire forms.
func PrepareFrame(f *media.Frame) {
	src := f
	if !f.Video && f.Tracks != nil && f.Tracks.FLVAudio != nil {
		if !f.FLVOnly {
			return
		}
		view := *f
		view.Tracks = FLVTracks(f.Tracks)
		src = &view
	}
	size := f.Size() + 32 + 4*len(f.AU)
	tag, ok := flv.AppendFrameTag(make([]byte, 0, size), src)
	if !ok {
		return
	}
	f.FLVTag = tag
	typ, ts, body, err := flv.TagBody(tag)
	if err != nil {
		return
	}
	f.RTMPChunks = rtmpchunk.Chunks(csid(typ), typ, ts, rtmpStreamID, body, RTMPChunkSize)
	shareAU(f, src.Tracks, typ, body)
}

// FLVTracks returns the tracks as FLV/RTMP outputs carry them: Audio
// replaced by FLVAudio when the stream has such a rendition.
func FLVTracks(t *media.Tracks) *media.Tracks {
	if t == nil || t.FLVAudio == nil {
		return t
	}
	return &media.Tracks{Video: t.Video, Audio: t.FLVAudio}
}

// shareAU points f.AU into the tag's copy of the payload, so the ring keeps
// one copy of each frame instead of two (the ingest's buffer becomes
// garbage). Only done where the tag holds the units byte for byte: H.264 and
// H.265 (AVCC) and AAC.
func shareAU(f *media.Frame, tracks *media.Tracks, typ uint8, body []byte) {
	if tracks == nil {
		return
	}
	switch typ {
	case flv.TagVideo:
		if v := tracks.Video; v == nil || (v.Codec != media.CodecH264 && v.Codec != media.CodecH265) {
			return
		}
		p, err := flv.ParseVideo(body)
		if err != nil {
			return
		}
		nalus, err := flv.SplitAVCC(p.Data)
		if err != nil || len(nalus) != len(f.AU) {
			return
		}
		f.AU = nalus
	case flv.TagAudio:
		if a := tracks.Audio; a == nil || a.Codec != media.CodecAAC {
			return
		}
		p, err := flv.ParseAudio(body)
		if err != nil || p.SequenceHeader || len(f.AU) != 1 || len(p.Data) != len(f.AU[0]) {
			return
		}
		f.AU[0] = p.Data
	}
}

func csid(typ uint8) uint8 {
	switch typ {
	case flv.TagVideo:
		return rtmpchunk.CSIDVideo
	case flv.TagAudio:
		return rtmpchunk.CSIDAudio
	default:
		return rtmpchunk.CSIDData
	}
}

// FLVHeaders appends what an FLV player needs before the first frame of a
// track set: onMetaData and the sequence headers, as FLV tags.
func FLVHeaders(dst []byte, t *media.Tracks, ts time.Duration) []byte {
	t = FLVTracks(t)
	dst = flv.AppendMetadataTag(dst, t)
	return flv.AppendSequenceHeaders(dst, t, ts)
}

// RTMPHeaders is FLVHeaders as RTMP messages (onMetaData data message and
// the sequence-header media messages).
func RTMPHeaders(dst []byte, t *media.Tracks, ts time.Duration) []byte {
	tags := FLVHeaders(nil, t, ts)
	for len(tags) > 0 {
		typ, tsMS, body, err := flv.TagBody(tags)
		if err != nil {
			break
		}
		dst = rtmpchunk.AppendMessage(dst, csid(typ), typ, tsMS, rtmpStreamID, body, RTMPChunkSize)
		tags = tags[flv.TagHeaderSize+len(body)+flv.PreviousTagSizeLen:]
	}
	return dst
}
