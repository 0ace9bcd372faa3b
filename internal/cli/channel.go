package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/huabian-live/huabian/internal/app"
	"github.com/huabian-live/huabian/internal/channel"
)

const channelUsage = `Usage:
  huabian channel create NAME          create a channel; prints its stream key on the last line
  huabian channel key NAME [--rotate]  print the stream key; --rotate replaces it
  huabian channel list                 list channels
  huabian channel delete NAME          delete a channel
NAME is 1-32 characters from a-z, 0-9, "_" and "-".
Flags may come before or after arguments: --data DIR (default ./data),
--config FILE, and every setting of docs/config.md.
`

// RunChannel runs "huabian channel ARGS…" (args without "channel") and
// returns the exit status: 0 done, 1 the database or data directory failed,
// 2 bad input. Errors go to stderr as one line starting with "huabian: ".
// It is safe to run while the server runs on the same data directory.
func RunChannel(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	err := runChannel(ctx, args, stdout, env)
	return exitStatus(err, channelUsage, stdout, stderr)
}

func runChannel(ctx context.Context, args []string, stdout io.Writer, env func(string) string) error {
	cfg, positional, rotate, err := loadWithSwitch(args, "rotate", env)
	if err != nil {
		return err
	}

	if len(positional) == 0 {
		return usageError{"channel: missing command (create, key, list or delete; see huabian channel --help)"}
	}
	cmd, names := positional[0], positional[1:]
	switch cmd {
	case "create", "key", "delete":
		if len(names) != 1 {
			return usageError{fmt.Sprintf("channel %s takes one NAME, got %d arguments", cmd, len(names))}
		}
		if err := channel.ValidateName(names[0]); err != nil {
			return usageError{err.Error()}
		}
	case "list":
		if len(names) != 0 {
			return usageError{fmt.Sprintf("channel list takes no arguments, got %q", names[0])}
		}
	default:
		return usageError{fmt.Sprintf("unknown command \"channel %s\" (use create, key, list or delete)", cmd)}
	}
	if rotate && cmd != "key" {
		return usageError{"--rotate only applies to channel key"}
	}

	svc, closeStore, err := app.OpenChannels(ctx, cfg.Data, nil) // nil log: no migration chatter
	if err != nil {
		return err
	}
	defer closeStore()

	switch cmd {
	case "create":
		name := names[0]
		key, err := svc.Create(ctx, name)
		if err != nil {
			return channelError(name, err)
		}
		fmt.Fprintf(stdout, "created channel %s\n", name)
		fmt.Fprintln(stdout, string(key)) // the raw key, deliberately
	case "key":
		name := names[0]
		var key channel.StreamKey
		if rotate {
			key, err = svc.Rotate(ctx, name)
		} else {
			key, err = svc.Key(ctx, name)
		}
		if err != nil {
			return channelError(name, err)
		}
		if rotate {
			fmt.Fprintf(stdout, "new stream key for channel %s; the old one no longer works\n", name)
		}
		fmt.Fprintln(stdout, string(key)) // the raw key, deliberately
	case "list":
		cs, err := svc.List(ctx)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			fmt.Fprintln(stdout, "no channels")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCREATED\tKEY")
		for _, c := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.CreatedAt.UTC().Format(time.RFC3339), c.RedactedKey())
		}
		return tw.Flush()
	case "delete":
		name := names[0]
		if err := svc.Delete(ctx, name); err != nil {
			return channelError(name, err)
		}
		fmt.Fprintf(stdout, "deleted channel %s\n", name)
	}
	return nil
}

// channelError turns the service's "no such channel" and "name taken" into
// usage errors; anything else is a failure.
func channelError(name string, err error) error {
	switch {
	case errors.Is(err, channel.ErrNotFound):
		return usageError{fmt.Sprintf("channel %q not found (see huabian channel list)", name)}
	case errors.Is(err, channel.ErrExists):
		return usageError{fmt.Sprintf("channel %q already exists", name)}
	case errors.Is(err, channel.ErrBadName):
		return usageError{err.Error()}
	}
	return err
}

// cutFlag splits a SplitArgs token into its name and value.
func cutFlag(token string) (name, value string, hasValue bool) {
	return strings.Cut(FlagName(token), "=")
}
