package channel

import (
	"bytes"
	"encoding/base32"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	const n = 2000
	seen := make(map[StreamKey]bool, n)
	var ones, bits int
	for range n {
		k := GenerateKey()
		s := string(k)
		if len(s) != 35 || !strings.HasPrefix(s, "sk_") {
			t.Fatalf("key %q: want sk_ and 32 characters", s)
		}
		if !wellFormed(s) {
			t.Fatalf("key %q is not well formed", s)
		}
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(s[3:]))
		if err != nil || len(raw) != 20 {
			t.Fatalf("key %q: decode %d bytes, %v; want 20", s, len(raw), err)
		}
		for _, b := range raw {
			for i := range 8 {
				ones += int(b >> i & 1)
			}
		}
		bits += 8 * len(raw)
		if seen[k] {
			t.Fatalf("duplicate key after %d", len(seen))
		}
		seen[k] = true
	}
	// 320000 fair bits: the share of ones is 0.5 ± 0.0009 (1σ).
	if share := float64(ones) / float64(bits); share < 0.49 || share > 0.51 {
		t.Errorf("share of one bits = %.4f, want about 0.5", share)
	}
}

func TestStreamKeyRedacted(t *testing.T) {
	t.Parallel()
	k := StreamKey("sk_abcdefghijklmnopqrstuvwxyz234567")
	const want = "sk_…67"
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("publish", "key", k)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("publish", "key", k)
	for _, tc := range []struct {
		name, got string
	}{
		{"String", k.String()},
		{"%s", fmt.Sprintf("%s", k)},
		{"%v", fmt.Sprintf("%v", k)},
		{"%q", fmt.Sprintf("%q", k)},
		{"%#v", fmt.Sprintf("%#v", k)},
		{"%+v struct", fmt.Sprintf("%+v", struct{ K StreamKey }{k})},
		{"slog", logged.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.got, "abcdefgh") {
				t.Errorf("%s reveals the key: %s", tc.name, tc.got)
			}
			if !strings.Contains(tc.got, want) {
				t.Errorf("%s = %q, want it to contain %q", tc.name, tc.got, want)
			}
		})
	}
	if got := StreamKey("short").String(); got != "sk_…" {
		t.Errorf("short key = %q, want sk_…", got)
	}
}

func TestWellFormed(t *testing.T) {
	t.Parallel()
	good := string(GenerateKey())
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{good, true},
		{"", false},
		{"sk_", false},
		{good[:34], false},
		{good + "a", false},
		{"pk_" + good[3:], false},
		{strings.ToUpper(good), false},
		{good[:34] + "1", false}, // not in the base32 alphabet
		{good[:34] + "=", false},
	} {
		if got := wellFormed(tc.in); got != tc.want {
			t.Errorf("wellFormed(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
