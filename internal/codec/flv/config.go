package flv

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// NAL unit types checked by the configuration records.
const (
	h264NALUSPS = 7
	h264NALUPPS = 8
	h265NALUVPS = 32
	h265NALUSPS = 33
	h265NALUPPS = 34
)

// Errors of the configuration-record parsers. They are fixed values so that
// rejecting hostile input does not allocate.
var (
	errAVCConfigShort       = errors.New("flv: AVCDecoderConfigurationRecord truncated")
	errAVCConfigVersion     = errors.New("flv: AVCDecoderConfigurationRecord configurationVersion is not 1")
	errAVCConfigNoSPS       = errors.New("flv: AVCDecoderConfigurationRecord has no SPS")
	errAVCConfigNoPPS       = errors.New("flv: AVCDecoderConfigurationRecord has no PPS")
	errAVCConfigEmptyNALU   = errors.New("flv: AVCDecoderConfigurationRecord has an empty parameter set")
	errAVCConfigNALUType    = errors.New("flv: AVCDecoderConfigurationRecord parameter set has the wrong NAL unit type")
	errHEVCConfigShort      = errors.New("flv: HEVCDecoderConfigurationRecord truncated")
	errHEVCConfigEmptyArray = errors.New("flv: HEVCDecoderConfigurationRecord has an array with 0 NAL units")
	errHEVCConfigEmptyNALU  = errors.New("flv: HEVCDecoderConfigurationRecord has an empty NAL unit")
	errHEVCConfigMissing    = errors.New("flv: HEVCDecoderConfigurationRecord lacks a VPS, SPS or PPS")
	errHEVCConfigNALUType   = errors.New("flv: HEVCDecoderConfigurationRecord NAL unit type does not match its array")

	// ErrLengthSize is returned for configuration records whose
	// lengthSizeMinusOne is not 3: this package only handles 4-byte NAL unit
	// length prefixes (what every common encoder writes).
	ErrLengthSize = errors.New("flv: NAL unit length size is not 4 bytes")

	errASCEscape     = errors.New("flv: AudioSpecificConfig audio object type 31 (escape) not supported")
	errASCSampleRate = errors.New("flv: AudioSpecificConfig has no usable sample rate")
	errASCChannels   = errors.New("flv: AudioSpecificConfig channelConfiguration 0 (PCE-defined layout) not supported")
)

// appendAVCConfig appends an AVCDecoderConfigurationRecord (ISO/IEC 14496-15
// 5.3.3.1) with one SPS and one PPS and lengthSizeMinusOne = 3. ok is false
// when the SPS is too short to carry profile, compatibility and level.
func appendAVCConfig(dst, sps, pps []byte) ([]byte, bool) {
	if len(sps) < 4 || len(pps) < 1 || len(sps) > 0xFFFF || len(pps) > 0xFFFF {
		return dst, false
	}
	dst = append(dst,
		1,      // configurationVersion
		sps[1], // AVCProfileIndication
		sps[2], // profile_compatibility
		sps[3], // AVCLevelIndication
		0xFC|3, // reserved '111111'b, lengthSizeMinusOne
		0xE0|1, // reserved '111'b, numOfSequenceParameterSets
	)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(sps)))
	dst = append(dst, sps...)
	dst = append(dst, 1) // numOfPictureParameterSets
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(pps)))
	return append(dst, pps...), true
}

// ParseAVCConfig parses an AVCDecoderConfigurationRecord (ISO/IEC 14496-15
// 5.3.3.1) and returns its first SPS and first PPS, which alias b. Every
// declared count and length is checked against the data (numOfSequence-
// ParameterSets is 5 bits, so up to 31 SPS, and each is checked), so hostile
// input yields an error, never a panic or an allocation. The record must
// have configurationVersion 1, lengthSizeMinusOne 3 (else ErrLengthSize), at
// least one non-empty SPS (NAL type 7) and one PPS (NAL type 8). Trailing
// bytes (the High-profile extension) are ignored.
func ParseAVCConfig(b []byte) (sps, pps []byte, err error) {
	if len(b) < 6 {
		return nil, nil, errAVCConfigShort
	}
	if b[0] != 1 {
		return nil, nil, errAVCConfigVersion
	}
	if b[4]&3 != 3 {
		return nil, nil, ErrLengthSize
	}
	pos := 5
	for i, want := range [2]byte{h264NALUSPS, h264NALUPPS} {
		if pos >= len(b) {
			return nil, nil, errAVCConfigShort
		}
		n := int(b[pos])
		if i == 0 {
			n &= 0x1f
		}
		pos++
		if n == 0 {
			if i == 0 {
				return nil, nil, errAVCConfigNoSPS
			}
			return nil, nil, errAVCConfigNoPPS
		}
		for j := 0; j < n; j++ {
			if len(b)-pos < 2 {
				return nil, nil, errAVCConfigShort
			}
			l := int(binary.BigEndian.Uint16(b[pos:]))
			pos += 2
			if len(b)-pos < l {
				return nil, nil, errAVCConfigShort
			}
			if l == 0 {
				return nil, nil, errAVCConfigEmptyNALU
			}
			nalu := b[pos : pos+l : pos+l]
			pos += l
			if nalu[0]&0x1f != want {
				return nil, nil, errAVCConfigNALUType
			}
			if j == 0 {
				if i == 0 {
					sps = nalu
				} else {
					pps = nalu
				}
			}
		}
	}
	return sps, pps, nil
}

// appendHEVCConfig appends an HEVCDecoderConfigurationRecord (ISO/IEC
// 14496-15 8.3.3.1) with lengthSizeMinusOne = 3 and three complete arrays:
// VPS, SPS, PPS.
//
// The profile_tier_level fields, chroma_format_idc, bit depths,
// numTemporalLayers and temporalIdNested come from the SPS, parsed with
// mediacommon's h265.SPS. The 48 general_constraint_indicator_flags are
// copied from the SPS RBSP (bytes 8-13 after emulation-prevention removal,
// where profile_tier_level is byte aligned) because the parsed struct does
// not keep all of them. If mediacommon cannot parse the SPS (it rejects
// some legal ones, e.g. with sub-layer profiles) the record falls back to
// those raw bytes for profile, tier, level and compatibility flags and
// assumes 4:2:0 8-bit; decoders configure themselves from the SPS in the
// array anyway. ok is false when a parameter set is missing, has the wrong
// NAL type, is too long for a 16-bit length, or the SPS is too short to
// hold profile_tier_level.
func appendHEVCConfig(dst, vps, sps, pps []byte) ([]byte, bool) {
	for i, ps := range [3][]byte{vps, sps, pps} {
		if len(ps) < 2 || len(ps) > 0xFFFF || int(ps[0]>>1&0x3f) != h265NALUVPS+i {
			return dst, false
		}
	}
	// NAL header (2 bytes), then sps_video_parameter_set_id(4)
	// sps_max_sub_layers_minus1(3) sps_temporal_id_nesting_flag(1), then
	// profile_tier_level: profile space/tier/idc (1 byte), 32 compatibility
	// flags (4), 48 constraint flags (6), general_level_idc (1).
	rbsp := h264.EmulationPreventionRemove(sps)
	if len(rbsp) < 15 {
		return dst, false
	}
	profile := rbsp[3]
	compat := binary.BigEndian.Uint32(rbsp[4:])
	constraints := rbsp[8:14]
	level := rbsp[14]
	chroma, depthLuma, depthChroma := byte(1), byte(0), byte(0)
	maxSubLayersMinus1, nesting := rbsp[2]>>1&7, rbsp[2]&1 == 1

	var s h265.SPS
	if s.Unmarshal(sps) == nil {
		ptl := &s.ProfileTierLevel
		profile = ptl.GeneralProfileSpace<<6 | ptl.GeneralTierFlag<<5 | ptl.GeneralProfileIdc
		compat = 0
		for j, f := range ptl.GeneralProfileCompatibilityFlag {
			if f {
				compat |= 1 << (31 - j)
			}
		}
		level = ptl.GeneralLevelIdc
		chroma = byte(s.ChromaFormatIdc)
		depthLuma = byte(s.BitDepthLumaMinus8)
		depthChroma = byte(s.BitDepthChromaMinus8)
		maxSubLayersMinus1, nesting = s.MaxSubLayersMinus1, s.TemporalIDNestingFlag
	}
	// numTemporalLayers is 3 bits; sps_max_sub_layers_minus1 is at most 6
	// in a conforming stream.
	temporal := min(maxSubLayersMinus1+1, 7)<<3 | boolBit(nesting, 2)

	dst = append(dst, 1, profile) // configurationVersion, profile space/tier/idc
	dst = binary.BigEndian.AppendUint32(dst, compat)
	dst = append(dst, constraints...)
	dst = append(dst,
		level,
		0xF0, 0x00, // reserved '1111'b, min_spatial_segmentation_idc = 0
		0xFC,             // reserved '111111'b, parallelismType = 0 (unknown)
		0xFC|chroma&3,    // reserved '111111'b, chroma_format_idc
		0xF8|depthLuma&7, // reserved '11111'b, bit_depth_luma_minus8
		0xF8|depthChroma&7,
		0, 0, // avgFrameRate = 0 (unspecified)
		temporal|3, // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne
		3,          // numOfArrays
	)
	for i, ps := range [3][]byte{vps, sps, pps} {
		dst = append(dst, 0x80|byte(h265NALUVPS+i), 0, 1) // array_completeness, NAL_unit_type, numNalus
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(ps)))
		dst = append(dst, ps...)
	}
	return dst, true
}

// ParseHEVCConfig parses an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15
// 8.3.3.1) and returns the first VPS, SPS and PPS, which alias b. Arrays
// declaring 0 NAL units, empty NAL units, NAL units whose type differs from
// their array's, a missing VPS/SPS/PPS and any count or length that overruns
// the data are errors; lengthSizeMinusOne must be 3 (else ErrLengthSize).
// Arrays of other NAL types (SEI) are skipped. configurationVersion is not
// checked: some old muxers wrote 0.
func ParseHEVCConfig(b []byte) (vps, sps, pps []byte, err error) {
	const headerLen = 23
	if len(b) < headerLen {
		return nil, nil, nil, errHEVCConfigShort
	}
	if b[21]&3 != 3 {
		return nil, nil, nil, ErrLengthSize
	}
	numArrays := int(b[22])
	pos := headerLen
	for range numArrays {
		if len(b)-pos < 3 {
			return nil, nil, nil, errHEVCConfigShort
		}
		typ := b[pos] & 0x3f
		n := int(binary.BigEndian.Uint16(b[pos+1:]))
		pos += 3
		if n == 0 {
			return nil, nil, nil, errHEVCConfigEmptyArray
		}
		for j := 0; j < n; j++ {
			if len(b)-pos < 2 {
				return nil, nil, nil, errHEVCConfigShort
			}
			l := int(binary.BigEndian.Uint16(b[pos:]))
			pos += 2
			if len(b)-pos < l {
				return nil, nil, nil, errHEVCConfigShort
			}
			if l == 0 {
				return nil, nil, nil, errHEVCConfigEmptyNALU
			}
			nalu := b[pos : pos+l : pos+l]
			pos += l
			if nalu[0]>>1&0x3f != typ {
				return nil, nil, nil, errHEVCConfigNALUType
			}
			if j != 0 {
				continue
			}
			switch typ {
			case h265NALUVPS:
				if vps == nil {
					vps = nalu
				}
			case h265NALUSPS:
				if sps == nil {
					sps = nalu
				}
			case h265NALUPPS:
				if pps == nil {
					pps = nalu
				}
			}
		}
	}
	if vps == nil || sps == nil || pps == nil {
		return nil, nil, nil, errHEVCConfigMissing
	}
	return vps, sps, pps, nil
}

// appendAV1Config appends an AV1CodecConfigurationRecord (AV1-ISOBMFF 2.3.3):
// marker and version, seq_profile, seq_level_idx_0, seq_tier_0, bit depth,
// monochrome, chroma subsampling and sample position, no initial
// presentation delay, then configOBUs = the sequence header OBU in
// low-overhead format (a size field is added when missing).
//
// The fields are filled from the sequence header parsed with mediacommon's
// av1.SequenceHeader. If it cannot be parsed (mediacommon rejects e.g.
// decoder model info), only seq_profile is taken from the bitstream and
// 4:2:0 with level 0 is assumed: decoders read the OBU in configOBUs. ok is
// false unless seq is a sequence header OBU.
func appendAV1Config(dst, seq []byte) ([]byte, bool) {
	_, payload, ok := splitOBU(seq)
	if !ok || seq[0]>>3&0xf != byte(av1.OBUTypeSequenceHeader) || len(payload) == 0 {
		return dst, false
	}
	b1 := payload[0] & 0xe0 // seq_profile; seq_level_idx_0 = 0
	b2 := byte(1<<3 | 1<<2) // chroma_subsampling_x, chroma_subsampling_y
	var h av1.SequenceHeader
	if h.Unmarshal(seq) == nil && len(h.SeqLevelIdx) > 0 && len(h.SeqTier) > 0 {
		b1 = (h.SeqProfile&7)<<5 | h.SeqLevelIdx[0]&0x1f
		c := &h.ColorConfig
		b2 = boolBit(h.SeqTier[0], 7) | boolBit(c.HighBitDepth, 6) | boolBit(c.TwelveBit, 5) |
			boolBit(c.MonoChrome, 4) | boolBit(c.SubsamplingX, 3) | boolBit(c.SubsamplingY, 2) |
			byte(c.ChromaSamplePosition)&3
	}
	dst = append(dst, 0x81, b1, b2, 0) // marker 1, version 1; ...; reserved, initial_presentation_delay_present 0
	return appendOBU(dst, seq), true
}

func boolBit(v bool, shift uint) byte {
	if v {
		return 1 << shift
	}
	return 0
}

// splitOBU returns the header length (1, or 2 with obu_extension_flag) and
// the payload of an OBU (AV1 spec 5.3.1), honouring obu_size when
// obu_has_size_field is set. ok is false for a truncated OBU or a set
// obu_forbidden_bit.
func splitOBU(obu []byte) (hdrLen int, payload []byte, ok bool) {
	if len(obu) == 0 || obu[0]&0x80 != 0 {
		return 0, nil, false
	}
	hdrLen = 1
	if obu[0]&0x04 != 0 {
		hdrLen = 2
	}
	if len(obu) < hdrLen {
		return 0, nil, false
	}
	rest := obu[hdrLen:]
	if obu[0]&0x02 == 0 {
		return hdrLen, rest, true
	}
	size, n, ok := readLEB128(rest)
	if !ok || uint64(len(rest)-n) < size {
		return 0, nil, false
	}
	return hdrLen, rest[n : n+int(size)], true
}

// obuWireSize is the size of obu as written by appendOBU.
func obuWireSize(obu []byte) int {
	if len(obu) == 0 {
		return 0
	}
	if obu[0]&0x02 != 0 { // obu_has_size_field: copied verbatim
		return len(obu)
	}
	hdrLen := 1
	if obu[0]&0x04 != 0 {
		hdrLen = 2
	}
	if len(obu) < hdrLen { // malformed: copied verbatim
		return len(obu)
	}
	payload := len(obu) - hdrLen
	return hdrLen + leb128Len(uint64(payload)) + payload
}

// appendOBU appends obu in low-overhead format: an OBU that has
// obu_has_size_field set is copied verbatim; otherwise the flag is set and
// obu_size (leb128) is inserted after the header (AV1 spec 5.3.1, 5.3.2).
// Empty OBUs are dropped; a malformed one-byte OBU with the extension flag
// is copied as is.
func appendOBU(dst, obu []byte) []byte {
	if len(obu) == 0 {
		return dst
	}
	if obu[0]&0x02 != 0 {
		return append(dst, obu...)
	}
	hdrLen := 1
	if obu[0]&0x04 != 0 {
		hdrLen = 2
	}
	if len(obu) < hdrLen {
		return append(dst, obu...)
	}
	dst = append(dst, obu[0]|0x02)
	dst = append(dst, obu[1:hdrLen]...)
	dst = appendLEB128(dst, uint64(len(obu)-hdrLen))
	return append(dst, obu[hdrLen:]...)
}

// leb128 (AV1 spec 4.10.5): little-endian groups of 7 bits, high bit set on
// all but the last byte, at most 8 bytes.
func leb128Len(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendLEB128(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func readLEB128(b []byte) (v uint64, n int, ok bool) {
	for i := 0; i < 8 && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

// ParseAudioSpecificConfig parses an AudioSpecificConfig (ISO/IEC 14496-3
// 1.6.2.1) with mediacommon's mpeg4audio.AudioSpecificConfig and returns the
// output sample rate (the SBR extension rate when explicitly signalled) and
// the channel count. Errors, never panics, are returned for audio object
// type 31 (the escape to extended types), an unsupported object type, a
// sampling frequency index of 15 without the 24-bit explicit rate following,
// reserved indexes 13-14, a zero rate, channelConfiguration 0 (layout in a
// PCE) and reserved channel configurations.
func ParseAudioSpecificConfig(b []byte) (sampleRate, channels int, err error) {
	if len(b) > 0 && b[0]>>3 == 31 {
		return 0, 0, errASCEscape
	}
	var c mpeg4audio.AudioSpecificConfig
	if err := c.Unmarshal(b); err != nil {
		return 0, 0, fmt.Errorf("flv: AudioSpecificConfig: %w", err)
	}
	sampleRate = c.SampleRate
	if c.ExtensionSampleRate > 0 {
		sampleRate = c.ExtensionSampleRate
	}
	if sampleRate <= 0 {
		return 0, 0, errASCSampleRate
	}
	switch {
	case c.ChannelConfig >= 1 && c.ChannelConfig <= 6:
		channels = int(c.ChannelConfig)
	case c.ChannelConfig == 7:
		channels = 8
	default:
		return 0, 0, errASCChannels
	}
	return sampleRate, channels, nil
}

// buildAudioSpecificConfig returns a 2-byte AAC-LC AudioSpecificConfig for
// a standard sample rate and 1-6 or 8 channels.
func buildAudioSpecificConfig(sampleRate, channels int) ([]byte, bool) {
	var idx byte
	for i, r := range [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350} {
		if r == sampleRate {
			idx = byte(i)
			break
		}
		if i == 12 {
			return nil, false
		}
	}
	var cfg byte
	switch {
	case channels >= 1 && channels <= 6:
		cfg = byte(channels)
	case channels == 8:
		cfg = 7
	default:
		return nil, false
	}
	const aacLC = 2
	// audioObjectType(5) samplingFrequencyIndex(4) channelConfiguration(4)
	// GASpecificConfig: frameLengthFlag, dependsOnCoreCoder, extensionFlag = 0.
	return []byte{aacLC<<3 | idx>>1, idx<<7 | cfg<<3}, true
}
