package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// LL-HLS viewer (RFC 8216bis, draft-pantos-hls-rfc8216bis): fetch the
// multivariant playlist, follow its first variant, fetch the init segment,
// start at the newest independent part and then fetch every part once, in
// order, using the preload hint and blocking playlist reloads
// (_HLS_msn/_HLS_part) to learn about the next one as soon as it exists.
// Audio renditions (EXT-X-MEDIA) are not fetched: a viewer's media clock
// and latency come from the variant's own tracks.

const (
	maxPlaylistSize = 1 << 20
	maxPartSize     = 32 << 20
)

// hlsPlaylist is the subset of a playlist the viewer needs.
type hlsPlaylist struct {
	variants       []string // multivariant: EXT-X-STREAM-INF URIs
	media          bool     // has EXT-X-TARGETDURATION
	targetDuration time.Duration
	partTarget     time.Duration // 0: not low-latency
	canBlock       bool
	mapURI         string
	parts          []hlsPart // in order
	segments       []hlsPart // complete segments (idx 0), in order
	hint           *hlsPart  // EXT-X-PRELOAD-HINT TYPE=PART
	endList        bool
}

// hlsPart is a part (or a whole segment) and its position: Media Sequence
// Number and part index within the segment.
type hlsPart struct {
	msn         uint64
	idx         int
	uri         string
	independent bool
	rangeStart  int64 // -1: no byte range
	rangeLen    int64 // -1: to the end
}

func (p hlsPart) after(q hlsPart) bool {
	return p.msn > q.msn || p.msn == q.msn && p.idx > q.idx
}

func parsePlaylist(b []byte) (*hlsPlaylist, error) {
	pl := &hlsPlaylist{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxPlaylistSize)
	first := true
	var msn uint64
	partIdx := 0
	wantVariant := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first {
			if line != "#EXTM3U" {
				return nil, errors.New("not an M3U8 playlist")
			}
			first = false
			continue
		}
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			if wantVariant {
				pl.variants = append(pl.variants, line)
				wantVariant = false
			} else {
				pl.segments = append(pl.segments, hlsPart{msn: msn, uri: line, rangeStart: -1, rangeLen: -1})
				msn++
				partIdx = 0
			}
			continue
		}
		tag, attrs, _ := strings.Cut(line, ":")
		switch tag {
		case "#EXT-X-STREAM-INF":
			wantVariant = true
		case "#EXT-X-TARGETDURATION":
			pl.media = true
			s, err := strconv.ParseFloat(attrs, 64)
			if err != nil {
				return nil, fmt.Errorf("EXT-X-TARGETDURATION: %w", err)
			}
			pl.targetDuration = time.Duration(s * float64(time.Second))
		case "#EXT-X-MEDIA-SEQUENCE":
			n, err := strconv.ParseUint(attrs, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("EXT-X-MEDIA-SEQUENCE: %w", err)
			}
			msn = n
		case "#EXT-X-PART-INF":
			if s, err := strconv.ParseFloat(parseAttrs(attrs)["PART-TARGET"], 64); err == nil {
				pl.partTarget = time.Duration(s * float64(time.Second))
			}
		case "#EXT-X-SERVER-CONTROL":
			pl.canBlock = parseAttrs(attrs)["CAN-BLOCK-RELOAD"] == "YES"
		case "#EXT-X-MAP":
			if pl.mapURI == "" {
				pl.mapURI = parseAttrs(attrs)["URI"]
			}
		case "#EXT-X-PART":
			a := parseAttrs(attrs)
			p := hlsPart{msn: msn, idx: partIdx, uri: a["URI"], independent: a["INDEPENDENT"] == "YES"}
			p.rangeStart, p.rangeLen = parseByteRange(a["BYTERANGE"])
			if p.uri == "" {
				return nil, errors.New("EXT-X-PART without URI")
			}
			if p.rangeStart < 0 && p.rangeLen >= 0 { // range offset continues the previous part's
				if n := len(pl.parts); n > 0 && pl.parts[n-1].rangeStart >= 0 && pl.parts[n-1].uri == p.uri {
					p.rangeStart = pl.parts[n-1].rangeStart + pl.parts[n-1].rangeLen
				} else {
					p.rangeStart = 0
				}
			}
			pl.parts = append(pl.parts, p)
			partIdx++
		case "#EXT-X-PRELOAD-HINT":
			a := parseAttrs(attrs)
			if a["TYPE"] == "PART" && a["URI"] != "" {
				h := hlsPart{msn: msn, idx: partIdx, uri: a["URI"], rangeStart: -1, rangeLen: -1}
				if s, ok := a["BYTERANGE-START"]; ok {
					h.rangeStart, _ = strconv.ParseInt(s, 10, 64)
					h.rangeLen = -1
					if l, ok := a["BYTERANGE-LENGTH"]; ok {
						h.rangeLen, _ = strconv.ParseInt(l, 10, 64)
					}
				}
				pl.hint = &h
			}
		case "#EXT-X-ENDLIST":
			pl.endList = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if first {
		return nil, errors.New("empty playlist")
	}
	return pl, nil
}

// parseAttrs splits an attribute list (RFC 8216 4.2): KEY=VALUE pairs
// separated by commas, where quoted values may contain commas.
func parseAttrs(s string) map[string]string {
	m := map[string]string{}
	for s != "" {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				v, rest = rest[1:], ""
			} else {
				v, rest = rest[1:1+end], rest[2+end:]
			}
			rest = strings.TrimPrefix(rest, ",")
		} else {
			v, rest, _ = strings.Cut(rest, ",")
		}
		m[strings.TrimSpace(k)] = v
		s = rest
	}
	return m
}

// parseByteRange parses "length[@offset]"; -1 marks what is absent.
func parseByteRange(s string) (start, length int64) {
	if s == "" {
		return -1, -1
	}
	l, o, hasOff := strings.Cut(s, "@")
	length, err := strconv.ParseInt(l, 10, 64)
	if err != nil {
		return -1, -1
	}
	if !hasOff {
		return -1, length
	}
	start, err = strconv.ParseInt(o, 10, 64)
	if err != nil {
		return -1, -1
	}
	return start, length
}

// hlsViewer is the state of one LL-HLS viewer.
type hlsViewer struct {
	r       *run
	v       *viewer
	base    *url.URL // media playlist URL
	tracks  map[uint32]*mp4Track
	buf     []byte
	samples []mp4Sample
}

func playLLHLS(ctx context.Context, r *run, v *viewer) error {
	h := &hlsViewer{r: r, v: v}
	u, err := url.Parse(r.url)
	if err != nil {
		return err
	}
	pl, err := h.playlist(ctx, u, connectTimeout)
	if err != nil {
		return err
	}
	if !pl.media {
		if len(pl.variants) == 0 {
			return errors.New("multivariant playlist lists no variant")
		}
		if u, err = u.Parse(pl.variants[0]); err != nil {
			return err
		}
		if pl, err = h.playlist(ctx, u, connectTimeout); err != nil {
			return err
		}
		if !pl.media {
			return errors.New("variant is not a media playlist")
		}
	}
	h.base = u
	v.setConnected(time.Now())

	if pl.mapURI == "" {
		return errors.New("no EXT-X-MAP: only fMP4 playlists are supported")
	}
	initSeg, err := h.fetch(ctx, hlsPart{uri: pl.mapURI, rangeStart: -1, rangeLen: -1}, pl.timeout())
	if err != nil {
		return fmt.Errorf("init segment: %w", err)
	}
	if h.tracks, err = parseInit(initSeg); err != nil {
		return fmt.Errorf("init segment: %w", err)
	}

	units := pl.units()
	if len(units) == 0 && pl.hint == nil {
		return errors.New("playlist lists no parts or segments")
	}
	// Start at the newest independent part, as a player joining at the live
	// edge does; "last" is the position just before it.
	var last hlsPart
	switch start := pl.startIndex(); {
	case start >= 0:
		last = before(units[start])
	case len(units) > 0:
		last = before(units[len(units)-1])
	default:
		last = before(*pl.hint)
	}

	for {
		if len(units) > 0 && units[0].msn > last.msn+1 {
			// We fell a whole segment behind the playlist window: rejoin
			// at the live edge (the lag shows as a stall).
			last = before(units[max(pl.startIndex(), 0)])
		}
		for _, p := range units {
			if !p.after(last) {
				continue
			}
			if err := h.media(ctx, p, pl.timeout()); err != nil {
				return err
			}
			last = p
		}
		if pl.endList {
			return errServerClosed
		}
		if pl.hint != nil && pl.hint.after(last) {
			if err := h.media(ctx, *pl.hint, pl.timeout()); err != nil {
				return err
			}
			last = *pl.hint
		}

		// Reload: blocking for the part after "last" when the server can,
		// else poll at half a part (or segment) target.
		next := *h.base
		if pl.canBlock && pl.partTarget > 0 {
			q := next.Query()
			q.Set("_HLS_msn", strconv.FormatUint(last.msn, 10))
			q.Set("_HLS_part", strconv.Itoa(last.idx+1))
			next.RawQuery = q.Encode()
		} else if err := sleep(ctx, cmp.Or(pl.partTarget, pl.targetDuration)/2); err != nil {
			return err
		}
		if pl, err = h.playlist(ctx, &next, pl.timeout()); err != nil {
			return err
		}
		units = pl.units()
	}
}

// units are what the viewer downloads: parts when the playlist is
// low-latency, whole segments otherwise.
func (pl *hlsPlaylist) units() []hlsPart {
	if pl.partTarget > 0 {
		return pl.parts
	}
	return pl.segments
}

// startIndex is the index in units of the newest independent part, or of the
// last segment; -1 when there is none.
func (pl *hlsPlaylist) startIndex() int {
	if pl.partTarget <= 0 {
		return len(pl.segments) - 1
	}
	for i := len(pl.parts) - 1; i >= 0; i-- {
		if pl.parts[i].independent {
			return i
		}
	}
	return -1
}

// timeout bounds one request: a blocking reload or a hinted part may be held
// for a while by design (RFC 8216bis 6.2.5.2 allows up to 3 target durations).
func (pl *hlsPlaylist) timeout() time.Duration {
	return 3*max(pl.targetDuration, time.Second) + connectTimeout
}

// before returns a position just before p (p is the next one wanted).
func before(p hlsPart) hlsPart {
	if p.idx > 0 {
		return hlsPart{msn: p.msn, idx: p.idx - 1}
	}
	if p.msn == 0 {
		return hlsPart{idx: -1}
	}
	return hlsPart{msn: p.msn - 1, idx: 1 << 30}
}

func (h *hlsViewer) playlist(ctx context.Context, u *url.URL, timeout time.Duration) (*hlsPlaylist, error) {
	resp, err := get(ctx, h.r.http, u.String(), timeout)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPlaylistSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPlaylistSize {
		return nil, errors.New("playlist too large")
	}
	return parsePlaylist(b)
}

// fetch downloads a part, segment or init segment into h.buf, counting its
// bytes as they arrive.
func (h *hlsViewer) fetch(ctx context.Context, p hlsPart, timeout time.Duration) ([]byte, error) {
	u, err := h.base.Parse(p.uri)
	if err != nil {
		return nil, err
	}
	req, err := newRangeRequest(u.String(), p.rangeStart, p.rangeLen)
	if err != nil {
		return nil, err
	}
	resp, err := do(ctx, h.r.http, req, timeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.uri, err)
	}
	defer resp.Body.Close()
	h.buf = h.buf[:0]
	for {
		if len(h.buf) == cap(h.buf) {
			if len(h.buf) >= maxPartSize {
				return nil, fmt.Errorf("%s: larger than %d bytes", p.uri, maxPartSize)
			}
			h.buf = append(h.buf, make([]byte, max(64<<10, len(h.buf)))...)[:len(h.buf)]
		}
		n, err := resp.Body.Read(h.buf[len(h.buf):cap(h.buf)])
		h.buf = h.buf[:len(h.buf)+n]
		h.v.addBytes(time.Now(), int64(n))
		if errors.Is(err, io.EOF) {
			return h.buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.uri, err)
		}
	}
}

// media downloads one part or segment and reports its samples, all at the
// moment the download completed (a player cannot use a part before that).
func (h *hlsViewer) media(ctx context.Context, p hlsPart, timeout time.Duration) error {
	b, err := h.fetch(ctx, p, timeout)
	if err != nil {
		return err
	}
	h.samples, err = parseMedia(b, h.tracks, h.samples[:0])
	if err != nil {
		return fmt.Errorf("%s: %w", p.uri, err)
	}
	now := time.Now()
	firstVideo := true
	for _, s := range h.samples {
		t := h.tracks[s.track]
		if !t.video && !t.audio {
			continue
		}
		key := t.video && (s.sync || !s.known && firstVideo && p.independent)
		if t.video {
			firstVideo = false
		}
		h.v.frame(now, frameInfo{TS: s.dts, Video: t.video, Key: key, Size: s.size})
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
