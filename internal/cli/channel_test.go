package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var keyRE = regexp.MustCompile(`^sk_[a-z2-7]{32}$`)

type result struct {
	code           int
	stdout, stderr string
}

func runChannelT(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := RunChannel(t.Context(), args, &out, &errOut, func(k string) string { return env[k] })
	return result{code, out.String(), errOut.String()}
}

// lastLine returns the last line of s, which must end in a newline.
func lastLine(t *testing.T, s string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func mustOK(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q, stdout %q; want success", r.code, r.stderr, r.stdout)
	}
}

func TestChannelCommands(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")

	// Flags after the arguments.
	r := runChannelT(t, nil, "create", "demo", "--data", data)
	mustOK(t, r)
	key := lastLine(t, r.stdout)
	if !keyRE.MatchString(key) {
		t.Fatalf("create: last line %q is not a stream key; stdout %q", key, r.stdout)
	}
	if !strings.HasPrefix(r.stdout, "created channel demo\n") {
		t.Errorf("create stdout = %q", r.stdout)
	}

	// Flags before the arguments; the key is printed alone.
	r = runChannelT(t, nil, "--data", data, "key", "demo")
	mustOK(t, r)
	if r.stdout != key+"\n" {
		t.Errorf("key stdout = %q, want the key alone", r.stdout)
	}

	// Data directory from the environment, flag between arguments.
	env := map[string]string{"HUABIAN_DATA": data}
	r = runChannelT(t, env, "key", "--rotate", "demo")
	mustOK(t, r)
	newKey := lastLine(t, r.stdout)
	if !keyRE.MatchString(newKey) || newKey == key {
		t.Fatalf("rotate: last line %q; old key %q", newKey, key)
	}
	r = runChannelT(t, env, "key", "demo", "--data="+data)
	mustOK(t, r)
	if r.stdout != newKey+"\n" {
		t.Errorf("key after rotate = %q, want %q", r.stdout, newKey)
	}

	mustOK(t, runChannelT(t, env, "create", "alpha"))
	r = runChannelT(t, env, "list")
	mustOK(t, r)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.HasPrefix(lines[1], "alpha ") || !strings.HasPrefix(lines[2], "demo ") {
		t.Fatalf("list = %q", r.stdout)
	}
	if hint := "sk_…" + newKey[len(newKey)-2:]; !strings.HasSuffix(lines[2], hint) {
		t.Errorf("list line %q lacks key hint %q", lines[2], hint)
	}
	if strings.Contains(r.stdout, newKey[3:]) {
		t.Error("list reveals the key")
	}

	r = runChannelT(t, env, "delete", "demo")
	mustOK(t, r)
	if r.stdout != "deleted channel demo\n" {
		t.Errorf("delete stdout = %q", r.stdout)
	}
	r = runChannelT(t, env, "key", "demo")
	if r.code != 2 || !strings.Contains(r.stderr, `channel "demo" not found`) {
		t.Errorf("key after delete: %+v", r)
	}
	r = runChannelT(t, env, "delete", "alpha")
	mustOK(t, r)
	r = runChannelT(t, env, "list")
	mustOK(t, r)
	if r.stdout != "no channels\n" {
		t.Errorf("empty list = %q", r.stdout)
	}
}

func TestChannelErrors(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	mustOK(t, runChannelT(t, nil, "create", "taken", "--data", data))

	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string // substring of stderr
	}{
		{"no command", nil, 2, "missing command"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "channel frobnicate"`},
		{"create without name", []string{"create"}, 2, "channel create takes one NAME, got 0"},
		{"create two names", []string{"create", "a", "b"}, 2, "takes one NAME, got 2"},
		{"key without name", []string{"key", "--rotate"}, 2, "channel key takes one NAME"},
		{"delete without name", []string{"delete"}, 2, "channel delete takes one NAME"},
		{"list with argument", []string{"list", "x"}, 2, `channel list takes no arguments, got "x"`},
		{"bad name", []string{"create", "Bad.Name"}, 2, `channel name "Bad.Name": use 1-32 characters`},
		{"path traversal", []string{"key", "../x"}, 2, `channel name "../x"`},
		{"nul in name", []string{"create", "a\x00b"}, 2, `channel name "a\x00b"`},
		{"duplicate", []string{"create", "taken"}, 2, `channel "taken" already exists`},
		{"unknown channel key", []string{"key", "nosuch"}, 2, `channel "nosuch" not found`},
		{"unknown channel rotate", []string{"key", "nosuch", "--rotate"}, 2, `channel "nosuch" not found`},
		{"unknown channel delete", []string{"delete", "nosuch"}, 2, `channel "nosuch" not found`},
		{"unknown flag", []string{"list", "--bogus", "1"}, 2, "unknown flag --bogus"},
		{"flag without value", []string{"list", "--http"}, 2, "flag --http needs a value"},
		{"bad rotate value", []string{"key", "taken", "--rotate=maybe"}, 2, "flag --rotate"},
		{"rotate on create", []string{"create", "x", "--rotate"}, 2, "--rotate only applies to channel key"},
		{"bad config value", []string{"list", "--live.grace", "soon"}, 2, "invalid duration"},
		{"data dir is a file", []string{"list", "--data", notDir}, 1, "data directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "--data") {
				args = append([]string{"--data", data}, args...)
			}
			r := runChannelT(t, nil, args...)
			if r.code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.wantCode, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "huabian: ") || strings.Count(r.stderr, "\n") != 1 ||
				!strings.HasSuffix(r.stderr, "\n") {
				t.Errorf("stderr %q: want one line starting with \"huabian: \"", r.stderr)
			}
			if !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.wantErr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(data, "secret.key")); err != nil {
		t.Errorf("secret.key: %v", err)
	}
}

func TestChannelHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--help", "-h"} {
		r := runChannelT(t, nil, "create", arg)
		if r.code != 0 || !strings.Contains(r.stdout, "huabian channel create NAME") || r.stderr != "" {
			t.Errorf("%s: %+v", arg, r)
		}
	}
}

// TestChannelConcurrentOpen runs commands at once against one fresh data
// directory, as when the CLI runs beside the server.
func TestChannelConcurrentOpen(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	const n = 6
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var out, errOut bytes.Buffer
			code := RunChannel(t.Context(), []string{"create", fmt.Sprintf("ch%d", i), "--data", data},
				&out, &errOut, func(string) string { return "" })
			results[i] = result{code, out.String(), errOut.String()}
		})
	}
	wg.Wait()
	keys := make([]string, n)
	for i, r := range results {
		mustOK(t, r)
		keys[i] = lastLine(t, r.stdout)
	}
	// Every process used the same secret: each key can be shown again.
	for i := range n {
		r := runChannelT(t, nil, "key", fmt.Sprintf("ch%d", i), "--data", data)
		mustOK(t, r)
		if r.stdout != keys[i]+"\n" {
			t.Errorf("key ch%d = %q, want %q", i, r.stdout, keys[i])
		}
	}
}
