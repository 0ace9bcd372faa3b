package llhls

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
)

// Query parameters of LL-HLS delivery directives (RFC 8216bis §6.2.5).
const (
	paramMSN  = "_HLS_msn"
	paramPart = "_HLS_part"
)

// maxDirectiveDigits bounds _HLS_msn and _HLS_part to 18 decimal digits, so
// the value fits an int64 and msn+small constants cannot overflow.
const maxDirectiveDigits = 18

// ErrBadDirective is wrapped by every error ParseBlockingParams returns; the
// handler answers it with 400 Bad Request (RFC 8216bis §6.2.5.2).
var ErrBadDirective = errors.New("invalid LL-HLS delivery directive")

// ParseBlockingParams validates the blocking-reload directives of a media
// playlist request: _HLS_msn=<M> and _HLS_part=<N> must each appear at most
// once, as non-negative decimal integers (digits only: no sign, no spaces,
// no exponent), and _HLS_part requires _HLS_msn. It is pure: whether M is too
// far ahead of the live edge is the caller's business. On error every other
// result is zero.
func ParseBlockingParams(q url.Values) (msn, part int64, hasMSN, hasPart bool, err error) {
	msnVals, hasMSN := q[paramMSN]
	partVals, hasPart := q[paramPart]
	if hasPart && !hasMSN {
		return 0, 0, false, false, fmt.Errorf("%w: %s without %s", ErrBadDirective, paramPart, paramMSN)
	}
	if hasMSN {
		if msn, err = parseDirective(paramMSN, msnVals); err != nil {
			return 0, 0, false, false, err
		}
	}
	if hasPart {
		if part, err = parseDirective(paramPart, partVals); err != nil {
			return 0, 0, false, false, err
		}
	}
	return msn, part, hasMSN, hasPart, nil
}

func parseDirective(name string, vals []string) (int64, error) {
	if len(vals) != 1 {
		return 0, fmt.Errorf("%w: %s given %d times", ErrBadDirective, name, len(vals))
	}
	v := vals[0]
	if v == "" || len(v) > maxDirectiveDigits {
		return 0, fmt.Errorf("%w: %s must be 1 to %d digits", ErrBadDirective, name, maxDirectiveDigits)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("%w: %s is not a non-negative integer", ErrBadDirective, name)
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil { // unreachable with at most 18 digits; kept for safety
		return 0, fmt.Errorf("%w: %s: %v", ErrBadDirective, name, err)
	}
	return n, nil
}
