// Package e2e runs the real huabian binary as a child process and drives it
// with real clients: ffmpeg publishes over RTMP; ffprobe, ffmpeg and Go
// clients play HTTP-FLV, WS-FLV, RTMP and LL-HLS; hand-built RTMP chunks
// probe the parser. Every test skips when ffmpeg or ffprobe is missing.
//
// Run with: go test -race -count=1 -v ./test/e2e/ (about 100 s on 2 cores).
//
// Environment:
//   - HUABIAN_E2E_RACE=1 builds the server binary with -race as well; a data
//     race report in the server log then fails the test that owned it.
//
// Conventions: every wait is a poll with a deadline; no assertion depends on
// wall-clock latency (the machine is shared with the encoder), only on
// counts, ordering and generous upper bounds. Child processes are stopped by
// PID (exec.Cmd.Process) in t.Cleanup.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// binPath is the huabian binary built by TestMain ("" when the tools are
// missing and nothing was built).
var binPath string

// toolsMissing names the first of ffmpeg/ffprobe not on PATH ("" if both are).
var toolsMissing string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			toolsMissing = tool
			break
		}
	}
	if toolsMissing == "" {
		dir, err := os.MkdirTemp("", "huabian-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin, err := buildServer(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		binPath = bin
	}
	code := m.Run()
	httpClient.CloseIdleConnections()
	if code == 0 {
		// Every helper goroutine (viewers, drains, process waiters) must
		// have been stopped by the tests' cleanups.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: leaked goroutines:", err)
			return 1
		}
	}
	return code
}

// buildServer builds ./cmd/huabian from the module root into dir.
func buildServer(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "huabian")
	args := []string{"build", "-o", bin}
	if os.Getenv("HUABIAN_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/huabian")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/huabian in %s: %v\n%s", root, err, out)
	}
	return bin, nil
}

// moduleRoot is the directory of go.mod: from `go env GOMOD`, else ../.. of
// this package.
func moduleRoot() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if mod := strings.TrimSpace(string(out)); err == nil && mod != "" && mod != os.DevNull {
		return filepath.Dir(mod), nil
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("cannot find the module root (go env GOMOD failed and %s has no go.mod)", root)
	}
	return root, nil
}

// requireTools skips the test when ffmpeg/ffprobe are missing.
func requireTools(t *testing.T) {
	t.Helper()
	if toolsMissing != "" {
		t.Skipf("e2e: %s not found on PATH; these tests need ffmpeg and ffprobe (5.1 or newer, e.g. `make deps` or apt-get install ffmpeg)", toolsMissing)
	}
	if binPath == "" {
		t.Fatal("e2e: the huabian binary was not built")
	}
}

// httpClient is used for every plain HTTP request; no overall timeout
// because FLV responses are endless (requests carry contexts instead).
var httpClient = &http.Client{Transport: &http.Transport{
	DisableCompression:    true,
	ResponseHeaderTimeout: 15 * time.Second,
	MaxIdleConnsPerHost:   4,
}}

// logBuffer is a concurrency-safe writer that keeps the first head bytes and
// the last tail bytes written (a child's log can be long; a panic is at the
// end).
type logBuffer struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte
	maxHead int
	maxTail int
	dropped int64
}

func newLogBuffer(maxHead, maxTail int) *logBuffer {
	return &logBuffer{maxHead: maxHead, maxTail: maxTail}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if room := b.maxHead - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	b.tail = append(b.tail, p...)
	if over := len(b.tail) - b.maxTail; over > 0 {
		b.dropped += int64(over)
		b.tail = append(b.tail[:0], b.tail[over:]...)
	}
	return n, nil
}

// String returns what was kept, with a marker where bytes were dropped.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return string(b.head) + string(b.tail)
	}
	return fmt.Sprintf("%s\n[… %d bytes not kept …]\n%s", b.head, b.dropped, b.tail)
}

// lastLines returns at most n trailing lines of s.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// proc is a child process we started; it is stopped by PID in t.Cleanup.
type proc struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	stderr  *logBuffer
	done    chan struct{}
	err     error // valid once done is closed
}

// startProc starts name with args; stdout may be nil (discarded). The
// process is killed (if still running) and reaped when the test ends.
func startProc(t *testing.T, stdout io.Writer, name string, args ...string) *proc {
	t.Helper()
	return startProcLog(t, stdout, newLogBuffer(16<<10, 48<<10), name, args...)
}

// startProcLog is startProc with the buffer that keeps stderr.
func startProcLog(t *testing.T, stdout io.Writer, stderr *logBuffer, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(name), stderr: stderr, done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.Env = cleanEnv()
	p.cmd.Stdout = stdout
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p.started = time.Now()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(t) })
	return p
}

// cleanEnv is the environment without HUABIAN_* settings from the caller's
// shell, so every server runs with the flags the test gives it.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HUABIAN_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to d for the process to exit and reports whether it did.
func (p *proc) waitExit(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
		return true
	case <-timer.C:
		return false
	}
}

// exitCode is the exit status (-1 if killed by a signal or still running).
func (p *proc) exitCode() int {
	if !p.exited() || p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// kill sends SIGKILL to our child (by PID) if it still runs and reaps it.
func (p *proc) kill(t *testing.T) {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	if !p.waitExit(10 * time.Second) {
		t.Errorf("%s (pid %d) did not exit 10 s after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// runCmd runs a short command to completion (killed after timeout) and
// returns stdout, stderr and the exit status.
func runCmd(t *testing.T, timeout time.Duration, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out bytes.Buffer
	var mu sync.Mutex
	p := startProc(t, lockedWriter{&mu, &out}, name, args...)
	if !p.waitExit(timeout) {
		p.kill(t)
		t.Fatalf("%s %s: still running after %s; stderr:\n%s", name, strings.Join(args, " "), timeout, p.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	return out.String(), p.stderr.String(), p.exitCode()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// poll calls cond every interval until it returns true or d has passed; it
// reports whether cond succeeded. cond runs at least once.
func poll(d, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-ticker.C
	}
}
