package flv

import (
	"encoding/binary"
	"errors"
	"io"
)

// Header is the FLV file header (FLV v10.1 E.2).
type Header struct{ HasVideo, HasAudio bool }

// Tag is one FLV tag (FLV v10.1 E.4.1).
type Tag struct {
	Type      uint8  // TagAudio, TagVideo, TagScript, or another 5-bit TagType
	Timestamp uint32 // ms: Timestamp | TimestampExtended<<24
	Data      []byte // body; see Reader.ReadTag for its lifetime
}

var (
	// ErrNotFLV is returned by ReadHeader when the stream does not start
	// with the 'FLV' signature.
	ErrNotFLV = errors.New("flv: missing FLV signature")
	// ErrEncrypted is returned by ReadTag for a tag with the Filter bit set
	// (encrypted or otherwise pre-processed, FLV v10.1 E.4.1). The tag has
	// been consumed, so reading can go on with the next one.
	ErrEncrypted = errors.New("flv: tag is filtered (encrypted)")

	errVersion    = errors.New("flv: unsupported FLV version (want 1)")
	errDataOffset = errors.New("flv: invalid DataOffset in FLV header")
)

const (
	// maxDataOffset bounds the header bytes ReadHeader skips; real files
	// use 9.
	maxDataOffset = 1 << 10
	// readChunk is the first step of the body buffer's growth; see
	// Reader.readBody.
	readChunk = 64 << 10
)

// Reader reads an FLV stream: ReadHeader once, then ReadTag repeatedly. It
// does not buffer: wrap a network connection in a bufio.Reader.
type Reader struct {
	r   io.Reader
	hdr [TagHeaderSize]byte
	buf []byte
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// ReadHeader reads the FLV header: it checks the 'FLV' signature (else
// ErrNotFLV) and version 1, skips any bytes up to DataOffset (at most 1 KiB)
// and skips PreviousTagSize0. A stream ending before the first byte yields
// io.EOF, one ending inside the header io.ErrUnexpectedEOF.
func (r *Reader) ReadHeader() (Header, error) {
	var b [fileHeaderSize]byte
	if _, err := io.ReadFull(r.r, b[:]); err != nil {
		return Header{}, err
	}
	if b[0] != 'F' || b[1] != 'L' || b[2] != 'V' {
		return Header{}, ErrNotFLV
	}
	if b[3] != 1 {
		return Header{}, errVersion
	}
	flags := b[4]
	off := binary.BigEndian.Uint32(b[5:])
	if off < fileHeaderSize || off > maxDataOffset {
		return Header{}, errDataOffset
	}
	// Skip the rest of the header and PreviousTagSize0, reusing b.
	for skip := int(off) - fileHeaderSize + PreviousTagSizeLen; skip > 0; {
		n := min(skip, len(b))
		if _, err := io.ReadFull(r.r, b[:n]); err != nil {
			return Header{}, noEOF(err)
		}
		skip -= n
	}
	return Header{HasVideo: flags&0x01 != 0, HasAudio: flags&0x04 != 0}, nil
}

// ReadTag reads the next tag and the PreviousTagSize that follows it. The
// PreviousTagSize value is not checked (muxers are known to get it wrong).
//
// It returns io.EOF at a clean end of stream (between tags) and
// io.ErrUnexpectedEOF when the stream ends inside a tag. A tag with the
// Filter bit set is consumed and reported as ErrEncrypted.
//
// Tag.Data is a buffer owned by the Reader and reused: it is valid only until
// the next call to ReadTag; copy it to keep it. The 24-bit DataSize caps a
// body below 16 MiB (MaxBodySize), and the buffer grows as bytes actually
// arrive (from 64 KiB, doubling), never to the declared size up front, so a
// lying header on a short stream costs no more than about twice the bytes
// received.
func (r *Reader) ReadTag() (Tag, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return Tag{}, err
	}
	size := int(uint24(r.hdr[1:])) // 24 bits: never above MaxBodySize (16 MiB - 1)
	t := Tag{
		Type:      r.hdr[0] & 0x1f,
		Timestamp: uint24(r.hdr[4:]) | uint32(r.hdr[7])<<24,
	}
	filtered := r.hdr[0]&0x20 != 0
	data, err := r.readBody(size)
	if err != nil {
		return Tag{}, err
	}
	var pts [PreviousTagSizeLen]byte
	if _, err := io.ReadFull(r.r, pts[:]); err != nil {
		return Tag{}, noEOF(err)
	}
	if filtered {
		return Tag{}, ErrEncrypted
	}
	t.Data = data
	return t, nil
}

// readBody reads n bytes into r.buf. When r.buf is too small it grows in
// steps (readChunk, then doubling) as data arrives, so memory follows the
// bytes received rather than the size a possibly hostile header declares.
func (r *Reader) readBody(n int) ([]byte, error) {
	if n <= cap(r.buf) {
		r.buf = r.buf[:n]
		if _, err := io.ReadFull(r.r, r.buf); err != nil {
			return nil, noEOF(err)
		}
		return r.buf, nil
	}
	buf := r.buf[:0]
	for len(buf) < n {
		have := len(buf)
		step := min(n-have, max(have, readChunk))
		if have+step > cap(buf) {
			nb := make([]byte, have, have+step)
			copy(nb, buf)
			buf = nb
		}
		buf = buf[:have+step]
		if _, err := io.ReadFull(r.r, buf[have:]); err != nil {
			r.buf = buf[:0]
			return nil, noEOF(err)
		}
	}
	r.buf = buf
	return buf, nil
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF, for reads that happen after
// part of a unit has been consumed.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
