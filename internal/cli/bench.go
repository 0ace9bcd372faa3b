package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/huabian-live/huabian/internal/bench"
	"github.com/huabian-live/huabian/internal/bench/glass"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "huabian: bench needs a subcommand: play, publish, latency, glass or chat")
		return exitUsage
	}
	switch args[0] {
	case "play":
		fs := flag.NewFlagSet("bench play", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var o bench.PlayOptions
		fs.StringVar(&o.URL, "url", "", "stream URL (.flv, ws://, rtmp://, index.m3u8, …/NAME/whep)")
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
	case "latency":
		fs := flag.NewFlagSet("bench latency", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var o bench.E2ELatencyOptions
		fs.StringVar(&o.Publish, "publish", "", "rtmp://HOST/live/KEY or srt://HOST:PORT?streamid=publish:KEY")
		fs.StringVar(&o.Play, "play", "", "…/NAME.flv, …/index.m3u8, rtmp://…, srt://…?streamid=read:NAME or …/NAME/whep")
		fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to measure")
		if err := parseFlags(fs, args[1:]); err != nil {
			fmt.Fprintf(stderr, "huabian: bench latency: %v\n", err)
			return exitUsage
		}
		if o.Publish == "" || o.Play == "" || o.Duration <= 0 {
			fmt.Fprintln(stderr, "huabian: bench latency needs --publish, --play and --duration > 0")
			return exitUsage
		}
		if _, err := bench.E2ELatency(ctx, o, stdout); err != nil {
			fmt.Fprintf(stderr, "huabian: bench latency: %v\n", err)
			return exitError
		}
		return exitOK
	case "glass":
		fs := flag.NewFlagSet("bench glass", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var o glass.Options
		fs.StringVar(&o.Publish, "publish", "", "rtmp://HOST/live/KEY, rtmps://… or srt://HOST:PORT?streamid=publish:KEY")
		fs.StringVar(&o.Page, "page", "", "page that plays the stream, e.g. http://HOST:8080/c/NAME?latency=realtime")
		fs.StringVar(&o.Selector, "selector", "video", "CSS selector of the page's video element")
		fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to measure after the first picture")
		fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "publish this long before the page opens")
		fs.IntVar(&o.Width, "width", 1280, "picture width")
		fs.IntVar(&o.Height, "height", 720, "picture height")
		fs.IntVar(&o.FPS, "fps", 30, "frames per second")
		fs.StringVar(&o.Preset, "preset", "veryfast", "x264 preset")
		fs.IntVar(&o.BitrateK, "bitrate", 2500, "video kbit/s")
		fs.BoolVar(&o.NoAudio, "no-audio", false, "publish video only")
		fs.StringVar(&o.FFmpeg, "ffmpeg", "ffmpeg", "ffmpeg binary")
		fs.StringVar(&o.Chromium, "chromium", "", "browser binary (default: chromium on PATH)")
		if err := parseFlags(fs, args[1:]); err != nil {
			fmt.Fprintf(stderr, "huabian: bench glass: %v\n", err)
			return exitUsage
		}
		if o.Publish == "" || o.Page == "" || o.Duration <= 0 {
			fmt.Fprintln(stderr, "huabian: bench glass needs --publish, --page and --duration > 0")
			return exitUsage
		}
		if _, err := glass.Run(ctx, o, stdout); err != nil {
			fmt.Fprintf(stderr, "huabian: bench glass: %v\n", err)
			return exitError
		}
		return exitOK
	case "chat":
		fs := flag.NewFlagSet("bench chat", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var o bench.ChatOptions
		fs.StringVar(&o.URL, "url", "", "chat socket ws://HOST/api/v1/channels/NAME/chat")
		fs.IntVar(&o.Readers, "n", 100, "reader sockets")
		fs.DurationVar(&o.Duration, "duration", 20*time.Second, "how long the writer sends")
		fs.Float64Var(&o.Rate, "rate", 10, "messages per second the writer tries to send")
		fs.StringVar(&o.Cookie, "cookie", "", "writer's session cookie, name=value")
		fs.StringVar(&o.CSRF, "csrf", "", "CSRF token sent with --cookie")
		fs.StringVar(&o.Token, "token", "", "writer's API token (hbt_…), sent as a bearer")
		if err := parseFlags(fs, args[1:]); err != nil {
			fmt.Fprintf(stderr, "huabian: bench chat: %v\n", err)
			return exitUsage
		}
		if o.URL == "" || o.Readers < 1 || o.Duration <= 0 || o.Rate <= 0 || o.Cookie == "" && o.Token == "" {
			fmt.Fprintln(stderr, "huabian: bench chat needs --url, -n ≥ 1, --duration > 0, --rate > 0 and --cookie or --token")
			return exitUsage
		}
		if _, err := bench.Chat(ctx, o, stdout); err != nil {
			fmt.Fprintf(stderr, "huabian: bench chat: %v\n", err)
			return exitError
		}
		return exitOK
	default:
		fmt.Fprintf(stderr, "huabian: unknown bench subcommand %q (play, publish, latency, glass or chat)\n", args[0])
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
