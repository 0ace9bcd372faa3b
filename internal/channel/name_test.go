package channel

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

var nameRE = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

func TestValidateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"simple", "demo", true},
		{"digits", "0123456789", true},
		{"underscore dash", "my_channel-2", true},
		{"one char", "a", true},
		{"only dash", "-", true},
		{"32 chars", strings.Repeat("a", 32), true},
		{"empty", "", false},
		{"33 chars", strings.Repeat("a", 33), false},
		{"dot dot slash", "../x", false},
		{"dot", "a.b", false},
		{"slash", "a/b", false},
		{"backslash", `a\b`, false},
		{"space", "a b", false},
		{"uppercase", "Demo", false},
		{"all uppercase", "DEMO", false},
		{"unicode", "直播", false},
		{"unicode lookalike", "dеmo", false}, // Cyrillic е
		{"fullwidth", "ｄｅｍｏ", false},
		{"nul", "a\x00b", false},
		{"trailing newline", "demo\n", false},
		{"percent", "a%2fb", false},
		{"invalid utf8", "a\xffb", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateName(tc.in)
			if got := err == nil; got != tc.ok {
				t.Fatalf("ValidateName(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrBadName) {
				t.Errorf("error %v does not wrap ErrBadName", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "channel name ") || strings.ContainsAny(msg, "\n\x00") || len(msg) > 120 {
				t.Errorf("message %q: want one short line starting with \"channel name \"", msg)
			}
		})
	}
}

func TestValidateNameMessage(t *testing.T) {
	t.Parallel()
	got := ValidateName("Foo").Error()
	want := `channel name "Foo": use 1-32 characters from a-z, 0-9, "_" and "-"`
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if long := ValidateName(strings.Repeat("x", 1<<20)).Error(); len(long) > 120 {
		t.Errorf("message for a huge name is %d bytes", len(long))
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"demo", "", "../x", "Foo", "a\x00b", strings.Repeat("a", 33), "直播", "a-b_c9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		if want := nameRE.MatchString(name); (err == nil) != want {
			t.Fatalf("ValidateName(%q) = %v; regexp match = %v", name, err, want)
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Fatalf("ValidateName(%q) = %v, not ErrBadName", name, err)
		}
	})
}
