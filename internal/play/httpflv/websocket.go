package httpflv

import (
	"crypto/sha1" //nolint:gosec // RFC 6455 §4.2.2 mandates SHA-1 for Sec-WebSocket-Accept
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strings"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// websocketAccept validates an upgrade request and returns the
// Sec-WebSocket-Accept value. Cross-origin players are allowed on purpose:
// the stream is public and the socket is read-only.
func websocketAccept(r *http.Request) (string, error) {
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return "", errors.New("unsupported WebSocket version (want 13)")
	}
	key := strings.TrimSpace(r.Header.Get("Sec-WebSocket-Key"))
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		return "", errors.New("bad Sec-WebSocket-Key")
	}
	h := sha1.New() //nolint:gosec
	h.Write([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

type wsFramer struct{}

// prefix appends the header of one final, unmasked binary frame of n bytes.
func (wsFramer) prefix(dst []byte, n int) []byte {
	const finBinary = 0x82
	switch {
	case n < 126:
		return append(dst, finBinary, byte(n))
	case n <= 0xFFFF:
		return append(dst, finBinary, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, finBinary, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	}
}

func (wsFramer) suffix() []byte { return nil }

func (wsFramer) end() []byte { return wsCloseFrame(1000) }

// wsCloseFrame returns a close frame with a status code.
func wsCloseFrame(code uint16) []byte {
	return []byte{0x88, 2, byte(code >> 8), byte(code)}
}

// maxClientFrame bounds what a viewer may send us in one frame; players send
// nothing but control frames (≤125 bytes by the RFC).
const maxClientFrame = 4096

// readClientFrames consumes frames from the client until it closes, sends a
// close frame, or breaks the protocol (unmasked frame, oversize frame). The
// payloads are discarded: the socket is one-way. Pings are not answered with
// pongs because writes belong to the media goroutine; browsers do not ping.
func readClientFrames(r io.Reader) {
	var hdr [14]byte
	var buf [128]byte // payloads are discarded through it
	for {
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			return
		}
		opcode := hdr[0] & 0x0F
		masked := hdr[1]&0x80 != 0
		n := uint64(hdr[1] & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(r, hdr[2:4]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(r, hdr[2:10]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(hdr[2:10])
		}
		if !masked || n > maxClientFrame {
			return // RFC 6455 §5.1: client frames must be masked
		}
		if _, err := io.ReadFull(r, hdr[10:14]); err != nil {
			return
		}
		for left := int(n); left > 0; {
			k, err := io.ReadFull(r, buf[:min(left, len(buf))])
			if err != nil {
				return
			}
			left -= k
		}
		if opcode == 0x8 { // close
			return
		}
	}
}
