package llhls

import (
	"context"
	"os/exec"
)

func lookPath(name string) (string, error) { return exec.LookPath(name) }

// runTool runs an external program and returns its combined output.
func runTool(ctx context.Context, path string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	return string(out), err
}
