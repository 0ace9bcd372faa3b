package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

func runUserT(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(t.Context(), append([]string{"user"}, args...), &out, &errOut, func(string) string { return "" })
	return result{code, out.String(), errOut.String()}
}

func TestUserAdd(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")

	r := runUserT(t, "add", "root", "--admin", "--data", data) // flags after
	mustOK(t, r)
	password := lastLine(t, r.stdout)
	if len(password) < 16 || strings.ContainsAny(password, " \t") {
		t.Fatalf("last line %q is not a password; stdout %q", password, r.stdout)
	}
	r = runUserT(t, "--data", data, "add", "viewer1") // flags before
	mustOK(t, r)
	other := lastLine(t, r.stdout)
	if other == password {
		t.Error("two users got the same password")
	}

	st, err := sqlstore.Open(t.Context(), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := account.NewService(st, account.Options{})
	for _, tc := range []struct {
		name, password string
		role           account.Role
	}{
		{"root", password, account.RoleAdmin},
		{"viewer1", other, account.RoleViewer},
	} {
		u, err := svc.Login(t.Context(), tc.name, tc.password, "127.0.0.1")
		if err != nil || u.Role != tc.role {
			t.Errorf("login %s = %v, %v; want role %s", tc.name, u, err, tc.role)
		}
	}
	if tok, err := svc.EnsureSetupToken(t.Context()); err != nil || tok != "" {
		t.Errorf("setup token with a CLI-made admin = %q, %v", tok, err)
	}
}

func TestUserAddBadInput(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	mustOK(t, runUserT(t, "add", "taken", "--data", data))
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no command", []string{"--data", data}},
		{"unknown command", []string{"remove", "x", "--data", data}},
		{"no name", []string{"add", "--data", data}},
		{"two names", []string{"add", "abc", "def", "--data", data}},
		{"bad name", []string{"add", "a/b", "--data", data}},
		{"short name", []string{"add", "ab", "--data", data}},
		{"bad --admin", []string{"add", "abc", "--admin=maybe", "--data", data}},
		{"unknown flag", []string{"add", "abc", "--nope", "--data", data}},
		{"taken", []string{"add", "taken", "--data", data}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runUserT(t, tc.args...)
			if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "huabian: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line", r.code, r.stdout, r.stderr)
			}
		})
	}
	r := runUserT(t, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "huabian user add NAME") {
		t.Errorf("help: %d %q", r.code, r.stdout)
	}
}
