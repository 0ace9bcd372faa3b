package transcode

import (
	"bufio"
	"encoding/binary"
	"errors"
)

// oggWriter writes a single-stream Ogg/Opus bitstream (RFC 3533, RFC 7845)
// with one packet per page, flushed page by page so ffmpeg sees each
// packet as soon as it arrives. Pre-skip is 0: the packets come from a live
// encoder mid-stream, and a pre-skip would shift the output clock.
type oggWriter struct {
	w      *bufio.Writer
	serial uint32
	seq    uint32
	buf    []byte
}

// headers writes the OpusHead and OpusTags pages.
func (o *oggWriter) headers(channels int) error {
	head := []byte("OpusHead")
	head = append(head, 1, byte(channels), 0, 0) // version, channels, pre-skip
	head = binary.LittleEndian.AppendUint32(head, 48000)
	head = append(head, 0, 0, 0) // gain, mapping family 0
	if err := o.writePage(head, 0, 0x02); err != nil {
		return err
	}
	tags := []byte("OpusTags")
	tags = binary.LittleEndian.AppendUint32(tags, 7)
	tags = append(tags, "huabian"...)
	tags = binary.LittleEndian.AppendUint32(tags, 0)
	return o.writePage(tags, 0, 0)
}

// page writes one audio packet ending at granule position granule.
func (o *oggWriter) page(pkt []byte, granule int64) error {
	return o.writePage(pkt, granule, 0)
}

func (o *oggWriter) writePage(pkt []byte, granule int64, flags byte) error {
	nseg := len(pkt)/255 + 1
	if nseg > 255 {
		return errors.New("opus packet too large for one ogg page")
	}
	b := append(o.buf[:0], "OggS"...)
	b = append(b, 0, flags)
	b = binary.LittleEndian.AppendUint64(b, uint64(granule))
	b = binary.LittleEndian.AppendUint32(b, o.serial)
	b = binary.LittleEndian.AppendUint32(b, o.seq)
	b = append(b, 0, 0, 0, 0, byte(nseg))
	for range nseg - 1 {
		b = append(b, 255)
	}
	b = append(b, byte(len(pkt)%255))
	b = append(b, pkt...)
	binary.LittleEndian.PutUint32(b[22:], oggCRC(b))
	o.seq++
	o.buf = b
	if _, err := o.w.Write(b); err != nil {
		return err
	}
	return o.w.Flush()
}

var oggTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// oggCRC is Ogg's CRC-32 (polynomial 0x04c11db7, not reflected, zero
// initial value), computed with the checksum field zeroed.
func oggCRC(b []byte) uint32 {
	var c uint32
	for _, x := range b {
		c = c<<8 ^ oggTable[byte(c>>24)^x]
	}
	return c
}
