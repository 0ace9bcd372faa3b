// Package media holds the data every other part of the live path agrees on:
// tracks (codec parameters) and frames (one access unit with timestamps).
// It is pure data: no I/O, no protocol knowledge.
package media

import (
	"fmt"
	"time"
)

// Codec identifies an elementary-stream codec.
type Codec uint8

// Supported codecs. Numbering starts at 1 so the zero value means "none".
const (
	CodecH264 Codec = iota + 1
	CodecH265
	CodecAV1
	CodecAAC
	CodecOpus
	CodecMP3
)

// String returns the short lower-case name used in the API and metrics.
func (c Codec) String() string {
	switch c {
	case CodecH264:
		return "h264"
	case CodecH265:
		return "h265"
	case CodecAV1:
		return "av1"
	case CodecAAC:
		return "aac"
	case CodecOpus:
		return "opus"
	case CodecMP3:
		return "mp3"
	default:
		return fmt.Sprintf("codec(%d)", uint8(c))
	}
}

// IsVideo reports whether c is a video codec.
func (c Codec) IsVideo() bool { return c == CodecH264 || c == CodecH265 || c == CodecAV1 }

// VideoTrack describes the video elementary stream.
type VideoTrack struct {
	Codec Codec
	// Parameter sets without start codes or length prefixes.
	// H.264 uses SPS and PPS; H.265 uses VPS, SPS and PPS.
	VPS, SPS, PPS []byte
	// AV1SequenceHeader is the sequence header OBU (AV1 only).
	AV1SequenceHeader []byte
	Width, Height     int
	FPS               float64 // 0 when the stream does not say
}

// AudioTrack describes the audio elementary stream.
type AudioTrack struct {
	Codec Codec
	// Config is the AudioSpecificConfig for AAC; empty for other codecs.
	Config       []byte
	SampleRate   int
	ChannelCount int
}

// Tracks is the set of tracks of one publish session. A Tracks value is
// immutable once a frame refers to it: a change of parameters (a publisher
// reconnects, or sends new sequence headers) produces a new *Tracks, and
// readers compare pointers to notice it.
type Tracks struct {
	Video *VideoTrack
	Audio *AudioTrack
	// FLVAudio, when set, is the audio FLV/RTMP outputs announce instead of
	// Audio, which they cannot carry widely (Opus): a rendition made once
	// per stream and written as frames with FLVOnly set.
	FLVAudio *AudioTrack
}

// Frame is one access unit. It is built by the publisher's goroutine, handed to
// the hub, and from then on shared read-only by every reader.
type Frame struct {
	Tracks *Tracks
	Video  bool // false: audio
	Key    bool // a random-access point (IDR / key frame); always true for audio
	DTS    time.Duration
	PTS    time.Duration
	// AU is the payload: NAL units without start codes (H.264/H.265),
	// OBUs (AV1), or one audio frame (AAC raw, Opus packet).
	AU [][]byte
	// FLVOnly marks an audio frame of Tracks.FLVAudio: FLV/RTMP outputs play
	// it instead of the Tracks.Audio frames; every other reader skips it.
	FLVOnly bool

	// Set by the hub when the frame is written; read-only afterwards.
	Seq uint64
	// Wire forms built once by the hub and shared by every reader.
	FLVTag     []byte   // complete FLV tag incl. 11-byte header and PreviousTagSize
	RTMPChunks [][]byte // RTMP chunk stream bytes (headers interleaved with body slices)
	// Received is the wall-clock instant the frame reached the server.
	Received time.Time
}

// Size returns the payload size in bytes.
func (f *Frame) Size() int {
	n := 0
	for _, b := range f.AU {
		n += len(b)
	}
	return n
}
