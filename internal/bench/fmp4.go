package bench

import (
	"encoding/binary"
	"errors"
	"time"
)

// Minimal ISO BMFF (ISO/IEC 14496-12) walking for LL-HLS viewers: the
// timescale and handler of each track from the init segment, and for each
// media part the decode time (tfdt), duration, size and sync flag of every
// sample (trun). Nothing is decoded; box sizes are checked against the
// buffer, so a hostile part can at worst yield an error.

var errBadBox = errors.New("malformed MP4 box")

// mp4Track is what the init segment says about one track.
type mp4Track struct {
	timescale   uint32
	video       bool
	audio       bool
	defDuration uint32 // trex defaults
	defSize     uint32
	defFlags    uint32
	haveFlags   bool
}

// walkBoxes calls fn for each box in b with its type and payload (after the
// 8- or 16-byte header). A size of 0 means "to the end of b".
func walkBoxes(b []byte, fn func(typ string, payload []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return errBadBox
		}
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := uint64(8)
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return errBadBox
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return errBadBox
		}
		if err := fn(typ, b[hdr:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// parseInit reads the tracks of an fMP4 init segment (moov/trak and
// moov/mvex/trex), keyed by track ID.
func parseInit(b []byte) (map[uint32]*mp4Track, error) {
	tracks := map[uint32]*mp4Track{}
	trex := map[uint32][3]uint32{}
	haveTrex := map[uint32]bool{}
	err := walkBoxes(b, func(typ string, moov []byte) error {
		if typ != "moov" {
			return nil
		}
		return walkBoxes(moov, func(typ string, p []byte) error {
			switch typ {
			case "trak":
				id, t, err := parseTrak(p)
				if err != nil {
					return err
				}
				tracks[id] = t
			case "mvex":
				return walkBoxes(p, func(typ string, p []byte) error {
					// trex: fullbox, track_ID, default_sample_description_index,
					// duration, size, flags
					if typ != "trex" {
						return nil
					}
					if len(p) < 24 {
						return errBadBox
					}
					id := binary.BigEndian.Uint32(p[4:])
					trex[id] = [3]uint32{binary.BigEndian.Uint32(p[12:]), binary.BigEndian.Uint32(p[16:]), binary.BigEndian.Uint32(p[20:])}
					haveTrex[id] = true
					return nil
				})
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	for id, t := range tracks {
		if d, ok := trex[id]; ok {
			t.defDuration, t.defSize, t.defFlags, t.haveFlags = d[0], d[1], d[2], haveTrex[id]
		}
	}
	if len(tracks) == 0 {
		return nil, errors.New("init segment has no tracks")
	}
	return tracks, nil
}

func parseTrak(trak []byte) (uint32, *mp4Track, error) {
	var id uint32
	t := &mp4Track{}
	err := walkBoxes(trak, func(typ string, p []byte) error {
		switch typ {
		case "tkhd": // fullbox; v1: 8+8 bytes of times before track_ID, v0: 4+4
			if len(p) < 4 {
				return errBadBox
			}
			off := 12
			if p[0] == 1 {
				off = 20
			}
			if len(p) < off+4 {
				return errBadBox
			}
			id = binary.BigEndian.Uint32(p[off:])
		case "mdia":
			return walkBoxes(p, func(typ string, p []byte) error {
				switch typ {
				case "mdhd": // fullbox; timescale after creation/modification times
					off := 12
					if len(p) >= 1 && p[0] == 1 {
						off = 20
					}
					if len(p) < off+4 {
						return errBadBox
					}
					t.timescale = binary.BigEndian.Uint32(p[off:])
				case "hdlr": // fullbox, pre_defined, handler_type
					if len(p) < 12 {
						return errBadBox
					}
					t.video = string(p[8:12]) == "vide"
					t.audio = string(p[8:12]) == "soun"
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	if id == 0 || t.timescale == 0 {
		return 0, nil, errors.New("trak without track ID or timescale")
	}
	return id, t, nil
}

// mp4Sample is one sample of a media part.
type mp4Sample struct {
	track uint32
	dts   time.Duration
	size  int
	sync  bool
	known bool // sync comes from sample flags (not guessed)
}

// trun/tfhd flags (ISO/IEC 14496-12 8.8.7, 8.8.8)
const (
	tfhdBaseDataOffset  = 0x01
	tfhdSampleDescIndex = 0x02
	tfhdDefDuration     = 0x08
	tfhdDefSize         = 0x10
	tfhdDefFlags        = 0x20

	trunDataOffset      = 0x01
	trunFirstFlags      = 0x04
	trunSampleDuration  = 0x100
	trunSampleSize      = 0x200
	trunSampleFlags     = 0x400
	trunSampleCTOOffset = 0x800

	sampleIsNonSync = 0x10000

	maxSamplesPerTrun = 1 << 16
)

// parseMedia appends the samples of every moof/traf in a media part or
// segment to out.
func parseMedia(b []byte, tracks map[uint32]*mp4Track, out []mp4Sample) ([]mp4Sample, error) {
	err := walkBoxes(b, func(typ string, moof []byte) error {
		if typ != "moof" {
			return nil
		}
		return walkBoxes(moof, func(typ string, traf []byte) error {
			if typ != "traf" {
				return nil
			}
			var err error
			out, err = parseTraf(traf, tracks, out)
			return err
		})
	})
	return out, err
}

func parseTraf(traf []byte, tracks map[uint32]*mp4Track, out []mp4Sample) ([]mp4Sample, error) {
	var (
		t                   *mp4Track // nil: tfhd missing or unknown track
		id                  uint32
		defDur, defSize     uint32
		defFlags            uint32
		haveFlags, haveTfdt bool
		baseTime            uint64
		truns               [][]byte
	)
	err := walkBoxes(traf, func(typ string, p []byte) error {
		switch typ {
		case "tfhd":
			if len(p) < 8 {
				return errBadBox
			}
			flags := uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])
			id = binary.BigEndian.Uint32(p[4:])
			t = tracks[id]
			if t == nil {
				return nil
			}
			defDur, defSize, defFlags, haveFlags = t.defDuration, t.defSize, t.defFlags, t.haveFlags
			off := 8
			field := func(flag uint32, n int) ([]byte, bool) {
				if flags&flag == 0 || len(p) < off+n {
					return nil, false
				}
				f := p[off : off+n]
				off += n
				return f, true
			}
			field(tfhdBaseDataOffset, 8)
			field(tfhdSampleDescIndex, 4)
			if f, ok := field(tfhdDefDuration, 4); ok {
				defDur = binary.BigEndian.Uint32(f)
			}
			if f, ok := field(tfhdDefSize, 4); ok {
				defSize = binary.BigEndian.Uint32(f)
			}
			if f, ok := field(tfhdDefFlags, 4); ok {
				defFlags, haveFlags = binary.BigEndian.Uint32(f), true
			}
		case "tfdt":
			if len(p) < 8 {
				return errBadBox
			}
			if p[0] == 1 {
				if len(p) < 12 {
					return errBadBox
				}
				baseTime = binary.BigEndian.Uint64(p[4:])
			} else {
				baseTime = uint64(binary.BigEndian.Uint32(p[4:]))
			}
			haveTfdt = true
		case "trun":
			truns = append(truns, p)
		}
		return nil
	})
	if err != nil || t == nil {
		return out, err
	}
	if !haveTfdt {
		return out, errors.New("traf without tfdt")
	}
	dts := baseTime
	for _, p := range truns {
		if len(p) < 8 {
			return out, errBadBox
		}
		flags := uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])
		n := binary.BigEndian.Uint32(p[4:])
		if n > maxSamplesPerTrun {
			return out, errBadBox
		}
		off := 8
		if flags&trunDataOffset != 0 {
			off += 4
		}
		firstFlags, haveFirst := uint32(0), false
		if flags&trunFirstFlags != 0 {
			if len(p) < off+4 {
				return out, errBadBox
			}
			firstFlags, haveFirst = binary.BigEndian.Uint32(p[off:]), true
			off += 4
		}
		per := 0
		for _, f := range []uint32{trunSampleDuration, trunSampleSize, trunSampleFlags, trunSampleCTOOffset} {
			if flags&f != 0 {
				per += 4
			}
		}
		if len(p) < off+int(n)*per {
			return out, errBadBox
		}
		for i := range n {
			s := mp4Sample{track: id, dts: scaleTime(dts, t.timescale)}
			dur, size, sflags, known := defDur, defSize, defFlags, haveFlags
			if flags&trunSampleDuration != 0 {
				dur = binary.BigEndian.Uint32(p[off:])
				off += 4
			}
			if flags&trunSampleSize != 0 {
				size = binary.BigEndian.Uint32(p[off:])
				off += 4
			}
			if flags&trunSampleFlags != 0 {
				sflags, known = binary.BigEndian.Uint32(p[off:]), true
				off += 4
			}
			if flags&trunSampleCTOOffset != 0 {
				off += 4
			}
			if i == 0 && haveFirst {
				sflags, known = firstFlags, true
			}
			s.size = int(size)
			s.sync = known && sflags&sampleIsNonSync == 0
			s.known = known
			out = append(out, s)
			dts += uint64(dur)
		}
	}
	return out, nil
}

// scaleTime converts a time in timescale units to a Duration without
// overflowing for any realistic stream age.
func scaleTime(v uint64, timescale uint32) time.Duration {
	ts := uint64(timescale)
	return time.Duration(v/ts)*time.Second + time.Duration(v%ts*uint64(time.Second)/ts)
}
