package cli

import (
	"slices"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	t.Parallel()
	bools := map[string]bool{"rotate": true}
	tests := []struct {
		name      string
		args      []string
		wantFlags []string
		wantPos   []string
	}{
		{"empty", nil, nil, nil},
		{"positional only", []string{"create", "demo"}, nil, []string{"create", "demo"}},
		{"flag after", []string{"create", "demo", "--data", "./d"}, []string{"--data=./d"}, []string{"create", "demo"}},
		{"flag before", []string{"--data", "./d", "create", "demo"}, []string{"--data=./d"}, []string{"create", "demo"}},
		{"equals form", []string{"key", "--data=./d", "demo"}, []string{"--data=./d"}, []string{"key", "demo"}},
		{"single dash", []string{"-data", "./d", "list"}, []string{"-data=./d"}, []string{"list"}},
		{"bool flag takes no value", []string{"key", "--rotate", "demo"}, []string{"--rotate"}, []string{"key", "demo"}},
		{"bool flag with value", []string{"key", "demo", "--rotate=false"}, []string{"--rotate=false"}, []string{"key", "demo"}},
		{"value flag swallows next", []string{"--data", "--rotate"}, []string{"--data=--rotate"}, nil},
		{"value with equals", []string{"--data", "a=b"}, []string{"--data=a=b"}, nil},
		{"missing value", []string{"list", "--data"}, []string{"--data"}, []string{"list"}},
		{"double dash", []string{"--data", "d", "--", "create", "-x"}, []string{"--data=d"}, []string{"create", "-x"}},
		{"lone dash", []string{"-"}, nil, []string{"-"}},
		{"unknown flags kept", []string{"--bogus", "v", "x"}, []string{"--bogus=v"}, []string{"x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			flags, pos := SplitArgs(tc.args, bools)
			if !slices.Equal(flags, tc.wantFlags) || !slices.Equal(pos, tc.wantPos) {
				t.Errorf("SplitArgs(%q) = %q, %q; want %q, %q", tc.args, flags, pos, tc.wantFlags, tc.wantPos)
			}
		})
	}
}

func TestFlagName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"--data", "data"}, {"-data", "data"}, {"--rotate=1", "rotate=1"}, {"---x", "-x"},
	} {
		if got := FlagName(tc.in); got != tc.want {
			t.Errorf("FlagName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
