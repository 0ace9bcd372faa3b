// Package flv muxes and demuxes FLV tags.
//
// The FLV tag is the wire unit of three of Huabian Live's delivery paths:
// HTTP-FLV and WS-FLV send a stream of tags verbatim, and the body of an RTMP
// audio/video message is exactly an FLV tag body. The hub therefore builds the
// tag for a frame once (AppendFrameTag, stored in media.Frame.FLVTag) and every
// viewer, whatever the protocol, shares those bytes; RTMP senders take the
// body with TagBody. Ingest goes the other way: Reader splits an FLV byte
// stream into tags and ParseVideo / ParseAudio interpret tag bodies, whether
// they came from a file, an HTTP-FLV pull or an RTMP message.
//
// The package is pure: no network, no goroutines, no I/O besides the
// io.Reader handed to NewReader. Everything that parses input is written for
// hostile data (bounded allocation, no panics) and fuzzed.
//
// Specifications:
//
//   - Adobe Flash Video File Format Specification, Version 10.1 (2010),
//     Annex E "The FLV File Format": FLV header (E.2), FLV file body and
//     PreviousTagSize (E.3), FLVTAG (E.4.1), AUDIODATA / AACAUDIODATA (E.4.2),
//     VIDEODATA / AVCVIDEOPACKET (E.4.3), SCRIPTDATA / onMetaData (E.4.4, E.5).
//   - Enhanced RTMP v1 and v2, Veovera Software Organization
//     (https://github.com/veovera/enhanced-rtmp): ExVideoTagHeader with
//     IsExHeader, VideoPacketType and a FourCC ('hvc1' for HEVC, 'av01' for
//     AV1, 'avc1' for AVC), ExAudioTagHeader (SoundFormat 9, FourCC 'mp4a',
//     '.mp3', 'Opus'), ModEx and Multitrack packet types, and FourCC values in
//     onMetaData videocodecid/audiocodecid.
//   - ISO/IEC 14496-15: AVCDecoderConfigurationRecord (5.3.3.1) and
//     HEVCDecoderConfigurationRecord (8.3.3.1).
//   - AV1 Codec ISO Media File Format Binding v1.2.0, 2.3: the av1C
//     AV1CodecConfigurationRecord; AV1 Bitstream & Decoding Process
//     Specification 5.3 (OBU syntax, low-overhead bitstream format).
//   - ISO/IEC 14496-3 1.6.2.1: AudioSpecificConfig.
//   - AMF0 File Format Specification (Adobe, 2007) for the script tag.
package flv
