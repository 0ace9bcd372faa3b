package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/config"
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
	var ue channelUsageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, config.ErrHelp):
		fmt.Fprint(stdout, userUsage)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "huabian: %s\n", ue.msg)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "huabian: %v\n", err)
		return exitError
	}
}

func runUser(ctx context.Context, args []string, stdout io.Writer, env func(string) string) error {
	flags, positional := SplitArgs(args, map[string]bool{"admin": true, "h": true, "help": true})
	admin := false
	loadArgs := make([]string, 0, len(flags))
	for _, f := range flags {
		name, value, hasValue := cutFlag(f)
		if name != "admin" {
			loadArgs = append(loadArgs, f)
			continue
		}
		admin = true
		if hasValue {
			b, err := strconv.ParseBool(value)
			if err != nil {
				return channelUsageError{fmt.Sprintf("flag --admin: want true or false, got %q", value)}
			}
			admin = b
		}
	}
	cfg, _, err := config.Load(loadArgs, env)
	if errors.Is(err, config.ErrHelp) {
		return err
	}
	if err != nil {
		return channelUsageError{err.Error()}
	}
	if len(positional) == 0 {
		return channelUsageError{"user: missing command (add; see huabian user --help)"}
	}
	cmd, names := positional[0], positional[1:]
	if cmd != "add" {
		return channelUsageError{fmt.Sprintf("unknown command \"user %s\" (use add)", cmd)}
	}
	if len(names) != 1 {
		return channelUsageError{fmt.Sprintf("user add takes one NAME, got %d arguments", len(names))}
	}
	name := account.NormalizeName(names[0])
	if err := account.ValidateName(name); err != nil {
		return channelUsageError{fmt.Sprintf("user name %q: %v", names[0], err)}
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
		return channelUsageError{fmt.Sprintf("user %q already exists", name)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (%s); initial password (change it after signing in):\n", u.Name, u.Role)
	fmt.Fprintln(stdout, password) // the password, deliberately
	return nil
}
