// Package cli implements the huabian command line: it parses arguments and
// hands off to app (serve), channel (channel …) and bench (bench …).
package cli

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/huabian-live/huabian/internal/app"
	"github.com/huabian-live/huabian/internal/config"
	"github.com/huabian-live/huabian/internal/observe"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // bad input
)

const usage = `Huabian Live (花辨直播) — self-hosted live streaming in one binary.

Usage:
  huabian serve [flags]                     run the server (RTMP :1935, HTTP :8080)
  huabian channel create NAME               create a channel; prints its stream key last
  huabian channel key NAME [--rotate]       print (or replace) a channel's stream key
  huabian channel list                      list channels
  huabian channel delete NAME               delete a channel (ends its live stream)
  huabian user add NAME [--admin]           create an account; prints its initial password last
  huabian bench play --url URL -n N --duration D [--pid PID] [--publish RTMP_URL] [--markdown]
  huabian bench publish --url rtmp://HOST/live/KEY --duration D [--file F.flv]
  huabian bench chat --url ws://HOST/api/v1/channels/NAME/chat -n N --duration D --token hbt_…
  huabian bench latency --publish rtmp://…|srt://… --play URL [--duration D]
  huabian version
  huabian help

Flags (also HUABIAN_<NAME> environment variables and a --config YAML file):
  --data DIR          data directory (default ./data)
  --http ADDR         HTTP listen address (default :8080; "off" disables)
  --rtmp ADDR         RTMP listen address (default :1935; "off" disables)
  --config FILE       YAML configuration file
See docs/config.md for every setting.

Publish:  rtmp://HOST:1935/live  with the stream key (OBS: Settings → Stream → Custom)
Play:     http://HOST:8080/live/NAME.flv   (HTTP-FLV; same path over WebSocket = WS-FLV)
          http://HOST:8080/live/NAME/index.m3u8   (LL-HLS)
          rtmp://HOST:1935/live/NAME
`

// Main runs the command line and returns the process exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stderr, env)
	case "channel":
		return RunChannel(ctx, rest, stdout, stderr, env)
	case "user":
		return RunUser(ctx, rest, stdout, stderr, env)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "huabian", Version())
		return exitOK
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "huabian: unknown command %q (run 'huabian help')\n", cmd)
		return exitUsage
	}
}

// Version returns the module version, or the VCS revision for a local build.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}

func serve(ctx context.Context, args []string, stderr io.Writer, env func(string) string) int {
	cfg, rest, err := config.Load(args, env)
	if err != nil {
		fmt.Fprintf(stderr, "huabian: %v\n", err)
		return exitUsage
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "huabian: serve takes no arguments, got %q\n", rest[0])
		return exitUsage
	}
	log := observe.NewLogger(stderr, cfg.Log.Format, cfg.Log.Level)
	log.Info("Huabian Live starting", "version", Version(), "data", cfg.Data)
	if err := app.Run(ctx, cfg, log, app.Listeners{}); err != nil {
		log.Error("server stopped with an error", "err", err)
		return exitError
	}
	return exitOK
}
