package srt

import (
	"strings"
	"testing"
)

var streamIDCases = []struct {
	name, sid string
	mode      mode
	res       string
	ok        bool
}{
	{"publish", "publish:sk_abc", modePublish, "sk_abc", true},
	{"read", "read:demo", modeRead, "demo", true},
	{"access control publish", "#!::r=sk_abc,m=publish", modePublish, "sk_abc", true},
	{"access control default is read", "#!::r=demo", modeRead, "demo", true},
	{"access control request", "#!::m=request,r=demo,u=alice,s=1234,t=stream", modeRead, "demo", true},
	{"empty", "", 0, "", false},
	{"no mode", "sk_abc", 0, "", false},
	{"unknown mode", "play:demo", 0, "", false},
	{"empty resource", "publish:", 0, "", false},
	{"slash", "publish:live/sk_abc", 0, "", false},
	{"space", "read:de mo", 0, "", false},
	{"control char", "read:de\x00mo", 0, "", false},
	{"non-ASCII", "read:花辨", 0, "", false},
	{"second colon", "read:a:b", 0, "", false},
	{"too long", "read:" + strings.Repeat("a", maxResource+1), 0, "", false},
	{"longest", "read:" + strings.Repeat("a", maxResource), modeRead, strings.Repeat("a", maxResource), true},
	{"access control no resource", "#!::m=publish", 0, "", false},
	{"access control twice", "#!::r=a,r=b", 0, "", false},
	{"access control bidirectional", "#!::r=a,m=bidirectional", 0, "", false},
	{"access control file", "#!::r=a,t=file", 0, "", false},
	{"access control unknown key", "#!::r=a,x=1", 0, "", false},
	{"access control no equals", "#!::r=a,publish", 0, "", false},
	{"access control empty", "#!::", 0, "", false},
}

func TestParseStreamID(t *testing.T) {
	for _, tc := range streamIDCases {
		t.Run(tc.name, func(t *testing.T) {
			m, res, err := parseStreamID(tc.sid)
			if (err == nil) != tc.ok {
				t.Fatalf("parseStreamID(%q) error %v, want ok=%v", tc.sid, err, tc.ok)
			}
			if m != tc.mode || res != tc.res {
				t.Errorf("parseStreamID(%q) = %v %q, want %v %q", tc.sid, m, res, tc.mode, tc.res)
			}
			if err != nil && strings.Contains(err.Error(), "sk_abc") {
				t.Errorf("error %q repeats the key", err)
			}
		})
	}
}

func FuzzParseStreamID(f *testing.F) {
	for _, tc := range streamIDCases {
		f.Add(tc.sid)
	}
	f.Fuzz(func(t *testing.T, sid string) {
		m, res, err := parseStreamID(sid)
		if err != nil {
			if m != 0 || res != "" {
				t.Fatalf("error with a result: %v %q", m, res)
			}
			if res != "" && strings.Contains(err.Error(), res) {
				t.Fatalf("error %q repeats the resource", err)
			}
			return
		}
		if m != modePublish && m != modeRead {
			t.Fatalf("mode %v", m)
		}
		if checkResource(res) != nil || !strings.Contains(sid, res) {
			t.Fatalf("resource %q from %q", res, sid)
		}
		// The canonical form parses to the same thing.
		m2, res2, err := parseStreamID(m.String() + ":" + res)
		if err != nil || m2 != m || res2 != res {
			t.Fatalf("canonical form of %q: %v %q %v", sid, m2, res2, err)
		}
	})
}
