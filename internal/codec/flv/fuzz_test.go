package flv

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"testing/iotest"
	"unsafe"

	"github.com/huabian-live/huabian/internal/media"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/ and are (re)generated from
// the table cases by TestWriteFuzzSeeds (go test -run TestWriteFuzzSeeds
// -flv.write-seeds). Crashers found by fuzzing stay there as regression
// seeds.

// within reports whether sub lies inside b's backing array (or is empty).
func within(sub, b []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	s, e := uintptr(unsafe.Pointer(&sub[0])), uintptr(unsafe.Pointer(&sub[len(sub)-1]))
	bs, be := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[len(b)-1]))
	return s >= bs && e <= be
}

// FuzzReader reads a stream whole and split at a point (and byte by byte):
// the tags and the final error must be the same, and the body buffer must
// stay proportional to the input however large the declared sizes. Every
// tag body is also fed to the body parsers.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		whole, err := readAll(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		k := 1 + int(split)%(len(data)+1)
		for name, r := range map[string]*splitReader{"split": {data: data, split: k}} {
			got, err := readAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := sameResults(whole, got); err != nil {
				t.Fatalf("%s at %d: %v", name, k, err)
			}
		}
		if len(data) < 4096 {
			got, _ := readAll(iotest.OneByteReader(bytes.NewReader(data)))
			if err := sameResults(whole, got); err != nil {
				t.Fatalf("one byte: %v", err)
			}
		}

		fr := NewReader(bytes.NewReader(data))
		if _, err := fr.ReadHeader(); err != nil {
			return
		}
		for {
			tag, err := fr.ReadTag()
			if cap(fr.buf) > 2*len(data)+readChunk {
				t.Fatalf("buffer cap %d for %d input bytes", cap(fr.buf), len(data))
			}
			if errors.Is(err, ErrEncrypted) {
				continue
			}
			if err != nil {
				return
			}
			switch tag.Type {
			case TagVideo:
				checkVideoBody(t, tag.Data)
			case TagAudio:
				checkAudioBody(t, tag.Data)
			}
		}
	})
}

// checkVideoBody parses a video body and everything inside it, and checks
// that re-muxing coded frames gives back the same packet.
func checkVideoBody(t *testing.T, body []byte) {
	p, err := ParseVideo(body)
	if err != nil {
		if p.Data != nil {
			t.Fatal("data returned with an error")
		}
		return
	}
	if !within(p.Data, body) {
		t.Fatal("Data does not alias body")
	}
	switch {
	case p.SequenceHeader && p.Codec == media.CodecH264:
		checkAVCConfig(t, p.Data)
	case p.SequenceHeader && p.Codec == media.CodecH265:
		checkHEVCConfig(t, p.Data)
	case p.SequenceHeader, p.SequenceEnd:
	case p.Codec == media.CodecAV1:
		checkAV1(t, nil, [][]byte{p.Data})
	default:
		nalus, err := SplitAVCC(p.Data)
		if err != nil {
			return
		}
		codec := p.Codec
		f := &media.Frame{
			Tracks: &media.Tracks{Video: &media.VideoTrack{Codec: codec}},
			Video:  true, Key: p.Key, DTS: ms(1000), PTS: ms(1000 + int(p.CompositionTime)), AU: nalus,
		}
		tag, ok := AppendFrameTag(nil, f)
		if !ok {
			t.Fatal("re-mux refused")
		}
		_, _, body2, err := TagBody(tag)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := ParseVideo(body2)
		if err != nil {
			t.Fatal(err)
		}
		nalus2, err := SplitAVCC(p2.Data)
		if err != nil || p2.Codec != codec || p2.Key != p.Key || p2.CompositionTime != p.CompositionTime ||
			!slices.EqualFunc(nalus, nalus2, bytes.Equal) {
			t.Fatalf("re-mux differs: %+v vs %+v (%v)", p, p2, err)
		}
	}
}

func checkAudioBody(t *testing.T, body []byte) {
	p, err := ParseAudio(body)
	if err != nil {
		if p.Data != nil {
			t.Fatal("data returned with an error")
		}
		return
	}
	if !within(p.Data, body) {
		t.Fatal("Data does not alias body")
	}
	if p.SequenceHeader && p.Codec == media.CodecAAC {
		checkASC(t, p.Data)
	}
}

func FuzzParseVideo(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) { checkVideoBody(t, body) })
}

func FuzzParseAudio(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) { checkAudioBody(t, body) })
}

// checkAVCConfig parses a record and, when it holds an SPS long enough to
// build one, rebuilds it and parses it again.
func checkAVCConfig(t *testing.T, b []byte) {
	sps, pps, err := ParseAVCConfig(b)
	if err != nil {
		if sps != nil || pps != nil {
			t.Fatal("parameter sets returned with an error")
		}
		return
	}
	if len(sps) == 0 || len(pps) == 0 || !within(sps, b) || !within(pps, b) {
		t.Fatalf("sps % x pps % x", sps, pps)
	}
	rec, ok := appendAVCConfig(nil, sps, pps)
	if !ok {
		if len(sps) >= 4 {
			t.Fatal("rebuild refused")
		}
		return
	}
	sps2, pps2, err := ParseAVCConfig(rec)
	if err != nil || !bytes.Equal(sps, sps2) || !bytes.Equal(pps, pps2) {
		t.Fatalf("rebuild differs: %v", err)
	}
}

// checkHEVCConfig parses a record and rebuilds it from the parameter sets,
// which runs mediacommon's SPS parser on hostile data.
func checkHEVCConfig(t *testing.T, b []byte) {
	vps, sps, pps, err := ParseHEVCConfig(b)
	if err != nil {
		if vps != nil || sps != nil || pps != nil {
			t.Fatal("parameter sets returned with an error")
		}
		return
	}
	if !within(vps, b) || !within(sps, b) || !within(pps, b) {
		t.Fatal("parameter sets do not alias the record")
	}
	rec, ok := appendHEVCConfig(nil, vps, sps, pps)
	if !ok {
		return
	}
	vps2, sps2, pps2, err := ParseHEVCConfig(rec)
	if err != nil || !bytes.Equal(vps, vps2) || !bytes.Equal(sps, sps2) || !bytes.Equal(pps, pps2) {
		t.Fatalf("rebuild differs: %v", err)
	}
}

func FuzzAVCConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { checkAVCConfig(t, b) })
}

func FuzzHEVCConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { checkHEVCConfig(t, b) })
}

func checkASC(t *testing.T, b []byte) {
	rate, ch, err := ParseAudioSpecificConfig(b)
	if err != nil {
		if rate != 0 || ch != 0 {
			t.Fatal("values returned with an error")
		}
		return
	}
	if rate <= 0 || ch < 1 || ch > 8 {
		t.Fatalf("rate %d channels %d", rate, ch)
	}
}

func FuzzAudioSpecificConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { checkASC(t, b) })
}

// checkAV1 runs the writer on publisher-controlled AV1 data: a sequence
// header (av1C) and the OBUs of a temporal unit (size-field insertion).
func checkAV1(t *testing.T, seq []byte, obus [][]byte) {
	tr := &media.Tracks{Video: &media.VideoTrack{Codec: media.CodecAV1, AV1SequenceHeader: seq}}
	if out := AppendSequenceHeaders(nil, tr, 0); len(out) > 0 {
		_, _, body, err := TagBody(out)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseVideo(body)
		if err != nil || !p.SequenceHeader || p.Codec != media.CodecAV1 || len(p.Data) < 5 || p.Data[0] != 0x81 {
			t.Fatalf("av1C: %+v %v", p, err)
		}
		if _, payload, ok := splitOBU(p.Data[4:]); !ok || len(payload) == 0 {
			t.Fatal("configOBUs is not a sized OBU")
		}
	}
	f := &media.Frame{Tracks: tr, Video: true, AU: obus}
	tag, ok := AppendFrameTag(nil, f)
	if !ok {
		t.Fatal("frame refused")
	}
	_, _, body, err := TagBody(tag)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseVideo(body)
	if err != nil {
		t.Fatal(err)
	}
	// Every well-formed input OBU comes out once, in order, with a size
	// field and the same payload.
	var want [][]byte
	for _, obu := range obus {
		if len(obu) == 0 {
			continue
		}
		payload, rest, ok := nextSizedOBU(obu, obu[0]&0x02 != 0)
		if !ok || len(rest) != 0 {
			return // malformed input OBUs are copied verbatim; nothing to check
		}
		want = append(want, payload)
	}
	var got [][]byte
	for b := p.Data; len(b) > 0; {
		payload, rest, ok := nextSizedOBU(b, true)
		if !ok {
			t.Fatalf("output is not a sequence of sized OBUs: % x", p.Data)
		}
		got = append(got, payload)
		b = rest
	}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("OBU payloads differ:\n got % x\nwant % x", got, want)
	}
}

// nextSizedOBU splits the first OBU off b (AV1 spec 5.3.1), written
// independently of splitOBU: with sized=false the OBU has no obu_size and
// extends to the end of b.
func nextSizedOBU(b []byte, sized bool) (payload, rest []byte, ok bool) {
	if len(b) == 0 || (b[0]&0x02 != 0) != sized {
		return nil, nil, false
	}
	hl := 1 + int(b[0]>>2&1)
	if len(b) < hl {
		return nil, nil, false
	}
	if !sized {
		return b[hl:], nil, true
	}
	var size uint64
	n := 0
	for {
		if n == 8 || hl+n >= len(b) {
			return nil, nil, false
		}
		c := b[hl+n]
		size |= uint64(c&0x7f) << (7 * n)
		n++
		if c&0x80 == 0 {
			break
		}
	}
	if size > uint64(len(b)-hl-n) {
		return nil, nil, false
	}
	end := hl + n + int(size)
	return b[hl+n : end], b[end:], true
}

// FuzzAV1 is not a parser fuzzer: it feeds hostile sequence headers and
// OBUs to the writer, since those come from publishers.
func FuzzAV1(f *testing.F) {
	f.Fuzz(func(t *testing.T, seq, tu []byte, cut uint8) {
		k := int(cut) % (len(tu) + 1)
		checkAV1(t, seq, [][]byte{tu[:k], tu[k:]})
	})
}
