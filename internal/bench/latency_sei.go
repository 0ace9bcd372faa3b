package bench

import (
	"bytes"
	"encoding/binary"
	"time"
)

// Glass-to-glass-style stamping for `bench latency`: the publisher puts the
// wall-clock time at which it sends each video access unit into the access
// unit itself, as an H.264 SEI message of type user_data_unregistered (ITU-T
// H.264 D.1.7: a 16-byte UUID then free bytes), and the player reads it back.
// The SEI NAL unit is
//
//	0x06 (nal_unit_type 6) · 0x05 (payloadType) · 0x18 (payloadSize 24) ·
//	UUID (16) · unix nanoseconds, big-endian (8) · 0x80 (rbsp trailing bits)
//
// with emulation-prevention bytes inserted where the RBSP has 00 00 0x (x ≤ 3),
// so that the NAL unit survives Annex-B framing (MPEG-TS, RTP decoders).

// seiUUID marks our SEI; it has no 00 bytes, so it never needs escaping and
// can be searched for in raw bytes (AVCC, Annex-B, fMP4 mdat, RTP payloads).
var seiUUID = [16]byte{
	0x68, 0x75, 0x61, 0x62, 0x69, 0x61, 0x6e, 0x2d, // "huabian-"
	0x6c, 0x61, 0x74, 0x65, 0x6e, 0x63, 0x79, 0x21, // "latency!"
}

// stampNALU returns an SEI NAL unit carrying t.
func stampNALU(t time.Time) []byte {
	rbsp := make([]byte, 0, 3+16+8+1)
	rbsp = append(rbsp, 0x05, 16+8)
	rbsp = append(rbsp, seiUUID[:]...)
	rbsp = binary.BigEndian.AppendUint64(rbsp, uint64(t.UnixNano()))
	rbsp = append(rbsp, 0x80)
	out := make([]byte, 1, 40)
	out[0] = 0x06 // forbidden_zero_bit 0, nal_ref_idc 0, type 6
	zeros := 0
	for _, b := range rbsp {
		if zeros >= 2 && b <= 3 {
			out = append(out, 0x03)
			zeros = 0
		}
		out = append(out, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// stampAU returns the access unit with a stamp SEI inserted before its first
// VCL NAL unit (after any AUD, SPS and PPS, as H.264 7.4.1.2.3 orders them).
func stampAU(au [][]byte, t time.Time) [][]byte {
	out := make([][]byte, 0, len(au)+1)
	done := false
	for _, n := range au {
		if !done && len(n) > 0 {
			if typ := n[0] & 0x1f; typ >= 1 && typ <= 5 {
				out = append(out, stampNALU(t))
				done = true
			}
		}
		out = append(out, n)
	}
	if !done {
		out = append(out, stampNALU(t))
	}
	return out
}

// findStamps calls fn with the time of every stamp in b, which may be one
// NAL unit, an access unit in any framing, or a whole fMP4 part or RTP
// payload. It only trusts a UUID preceded by our payloadType and size.
func findStamps(b []byte, fn func(time.Time)) int {
	found := 0
	for {
		i := bytes.Index(b, seiUUID[:])
		if i < 0 {
			return found
		}
		ok := i >= 2 && b[i-2] == 0x05 && b[i-1] == 16+8
		b = b[i+len(seiUUID):]
		if !ok {
			continue
		}
		var ts [8]byte
		n, zeros, j := 0, 0, 0
		for ; j < len(b) && n < len(ts); j++ {
			c := b[j]
			if zeros >= 2 && c == 0x03 {
				zeros = 0
				continue
			}
			ts[n] = c
			n++
			if c == 0 {
				zeros++
			} else {
				zeros = 0
			}
		}
		if n < len(ts) {
			return found
		}
		b = b[j:]
		found++
		fn(time.Unix(0, int64(binary.BigEndian.Uint64(ts[:]))))
	}
}
