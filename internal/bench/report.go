package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"
)

// maxErrors is how many distinct error messages a report keeps.
const maxErrors = 5

// PlayReport is the outcome of Play.
type PlayReport struct {
	URL      string        `json:"url"`
	Protocol string        `json:"protocol"` // http-flv, ws-flv, rtmp, ll-hls
	Started  time.Time     `json:"started"`
	Elapsed  time.Duration `json:"-"` // in JSON as elapsed_s

	Requested int `json:"viewers_requested"`
	Connected int `json:"viewers_connected"`
	Failed    int `json:"viewers_failed"` // never connected (including not started when ctx ended the run)
	// DisconnectedEarly viewers connected but their stream ended before the
	// run did.
	DisconnectedEarly int `json:"viewers_disconnected_early"`
	// NoMedia viewers connected but received no media frame.
	NoMedia int `json:"viewers_no_media"`
	// Stalled viewers had their media clock fall more than 2 s behind the
	// wall clock at some point: lag(t) = (wall(t) − wall(first frame)) −
	// (mediaTS(t) − mediaTS(first frame)), checked at every frame and at the
	// end of the run.
	Stalled int          `json:"viewers_stalled"`
	Errors  []ErrorCount `json:"errors,omitempty"` // distinct messages, in order of first occurrence

	// Times from the start of a viewer's connect. First byte is the first
	// byte of stream data: the FLV header (HTTP-FLV, WS-FLV), the first
	// media or data message after play (RTMP), the first byte of the init
	// segment (LL-HLS).
	// First keyframe is when the first video keyframe had been received in
	// full (for LL-HLS: the part carrying it).
	TTFB          Dist `json:"time_to_first_byte"`
	FirstKeyframe Dist `json:"time_to_first_keyframe"`
	// MaxLag is, per viewer that received media, the largest lag (see
	// Stalled); negative lags count as 0.
	MaxLag Dist `json:"max_lag"`

	BitrateMean  float64 `json:"bitrate_mean_bps"`  // per viewer with data, over its time receiving
	BitrateTotal float64 `json:"bitrate_total_bps"` // all viewers, over the run
	BytesTotal   int64   `json:"bytes_total"`

	Latency   *LatencyReport `json:"latency,omitempty"` // with PlayOptions.Publish
	Generator ProcStats      `json:"generator"`         // this process
	Server    *ProcStats     `json:"server,omitempty"`  // with PlayOptions.PID
}

// ErrorCount is one distinct error message and how many viewers hit it.
type ErrorCount struct {
	Message string `json:"message"`
	Count   int    `json:"count"`
}

// LatencyReport is the publisher→viewer latency of video frames, measured as
// described in latency.go.
type LatencyReport struct {
	Dist         Dist   `json:"publisher_to_viewer"`
	Calibrated   int    `json:"viewers_calibrated"`
	Uncalibrated int    `json:"viewers_uncalibrated"` // received video but no consistent offset was found
	Unmatched    int    `json:"frames_unmatched"`
	FromCache    int    `json:"frames_from_cache"` // published before their viewer joined; not in Dist
	Published    int    `json:"frames_published"`  // video frames sent by the in-process publisher
	PublishError string `json:"publish_error,omitempty"`
}

// JSON returns the report as indented JSON; durations are in milliseconds
// (Dist) or seconds (elapsed_s), bitrates in bit/s, sizes in bytes.
func (r PlayReport) JSON() ([]byte, error) {
	type plain PlayReport
	return json.MarshalIndent(struct {
		plain
		ElapsedSeconds float64 `json:"elapsed_s"`
	}{plain(r), r.Elapsed.Seconds()}, "", "  ")
}

func (r *run) report(o PlayOptions, proto string, viewers []*viewer, start, end time.Time) PlayReport {
	rep := PlayReport{
		URL:       o.URL,
		Protocol:  proto,
		Started:   start,
		Elapsed:   end.Sub(start),
		Requested: o.Viewers,
		Failed:    o.Viewers - len(viewers), // never started
	}
	var ttfb, key, lag []time.Duration
	var errs errorCounter
	var bitrateSum float64
	var bitrateN int
	var lat LatencyReport
	if len(viewers) < o.Viewers {
		errs.add(errors.New("not started: the run was cancelled"), o.Viewers-len(viewers))
	}
	for _, v := range viewers {
		if v.connectedAt.IsZero() {
			rep.Failed++
			errs.add(v.err, 1)
			continue
		}
		rep.Connected++
		rep.BytesTotal += v.bytes
		if v.early {
			rep.DisconnectedEarly++
			errs.add(v.err, 1)
		}
		if !v.firstByte.IsZero() {
			ttfb = append(ttfb, v.firstByte.Sub(v.start))
			if d := v.end.Sub(v.firstByte); d > 0 {
				bitrateSum += float64(v.bytes) * 8 / d.Seconds()
				bitrateN++
			}
		}
		if !v.firstKey.IsZero() {
			key = append(key, v.firstKey.Sub(v.start))
		}
		if v.frames == 0 {
			rep.NoMedia++
			continue
		}
		lag = append(lag, max(v.maxLag, 0))
		if v.stalled() {
			rep.Stalled++
		}
		if t := v.lat; t != nil {
			switch {
			case t.calibrated:
				lat.Calibrated++
			case t.uncalibrated || t.attempts > 0:
				lat.Uncalibrated++
			}
			lat.Unmatched += t.unmatched
			lat.FromCache += t.cached
		}
	}
	rep.Errors = errs.list
	rep.TTFB, rep.FirstKeyframe, rep.MaxLag = distOf(ttfb), distOf(key), distOf(lag)
	if bitrateN > 0 {
		rep.BitrateMean = bitrateSum / float64(bitrateN)
	}
	if s := end.Sub(start).Seconds(); s > 0 {
		rep.BitrateTotal = float64(rep.BytesTotal) * 8 / s
	}
	if r.pubLog != nil {
		lat.Dist = r.latency.dist()
		rep.Latency = &lat
	}
	return rep
}

// errorCounter deduplicates error messages, keeping the first maxErrors.
type errorCounter struct {
	list []ErrorCount
}

// localPort matches the ephemeral local port in "read tcp 127.0.0.1:54321->…",
// which would make every viewer's error distinct.
var localPort = regexp.MustCompile(`:\d+->`)

func (c *errorCounter) add(err error, n int) {
	if err == nil {
		return
	}
	msg := localPort.ReplaceAllString(err.Error(), ":*->")
	for i := range c.list {
		if c.list[i].Message == msg {
			c.list[i].Count += n
			return
		}
	}
	if len(c.list) < maxErrors {
		c.list = append(c.list, ErrorCount{Message: msg, Count: n})
	}
}

// Print writes the report as an aligned text table, or as a Markdown table.
func (r PlayReport) Print(w io.Writer, markdown bool) error {
	rows := r.rows()
	if markdown {
		var b strings.Builder
		fmt.Fprintf(&b, "| Metric | Value |\n|---|---|\n")
		for _, row := range rows {
			fmt.Fprintf(&b, "| %s | %s |\n", mdEscape(row[0]), mdEscape(row[1]))
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func (r PlayReport) rows() [][2]string {
	rows := [][2]string{
		{"protocol", r.Protocol + " " + r.URL},
		{"run", fmt.Sprintf("%s from %s", r.Elapsed.Round(10*time.Millisecond), r.Started.Format(time.DateTime))},
		{"viewers requested / connected / failed", fmt.Sprintf("%d / %d / %d", r.Requested, r.Connected, r.Failed)},
		{"disconnected early / no media / stalled (lag > 2 s)",
			fmt.Sprintf("%d / %d / %d", r.DisconnectedEarly, r.NoMedia, r.Stalled)},
		{"time to first byte", fmtDist(r.TTFB)},
		{"time to first keyframe", fmtDist(r.FirstKeyframe)},
		{"max lag behind wall clock (per viewer)", fmtDist(r.MaxLag)},
		{"received bitrate", fmt.Sprintf("mean %s per viewer, total %s (%s)",
			fmtBitrate(r.BitrateMean), fmtBitrate(r.BitrateTotal), fmtBytes(uint64(r.BytesTotal)))},
	}
	if l := r.Latency; l != nil {
		v := fmtDist(l.Dist)
		if l.Dist.Count > 0 {
			v += fmt.Sprintf(" (%d frames, %d viewers calibrated", l.Dist.Count, l.Calibrated)
			if l.Uncalibrated > 0 {
				v += fmt.Sprintf(", %d not", l.Uncalibrated)
			}
			if l.Unmatched > 0 {
				v += fmt.Sprintf(", %d frames unmatched", l.Unmatched)
			}
			if l.FromCache > 0 {
				v += fmt.Sprintf("; %d frames from the GOP cache not counted", l.FromCache)
			}
			v += ")"
		}
		rows = append(rows, [2]string{"latency publisher → viewer", v})
		if l.PublishError != "" {
			rows = append(rows, [2]string{"publisher error", l.PublishError})
		}
	}
	rows = append(rows, [2]string{"load generator CPU / RSS", fmtProc(r.Generator)})
	if r.Server != nil {
		rows = append(rows, [2]string{fmt.Sprintf("server (pid %d) CPU / RSS", r.Server.PID), fmtProc(*r.Server)})
	}
	for _, e := range r.Errors {
		rows = append(rows, [2]string{fmt.Sprintf("error (%d×)", e.Count), e.Message})
	}
	return rows
}

func fmtDist(d Dist) string {
	if d.Count == 0 {
		return "–"
	}
	return fmt.Sprintf("p50 %s, p95 %s, max %s", fmtDur(d.P50), fmtDur(d.P95), fmtDur(d.Max))
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func fmtBitrate(bps float64) string {
	switch {
	case bps >= 1e9:
		return fmt.Sprintf("%.2f Gbit/s", bps/1e9)
	case bps >= 1e6:
		return fmt.Sprintf("%.2f Mbit/s", bps/1e6)
	default:
		return fmt.Sprintf("%.0f kbit/s", bps/1e3)
	}
}

func fmtBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
}

func fmtProc(p ProcStats) string {
	if p.Samples == 0 {
		if p.Err != "" {
			return "n/a (" + p.Err + ")"
		}
		return "n/a"
	}
	s := fmt.Sprintf("CPU mean %.0f %%, max %.0f %% of one core; RSS mean %s, max %s",
		p.CPUMean, p.CPUMax, fmtBytes(p.RSSMean), fmtBytes(p.RSSMax))
	if p.Err != "" {
		s += " (sampling stopped: " + p.Err + ")"
	}
	return s
}
