package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	"github.com/pion/rtp/codecs"
)

// Stamps whose nanoseconds hold 00 00 0x runs need emulation prevention.
var stampTimes = []time.Time{
	time.Unix(0, 1_764_000_000_123_456_789),
	time.Unix(0, 0x0000_0001_0000_0003),
	time.Unix(0, 0x0100_0000_0000_0000),
}

func testAU(t time.Time) [][]byte {
	return stampAU([][]byte{
		{0x67, 0x42, 0x00, 0x1f}, // SPS
		{0x68, 0xce, 0x3c, 0x80}, // PPS
		append([]byte{0x65, 0x88}, bytes.Repeat([]byte{0x11, 0x00, 0x22, 0x42}, 600)...), // IDR slice
	}, t)
}

func collect(b []byte) []time.Time {
	var out []time.Time
	findStamps(b, func(t time.Time) { out = append(out, t) })
	return out
}

func TestStampNALU(t *testing.T) {
	for _, want := range stampTimes {
		n := stampNALU(want)
		if n[0] != 0x06 {
			t.Fatalf("NAL header %#x, want SEI", n[0])
		}
		// No start-code emulation inside the NAL unit.
		for i := 0; i+2 < len(n); i++ {
			if n[i] == 0 && n[i+1] == 0 && n[i+2] <= 2 {
				t.Fatalf("%v: unescaped 00 00 %02x at %d in % x", want, n[i+2], i, n)
			}
		}
		if got := collect(n); len(got) != 1 || !got[0].Equal(want) {
			t.Errorf("%v: found %v", want, got)
		}
	}
}

func TestStampAUOrder(t *testing.T) {
	au := testAU(stampTimes[0])
	var types []byte
	for _, n := range au {
		types = append(types, n[0]&0x1f)
	}
	if !bytes.Equal(types, []byte{7, 8, 6, 5}) {
		t.Errorf("NAL unit types %v, want SPS PPS SEI IDR", types)
	}
	if len(collect(bytes.Repeat([]byte{0x68, 0x75, 0x61}, 50))) != 0 {
		t.Error("found a stamp in unrelated bytes")
	}
}

// The stamp must survive every framing the players read: AVCC (FLV, RTMP,
// fMP4 samples), Annex-B in MPEG-TS (SRT), an fMP4 part (LL-HLS) and RTP
// packetisation (WHEP).
func TestStampRoundTrip(t *testing.T) {
	for _, want := range stampTimes {
		au := testAU(want)

		avcc, err := h264.AVCC(au).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if got := collect(avcc); len(got) != 1 || !got[0].Equal(want) {
			t.Errorf("AVCC: %v", got)
		}

		var ts bytes.Buffer
		track := &mpegts.Track{Codec: &mpegts.CodecH264{}}
		w := &mpegts.Writer{W: &ts, Tracks: []*mpegts.Track{track}}
		if err := w.Initialize(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 { // the reader returns an AU once the next one starts
			if err := w.WriteH264(track, int64(i)*3000, int64(i)*3000, testAU(want)); err != nil {
				t.Fatal(err)
			}
		}
		r := &mpegts.Reader{R: &ts}
		if err := r.Initialize(); err != nil {
			t.Fatal(err)
		}
		r.OnDecodeError(func(err error) { t.Log(err) })
		var fromTS []time.Time
		r.OnDataH264(r.Tracks()[0], func(_, _ int64, au [][]byte) error {
			for _, n := range au {
				fromTS = append(fromTS, collect(n)...)
			}
			return nil
		})
		for range 100 {
			if r.Read() != nil { // io.EOF once the buffer is read
				break
			}
		}
		if len(fromTS) < 2 || !fromTS[0].Equal(want) {
			t.Errorf("MPEG-TS: %v", fromTS)
		}

		s, err := fmp4.NewSampleH264(0, au)
		if err != nil {
			t.Fatal(err)
		}
		var part seekablebuffer.Buffer
		if err := (fmp4.Part{Tracks: []*fmp4.PartTrack{{ID: 1, Samples: []*fmp4.Sample{s}}}}).Marshal(&part); err != nil {
			t.Fatal(err)
		}
		if got := collect(part.Bytes()); len(got) != 1 || !got[0].Equal(want) {
			t.Errorf("fMP4: %v", got)
		}

		annexB, err := h264.AnnexB(au).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		var fromRTP []time.Time
		for _, p := range (&codecs.H264Payloader{}).Payload(1200, annexB) {
			fromRTP = append(fromRTP, collect(p)...)
		}
		if len(fromRTP) != 1 || !fromRTP[0].Equal(want) {
			t.Errorf("RTP: %v", fromRTP)
		}
	}
}

// An in-process RTMP relay (server_test.go) stands in for the server: RTMP
// in, RTMP and LL-HLS (gohlslib) out.
func TestE2ELatencyRelay(t *testing.T) {
	t.Parallel()
	for _, hls := range []bool{false, true} {
		// One relay per run: its HLS muxer takes one publish session.
		relay := newRTMPRelay(t, hls)
		play := relay.url("test")
		if hls {
			play = relay.hlsServer(t).URL + "/live/test/index.m3u8"
		}
		var out bytes.Buffer
		rep, err := E2ELatency(t.Context(), E2ELatencyOptions{
			Publish:  relay.url("test"),
			Play:     play,
			Duration: 3 * time.Second,
			Warmup:   1500 * time.Millisecond,
		}, &out)
		t.Logf("%s", out.String())
		if err != nil {
			t.Fatalf("%s: %v", play, err)
		}
		if rep.Latency.Count < 30 || rep.Unstamped > 1 || rep.FirstFrame <= 0 {
			t.Errorf("%s: %+v", play, rep)
		}
		if rep.Latency.P50 < 0 || rep.Latency.Max > 3*time.Second {
			t.Errorf("%s: implausible latency %+v", play, rep.Latency)
		}
	}
}

func TestE2ELatencyBadURLs(t *testing.T) {
	for _, o := range []E2ELatencyOptions{
		{Publish: "http://127.0.0.1/x", Play: "rtmp://127.0.0.1/live/x"},
		{Publish: "srt://127.0.0.1:9000?streamid=read:x", Play: "rtmp://127.0.0.1/live/x"},
		{Publish: "rtmp://127.0.0.1/live/k", Play: "srt://127.0.0.1:9000?streamid=publish:x"},
		{Publish: "rtmp://127.0.0.1/live/k", Play: "http://127.0.0.1/live/x.mp4"},
	} {
		o.Duration = time.Second
		var out strings.Builder
		if _, err := E2ELatency(t.Context(), o, &out); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
