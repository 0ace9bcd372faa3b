// Command huabian is Huabian Live (花辨直播): a self-hosted, multi-channel
// live-streaming platform in one binary. Run `huabian help` for usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/huabian-live/huabian/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
