package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// FLV tag types (FLV spec E.4.1).
const (
	tagAudio  = 8
	tagVideo  = 9
	tagScript = 18
)

var errNotFLV = errors.New("not an FLV stream (bad signature)")

// flvScanner walks an FLV byte stream tag by tag without keeping bodies: it
// reads the 11-byte tag header, peeks at the first bytes of the body (enough
// to tell a keyframe from a sequence header) and discards the rest. That is
// all a load generator needs, and it keeps a viewer at a few microseconds of
// CPU per tag.
//
// The full parser lives in internal/codec/flv; this one exists because that
// one hands out whole tag bodies, which would cost a copy per tag per viewer.
type flvScanner struct {
	br *bufio.Reader
	n  int64 // bytes consumed so far
}

// flvTag is what the scanner reports for one tag.
type flvTag struct {
	Type uint8
	TS   time.Duration // tag timestamp (DTS), ms resolution
	Size int           // body size
	Head [8]byte       // first bytes of the body (fewer when Size < 8)
}

func newFLVScanner(r io.Reader, bufSize int) *flvScanner {
	return &flvScanner{br: bufio.NewReaderSize(r, bufSize)}
}

// readHeader consumes the FLV header and PreviousTagSize0 (E.2, E.3).
func (s *flvScanner) readHeader() error {
	h, err := s.br.Peek(9)
	if err != nil {
		return err
	}
	if !bytes.Equal(h[:3], []byte("FLV")) {
		return errNotFLV
	}
	off := int(h[5])<<24 | int(h[6])<<16 | int(h[7])<<8 | int(h[8])
	if off < 9 || off > 1<<20 {
		return fmt.Errorf("flv header: bad data offset %d", off)
	}
	return s.discard(off + 4)
}

// next reads one tag. Script-data and unknown tags are returned too; the
// caller decides what to count.
func (s *flvScanner) next() (flvTag, error) {
	var t flvTag
	h, err := s.br.Peek(11)
	if err != nil {
		return t, err
	}
	t.Type = h[0] & 0x1f
	t.Size = int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	ms := uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6])
	t.TS = time.Duration(ms) * time.Millisecond
	if _, err := s.br.Discard(11); err != nil {
		return t, err
	}
	s.n += 11
	head, err := s.br.Peek(min(t.Size, len(t.Head)))
	if err != nil {
		return t, noEOF(err)
	}
	copy(t.Head[:], head)
	if err := s.discard(t.Size + 4); err != nil { // body + PreviousTagSize
		return t, err
	}
	return t, nil
}

func (s *flvScanner) discard(n int) error {
	m, err := s.br.Discard(n)
	s.n += int64(m)
	return noEOF(err)
}

// noEOF turns an EOF inside a structure into ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// frame interprets a tag as a media frame. ok is false for script data,
// sequence headers, end-of-sequence markers and other non-frames.
// size is the payload size with the codec-specific header stripped, so the
// same frame has the same size whether it arrived over FLV, RTMP or fMP4.
func (t *flvTag) frame() (f frameInfo, ok bool) {
	f.TS = t.TS
	switch t.Type {
	case tagVideo:
		if t.Size < 2 {
			return f, false
		}
		f.Video = true
		b0 := t.Head[0]
		if b0&0x80 != 0 { // Enhanced RTMP ExVideoTagHeader
			frameType := b0 >> 4 & 7
			switch b0 & 0x0f { // VideoPacketType
			case 1: // CodedFrames: FourCC + SI24 composition time
				f.Size = t.Size - 8
			case 3: // CodedFramesX
				f.Size = t.Size - 5
			default: // sequence start/end, metadata, multitrack, …
				return f, false
			}
			f.Key = frameType == 1
			return f, frameType != 5
		}
		frameType, codec := b0>>4, b0&0x0f
		if frameType == 5 { // video info/command frame
			return f, false
		}
		f.Key = frameType == 1
		f.Size = t.Size - 1
		if codec == 7 || codec == 12 { // AVC, legacy HEVC: AVCPacketType + CTS
			if t.Size < 5 || t.Head[1] != 1 {
				return f, false
			}
			f.Size = t.Size - 5
		}
		return f, true
	case tagAudio:
		if t.Size < 2 {
			return f, false
		}
		format := t.Head[0] >> 4
		switch format {
		case 10: // AAC: AACPacketType 0 is the AudioSpecificConfig
			f.Size = t.Size - 2
			return f, t.Head[1] == 1
		case 9: // Enhanced RTMP ExAudioTagHeader: only CodedFrames are frames
			f.Size = t.Size - 5
			return f, t.Head[0]&0x0f == 1
		}
		f.Size = t.Size - 1
		return f, true
	}
	return f, false
}

// wsStream presents the binary messages of a WebSocket as one byte stream:
// WS-FLV does not align tags to messages, so a message may end mid-tag.
type wsStream struct {
	next func() (io.Reader, error) // returns the next binary message
	cur  io.Reader
}

func (s *wsStream) Read(p []byte) (int, error) {
	for {
		if s.cur == nil {
			r, err := s.next()
			if err != nil {
				return 0, err
			}
			s.cur = r
		}
		n, err := s.cur.Read(p)
		if errors.Is(err, io.EOF) {
			s.cur = nil
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}
