package srt

import (
	"errors"
	"fmt"
	"strings"
)

// mode is what a caller asks to do with a stream.
type mode uint8

const (
	modePublish mode = iota + 1 // send media: the resource is a stream key
	modeRead                    // receive media: the resource is a channel name
)

func (m mode) String() string {
	switch m {
	case modePublish:
		return "publish"
	case modeRead:
		return "read"
	default:
		return "none"
	}
}

// maxResource bounds a stream key or channel name taken from a streamid.
const maxResource = 256

// errStreamID is wrapped by every parse error.
var errStreamID = errors.New("bad streamid")

// parseStreamID reads what a caller asks for from its SRT streamid. Two
// forms are understood:
//
//   - "publish:KEY" and "read:NAME" (our documented URLs);
//   - the SRT access-control syntax "#!::r=RESOURCE,m=MODE" (see
//     https://github.com/Haivision/srt/blob/master/docs/features/access-control.md),
//     where m is "publish" or "request" (the default; read), "u" and "s"
//     are ignored and "t" must be "stream" if given.
//
// The resource must be 1..256 printable ASCII characters without spaces,
// slashes, commas, equals signs, colons or quotes. Errors never repeat the
// resource (it may be a stream key).
func parseStreamID(sid string) (mode, string, error) {
	if rest, ok := strings.CutPrefix(sid, "#!::"); ok {
		return parseAccessControl(rest)
	}
	verb, res, ok := strings.Cut(sid, ":")
	if !ok {
		return 0, "", fmt.Errorf("%w: want publish:KEY or read:NAME", errStreamID)
	}
	var m mode
	switch verb {
	case "publish":
		m = modePublish
	case "read":
		m = modeRead
	default:
		return 0, "", fmt.Errorf("%w: unknown mode (want publish:KEY or read:NAME)", errStreamID)
	}
	if err := checkResource(res); err != nil {
		return 0, "", err
	}
	return m, res, nil
}

func parseAccessControl(s string) (mode, string, error) {
	m := modeRead
	var res string
	haveRes := false
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return 0, "", fmt.Errorf("%w: access-control entry without '='", errStreamID)
		}
		switch k {
		case "r":
			if haveRes {
				return 0, "", fmt.Errorf("%w: r given twice", errStreamID)
			}
			res, haveRes = v, true
		case "m":
			switch v {
			case "publish":
				m = modePublish
			case "request":
				m = modeRead
			default:
				return 0, "", fmt.Errorf("%w: mode m=%q not supported (want publish or request)", errStreamID, clip(v, 16))
			}
		case "t":
			if v != "stream" {
				return 0, "", fmt.Errorf("%w: type t=%q not supported", errStreamID, clip(v, 16))
			}
		case "u", "s", "h":
			// user, session and host name: nothing to do with them.
		default:
			return 0, "", fmt.Errorf("%w: unknown access-control key", errStreamID)
		}
	}
	if !haveRes {
		return 0, "", fmt.Errorf("%w: no resource (r=)", errStreamID)
	}
	if err := checkResource(res); err != nil {
		return 0, "", err
	}
	return m, res, nil
}

func checkResource(r string) error {
	if r == "" {
		return fmt.Errorf("%w: empty key or channel name", errStreamID)
	}
	if len(r) > maxResource {
		return fmt.Errorf("%w: key or channel name longer than %d bytes", errStreamID, maxResource)
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`/\,=:"'`, c) >= 0 {
			return fmt.Errorf("%w: invalid character in key or channel name", errStreamID)
		}
	}
	return nil
}

// clip shortens s for an error message and keeps it printable.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
