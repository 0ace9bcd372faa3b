package bench

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"
)

func TestParsePlaylist(t *testing.T) {
	t.Parallel()
	media := `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6
#EXT-X-PART-INF:PART-TARGET=0.2
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PART:DURATION=0.2,URI="p10.0.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI="p10.1.mp4"
#EXTINF:0.4,
s10.mp4
#EXT-X-PART:DURATION=0.2,URI="big.mp4",BYTERANGE="1000@0",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI="big.mp4",BYTERANGE="500"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="big.mp4",BYTERANGE-START=1500
`
	pl, err := parsePlaylist([]byte(media))
	if err != nil {
		t.Fatal(err)
	}
	if !pl.media || !pl.canBlock || pl.partTarget != 200*time.Millisecond || pl.targetDuration != 2*time.Second || pl.mapURI != "init.mp4" {
		t.Errorf("header fields: %+v", pl)
	}
	wantParts := []hlsPart{
		{msn: 10, idx: 0, uri: "p10.0.mp4", independent: true, rangeStart: -1, rangeLen: -1},
		{msn: 10, idx: 1, uri: "p10.1.mp4", rangeStart: -1, rangeLen: -1},
		{msn: 11, idx: 0, uri: "big.mp4", independent: true, rangeStart: 0, rangeLen: 1000},
		{msn: 11, idx: 1, uri: "big.mp4", rangeStart: 1000, rangeLen: 500},
	}
	if !slices.Equal(pl.parts, wantParts) {
		t.Errorf("parts:\n got %+v\nwant %+v", pl.parts, wantParts)
	}
	if len(pl.segments) != 1 || pl.segments[0].msn != 10 || pl.segments[0].uri != "s10.mp4" {
		t.Errorf("segments = %+v", pl.segments)
	}
	wantHint := hlsPart{msn: 11, idx: 2, uri: "big.mp4", rangeStart: 1500, rangeLen: -1}
	if pl.hint == nil || *pl.hint != wantHint {
		t.Errorf("hint = %+v, want %+v", pl.hint, wantHint)
	}
	if got := pl.startIndex(); got != 2 {
		t.Errorf("startIndex = %d, want 2 (the newest independent part)", got)
	}

	multi := "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2800000,CODECS=\"avc1.64001f,mp4a.40.2\"\nvideo/index.m3u8\n"
	pl, err = parsePlaylist([]byte(multi))
	if err != nil {
		t.Fatal(err)
	}
	if pl.media || !slices.Equal(pl.variants, []string{"video/index.m3u8"}) {
		t.Errorf("multivariant: %+v", pl)
	}

	for _, bad := range []string{"", "hello\n", "#EXTM3U\n#EXT-X-TARGETDURATION:x\n", "#EXTM3U\n#EXT-X-PART:DURATION=1\n"} {
		if _, err := parsePlaylist([]byte(bad)); err == nil {
			t.Errorf("parsePlaylist(%q) succeeded", bad)
		}
	}
}

func TestParseAttrs(t *testing.T) {
	t.Parallel()
	got := parseAttrs(`BANDWIDTH=1,CODECS="avc1,mp4a",URI="a.mp4",INDEPENDENT=YES`)
	want := map[string]string{"BANDWIDTH": "1", "CODECS": "avc1,mp4a", "URI": "a.mp4", "INDEPENDENT": "YES"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func box(typ string, payload ...[]byte) []byte {
	n := 8
	for _, p := range payload {
		n += len(p)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(n))
	b = append(b, typ...)
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

func u32s(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b
}

func TestFMP4(t *testing.T) {
	t.Parallel()
	trak := func(id, timescale uint32, handler string) []byte {
		return box("trak",
			box("tkhd", u32s(0, 0, 0, id, 0)), // version/flags, ctime, mtime, track_ID, reserved
			box("mdia",
				box("mdhd", u32s(0, 0, 0, timescale, 0)),
				box("hdlr", u32s(0, 0), []byte(handler), u32s(0, 0, 0), []byte("x\x00"))))
	}
	initSeg := append(box("ftyp", []byte("iso5"), u32s(0)), box("moov",
		trak(1, 90000, "vide"), trak(2, 44100, "soun"),
		box("mvex", box("trex", u32s(0, 2, 1, 1024, 0, 0))))...)
	tracks, err := parseInit(initSeg)
	if err != nil {
		t.Fatal(err)
	}
	if len(tracks) != 2 || !tracks[1].video || tracks[1].timescale != 90000 || !tracks[2].audio || tracks[2].defDuration != 1024 {
		t.Fatalf("tracks = %+v %+v", tracks[1], tracks[2])
	}

	// Video: tfdt v1 = 10 s, three samples of 3000 ticks, first-sample-flags
	// sync, default flags non-sync. Audio: trex default duration.
	const nonSync = 0x10000
	videoTraf := box("traf",
		box("tfhd", u32s(0x000020, 1, nonSync)), // default-sample-flags present
		box("tfdt", []byte{1, 0, 0, 0}, binary.BigEndian.AppendUint64(nil, 900000)),
		box("trun", u32s(0x000305, 3, 0, 0x02000000, 3000, 500, 3000, 200, 3000, 100)))
	audioTraf := box("traf",
		box("tfhd", u32s(0, 2)),
		box("tfdt", u32s(0, 441000)),
		box("trun", u32s(0x000200, 2, 300, 301)))
	part := append(box("moof", box("mfhd", u32s(0, 1)), videoTraf, audioTraf), box("mdat", make([]byte, 1401))...)
	samples, err := parseMedia(part, tracks, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []mp4Sample{
		{track: 1, dts: 10 * time.Second, size: 500, sync: true, known: true},
		{track: 1, dts: 10*time.Second + 33333333, size: 200, known: true},
		{track: 1, dts: 10*time.Second + 66666666, size: 100, known: true},
		// trex default flags 0: every audio sample is a sync sample.
		{track: 2, dts: 10 * time.Second, size: 300, sync: true, known: true},
		{track: 2, dts: 10*time.Second + 1024*time.Second/44100, size: 301, sync: true, known: true},
	}
	if !slices.Equal(samples, want) {
		t.Errorf("samples:\n got %+v\nwant %+v", samples, want)
	}

	for _, bad := range [][]byte{
		{0, 0, 0, 9, 'm', 'o', 'o', 'f'}, // size beyond the buffer
		box("moof", box("traf", box("tfhd", u32s(0, 1)), box("tfdt", u32s(0, 0)), box("trun", u32s(0x200, 1000)))), // samples missing
	} {
		if _, err := parseMedia(bad, tracks, nil); err == nil {
			t.Errorf("parseMedia(%x) succeeded", bad)
		}
	}
}

func FuzzFMP4(f *testing.F) {
	f.Add(box("moof", box("traf", box("tfhd", u32s(0x20, 1, 0)), box("tfdt", u32s(0, 5)), box("trun", u32s(0x305, 1, 0, 0, 1, 2)))))
	tracks := map[uint32]*mp4Track{1: {timescale: 90000, video: true}}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseMedia(b, tracks, nil)
		_, _ = parseInit(b)
	})
}
