package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/huabian-live/huabian/internal/config"
)

// usageError is bad command-line input: one line on stderr, exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitStatus reports err the way every data command does: nothing and 0
// when done, usage on --help, one line and 2 for bad input, one line and 1
// when the database or data directory failed.
func exitStatus(err error, usage string, stdout, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, config.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "huabian: %s\n", ue.msg)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "huabian: %v\n", err)
		return exitError
	}
}

// loadWithSwitch splits args into flags and positional arguments, takes the
// command's own boolean flag --switchName (bare or =true/false) out, and
// loads the configuration from the rest. Only flags go to config.Load: a
// value flag left bare at the end must not take a positional argument as
// its value.
func loadWithSwitch(args []string, switchName string, env func(string) string) (cfg config.Config, positional []string, on bool, err error) {
	flags, positional := SplitArgs(args, map[string]bool{switchName: true, "h": true, "help": true})
	loadArgs := make([]string, 0, len(flags))
	for _, f := range flags {
		name, value, hasValue := cutFlag(f)
		if name != switchName {
			loadArgs = append(loadArgs, f)
			continue
		}
		on = true
		if hasValue {
			b, perr := strconv.ParseBool(value)
			if perr != nil {
				return cfg, nil, false, usageError{fmt.Sprintf("flag --%s: want true or false, got %q", switchName, value)}
			}
			on = b
		}
	}
	cfg, _, err = config.Load(loadArgs, env)
	if errors.Is(err, config.ErrHelp) {
		return cfg, nil, false, err
	}
	if err != nil {
		return cfg, nil, false, usageError{err.Error()}
	}
	return cfg, positional, on, nil
}
