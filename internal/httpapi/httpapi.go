// Package httpapi is the HTTP surface: routes, middleware and error
// rendering. Business logic lives in the packages it calls; playback
// handlers are mounted from internal/play/*.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/observe"
)

// ErrNotFound is what ChannelExists returns for an unknown channel.
var ErrNotFound = errors.New("not found")

// Deps are what the routes need.
type Deps struct {
	Log *slog.Logger
	// ChannelExists reports whether a channel is registered.
	ChannelExists func(ctx context.Context, name string) (bool, error)
	// Live returns the live status of a channel (ok=false: no stream).
	Live func(name string) (hub.Status, bool)
	// HLSViewers returns the current LL-HLS viewer count of a channel.
	HLSViewers func(name string) int
	// FLV serves /live/NAME.flv (HTTP-FLV and WS-FLV).
	FLV http.Handler
	// LLHLS serves /live/NAME/… (LL-HLS).
	LLHLS    http.Handler
	Registry *prometheus.Registry
	// ValidName validates a channel name.
	ValidName func(string) error
}

// Error is a handler error: Status and Public go to the client, Err is
// logged only.
type Error struct {
	Status int
	Code   string // machine-readable, e.g. "not_found"
	Public string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Public + ": " + e.Err.Error()
	}
	return e.Public
}

func (e *Error) Unwrap() error { return e.Err }

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// New returns the root handler.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	a := &api{d: d, log: d.Log.With("component", "http")}
	mux.Handle("GET /healthz", a.wrap(a.healthz))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))
	mux.Handle("GET /api/v1/channels/{name}", a.wrap(a.channel))
	if d.FLV != nil {
		mux.Handle("/live/{file}", d.FLV)
	}
	if d.LLHLS != nil {
		mux.Handle("/live/{name}/{file}", d.LLHLS)
	}
	return mux
}

type api struct {
	d   Deps
	log *slog.Logger
}

func (a *api) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var he *Error
		if !errors.As(err, &he) {
			he = &Error{Status: http.StatusInternalServerError, Code: "internal", Public: "internal error", Err: err}
		}
		if he.Status >= 500 {
			a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		writeJSON(w, he.Status, map[string]string{"error": he.Code, "message": he.Public})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func (a *api) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// ChannelStatus is the JSON body of GET /api/v1/channels/NAME.
type ChannelStatus struct {
	Name          string         `json:"name"`
	Live          bool           `json:"live"`
	StartedAt     *time.Time     `json:"started_at"`
	Video         *VideoStatus   `json:"video"`
	Audio         *AudioStatus   `json:"audio"`
	IngestBitrate int64          `json:"ingest_bitrate"` // bits per second, last complete second
	Viewers       map[string]int `json:"viewers"`        // by protocol, plus "total"
}

// VideoStatus describes the live video track.
type VideoStatus struct {
	Codec  string  `json:"codec"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	FPS    float64 `json:"fps"`
}

// AudioStatus describes the live audio track.
type AudioStatus struct {
	Codec      string `json:"codec"`
	SampleRate int    `json:"sample_rate"`
	Channels   int    `json:"channels"`
}

func (a *api) channel(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := a.d.ValidName(name); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_name", Public: err.Error()}
	}
	exists, err := a.d.ChannelExists(r.Context(), name)
	if err != nil {
		return err
	}
	if !exists {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Public: "no such channel"}
	}
	st := ChannelStatus{Name: name, Viewers: map[string]int{
		observe.ProtoHTTPFLV: 0, observe.ProtoWSFLV: 0, observe.ProtoRTMP: 0, observe.ProtoLLHLS: 0,
	}}
	if ls, ok := a.d.Live(name); ok {
		s := ls.Stream
		st.Live = ls.Live
		if ls.Live {
			t := ls.StartedAt.UTC()
			st.StartedAt = &t
		}
		bitrate, fps := s.Rates()
		st.IngestBitrate = bitrate
		if tr := s.Tracks(); tr != nil {
			if v := tr.Video; v != nil {
				f := v.FPS
				if fps > 0 {
					f = float64(fps)
				}
				st.Video = &VideoStatus{Codec: v.Codec.String(), Width: v.Width, Height: v.Height, FPS: f}
			}
			if au := tr.Audio; au != nil {
				st.Audio = &AudioStatus{Codec: au.Codec.String(), SampleRate: au.SampleRate, Channels: au.ChannelCount}
			}
		}
		for p, n := range s.Viewers() {
			st.Viewers[p] = n
		}
	}
	if a.d.HLSViewers != nil {
		st.Viewers[observe.ProtoLLHLS] = a.d.HLSViewers(name)
	}
	total := 0
	for _, n := range st.Viewers {
		total += n
	}
	st.Viewers["total"] = total
	writeJSON(w, http.StatusOK, st)
	return nil
}
