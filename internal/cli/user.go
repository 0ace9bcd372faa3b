package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

const userUsage = `Usage:
  huabian user add NAME [--admin]   create an account; prints a one-time password on the last line
NAME is 3-32 characters from a-z, 0-9, "_" and "-". --admin makes the account
an admin (otherwise a viewer). Change the password after the first sign-in.
Flags may come before or after arguments: --data DIR (default ./data),
--config FILE, and every setting of docs/config.md.
`

// RunUser runs "huabian user ARGS…" (args without "user") and returns the
// exit status: 0 done, 1 the database or data directory failed, 2 bad
// input (one line on stderr starting with "huabian: "). It is safe to run
// while the server runs on the same data directory.
func RunUser(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	err := runUser(ctx, args, stdout, env)
	return exitStatus(err, userUsage, stdout, stderr)
}

func runUser(ctx context.Context, args []string, stdout io.Writer, env func(string) string) error {
	cfg, positional, admin, err := loadWithSwitch(args, "admin", env)
	if err != nil {
		return err
	}
	if len(positional) == 0 {
		return usageError{"user: missing command (add; see huabian user --help)"}
	}
	cmd, names := positional[0], positional[1:]
	if cmd != "add" {
		return usageError{fmt.Sprintf("unknown command \"user %s\" (use add)", cmd)}
	}
	if len(names) != 1 {
		return usageError{fmt.Sprintf("user add takes one NAME, got %d arguments", len(names))}
	}
	name := account.NormalizeName(names[0])
	if err := account.ValidateName(name); err != nil {
		return usageError{fmt.Sprintf("user name %q: %v", names[0], err)}
	}
	role := account.RoleViewer
	if admin {
		role = account.RoleAdmin
	}

	st, err := sqlstore.Open(ctx, cfg.Data, nil) // nil log: no migration chatter
	if err != nil {
		return err
	}
	defer st.Close()
	u, password, err := account.NewService(st, account.Options{}).AddUser(ctx, name, role)
	if errors.Is(err, account.ErrNameTaken) {
		return usageError{fmt.Sprintf("user %q already exists", name)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (%s); initial password (change it after signing in):\n", u.Name, u.Role)
	fmt.Fprintln(stdout, password) // the password, deliberately
	return nil
}
