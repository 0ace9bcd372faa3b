package flv

import (
	"encoding/binary"
	"errors"

	"github.com/huabian-live/huabian/internal/media"
)

// Sentinel errors of ParseVideo and ParseAudio. Other errors mean the body
// is malformed.
var (
	// ErrIgnorable is returned for tag bodies that are valid but carry no
	// media: Enhanced RTMP Metadata packets, video command frames (frame
	// type 5), MPEG2TSSequenceStart, audio SequenceEnd / MultichannelConfig,
	// and the empty "audio silence" message. Callers skip the tag.
	ErrIgnorable = errors.New("flv: packet carries no media")
	// ErrUnsupported is returned for codecs and features this package does
	// not demux (other codec ids and FourCCs, multitrack with more than one
	// track). Callers usually skip the tag or drop the track.
	ErrUnsupported = errors.New("flv: unsupported codec or packet type")
)

var (
	errVideoEmpty         = errors.New("flv: empty video tag body")
	errVideoShort         = errors.New("flv: video tag body truncated")
	errVideoPacketType    = errors.New("flv: unknown video packet type")
	errAudioShort         = errors.New("flv: audio tag body truncated")
	errAudioPacketType    = errors.New("flv: unknown audio packet type")
	errMultitrackNested   = errors.New("flv: multitrack packet nests a multitrack or ModEx packet type")
	errAVCCShortLength    = errors.New("flv: AVCC data ends inside a NAL unit length")
	errAVCCLength         = errors.New("flv: AVCC NAL unit length exceeds the data")
	errAVCCEmpty          = errors.New("flv: AVCC data has no NAL units")
	errUnsupportedVideo   = wrapUnsupported("flv: unsupported video codec")
	errUnsupportedAudio   = wrapUnsupported("flv: unsupported audio codec")
	errUnsupportedTracks  = wrapUnsupported("flv: multitrack with more than one track")
	errUnsupportedAudioEx = wrapUnsupported("flv: unsupported enhanced audio packet type")
)

type unsupportedError string

func (e unsupportedError) Error() string { return string(e) }
func (unsupportedError) Unwrap() error   { return ErrUnsupported }

func wrapUnsupported(s string) error { return unsupportedError(s) }

// VideoPacket is a parsed video tag body.
type VideoPacket struct {
	Codec media.Codec
	// Key is set for frame type 1 (key frame) and 4 (generated key frame).
	Key bool
	// SequenceHeader is set for AVCPacketType 0 / SequenceStart; Data is
	// then the configuration record: AVCDecoderConfigurationRecord (H.264),
	// HEVCDecoderConfigurationRecord (H.265) or av1C (AV1).
	SequenceHeader bool
	// SequenceEnd is set for AVCPacketType 2 / SequenceEnd; Data is usually
	// empty.
	SequenceEnd bool
	// CompositionTime is PTS-DTS in milliseconds (0 for CodedFramesX and
	// AV1).
	CompositionTime int32
	// Data aliases the body: for coded frames, AVCC NAL units (H.264, H.265,
	// see SplitAVCC) or low-overhead-format OBUs (AV1).
	Data []byte
}

// ParseVideo parses a VIDEODATA tag body: the legacy AVC layout (codec id 7;
// the non-standard codec id 12 is read as HEVC with the same layout) and the
// Enhanced RTMP ExVideoTagHeader with FourCC 'avc1', 'hvc1' or 'av01' and
// packet types SequenceStart, CodedFrames, CodedFramesX and SequenceEnd.
// ModEx prefixes (v2) are skipped; Multitrack (v2) is accepted when it
// carries a single track (OneTrack). Metadata packets and command frames
// return ErrIgnorable; other codecs ErrUnsupported. Data aliases body.
func ParseVideo(body []byte) (VideoPacket, error) {
	var p VideoPacket
	if len(body) == 0 {
		return p, errVideoEmpty
	}
	frameType := body[0] >> 4 & 7
	p.Key = frameType == frameTypeKey || frameType == frameTypeGenerated
	if body[0]&exHeaderBit == 0 {
		return parseLegacyVideo(p, body, frameType)
	}
	return parseExVideo(p, body, frameType)
}

// parseLegacyVideo parses VIDEODATA with an AVCVIDEOPACKET (FLV v10.1
// E.4.3.1): frame type and codec id, AVCPacketType, SI24 CompositionTime.
func parseLegacyVideo(p VideoPacket, body []byte, frameType byte) (VideoPacket, error) {
	if frameType == frameTypeCommand {
		return p, ErrIgnorable
	}
	switch body[0] & 0x0f {
	case codecIDAVC:
		p.Codec = media.CodecH264
	case codecIDHEVCLegacy:
		p.Codec = media.CodecH265
	default:
		return p, errUnsupportedVideo
	}
	if len(body) < 5 {
		return p, errVideoShort
	}
	switch body[1] {
	case avcPacketSequenceHeader:
		p.SequenceHeader = true
	case avcPacketNALU:
	case avcPacketEndOfSequence:
		p.SequenceEnd = true
	default:
		return p, errVideoPacketType
	}
	p.CompositionTime = int24(body[2:])
	p.Data = body[5:]
	return p, nil
}

// parseExVideo parses the Enhanced RTMP ExVideoTagHeader and ExVideoTagBody.
func parseExVideo(p VideoPacket, body []byte, frameType byte) (VideoPacket, error) {
	pktType, pos, ok := skipModExs(body, videoPacketModEx)
	if !ok {
		return p, errVideoShort
	}
	if pktType != videoPacketMetadata && frameType == frameTypeCommand {
		return p, ErrIgnorable // VideoCommand UI8, no FourCC, no payload
	}
	fourCC, pktType, pos, err := readFourCC(body, pos, pktType, videoPacketMultitrack, videoPacketModEx)
	if err != nil {
		if err == errShortHeader {
			err = errVideoShort
		}
		return p, err
	}
	if pktType == videoPacketMetadata {
		return p, ErrIgnorable
	}
	switch fourCC {
	case fourCCAVC:
		p.Codec = media.CodecH264
	case fourCCHEVC:
		p.Codec = media.CodecH265
	case fourCCAV1:
		p.Codec = media.CodecAV1
	default:
		return p, errUnsupportedVideo
	}
	switch pktType {
	case videoPacketSequenceStart:
		p.SequenceHeader = true
	case videoPacketCodedFrames:
		if p.Codec != media.CodecAV1 { // AV1 CodedFrames has no CompositionTime
			if len(body)-pos < 3 {
				return p, errVideoShort
			}
			p.CompositionTime = int24(body[pos:])
			pos += 3
		}
	case videoPacketCodedFramesX:
	case videoPacketSequenceEnd:
		p.SequenceEnd = true
	case videoPacketMPEG2TSSequenceStart:
		return p, ErrIgnorable
	default:
		return p, errVideoPacketType
	}
	p.Data = body[pos:]
	return p, nil
}

var errShortHeader = errors.New("flv: enhanced tag header truncated")

// skipModExs reads the packet type in the low nibble of body[0] and skips
// the ModEx (Enhanced RTMP v2) prefixes it introduces: each is a UI8 size-1
// (UI16 size-1 when the UI8 is 255), the data, then a byte holding the
// ModEx type (ignored: TimestampOffsetNano is the only one defined) and the
// next packet type. Every ModEx consumes at least 3 bytes, so the loop is
// bounded by len(body).
func skipModExs(body []byte, modEx byte) (pktType byte, pos int, ok bool) {
	pktType, pos = body[0]&0x0f, 1
	for pktType == modEx {
		if len(body)-pos < 1 {
			return 0, 0, false
		}
		size := int(body[pos]) + 1
		pos++
		if size == 256 {
			if len(body)-pos < 2 {
				return 0, 0, false
			}
			size = int(binary.BigEndian.Uint16(body[pos:])) + 1
			pos += 2
		}
		if len(body)-pos < size+1 {
			return 0, 0, false
		}
		pos += size
		pktType = body[pos] & 0x0f
		pos++
	}
	return pktType, pos, true
}

// readFourCC reads the FourCC at body[pos:], first handling a Multitrack
// packet type: AvMultitrackType and the real packet type share one byte,
// then the FourCC, then (OneTrack) a UI8 trackId. Only OneTrack is
// supported; any trackId is accepted since it is the only track.
func readFourCC(body []byte, pos int, pktType, multitrack, modEx byte) (fourCC uint32, _ byte, _ int, _ error) {
	isMultitrack := pktType == multitrack
	if isMultitrack {
		if len(body)-pos < 1 {
			return 0, 0, 0, errShortHeader
		}
		mt := body[pos] >> 4
		pktType = body[pos] & 0x0f
		pos++
		if mt != multitrackOneTrack {
			return 0, 0, 0, errUnsupportedTracks
		}
		if pktType == multitrack || pktType == modEx {
			return 0, 0, 0, errMultitrackNested
		}
	}
	if len(body)-pos < 4 {
		return 0, 0, 0, errShortHeader
	}
	fourCC = binary.BigEndian.Uint32(body[pos:])
	pos += 4
	if isMultitrack {
		if len(body)-pos < 1 {
			return 0, 0, 0, errShortHeader
		}
		pos++ // trackId
	}
	return fourCC, pktType, pos, nil
}

// AudioPacket is a parsed audio tag body.
type AudioPacket struct {
	Codec media.Codec
	// SequenceHeader is set for AACPacketType 0 / SequenceStart; Data is
	// then the AudioSpecificConfig (AAC) or the Opus ID header.
	SequenceHeader bool
	// Data aliases the body: one raw AAC frame, MP3 frame(s) or Opus packet.
	Data []byte
}

// ParseAudio parses an AUDIODATA tag body: legacy AAC (SoundFormat 10,
// AACPacketType 0/1) and MP3 (SoundFormat 2 and 14), and the Enhanced RTMP
// ExAudioTagHeader (SoundFormat 9) with FourCC 'mp4a', '.mp3' or 'Opus' and
// packet types SequenceStart and CodedFrames; ModEx prefixes are skipped and
// single-track Multitrack is accepted. The empty "silence" message,
// SequenceEnd and MultichannelConfig return ErrIgnorable; other formats
// ErrUnsupported. Data aliases body.
func ParseAudio(body []byte) (AudioPacket, error) {
	var p AudioPacket
	if len(body) == 0 {
		return p, ErrIgnorable // "audio silence" message (Enhanced RTMP v2)
	}
	switch body[0] >> 4 {
	case soundFormatAAC:
		if len(body) < 2 {
			return p, errAudioShort
		}
		p.Codec = media.CodecAAC
		switch body[1] {
		case aacPacketSequenceHeader:
			p.SequenceHeader = true
		case aacPacketRaw:
		default:
			return p, errAudioPacketType
		}
		p.Data = body[2:]
		return p, nil
	case soundFormatMP3, soundFormatMP38k:
		p.Codec = media.CodecMP3
		p.Data = body[1:]
		return p, nil
	case soundFormatExHeader:
		return parseExAudio(p, body)
	}
	return p, errUnsupportedAudio
}

func parseExAudio(p AudioPacket, body []byte) (AudioPacket, error) {
	pktType, pos, ok := skipModExs(body, audioPacketModEx)
	if !ok {
		return p, errAudioShort
	}
	fourCC, pktType, pos, err := readFourCC(body, pos, pktType, audioPacketMultitrack, audioPacketModEx)
	if err != nil {
		if err == errShortHeader {
			err = errAudioShort
		}
		return p, err
	}
	switch fourCC {
	case fourCCAAC:
		p.Codec = media.CodecAAC
	case fourCCMP3:
		p.Codec = media.CodecMP3
	case fourCCOpus:
		p.Codec = media.CodecOpus
	default:
		return p, errUnsupportedAudio
	}
	switch pktType {
	case audioPacketSequenceStart:
		p.SequenceHeader = true
	case audioPacketCodedFrames:
	case audioPacketSequenceEnd, audioPacketMultichannelConfig:
		return p, ErrIgnorable
	default:
		return p, errUnsupportedAudioEx
	}
	p.Data = body[pos:]
	return p, nil
}

// SplitAVCC splits AVCC data (NAL units each preceded by a 4-byte big-endian
// length, ISO/IEC 14496-15) into NAL units, which alias b. A length that
// overruns the data, or trailing bytes too short for a length, is an error,
// and so is data without any NAL unit. Zero-length units are skipped. The
// result is allocated once, after validation, with exactly the number of
// units.
func SplitAVCC(b []byte) ([][]byte, error) {
	n := 0
	for pos := 0; pos < len(b); {
		if len(b)-pos < 4 {
			return nil, errAVCCShortLength
		}
		l := uint64(binary.BigEndian.Uint32(b[pos:]))
		pos += 4
		if l > uint64(len(b)-pos) {
			return nil, errAVCCLength
		}
		if l > 0 {
			n++
		}
		pos += int(l)
	}
	if n == 0 {
		return nil, errAVCCEmpty
	}
	out := make([][]byte, 0, n)
	for pos := 0; pos < len(b); {
		l := int(binary.BigEndian.Uint32(b[pos:]))
		pos += 4
		if l > 0 {
			out = append(out, b[pos:pos+l:pos+l])
		}
		pos += l
	}
	return out, nil
}
