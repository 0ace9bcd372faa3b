package flv

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/huabian-live/huabian/internal/media"
)

// FLV tag types (FLV v10.1 E.4.1, TagType).
const (
	TagAudio  = 8
	TagVideo  = 9
	TagScript = 18
)

const (
	// TagHeaderSize is the size of the FLVTAG header: TagType, DataSize
	// (UI24), Timestamp (UI24), TimestampExtended (UI8), StreamID (UI24).
	TagHeaderSize = 11
	// PreviousTagSizeLen is the size of the PreviousTagSize field that follows
	// every tag (FLV v10.1 E.3); it holds TagHeaderSize + DataSize.
	PreviousTagSizeLen = 4
	// MaxBodySize is the largest tag body: DataSize is a 24-bit field, so a
	// tag body is always below 16 MiB.
	MaxBodySize = 1<<24 - 1

	fileHeaderSize = 9 // FLV header (E.2) without PreviousTagSize0
)

// Legacy VIDEODATA (FLV v10.1 E.4.3.1).
const (
	frameTypeKey       = 1
	frameTypeInter     = 2
	frameTypeGenerated = 4 // "generated key frame (reserved for server use only)"
	frameTypeCommand   = 5 // "video info/command frame"

	codecIDAVC = 7
	// codecIDHEVCLegacy is the non-standard HEVC codec id 12 used by many
	// pre-Enhanced-RTMP encoders and servers (same layout as AVC). Accepted
	// by ParseVideo, never written.
	codecIDHEVCLegacy = 12

	avcPacketSequenceHeader = 0
	avcPacketNALU           = 1
	avcPacketEndOfSequence  = 2
)

// Enhanced RTMP ExVideoTagHeader (Enhanced RTMP v1/v2, "Enhanced Video").
const (
	exHeaderBit = 0x80 // IsExHeader, top bit of the first byte

	videoPacketSequenceStart        = 0
	videoPacketCodedFrames          = 1
	videoPacketSequenceEnd          = 2
	videoPacketCodedFramesX         = 3 // CompositionTime implied 0
	videoPacketMetadata             = 4
	videoPacketMPEG2TSSequenceStart = 5
	videoPacketMultitrack           = 6 // v2
	videoPacketModEx                = 7 // v2

	multitrackOneTrack = 0 // AvMultitrackType.OneTrack
)

// FourCC values (Enhanced RTMP VideoFourCc / AudioFourCc). A FourCC is the
// big-endian UI32 of its four ASCII characters.
const (
	fourCCAVC  = 'a'<<24 | 'v'<<16 | 'c'<<8 | '1'
	fourCCHEVC = 'h'<<24 | 'v'<<16 | 'c'<<8 | '1'
	fourCCAV1  = 'a'<<24 | 'v'<<16 | '0'<<8 | '1'
	fourCCAAC  = 'm'<<24 | 'p'<<16 | '4'<<8 | 'a'
	fourCCMP3  = '.'<<24 | 'm'<<16 | 'p'<<8 | '3'
	fourCCOpus = 'O'<<24 | 'p'<<16 | 'u'<<8 | 's'
)

// AUDIODATA (FLV v10.1 E.4.2.1) and Enhanced RTMP ExAudioTagHeader.
const (
	soundFormatMP3      = 2
	soundFormatExHeader = 9
	soundFormatAAC      = 10
	soundFormatMP38k    = 14

	// aacSoundByte is SoundFormat 10 with SoundRate 3 (44 kHz), SoundSize 1
	// (16-bit) and SoundType 1 (stereo): the spec says AAC always uses these
	// values; decoders take the real ones from the AudioSpecificConfig.
	aacSoundByte = soundFormatAAC<<4 | 3<<2 | 1<<1 | 1

	aacPacketSequenceHeader = 0
	aacPacketRaw            = 1

	audioPacketSequenceStart      = 0
	audioPacketCodedFrames        = 1
	audioPacketSequenceEnd        = 2
	audioPacketMultichannelConfig = 4
	audioPacketMultitrack         = 5
	audioPacketModEx              = 7
)

// AppendFileHeader appends the 9-byte FLV header and PreviousTagSize0
// (FLV v10.1 E.2, E.3).
func AppendFileHeader(dst []byte, hasVideo, hasAudio bool) []byte {
	var flags byte
	if hasAudio {
		flags |= 0x04 // TypeFlagsAudio
	}
	if hasVideo {
		flags |= 0x01 // TypeFlagsVideo
	}
	return append(dst,
		'F', 'L', 'V', 1, flags,
		0, 0, 0, fileHeaderSize, // DataOffset
		0, 0, 0, 0, // PreviousTagSize0
	)
}

// AppendMetadataTag appends an onMetaData script tag at timestamp 0: the AMF0
// string "onMetaData" followed by an ECMA array (FLV v10.1 E.5) with width,
// height, framerate and videocodecid for a video track FLV can carry,
// audiocodecid, audiosamplerate and stereo for an audio track FLV can carry,
// and encoder "Huabian Live". Codec ids are the legacy FLV ids (7 AVC,
// 10 AAC, 2 MP3) or, for HEVC and AV1, the FourCC as a number (Enhanced RTMP
// "Enhancing onMetaData"). Zero-valued FPS and sample rates are omitted.
func AppendMetadataTag(dst []byte, t *media.Tracks) []byte {
	start := len(dst)
	dst = appendTagHeader(dst, TagScript, 0, 0)
	dst = appendAMF0String(dst, "onMetaData")
	dst = append(dst, amf0ECMAArray, 0, 0, 0, 0)
	countAt := len(dst) - 4
	var n uint32

	if v := carriedVideo(t); v != nil {
		dst = appendAMF0Key(dst, "width")
		dst = appendAMF0Number(dst, float64(v.Width))
		dst = appendAMF0Key(dst, "height")
		dst = appendAMF0Number(dst, float64(v.Height))
		n += 2
		if v.FPS > 0 && !math.IsInf(v.FPS, 0) {
			dst = appendAMF0Key(dst, "framerate")
			dst = appendAMF0Number(dst, v.FPS)
			n++
		}
		var id float64
		switch v.Codec {
		case media.CodecH264:
			id = codecIDAVC
		case media.CodecH265:
			id = fourCCHEVC
		case media.CodecAV1:
			id = fourCCAV1
		}
		dst = appendAMF0Key(dst, "videocodecid")
		dst = appendAMF0Number(dst, id)
		n++
	}
	if a := carriedAudio(t); a != nil {
		id := float64(soundFormatAAC)
		if a.Codec == media.CodecMP3 {
			id = soundFormatMP3
		}
		dst = appendAMF0Key(dst, "audiocodecid")
		dst = appendAMF0Number(dst, id)
		n++
		if a.SampleRate > 0 {
			dst = appendAMF0Key(dst, "audiosamplerate")
			dst = appendAMF0Number(dst, float64(a.SampleRate))
			n++
		}
		dst = appendAMF0Key(dst, "stereo")
		dst = appendAMF0Bool(dst, a.ChannelCount >= 2)
		n++
	}
	dst = appendAMF0Key(dst, "encoder")
	dst = appendAMF0String(dst, "Huabian Live")
	n++

	dst = append(dst, 0, 0, amf0ObjectEnd)
	binary.BigEndian.PutUint32(dst[countAt:], n)
	return endTag(dst, start)
}

// AppendSequenceHeaders appends the video then the audio sequence-header tag
// at timestamp ts:
//
//   - H.264: legacy AVC tag, AVCPacketType 0, AVCDecoderConfigurationRecord;
//   - H.265: Enhanced RTMP SequenceStart, FourCC 'hvc1', an
//     HEVCDecoderConfigurationRecord built from VPS/SPS/PPS;
//   - AV1: Enhanced RTMP SequenceStart, FourCC 'av01', an
//     AV1CodecConfigurationRecord (av1C) holding the sequence header OBU;
//   - AAC: AACPacketType 0 with the AudioSpecificConfig (built from the
//     sample rate and channel count when Config is empty).
//
// Tracks whose codec FLV cannot carry are skipped, and so are tracks whose
// parameter sets are missing or unusable (e.g. an SPS too short to hold a
// profile); MP3 has no sequence header.
func AppendSequenceHeaders(dst []byte, t *media.Tracks, ts time.Duration) []byte {
	if t == nil {
		return dst
	}
	ms := timestampMS(ts)
	if v := t.Video; v != nil {
		dst = appendVideoSequenceHeader(dst, v, ms)
	}
	if a := t.Audio; a != nil && a.Codec == media.CodecAAC {
		dst = appendAACSequenceHeader(dst, a, ms)
	}
	return dst
}

func appendVideoSequenceHeader(dst []byte, v *media.VideoTrack, ms uint32) []byte {
	start := len(dst)
	dst = appendTagHeader(dst, TagVideo, 0, ms)
	var ok bool
	switch v.Codec {
	case media.CodecH264:
		dst = append(dst, frameTypeKey<<4|codecIDAVC, avcPacketSequenceHeader, 0, 0, 0)
		dst, ok = appendAVCConfig(dst, v.SPS, v.PPS)
	case media.CodecH265:
		dst = append(dst, exHeaderBit|frameTypeKey<<4|videoPacketSequenceStart, 'h', 'v', 'c', '1')
		dst, ok = appendHEVCConfig(dst, v.VPS, v.SPS, v.PPS)
	case media.CodecAV1:
		dst = append(dst, exHeaderBit|frameTypeKey<<4|videoPacketSequenceStart, 'a', 'v', '0', '1')
		dst, ok = appendAV1Config(dst, v.AV1SequenceHeader)
	}
	if !ok {
		return dst[:start]
	}
	return endTag(dst, start)
}

func appendAACSequenceHeader(dst []byte, a *media.AudioTrack, ms uint32) []byte {
	asc := a.Config
	if len(asc) == 0 {
		var ok bool
		if asc, ok = buildAudioSpecificConfig(a.SampleRate, a.ChannelCount); !ok {
			return dst
		}
	}
	start := len(dst)
	dst = appendTagHeader(dst, TagAudio, 0, ms)
	dst = append(dst, aacSoundByte, aacPacketSequenceHeader)
	dst = append(dst, asc...)
	return endTag(dst, start)
}

// AppendFrameTag appends one complete tag (11-byte header, body, 4-byte
// PreviousTagSize) for f.
//
// The tag timestamp is f.DTS in milliseconds (negative values clamp to 0;
// the 32-bit value, split into Timestamp and TimestampExtended, wraps after
// about 49.7 days). The composition time is PTS-DTS in milliseconds,
// clamped to the signed 24-bit range.
//
//   - H.264: legacy AVC tag (codec id 7), AVCPacketType 1, SI24
//     CompositionTime, NAL units with 4-byte length prefixes (AVCC).
//   - H.265: Enhanced RTMP CodedFrames, FourCC 'hvc1', SI24
//     CompositionTime, AVCC NAL units. (CodedFramesX would save 3 bytes when
//     PTS == DTS; CodedFrames is used always, for simplicity and for players
//     that only know CodedFrames.)
//   - AV1: Enhanced RTMP CodedFrames, FourCC 'av01', the OBUs of the
//     temporal unit in low-overhead format (obu_has_size_field set; a size
//     field is added to OBUs that lack one).
//   - AAC: 0xAF, AACPacketType 1, the raw frame. MP3: one SoundFormat 2
//     byte (rate and channels from the track), the frame.
//
// The frame type is 1 (key) when f.Key is set, 2 otherwise. Empty NAL units
// and OBUs are dropped.
//
// ok is false and dst is returned unchanged when f has no track for its
// kind, when the codec is not carried (only H264, H265, AV1, AAC and MP3
// are), or when the body would exceed MaxBodySize. With enough capacity in
// dst, AppendFrameTag does not allocate.
func AppendFrameTag(dst []byte, f *media.Frame) (out []byte, ok bool) {
	if f == nil || f.Tracks == nil {
		return dst, false
	}
	ts := timestampMS(f.DTS)
	if f.Video {
		v := f.Tracks.Video
		if v == nil {
			return dst, false
		}
		switch v.Codec {
		case media.CodecH264:
			return appendAVCCFrame(dst, f, ts, false)
		case media.CodecH265:
			return appendAVCCFrame(dst, f, ts, true)
		case media.CodecAV1:
			return appendAV1Frame(dst, f, ts)
		}
		return dst, false
	}
	a := f.Tracks.Audio
	if a == nil {
		return dst, false
	}
	switch a.Codec {
	case media.CodecAAC:
		return appendAudioFrame(dst, f, ts, aacSoundByte, true)
	case media.CodecMP3:
		return appendAudioFrame(dst, f, ts, mp3SoundByte(a), false)
	}
	return dst, false
}

func appendAVCCFrame(dst []byte, f *media.Frame, ts uint32, hevc bool) ([]byte, bool) {
	n := 5 // legacy: frame type/codec id, AVCPacketType, SI24 CompositionTime
	if hevc {
		n = 8 // enhanced: frame type/packet type, FourCC, SI24 CompositionTime
	}
	for _, nalu := range f.AU {
		if len(nalu) > 0 {
			n += 4 + len(nalu)
			if n > MaxBodySize {
				return dst, false
			}
		}
	}
	dst = slices.Grow(dst, TagHeaderSize+n+PreviousTagSizeLen)
	dst = appendTagHeader(dst, TagVideo, n, ts)
	ft := byte(frameTypeInter)
	if f.Key {
		ft = frameTypeKey
	}
	if hevc {
		dst = append(dst, exHeaderBit|ft<<4|videoPacketCodedFrames, 'h', 'v', 'c', '1')
	} else {
		dst = append(dst, ft<<4|codecIDAVC, avcPacketNALU)
	}
	cts := compositionTimeMS(f)
	dst = append(dst, byte(cts>>16), byte(cts>>8), byte(cts))
	for _, nalu := range f.AU {
		if len(nalu) > 0 {
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(nalu)))
			dst = append(dst, nalu...)
		}
	}
	return appendPreviousTagSize(dst, n), true
}

func appendAV1Frame(dst []byte, f *media.Frame, ts uint32) ([]byte, bool) {
	n := 5 // frame type/packet type, FourCC; AV1 CodedFrames has no CompositionTime
	for _, obu := range f.AU {
		n += obuWireSize(obu)
		if n > MaxBodySize {
			return dst, false
		}
	}
	dst = slices.Grow(dst, TagHeaderSize+n+PreviousTagSizeLen)
	dst = appendTagHeader(dst, TagVideo, n, ts)
	ft := byte(frameTypeInter)
	if f.Key {
		ft = frameTypeKey
	}
	dst = append(dst, exHeaderBit|ft<<4|videoPacketCodedFrames, 'a', 'v', '0', '1')
	for _, obu := range f.AU {
		dst = appendOBU(dst, obu)
	}
	return appendPreviousTagSize(dst, n), true
}

func appendAudioFrame(dst []byte, f *media.Frame, ts uint32, soundByte byte, aac bool) ([]byte, bool) {
	n := 1
	if aac {
		n = 2
	}
	for _, b := range f.AU {
		n += len(b)
		if n > MaxBodySize {
			return dst, false
		}
	}
	dst = slices.Grow(dst, TagHeaderSize+n+PreviousTagSizeLen)
	dst = appendTagHeader(dst, TagAudio, n, ts)
	dst = append(dst, soundByte)
	if aac {
		dst = append(dst, aacPacketRaw)
	}
	for _, b := range f.AU {
		dst = append(dst, b...)
	}
	return appendPreviousTagSize(dst, n), true
}

// mp3SoundByte is SoundFormat 2 with the closest legacy SoundRate
// (5.5/11/22/44 kHz; 48 kHz maps to 44) and SoundType; for the usual 44.1 or
// 48 kHz stereo it is 0x2F. Decoders read the real values from the MP3
// frame headers.
func mp3SoundByte(a *media.AudioTrack) byte {
	var rate byte
	switch {
	case a.SampleRate >= 44100:
		rate = 3
	case a.SampleRate >= 22050:
		rate = 2
	case a.SampleRate >= 11025:
		rate = 1
	case a.SampleRate <= 0:
		rate = 3
	}
	var stereo byte = 1
	if a.ChannelCount == 1 {
		stereo = 0
	}
	return soundFormatMP3<<4 | rate<<2 | 1<<1 | stereo
}

// TagBody returns the body of a complete tag (without the 11-byte header and
// the trailing PreviousTagSize), its type and its timestamp in
// milliseconds; used to build RTMP messages from the same bytes. body aliases
// tag (with its capacity cut at its end). Bytes after the PreviousTagSize are
// ignored, so a buffer of consecutive tags (such as the output of
// AppendSequenceHeaders) can be walked with
// tag = tag[TagHeaderSize+len(body)+PreviousTagSizeLen:].
func TagBody(tag []byte) (typ uint8, timestampMS uint32, body []byte, err error) {
	if len(tag) < TagHeaderSize+PreviousTagSizeLen {
		return 0, 0, nil, errShortTag
	}
	size := int(uint24(tag[1:]))
	if len(tag)-TagHeaderSize-PreviousTagSizeLen < size {
		return 0, 0, nil, errShortTag
	}
	end := TagHeaderSize + size
	return tag[0] & 0x1f, uint32(uint24(tag[4:])) | uint32(tag[7])<<24, tag[TagHeaderSize:end:end], nil
}

var errShortTag = errors.New("flv: tag shorter than its header and declared DataSize")

func carriedVideo(t *media.Tracks) *media.VideoTrack {
	if t == nil || t.Video == nil {
		return nil
	}
	switch t.Video.Codec {
	case media.CodecH264, media.CodecH265, media.CodecAV1:
		return t.Video
	}
	return nil
}

func carriedAudio(t *media.Tracks) *media.AudioTrack {
	if t == nil || t.Audio == nil {
		return nil
	}
	switch t.Audio.Codec {
	case media.CodecAAC, media.CodecMP3:
		return t.Audio
	}
	return nil
}

// appendTagHeader appends the FLVTAG header (FLV v10.1 E.4.1): Filter and
// reserved bits 0, StreamID 0. The timestamp's low 24 bits go in Timestamp
// and its high 8 bits in TimestampExtended.
func appendTagHeader(dst []byte, typ uint8, size int, ts uint32) []byte {
	return append(dst,
		typ,
		byte(size>>16), byte(size>>8), byte(size),
		byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24),
		0, 0, 0,
	)
}

func appendPreviousTagSize(dst []byte, bodySize int) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(TagHeaderSize+bodySize))
}

// endTag completes a tag whose header was appended at dst[start:] with a
// zero DataSize: it patches DataSize and appends PreviousTagSize, or drops
// the tag if the body is too large.
func endTag(dst []byte, start int) []byte {
	size := len(dst) - start - TagHeaderSize
	if size > MaxBodySize {
		return dst[:start]
	}
	dst[start+1], dst[start+2], dst[start+3] = byte(size>>16), byte(size>>8), byte(size)
	return appendPreviousTagSize(dst, size)
}

func timestampMS(d time.Duration) uint32 {
	ms := d.Milliseconds()
	if ms < 0 {
		return 0
	}
	return uint32(ms) // wraps modulo 2^32, like RTMP timestamps
}

// compositionTimeMS returns PTS-DTS in milliseconds as a SI24 value. Both
// are truncated to milliseconds first, so DTSms + CompositionTime equals
// PTSms exactly.
func compositionTimeMS(f *media.Frame) int32 {
	cts := f.PTS.Milliseconds() - f.DTS.Milliseconds()
	const lim = 1<<23 - 1
	switch {
	case cts > lim:
		cts = lim
	case cts < -lim-1:
		cts = -lim - 1
	}
	return int32(cts)
}

func uint24(b []byte) uint32 {
	_ = b[2]
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
}

// int24 decodes a big-endian two's-complement SI24.
func int24(b []byte) int32 {
	return int32(uint24(b)<<8) >> 8
}
