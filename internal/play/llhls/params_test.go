package llhls

import (
	"errors"
	"net/url"
	"strconv"
	"testing"
)

var blockingParamCases = []struct {
	name            string
	query           string
	msn, part       int64
	hasMSN, hasPart bool
	wantErr         bool
}{
	{"none", "", 0, 0, false, false, false},
	{"other params only", "hbs=0123456789abcdef&_HLS_skip=YES", 0, 0, false, false, false},
	{"msn", "_HLS_msn=12", 12, 0, true, false, false},
	{"msn zero", "_HLS_msn=0", 0, 0, true, false, false},
	{"msn and part", "_HLS_msn=12&_HLS_part=3", 12, 3, true, true, false},
	{"leading zeros", "_HLS_msn=007&_HLS_part=00", 7, 0, true, true, false},
	{"18 digits", "_HLS_msn=999999999999999999", 999999999999999999, 0, true, false, false},
	{"19 digits", "_HLS_msn=1000000000000000000", 0, 0, false, false, true},
	{"overflow", "_HLS_msn=99999999999999999999999", 0, 0, false, false, true},
	{"part without msn", "_HLS_part=1", 0, 0, false, false, true},
	{"negative msn", "_HLS_msn=-1", 0, 0, false, false, true},
	{"negative part", "_HLS_msn=1&_HLS_part=-1", 0, 0, false, false, true},
	{"plus sign", "_HLS_msn=%2B5", 0, 0, false, false, true},
	{"non-numeric", "_HLS_msn=abc", 0, 0, false, false, true},
	{"decimal", "_HLS_msn=1.0", 0, 0, false, false, true},
	{"exponent", "_HLS_msn=1e3", 0, 0, false, false, true},
	{"hex", "_HLS_msn=0x10", 0, 0, false, false, true},
	{"space", "_HLS_msn=%201", 0, 0, false, false, true},
	{"empty msn", "_HLS_msn=", 0, 0, false, false, true},
	{"bare msn", "_HLS_msn", 0, 0, false, false, true},
	{"empty part", "_HLS_msn=1&_HLS_part=", 0, 0, false, false, true},
	{"repeated msn", "_HLS_msn=1&_HLS_msn=1", 0, 0, false, false, true},
	{"repeated part", "_HLS_msn=1&_HLS_part=1&_HLS_part=2", 0, 0, false, false, true},
	{"unicode digits", "_HLS_msn=%D9%A1", 0, 0, false, false, true},
}

func TestParseBlockingParams(t *testing.T) {
	for _, tc := range blockingParamCases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			msn, part, hasMSN, hasPart, err := ParseBlockingParams(q)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBadDirective) {
				t.Errorf("err %v does not wrap ErrBadDirective", err)
			}
			if msn != tc.msn || part != tc.part || hasMSN != tc.hasMSN || hasPart != tc.hasPart {
				t.Errorf("got %d, %d, %v, %v; want %d, %d, %v, %v",
					msn, part, hasMSN, hasPart, tc.msn, tc.part, tc.hasMSN, tc.hasPart)
			}
		})
	}
}

// FuzzParseBlockingParams checks the parser on arbitrary query strings: it
// never panics, accepted values are canonical non-negative integers that
// round-trip, and rejected input yields only zero values.
func FuzzParseBlockingParams(f *testing.F) {
	for _, tc := range blockingParamCases {
		f.Add(tc.query)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		msn, part, hasMSN, hasPart, err := ParseBlockingParams(q)
		if err != nil {
			if !errors.Is(err, ErrBadDirective) {
				t.Fatalf("error %v does not wrap ErrBadDirective", err)
			}
			if msn != 0 || part != 0 || hasMSN || hasPart {
				t.Fatalf("non-zero results with error: %d %d %v %v", msn, part, hasMSN, hasPart)
			}
			return
		}
		if hasPart && !hasMSN {
			t.Fatal("part accepted without msn")
		}
		if msn < 0 || part < 0 {
			t.Fatalf("negative result %d %d", msn, part)
		}
		if !hasMSN && msn != 0 || !hasPart && part != 0 {
			t.Fatalf("value without flag: %d %d %v %v", msn, part, hasMSN, hasPart)
		}
		// Accepted values agree with strconv on the raw text.
		if hasMSN {
			if v, err := strconv.ParseUint(q.Get(paramMSN), 10, 63); err != nil || int64(v) != msn {
				t.Fatalf("msn %d from %q", msn, q.Get(paramMSN))
			}
		}
		// Round trip through the canonical form.
		rt := url.Values{}
		if hasMSN {
			rt.Set(paramMSN, strconv.FormatInt(msn, 10))
		}
		if hasPart {
			rt.Set(paramPart, strconv.FormatInt(part, 10))
		}
		msn2, part2, hasMSN2, hasPart2, err := ParseBlockingParams(rt)
		if err != nil || msn2 != msn || part2 != part || hasMSN2 != hasMSN || hasPart2 != hasPart {
			t.Fatalf("round trip of %q: %d %d %v %v %v", raw, msn2, part2, hasMSN2, hasPart2, err)
		}
	})
}
