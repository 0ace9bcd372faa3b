package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is one `huabian serve` process on free 127.0.0.1 ports with its own
// data directory.
type server struct {
	data     string
	httpAddr string
	rtmpAddr string
	srtAddr  string // UDP
	proc     *proc
	log      *logBuffer

	stopOnce sync.Once
}

// startServer starts a server with a fresh data directory and extra flags
// (e.g. "--live.grace", "5s"), waits until /healthz answers, and registers
// the shutdown check: on cleanup the server gets SIGTERM and must exit
// within 10 s with status 0 and no panic or data race in its log.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	data := t.TempDir()
	const attempts = 5
	for attempt := 1; attempt <= attempts; attempt++ {
		httpAddr, rtmpAddr := freeAddr(t), freeAddr(t)
		if httpAddr == rtmpAddr {
			continue
		}
		srtAddr := freeUDPAddr(t)
		s := &server{data: data, httpAddr: httpAddr, rtmpAddr: rtmpAddr, srtAddr: srtAddr, log: newLogBuffer(64<<10, 4<<20)}
		args := append([]string{"serve", "--data", data, "--http", httpAddr, "--rtmp", rtmpAddr,
			"--srt", srtAddr, "--webrtc-udp", "off", "--webrtc-tcp", "127.0.0.1:0"}, extra...)
		s.proc = startProcLog(t, nil, s.log, binPath, args...)
		ready, retry := s.waitReady(t, 20*time.Second)
		if ready {
			t.Cleanup(func() { s.stop(t) })
			t.Logf("server pid %d: http %s, rtmp %s, data %s", s.proc.cmd.Process.Pid, httpAddr, rtmpAddr, data)
			return s
		}
		s.proc.kill(t)
		if !retry {
			t.Fatalf("server did not start (exit status %d); log:\n%s", s.proc.exitCode(), lastLines(s.log.String(), 40))
		}
		t.Logf("server start attempt %d: port taken, retrying with other ports", attempt)
	}
	t.Fatalf("server did not start after %d attempts (ports kept being taken)", attempts)
	return nil
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// freeUDPAddr returns a 127.0.0.1 UDP address whose port was free a moment
// ago.
func freeUDPAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free UDP port: %v", err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// waitReady polls /healthz until it answers 200 while our process runs. It
// returns retry=true when the process exited because a port was taken.
func (s *server) waitReady(t *testing.T, d time.Duration) (ready, retry bool) {
	t.Helper()
	ok := poll(d, 50*time.Millisecond, func() bool {
		if s.proc.exited() {
			return true
		}
		code, _, err := s.get("/healthz")
		return err == nil && code == http.StatusOK
	})
	if s.proc.exited() {
		return false, strings.Contains(s.log.String(), "address already in use")
	}
	return ok, false
}

// stop sends SIGTERM and checks the graceful shutdown: exit within 10 s,
// status 0, no panic / fatal error / data race in the log. Safe to call more
// than once (cleanup calls it too); it reports how long the exit took.
func (s *server) stop(t *testing.T) (took time.Duration) {
	s.stopOnce.Do(func() {
		if s.proc.exited() {
			t.Errorf("server exited before the test ended (status %d); log:\n%s", s.proc.exitCode(), lastLines(s.log.String(), 60))
			return
		}
		start := time.Now()
		if err := s.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM to server pid %d: %v", s.proc.cmd.Process.Pid, err)
		}
		if !s.proc.waitExit(10 * time.Second) {
			t.Errorf("graceful shutdown: server pid %d still running 10 s after SIGTERM; killing it", s.proc.cmd.Process.Pid)
			s.proc.kill(t)
		} else {
			took = time.Since(start)
			t.Logf("server exited %.2fs after SIGTERM (status %d)", took.Seconds(), s.proc.exitCode())
			if code := s.proc.exitCode(); code != 0 {
				t.Errorf("graceful shutdown: exit status %d, want 0", code)
			}
		}
		log := s.log.String()
		for _, bad := range []string{"panic:", "fatal error:", "WARNING: DATA RACE"} {
			if strings.Contains(log, bad) {
				t.Errorf("server log contains %q:\n%s", bad, excerpt(log, bad, 60))
			}
		}
		if t.Failed() {
			t.Logf("server log (tail):\n%s", lastLines(log, 80))
		}
	})
	return took
}

// excerpt returns n lines of s starting at the first occurrence of marker.
func excerpt(s, marker string, n int) string {
	i := strings.Index(s, marker)
	if i < 0 {
		return ""
	}
	if j := strings.LastIndexByte(s[:i], '\n'); j >= 0 {
		i = j + 1
	}
	lines := strings.SplitN(s[i:], "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func (s *server) url(path string) string { return "http://" + s.httpAddr + path }

// publishURL is where an encoder publishes with key.
func (s *server) publishURL(key string) string { return "rtmp://" + s.rtmpAddr + "/live/" + key }

// get performs a GET with a 10 s timeout and returns status and body.
func (s *server) get(path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(path), nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, body, err
}

// cli runs `huabian ARGS… --data DIR` against this server's data directory.
func (s *server) cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCmd(t, 30*time.Second, binPath, append(args, "--data", s.data)...)
}

// createChannel creates a channel and returns its stream key (the last line
// of the output).
func (s *server) createChannel(t *testing.T, name string) string {
	t.Helper()
	out, errOut, code := s.cli(t, "channel", "create", name)
	if code != 0 {
		t.Fatalf("channel create %s: exit %d: %s", name, code, errOut)
	}
	key := lastLine(out)
	if !strings.HasPrefix(key, "sk_") {
		t.Fatalf("channel create %s: last line %q is not a stream key (want sk_…); output:\n%s", name, key, out)
	}
	return key
}

// lastLine returns the last non-empty line of s, trimmed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\r\n"), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// channelStatus is the body of GET /api/v1/channels/NAME.
type channelStatus struct {
	Name      string     `json:"name"`
	Live      bool       `json:"live"`
	StartedAt *time.Time `json:"started_at"`
	Video     *struct {
		Codec  string  `json:"codec"`
		Width  int     `json:"width"`
		Height int     `json:"height"`
		FPS    float64 `json:"fps"`
	} `json:"video"`
	Audio *struct {
		Codec      string `json:"codec"`
		SampleRate int    `json:"sample_rate"`
		Channels   int    `json:"channels"`
	} `json:"audio"`
	IngestBitrate int64          `json:"ingest_bitrate"`
	Viewers       map[string]int `json:"viewers"`
}

// status fetches the channel status; it fails the test on transport or
// decoding errors and on a status other than 200.
func (s *server) status(t *testing.T, name string) channelStatus {
	t.Helper()
	code, body, err := s.get("/api/v1/channels/" + name)
	if err != nil {
		t.Fatalf("GET status of %s: %v", name, err)
	}
	if code != http.StatusOK {
		t.Fatalf("GET status of %s: HTTP %d: %s", name, code, body)
	}
	var st channelStatus
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("status of %s: %v: %s", name, err, body)
	}
	return st
}

// waitLive polls the status until the channel is live with its video track
// known (and audio, if wantAudio), for up to 20 s; it fails early if pub (may
// be nil) exits. It returns the time it took.
func (s *server) waitLive(t *testing.T, name string, pub *proc, wantAudio bool) time.Duration {
	t.Helper()
	start := time.Now()
	var last channelStatus
	ok := poll(20*time.Second, 100*time.Millisecond, func() bool {
		if pub != nil && pub.exited() {
			return true
		}
		last = s.status(t, name)
		return last.Live && last.Video != nil && (!wantAudio || last.Audio != nil)
	})
	if pub != nil && pub.exited() {
		t.Fatalf("publisher exited (status %d) before %s went live; its stderr:\n%s", pub.exitCode(), name, lastLines(pub.stderr.String(), 30))
	}
	if !ok {
		t.Fatalf("%s not live after 20 s; last status %+v", name, last)
	}
	return time.Since(start)
}

// waitNotLive polls until live=false for up to d; it returns how long that
// took and whether it happened.
func (s *server) waitNotLive(t *testing.T, name string, d time.Duration) (time.Duration, bool) {
	t.Helper()
	start := time.Now()
	ok := poll(d, 50*time.Millisecond, func() bool { return !s.status(t, name).Live })
	return time.Since(start), ok
}

// metrics fetches /metrics.
func (s *server) metrics(t *testing.T) string {
	t.Helper()
	code, body, err := s.get("/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /metrics: HTTP %d, %v", code, err)
	}
	return string(body)
}

// metric returns the sum of the samples of family name whose labels
// include every k="v" in labels (e.g. `reason="busy"`); 0 if none.
func (s *server) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, _ := metricValue(s.metrics(t), name, labels...)
	return v
}

// metricValue parses Prometheus text exposition: the sum of matching
// samples, and whether any sample matched.
func metricValue(text, name string, labels ...string) (float64, bool) {
	var sum float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		metricName, labelPart, _ := strings.Cut(series, "{")
		if metricName != name {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(labelPart, l) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if i := strings.IndexByte(value, ' '); i >= 0 { // optional timestamp
			value = value[:i]
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		sum += f
		found = true
	}
	return sum, found
}

// metricFamilyPresent reports whether /metrics text mentions family name
// (a TYPE line or a sample).
func metricFamilyPresent(text, name string) bool {
	if strings.Contains(text, "# TYPE "+name+" ") {
		return true
	}
	_, found := metricValue(text, name)
	return found
}

// httpStatus returns the status of GET path (body discarded), for checks
// like "not live → 404". Endless bodies are not read.
func (s *server) httpStatus(t *testing.T, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	return resp.StatusCode, ""
}

// String is the status as JSON, for messages.
func (st channelStatus) String() string {
	b, _ := json.Marshal(st)
	return string(b)
}
