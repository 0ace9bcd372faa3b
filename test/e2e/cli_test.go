package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIContract checks the command-line contract of DESIGN.md §3: the
// stream key alone on the last line, bad input → one-line error and exit 2,
// flags before or after arguments.
func TestCLIContract(t *testing.T) {
	requireTools(t)
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return runCmd(t, 30*time.Second, binPath, args...)
	}

	t.Run("create_prints_key_last", func(t *testing.T) {
		out, errOut, code := run("channel", "create", "alpha", "--data", data) // flag after the argument
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		key := lastLine(out)
		if !strings.HasPrefix(key, "sk_") || strings.ContainsAny(key, " \t") || len(key) < 20 {
			t.Errorf("last line %q: want the stream key alone (sk_…)", key)
		}
		// `channel key` prints the same key; flags before the arguments.
		out2, errOut, code := run("channel", "--data", data, "key", "alpha")
		if code != 0 || lastLine(out2) != key {
			t.Errorf("channel key alpha: exit %d, last line %q, want %q (stderr %q)", code, lastLine(out2), key, errOut)
		}
		out3, errOut, code := run("channel", "--data="+data, "create", "beta")
		if code != 0 || !strings.HasPrefix(lastLine(out3), "sk_") || lastLine(out3) == key {
			t.Errorf("create beta with --data= before the command: exit %d, last line %q (stderr %q)", code, lastLine(out3), errOut)
		}
		if _, errOut, code := run("channel", "create", "alpha", "--data", data); code != 2 || !oneLine(errOut) {
			t.Errorf("creating an existing channel: exit %d, stderr %q; want 2 and a one-line error", code, errOut)
		}
	})

	t.Run("bad_names_exit_2", func(t *testing.T) {
		for _, name := range []string{"Bad Name", "UPPER", "../etc", "a/b", "", strings.Repeat("x", 33), "name\n2"} {
			out, errOut, code := run("channel", "create", name, "--data", data)
			if code != 2 {
				t.Errorf("channel create %q: exit %d, want 2 (stdout %q, stderr %q)", name, code, out, errOut)
				continue
			}
			if !oneLine(errOut) || !strings.HasPrefix(errOut, "huabian: ") {
				t.Errorf("channel create %q: stderr %q, want one line starting with \"huabian: \"", name, errOut)
			}
			if strings.Contains(out, "sk_") {
				t.Errorf("channel create %q printed a key: %q", name, out)
			}
		}
	})

	t.Run("version_and_help", func(t *testing.T) {
		out, errOut, code := run("version")
		if code != 0 || strings.TrimSpace(out) == "" {
			t.Errorf("version: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		t.Logf("version: %s", strings.TrimSpace(out))
		if out, _, code := run("help"); code != 0 || !strings.Contains(out, "serve") {
			t.Errorf("help: exit %d, stdout %.200q", code, out)
		}
	})

	t.Run("unknown_input_exit_2", func(t *testing.T) {
		for _, args := range [][]string{
			{"frobnicate"},
			{"channel", "frobnicate", "--data", data},
			{"channel", "create", "--data", data}, // missing NAME
			{"channel", "key", "nosuchchannel", "--data", data},
			{"serve", "--no-such-flag", "--data", data},
		} {
			_, errOut, code := run(args...)
			if code != 2 {
				t.Errorf("huabian %s: exit %d, want 2 (stderr %q)", strings.Join(args, " "), code, errOut)
			}
			if strings.TrimSpace(errOut) == "" {
				t.Errorf("huabian %s: no message on stderr", strings.Join(args, " "))
			}
		}
	})
}

// oneLine reports whether s is exactly one non-empty line (newline-ended).
func oneLine(s string) bool {
	s = strings.TrimSuffix(s, "\n")
	return s != "" && !strings.Contains(s, "\n")
}
