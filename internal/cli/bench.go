package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/huabian-live/huabian/internal/bench"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "huabian: bench needs a subcommand: play or publish")
		return exitUsage
	}
	switch args[0] {
	case "play":
		fs := flag.NewFlagSet("bench play", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var o bench.PlayOptions
		fs.StringVar(&o.URL, "url", "", "stream URL (.flv, ws://, rtmp://, index.m3u8)")
		fs.IntVar(&o.Viewers, "n", 1, "concurrent viewers")
		fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long each viewer watches")
		fs.DurationVar(&o.Ramp, "ramp", 0, "spread connects over this long")
		fs.IntVar(&o.PID, "pid", 0, "server process to sample for CPU and RSS")
		fs.StringVar(&o.Publish, "publish", "", "also publish the built-in test stream to this rtmp:// URL (exact latency)")
		fs.BoolVar(&o.Markdown, "markdown", false, "print the report as a Markdown table")
		if err := parseFlags(fs, args[1:]); err != nil {
			fmt.Fprintf(stderr, "huabian: bench play: %v\n", err)
			return exitUsage
		}
		if o.URL == "" || o.Viewers < 1 || o.Duration <= 0 {
			fmt.Fprintln(stderr, "huabian: bench play needs --url, -n ≥ 1 and --duration > 0")
			return exitUsage
		}
		if _, err := bench.Play(ctx, o, stdout); err != nil {
			fmt.Fprintf(stderr, "huabian: bench play: %v\n", err)
			return exitError
		}
		return exitOK
	case "publish":
		fs := flag.NewFlagSet("bench publish", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var o bench.PublishOptions
		fs.StringVar(&o.URL, "url", "", "rtmp://HOST:1935/live/KEY")
		fs.DurationVar(&o.Duration, "duration", 0, "stop after this long (0: until interrupted)")
		fs.StringVar(&o.File, "file", "", "FLV file to loop instead of the built-in test stream")
		if err := parseFlags(fs, args[1:]); err != nil {
			fmt.Fprintf(stderr, "huabian: bench publish: %v\n", err)
			return exitUsage
		}
		if o.URL == "" {
			fmt.Fprintln(stderr, "huabian: bench publish needs --url rtmp://HOST:1935/live/KEY")
			return exitUsage
		}
		if err := bench.Publish(ctx, o, stdout); err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "huabian: bench publish: %v\n", err)
			return exitError
		}
		return exitOK
	default:
		fmt.Fprintf(stderr, "huabian: unknown bench subcommand %q (play or publish)\n", args[0])
		return exitUsage
	}
}

// parseFlags parses fs and refuses positional leftovers.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
