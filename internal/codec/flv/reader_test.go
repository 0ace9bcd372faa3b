package flv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

type headerCase struct {
	name string
	in   []byte
	want Header
	err  error
}

var headerCases = []headerCase{
	{"video+audio", []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}, Header{true, true}, nil},
	{"audio only", []byte{'F', 'L', 'V', 1, 4, 0, 0, 0, 9, 0, 0, 0, 0}, Header{HasAudio: true}, nil},
	{"larger data offset", []byte{'F', 'L', 'V', 1, 1, 0, 0, 0, 12, 0xAA, 0xBB, 0xCC, 0, 0, 0, 0}, Header{HasVideo: true}, nil},
	{"bad signature", []byte{'F', 'L', 'W', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}, Header{}, ErrNotFLV},
	{"version 2", []byte{'F', 'L', 'V', 2, 5, 0, 0, 0, 9, 0, 0, 0, 0}, Header{}, errAny},
	{"data offset too small", []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 8, 0, 0, 0, 0}, Header{}, errAny},
	{"data offset huge", []byte{'F', 'L', 'V', 1, 5, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}, Header{}, errAny},
	{"missing PreviousTagSize0", []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0}, Header{}, io.ErrUnexpectedEOF},
	{"truncated", []byte{'F', 'L', 'V', 1}, Header{}, io.ErrUnexpectedEOF},
	{"empty", nil, Header{}, io.EOF},
}

func TestReadHeader(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.in))
			h, err := r.ReadHeader()
			checkErr(t, err, tc.err)
			if h != tc.want {
				t.Fatalf("got %+v", h)
			}
		})
	}
}

// rawTag builds a tag by hand, declaring size bytes but carrying body.
func rawTag(typ byte, size int, ts uint32, body []byte, trailer bool) []byte {
	b := []byte{typ, byte(size >> 16), byte(size >> 8), byte(size), byte(ts >> 16), byte(ts >> 8), byte(ts), byte(ts >> 24), 0, 0, 0}
	b = append(b, body...)
	if trailer {
		b = append(b, 0, 0, 0, byte(TagHeaderSize+len(body)))
	}
	return b
}

var flvHeader = AppendFileHeader(nil, true, true)

type tagResult struct {
	typ  uint8
	ts   uint32
	data []byte
	err  error
}

type readerCase struct {
	name string
	in   []byte // after the FLV header
	want []tagResult
}

var readerCases = []readerCase{
	{"two tags then EOF", cat(rawTag(9, 2, 0x01020304, []byte{0x17, 1}, true), rawTag(8, 1, 5, []byte{0xAF}, true)),
		[]tagResult{{9, 0x01020304, []byte{0x17, 1}, nil}, {8, 5, []byte{0xAF}, nil}, {err: io.EOF}}},
	{"empty body", rawTag(18, 0, 0, nil, true), []tagResult{{18, 0, []byte{}, nil}, {err: io.EOF}}},
	{"reserved bits ignored, unknown type kept", rawTag(0xC0|7, 1, 0, []byte{1}, true), []tagResult{{7, 0, []byte{1}, nil}, {err: io.EOF}}},
	{"filtered tag skipped", cat(rawTag(0x20|8, 1, 0, []byte{1}, true), rawTag(8, 1, 1, []byte{2}, true)),
		[]tagResult{{err: ErrEncrypted}, {8, 1, []byte{2}, nil}, {err: io.EOF}}},
	{"truncated header", []byte{9, 0, 0}, []tagResult{{err: io.ErrUnexpectedEOF}}},
	{"truncated body", rawTag(9, 10, 0, []byte{1, 2}, false), []tagResult{{err: io.ErrUnexpectedEOF}}},
	{"missing PreviousTagSize", rawTag(9, 2, 0, []byte{1, 2}, false), []tagResult{{err: io.ErrUnexpectedEOF}}},
	{"partial PreviousTagSize", append(rawTag(9, 2, 0, []byte{1, 2}, false), 0, 0), []tagResult{{err: io.ErrUnexpectedEOF}}},
	{"declares 16 MiB, sends 3 bytes", rawTag(9, MaxBodySize, 0, []byte{1, 2, 3}, false), []tagResult{{err: io.ErrUnexpectedEOF}}},
	{"wrong PreviousTagSize tolerated", cat(rawTag(9, 1, 0, []byte{1}, false), []byte{0xDE, 0xAD, 0xBE, 0xEF}), []tagResult{{9, 0, []byte{1}, nil}, {err: io.EOF}}},
}

// readAll reads the header and tags until a fatal error (anything but
// ErrEncrypted), copying the data since the reader reuses its buffer. A
// header error is the only result.
func readAll(r io.Reader) ([]tagResult, error) {
	fr := NewReader(r)
	if _, err := fr.ReadHeader(); err != nil {
		return []tagResult{{err: err}}, nil
	}
	var out []tagResult
	for range 1 << 20 {
		tag, err := fr.ReadTag()
		var data []byte
		if err == nil {
			data = append([]byte{}, tag.Data...)
		}
		out = append(out, tagResult{tag.Type, tag.Timestamp, data, err})
		if err != nil && !errors.Is(err, ErrEncrypted) {
			return out, nil
		}
	}
	return out, errors.New("too many tags")
}

func sameResults(a, b []tagResult) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d results vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].typ != b[i].typ || a[i].ts != b[i].ts || !bytes.Equal(a[i].data, b[i].data) || !errors.Is(a[i].err, b[i].err) {
			return fmt.Errorf("result %d: %+v vs %+v", i, a[i], b[i])
		}
	}
	return nil
}

// splitReader returns data in two parts: the first Read returns at most
// split bytes, then the rest comes as the underlying readers deliver it.
type splitReader struct {
	data  []byte
	split int
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := len(p)
	if s.split > 0 {
		n = min(n, s.split)
	}
	n = copy(p, s.data[:min(n, len(s.data))])
	s.data = s.data[n:]
	if s.split > 0 {
		s.split -= n
		if s.split == 0 {
			s.split = -1
		}
	}
	return n, nil
}

func TestReadTag(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) {
			in := cat(flvHeader, tc.in)
			readers := map[string]io.Reader{
				"whole":    bytes.NewReader(in),
				"one byte": iotest.OneByteReader(bytes.NewReader(in)),
				"half":     iotest.HalfReader(bytes.NewReader(in)),
				"data+EOF": iotest.DataErrReader(bytes.NewReader(in)),
				"split 14": &splitReader{data: in, split: 14},
			}
			for name, r := range readers {
				got, err := readAll(r)
				if err != nil {
					t.Fatal(name, err)
				}
				if err := sameResults(got, tc.want); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
		})
	}
}

// A header declaring a 16 MiB body on a short stream must not make the
// reader allocate 16 MiB.
func TestReadTagBoundedAllocation(t *testing.T) {
	in := cat(flvHeader, rawTag(9, MaxBodySize, 0, make([]byte, 1000), false))
	r := NewReader(bytes.NewReader(in))
	if _, err := r.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadTag(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	if cap(r.buf) > readChunk {
		t.Fatalf("buffer grew to %d", cap(r.buf))
	}

	// Growth follows the data: a real 1 MiB body ends with a buffer well
	// below 2x its size plus the first chunk.
	body := bytes.Repeat([]byte{7}, 1<<20)
	r = NewReader(bytes.NewReader(cat(flvHeader, rawTag(9, len(body), 0, body, true))))
	r.ReadHeader()
	tag, err := r.ReadTag()
	if err != nil || !bytes.Equal(tag.Data, body) {
		t.Fatal(err)
	}
	if cap(r.buf) > 2*len(body)+readChunk {
		t.Fatalf("buffer cap %d for %d bytes", cap(r.buf), len(body))
	}
}

// Data is reused between calls, as documented.
func TestReadTagReusesBuffer(t *testing.T) {
	in := cat(flvHeader, rawTag(9, 3, 0, []byte{1, 2, 3}, true), rawTag(9, 3, 0, []byte{4, 5, 6}, true))
	r := NewReader(bytes.NewReader(in))
	r.ReadHeader()
	a, _ := r.ReadTag()
	first := a.Data
	b, _ := r.ReadTag()
	if &first[0] != &b.Data[0] || !bytes.Equal(first, []byte{4, 5, 6}) {
		t.Fatal("buffer not reused")
	}
}
