// Package rtmpchunk encodes RTMP messages into chunk-stream bytes
// (RTMP 1.0 specification §5.3) so that one encoding of a media message can
// be written to every RTMP player as-is. Only fmt-0 (full) headers are
// produced for the first chunk of each message, so the bytes do not depend on
// what was sent before on the connection.
package rtmpchunk

// Chunk stream IDs used for server-to-player media.
const (
	CSIDAudio = 4
	CSIDData  = 5
	CSIDVideo = 6
)

// Message type IDs (RTMP 1.0 §7.1).
const (
	TypeAudio      = 8
	TypeVideo      = 9
	TypeDataAMF0   = 18
	maxTimestamp24 = 0xFFFFFF
)

// header appends a fmt-0 chunk header for a message.
func header(dst []byte, csid uint8, typ uint8, ts uint32, msid uint32, length int) []byte {
	tsField := ts
	if ts >= maxTimestamp24 {
		tsField = maxTimestamp24
	}
	dst = append(dst,
		csid&0x3F, // fmt 0
		byte(tsField>>16), byte(tsField>>8), byte(tsField),
		byte(length>>16), byte(length>>8), byte(length),
		typ,
		byte(msid), byte(msid>>8), byte(msid>>16), byte(msid>>24), // little endian
	)
	if ts >= maxTimestamp24 {
		dst = append(dst, byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts))
	}
	return dst
}

// continuation returns a fmt-3 header (repeating the extended timestamp when
// the message uses one, as librtmp and ffmpeg expect).
func continuation(csid uint8, ts uint32) []byte {
	if ts >= maxTimestamp24 {
		return []byte{0xC0 | csid&0x3F, byte(ts >> 24), byte(ts >> 16), byte(ts >> 8), byte(ts)}
	}
	return []byte{0xC0 | csid&0x3F}
}

// Chunks returns the chunk-stream encoding of one message as a list of
// slices: headers interleaved with sub-slices of body (which is not copied,
// so it must stay unchanged). chunkSize is the sender's negotiated chunk size.
func Chunks(csid uint8, typ uint8, ts uint32, msid uint32, body []byte, chunkSize int) [][]byte {
	if chunkSize <= 0 {
		chunkSize = 128
	}
	n := (len(body) + chunkSize - 1) / chunkSize
	if n == 0 {
		n = 1
	}
	out := make([][]byte, 0, 2*n)
	out = append(out, header(make([]byte, 0, 16), csid, typ, ts, msid, len(body)))
	var cont []byte
	for off := 0; off < len(body); off += chunkSize {
		if off > 0 {
			if cont == nil {
				cont = continuation(csid, ts)
			}
			out = append(out, cont)
		}
		end := min(off+chunkSize, len(body))
		out = append(out, body[off:end])
	}
	return out
}

// AppendMessage appends the chunk-stream encoding of one message to dst,
// copying body. Use it for small per-connection messages (metadata, sequence
// headers); use Chunks for shared media.
func AppendMessage(dst []byte, csid uint8, typ uint8, ts uint32, msid uint32, body []byte, chunkSize int) []byte {
	for _, b := range Chunks(csid, typ, ts, msid, body, chunkSize) {
		dst = append(dst, b...)
	}
	return dst
}
