package bench

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/huabian-live/huabian/internal/codec/flv"
	"github.com/huabian-live/huabian/internal/media"
)

// fixtureFLV is the built-in stream that Publish loops: 10 s of H.264 720p30
// (2.5 Mbit/s, GOP 1 s, no B-frames) and AAC 44.1 kHz stereo. It is made by
// the command in testdata/README.md.
//
//go:embed testdata/source.flv
var fixtureFLV []byte

// fixture is a parsed FLV file ready to be published in a loop.
type fixture struct {
	sps, pps []byte
	asc      *mpeg4audio.AudioSpecificConfig // nil: no audio
	tags     []fixtureTag                    // media frames in file order
	period   time.Duration                   // loop length
	bytes    int                             // payload bytes of one loop
}

type fixtureTag struct {
	video bool
	key   bool
	dts   time.Duration // from the file's first frame
	cts   time.Duration // PTS − DTS (video)
	nalus [][]byte      // video access unit
	au    []byte        // AAC access unit
	size  int           // AVCC bytes (video) or AU bytes (audio)
}

// at returns the i-th frame of the endless loop and its DTS: loop n adds
// n·period, so timestamps keep increasing on every track.
func (f *fixture) at(i int) (fixtureTag, time.Duration) {
	t := f.tags[i%len(f.tags)]
	return t, t.dts + time.Duration(i/len(f.tags))*f.period
}

// loadFixture parses an FLV file with H.264 video and, optionally, AAC audio.
func loadFixture(data []byte) (*fixture, error) {
	r := flv.NewReader(bytes.NewReader(data))
	if _, err := r.ReadHeader(); err != nil {
		return nil, err
	}
	f := &fixture{}
	first := map[bool]time.Duration{}
	last := map[bool][2]time.Duration{} // per track: previous and last DTS
	seen := map[bool]int{}
	for {
		tag, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		t := fixtureTag{dts: time.Duration(tag.Timestamp) * time.Millisecond}
		var frame bool
		switch tag.Type {
		case flv.TagVideo:
			t.video = true
			frame, err = f.parseVideo(tag.Data, &t)
		case flv.TagAudio:
			frame, err = f.parseAudio(tag.Data, &t)
		}
		if err != nil {
			return nil, fmt.Errorf("tag at %v: %w", t.dts, err)
		}
		if !frame {
			continue
		}
		f.tags = append(f.tags, t)
		if seen[t.video] == 0 {
			first[t.video] = t.dts
		}
		seen[t.video]++
		last[t.video] = [2]time.Duration{last[t.video][1], t.dts}
		f.bytes += t.size
	}
	if f.sps == nil || seen[true] == 0 {
		return nil, errors.New("fixture has no H.264 video")
	}

	// Rebase to the first frame; the loop period is where each track's next
	// frame would have been, so no track ever repeats or reverses a DTS.
	base := first[true]
	if seen[false] > 0 {
		base = min(base, first[false])
	}
	for i := range f.tags {
		f.tags[i].dts -= base
	}
	for video, n := range seen {
		end := last[video][1] - base
		if n > 1 {
			end += last[video][1] - last[video][0]
		}
		f.period = max(f.period, end)
	}
	if f.period <= 0 {
		return nil, errors.New("fixture is too short to loop")
	}
	return f, nil
}

// parseVideo takes an H.264 frame or sequence header; the body is copied
// (the reader reuses its buffer).
func (f *fixture) parseVideo(body []byte, t *fixtureTag) (frame bool, err error) {
	p, err := flv.ParseVideo(body)
	if errors.Is(err, flv.ErrIgnorable) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if p.Codec != media.CodecH264 {
		return false, fmt.Errorf("fixture video is %s, want h264", p.Codec)
	}
	switch {
	case p.SequenceHeader:
		if f.sps == nil {
			sps, pps, err := flv.ParseAVCConfig(p.Data)
			if err != nil {
				return false, err
			}
			f.sps, f.pps = bytes.Clone(sps), bytes.Clone(pps)
		}
		return false, nil
	case p.SequenceEnd:
		return false, nil
	}
	if f.sps == nil {
		return false, errors.New("video frame before the AVC sequence header")
	}
	nalus, err := flv.SplitAVCC(bytes.Clone(p.Data))
	if err != nil {
		return false, err
	}
	t.key = p.Key
	t.cts = time.Duration(p.CompositionTime) * time.Millisecond
	t.nalus = nalus
	t.size = len(p.Data)
	return true, nil
}

// parseAudio takes an AAC frame or AudioSpecificConfig; the body is copied.
func (f *fixture) parseAudio(body []byte, t *fixtureTag) (frame bool, err error) {
	p, err := flv.ParseAudio(body)
	if errors.Is(err, flv.ErrIgnorable) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if p.Codec != media.CodecAAC {
		return false, fmt.Errorf("fixture audio is %s, want aac", p.Codec)
	}
	if p.SequenceHeader {
		if f.asc == nil {
			var c mpeg4audio.AudioSpecificConfig
			if err := c.Unmarshal(p.Data); err != nil {
				return false, fmt.Errorf("AudioSpecificConfig: %w", err)
			}
			f.asc = &c
		}
		return false, nil
	}
	if f.asc == nil {
		return false, errors.New("audio frame before the AAC sequence header")
	}
	t.au = bytes.Clone(p.Data)
	t.size = len(t.au)
	return len(t.au) > 0, nil
}
