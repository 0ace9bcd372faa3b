package llhls

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// edge is what the server knows about the live edge of one muxer, read from
// the leading media playlist that gohlslib generates (see instance.watch).
// Requests are held against it instead of inside gohlslib, whose waits
// ignore the request context.
type edge struct {
	ready        bool          // the first segment exists: playlists can be served
	prefix       string        // gohlslib's random per-muxer file name prefix
	nextMSN      int64         // media sequence number of the segment being built
	partsInNext  int           // complete parts of segment nextMSN
	lastSegParts int           // parts of segment nextMSN-1 (0 if not listed)
	nextPartID   int64         // part being built (the EXT-X-PRELOAD-HINT); parts below it are complete
	target       time.Duration // EXT-X-TARGETDURATION
	partTarget   time.Duration // PART-TARGET
}

// parseEdge reads an LL-HLS media playlist produced by gohlslib.
func parseEdge(b []byte) (edge, error) {
	var pl playlist.Media
	if err := pl.Unmarshal(b); err != nil {
		return edge{}, fmt.Errorf("parse media playlist: %w", err)
	}
	if pl.PreloadHint == nil {
		return edge{}, errors.New("media playlist without EXT-X-PRELOAD-HINT")
	}
	prefix, id, ok := parsePartName(stripQuery(pl.PreloadHint.URI))
	if !ok {
		return edge{}, fmt.Errorf("unexpected preload hint URI %q", pl.PreloadHint.URI)
	}
	e := edge{
		ready:       true,
		prefix:      prefix,
		nextMSN:     int64(pl.MediaSequence) + int64(len(pl.Segments)),
		partsInNext: len(pl.Parts),
		nextPartID:  id,
		target:      time.Duration(pl.TargetDuration) * time.Second,
	}
	if n := len(pl.Segments); n > 0 {
		e.lastSegParts = len(pl.Segments[n-1].Parts)
	}
	if pl.PartInf != nil {
		e.partTarget = pl.PartInf.PartTarget
	}
	return e, nil
}

func stripQuery(uri string) string {
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		return uri[:i]
	}
	return uri
}

// parsePartName splits a gohlslib part file name, PREFIX_STREAM_partN.mp4.
func parsePartName(file string) (prefix string, id int64, ok bool) {
	base, found := strings.CutSuffix(file, ".mp4")
	if !found {
		return "", 0, false
	}
	i := strings.LastIndex(base, "_part")
	j := strings.IndexByte(base, '_')
	if i <= 0 || j <= 0 || j >= i {
		return "", 0, false
	}
	digits := base[i+len("_part"):]
	if digits == "" || len(digits) > maxDirectiveDigits {
		return "", 0, false
	}
	for k := 0; k < len(digits); k++ {
		if digits[k] < '0' || digits[k] > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return base[:j], n, true
}

// advancePartLimit is RFC 8216bis §6.2.5.2's Advance Part Limit: 3 divided
// by the part target in seconds when that is below one second, else 3.
func advancePartLimit(partTarget time.Duration) int64 {
	if partTarget <= 0 || partTarget >= time.Second {
		return 3
	}
	return int64((3*time.Second + partTarget - 1) / partTarget)
}

// tooFarAhead reports whether a blocking request asks for a segment or part
// so far beyond the live edge that RFC 8216bis §6.2.5.2 says to answer 400 at
// once. "The last Media Segment in the current Playlist" is read as the one
// being built (nextMSN): one segment more lenient than gohlslib, which
// absorbs the short lag between gohlslib's state and e.
func (e edge) tooFarAhead(msn, part int64, hasPart bool) bool {
	if msn > e.nextMSN+2 {
		return true
	}
	if !hasPart {
		return false
	}
	limit := advancePartLimit(e.partTarget)
	switch {
	case msn == e.nextMSN:
		return part-int64(e.partsInNext-1) > limit
	case msn > e.nextMSN:
		return part > limit
	}
	return false
}

// has reports whether a playlist generated now satisfies the delivery
// directives (RFC 8216bis §6.2.5.2): with _HLS_part, part N of segment M
// exists (an N past the last part of a complete segment M means part 0 of
// M+1); without it, segment M is complete.
func (e edge) has(msn, part int64, hasPart bool) bool {
	if !hasPart {
		return msn < e.nextMSN
	}
	switch {
	case msn < e.nextMSN-1:
		return true
	case msn == e.nextMSN-1:
		return part < int64(e.lastSegParts) || e.partsInNext > 0
	case msn == e.nextMSN:
		return part < int64(e.partsInNext)
	}
	return false
}

// blockTimeout caps how long a blocking request is held: about three target
// durations, after which a client should give up anyway (RFC 8216bis
// §6.2.5.2).
func (e edge) blockTimeout() time.Duration {
	t := e.target
	if t < time.Second {
		t = time.Second
	}
	return 3 * t
}
