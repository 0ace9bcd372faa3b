package rtmp

import (
	"encoding/binary"
	"fmt"
)

// handshakeSize is what a plain-RTMP client sends before its first chunk:
// C0 (1 byte), C1 and C2 (1536 bytes each).
const handshakeSize = 1 + 1536 + 1536

// maxMessageSize matches gortmplib's limit on one message body.
const maxMessageSize = 10 << 20

// maxChunkSize is the largest SetChunkSize accepted (as SRS does): gortmplib
// allocates a whole chunk before its bytes arrive, so a larger size lets a
// few bytes pin megabytes per connection.
const maxChunkSize = 65536

// maxAMFMessage bounds AMF0/AMF3 command and data messages (connect,
// publish, onMetaData …, a few hundred bytes to a few KiB in practice).
// gortmplib's AMF decoder recurses once per nesting level without a limit,
// so a large message of nested objects (4 bytes a level) would overflow the
// stack and kill the process; 16 KiB is at most ~4k levels.
const maxAMFMessage = 16 << 10

// isAMF reports whether a message type carries AMF: data (18, 15), shared
// object (19, 16) or command (20, 17), in AMF0 or AMF3.
func isAMF(typ uint8) bool { return typ >= 15 && typ <= 20 }

// chunkSniffer follows the chunk stream a client sends (before it publishes
// or plays, and for the whole of a publish session) the way gortmplib's
// reader parses it, to refuse what gortmplib would accept but should not:
//   - SetChunkSize outside minChunkSize..maxChunkSize (0 leaves gortmplib
//     consuming empty chunks until the deadline; huge sizes pin memory);
//   - AMF messages over maxAMFMessage (gortmplib's unbounded recursion).
//
// It refuses as soon as the header or message says so, before gortmplib
// has allocated or decoded it.
//
// When the stream stops making sense (what gortmplib itself rejects, or
// encrypted RTMPE) the sniffer turns itself off and lets gortmplib report the
// error: it only ever refuses what it has understood.
type chunkSniffer struct {
	off       int // bytes seen, to skip the handshake
	off0      byte
	disabled  bool
	chunkSize uint32
	streams   [64]sniffStream

	// The chunk being parsed.
	phase    int // 0 basic header, 1 message header, 2 extended timestamp, 3 body
	fmt      byte
	csid     byte
	hdr      [11]byte
	need     int // header bytes still wanted in this phase
	got      int
	bodyLeft uint32
}

type sniffStream struct {
	started bool   // a fmt-0/1 header has been seen
	msgLen  uint32 // current message length
	typ     uint8
	recv    uint32 // body bytes received of the current message
	hasExt  bool   // fmt-3 chunks carry an extended timestamp
	body    [4]byte
}

func newChunkSniffer() *chunkSniffer { return &chunkSniffer{chunkSize: 128} }

// feed processes bytes the client sent. It returns an error only for a
// SetChunkSize below minChunkSize or above 0xFFFFFF.
func (s *chunkSniffer) feed(p []byte) error {
	for i := 0; i < len(p); i++ {
		b := p[i]
		if s.disabled {
			return nil
		}
		if s.phase == 3 && s.off >= handshakeSize {
			n, err := s.feedBody(p[i:])
			if err != nil {
				return err
			}
			i += n - 1
			continue
		}
		if s.off < handshakeSize {
			if s.off == 0 {
				s.off0 = b
				if b != 3 {
					s.disabled = true // RTMPE: the chunk stream is encrypted
				}
			}
			s.off++
			continue
		}
		if err := s.byte(b); err != nil {
			return err
		}
	}
	return nil
}

// feedBody consumes as much of a chunk body as p holds in one step (only
// the first 4 bytes of SetChunkSize/Abort bodies are kept); it returns how
// many bytes it used. Used by feed so media bytes cost O(1) per chunk.
func (s *chunkSniffer) feedBody(p []byte) (int, error) {
	st := &s.streams[s.csid]
	n := min(uint32(len(p)), s.bodyLeft)
	for i := uint32(0); i < n && st.recv+i < 4; i++ {
		if st.typ == 1 || st.typ == 2 {
			st.body[st.recv+i] = p[i]
		}
	}
	st.recv += n
	s.bodyLeft -= n
	if s.bodyLeft == 0 {
		return int(n), s.chunkDone()
	}
	return int(n), nil
}

var headerLen = [4]int{11, 7, 3, 0}

func (s *chunkSniffer) byte(b byte) error {
	switch s.phase {
	case 0:
		s.fmt, s.csid = b>>6, b&0x3F
		if s.csid < 2 {
			s.disabled = true // gortmplib rejects extended chunk stream IDs
			return nil
		}
		s.need, s.got = headerLen[s.fmt], 0
		s.phase = 1
		if s.need == 0 {
			return s.headerDone()
		}
	case 1:
		s.hdr[s.got] = b
		s.got++
		if s.got == s.need {
			return s.headerDone()
		}
	case 2:
		s.hdr[s.got] = b
		s.got++
		if s.got == 4 {
			return s.extDone(binary.BigEndian.Uint32(s.hdr[:4]))
		}
	}
	return nil
}

func uint24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

// headerDone runs once the message header of the current chunk is read.
func (s *chunkSniffer) headerDone() error {
	st := &s.streams[s.csid]
	var tsField uint32
	switch s.fmt {
	case 0:
		if st.recv != 0 {
			s.disabled = true // gortmplib: type 0 in the middle of a message
			return nil
		}
		tsField = uint24(s.hdr[0:3])
		st.msgLen, st.typ, st.started = uint24(s.hdr[3:6]), s.hdr[6], true
	case 1:
		if !st.started || st.recv != 0 {
			s.disabled = true
			return nil
		}
		tsField = uint24(s.hdr[0:3])
		st.msgLen, st.typ = uint24(s.hdr[3:6]), s.hdr[6]
	case 2:
		if !st.started || st.recv != 0 {
			s.disabled = true
			return nil
		}
		tsField = uint24(s.hdr[0:3])
	case 3:
		if !st.started {
			s.disabled = true
			return nil
		}
		if st.hasExt {
			s.phase, s.got = 2, 0
			return nil
		}
		return s.bodyStart()
	}
	if tsField >= 0xFFFFFF {
		s.phase, s.got = 2, 0
		return nil
	}
	st.hasExt = false
	return s.bodyStart()
}

func (s *chunkSniffer) extDone(v uint32) error {
	if s.fmt != 3 {
		// gortmplib decides from the extended value itself.
		s.streams[s.csid].hasExt = v >= 0xFFFFFF
	}
	return s.bodyStart()
}

func (s *chunkSniffer) bodyStart() error {
	st := &s.streams[s.csid]
	if st.msgLen > maxMessageSize {
		s.disabled = true // gortmplib refuses it
		return nil
	}
	if isAMF(st.typ) && st.msgLen > maxAMFMessage {
		return fmt.Errorf("refusing a %d-byte AMF message (type %d; at most %d)", st.msgLen, st.typ, maxAMFMessage)
	}
	s.bodyLeft = min(st.msgLen-st.recv, s.chunkSize)
	s.phase = 3
	if s.bodyLeft == 0 {
		return s.chunkDone()
	}
	return nil
}

func (s *chunkSniffer) chunkDone() error {
	s.phase = 0
	st := &s.streams[s.csid]
	if st.recv < st.msgLen {
		return nil
	}
	typ, n := st.typ, st.recv
	st.recv = 0
	if n != 4 {
		return nil
	}
	v := binary.BigEndian.Uint32(st.body[:])
	switch typ {
	case 1: // SetChunkSize
		if v < minChunkSize || v > maxChunkSize {
			return fmt.Errorf("refusing SetChunkSize %d (allowed %d..%d)", v, minChunkSize, maxChunkSize)
		}
		s.chunkSize = v
	case 2: // Abort: drop the partial message of that chunk stream
		if v < uint32(len(s.streams)) {
			s.streams[v].recv = 0
		}
	}
	return nil
}
