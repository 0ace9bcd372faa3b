package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/huabian-live/huabian/internal/app"
	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/config"
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

// channelUsageError is bad input: reported on one line, exit status 2.
type channelUsageError struct{ msg string }

func (e channelUsageError) Error() string { return e.msg }

// RunChannel runs "huabian channel ARGS…" (args without "channel") and
// returns the exit status: 0 done, 1 the database or data directory failed,
// 2 bad input. Errors go to stderr as one line starting with "huabian: ".
// It is safe to run while the server runs on the same data directory.
func RunChannel(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	err := runChannel(ctx, args, stdout, env)
	var ue channelUsageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, config.ErrHelp):
		fmt.Fprint(stdout, channelUsage)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "huabian: %s\n", ue.msg)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "huabian: %v\n", err)
		return exitError
	}
}

func runChannel(ctx context.Context, args []string, stdout io.Writer, env func(string) string) error {
	flags, positional := SplitArgs(args, map[string]bool{"rotate": true, "h": true, "help": true})
	rotate := false
	loadArgs := make([]string, 0, len(flags))
	for _, f := range flags {
		name, value, hasValue := cutFlag(f)
		if name != "rotate" {
			loadArgs = append(loadArgs, f)
			continue
		}
		rotate = true
		if hasValue {
			b, err := strconv.ParseBool(value)
			if err != nil {
				return channelUsageError{fmt.Sprintf("flag --rotate: want true or false, got %q", value)}
			}
			rotate = b
		}
	}
	// Only flags go to config.Load: a value flag left bare at the end must
	// not take a positional argument as its value.
	cfg, _, err := config.Load(loadArgs, env)
	if errors.Is(err, config.ErrHelp) {
		return err
	}
	if err != nil {
		return channelUsageError{err.Error()}
	}

	if len(positional) == 0 {
		return channelUsageError{"channel: missing command (create, key, list or delete; see huabian channel --help)"}
	}
	cmd, names := positional[0], positional[1:]
	switch cmd {
	case "create", "key", "delete":
		if len(names) != 1 {
			return channelUsageError{fmt.Sprintf("channel %s takes one NAME, got %d arguments", cmd, len(names))}
		}
		if err := channel.ValidateName(names[0]); err != nil {
			return channelUsageError{err.Error()}
		}
	case "list":
		if len(names) != 0 {
			return channelUsageError{fmt.Sprintf("channel list takes no arguments, got %q", names[0])}
		}
	default:
		return channelUsageError{fmt.Sprintf("unknown command \"channel %s\" (use create, key, list or delete)", cmd)}
	}
	if rotate && cmd != "key" {
		return channelUsageError{"--rotate only applies to channel key"}
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
		return channelUsageError{fmt.Sprintf("channel %q not found (see huabian channel list)", name)}
	case errors.Is(err, channel.ErrExists):
		return channelUsageError{fmt.Sprintf("channel %q already exists", name)}
	case errors.Is(err, channel.ErrBadName):
		return channelUsageError{err.Error()}
	}
	return err
}

// cutFlag splits a SplitArgs token into its name and value.
func cutFlag(token string) (name, value string, hasValue bool) {
	return strings.Cut(FlagName(token), "=")
}
