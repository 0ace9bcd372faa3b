package chat

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzDecodeClientFrame: decoding never panics, accepts only "send" frames
// within the size limit, and normalising the accepted text always yields
// valid, NFC, control-free text of at most MaxTextChars characters.
func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","text":"hello"}`,
		`{"type":"send","text":"<b>x</b>\u0000\n"}`,
		`{"type":"send","text":"e\u0301e\u0301"}`,
		`{"type":"send"}`,
		`{"type":"shout","text":"x"}`,
		`{"type":"send","text":"x","extra":true}`,
		`{"type":"send","text":"x"} {}`,
		`null`,
		`[]`,
		`{"type":"send","text":"\ud800"}`,
		"{\"type\":\"send\",\"text\":\"\xff\xfe\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeClientFrame(data)
		if err != nil {
			return
		}
		if fr.Type != "send" || len(data) > maxFrameBytes {
			t.Fatalf("accepted %q as %+v", data, fr)
		}
		// Re-encoding what was decoded decodes to the same frame.
		again, err := json.Marshal(fr)
		if err != nil {
			t.Fatal(err)
		}
		if fr2, err := decodeClientFrame(again); err == nil && fr2 != fr {
			t.Fatalf("round trip %+v != %+v", fr2, fr)
		}
		text, code := normaliseText(fr.Text)
		if code != "" {
			if text != "" {
				t.Fatalf("refused with %s but returned %q", code, text)
			}
			return
		}
		if text == "" || !utf8.ValidString(text) || !norm.NFC.IsNormalString(text) ||
			utf8.RuneCountInString(text) > MaxTextChars || strings.IndexFunc(text, unicode.IsControl) >= 0 {
			t.Fatalf("normalised %q to %q", fr.Text, text)
		}
	})
}
