package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/stats"
	"github.com/huabian-live/huabian/internal/store"
)

// Limits of the stats routes' query parameters.
const (
	defaultRankingLimit   = 10
	defaultHealthSeconds  = 600
	defaultBroadcastLimit = 50
	maxBroadcastLimit     = 200
)

// RankedChannel is one entry of a viewer ranking.
type RankedChannel struct {
	Name          string `json:"name"`
	Title         string `json:"title"`
	Live          bool   `json:"live"`
	UniqueViewers int    `json:"unique_viewers"`
}

// HealthSample is one second of a live stream.
type HealthSample struct {
	At                 time.Time `json:"at"`
	Bitrate            int64     `json:"bitrate"`
	FPS                int64     `json:"fps"`
	KeyframeIntervalMS int64     `json:"keyframe_interval_ms"`
	Viewers            int       `json:"viewers"`
}

// Broadcast is one live session of a channel.
type Broadcast struct {
	ID            int64      `json:"id"`
	StartedAt     time.Time  `json:"started_at"`
	EndedAt       *time.Time `json:"ended_at"`
	PeakViewers   int        `json:"peak_viewers"`
	UniqueViewers int        `json:"unique_viewers"`
}

// ViewerSample is the viewer count of a broadcast at one moment.
type ViewerSample struct {
	At      time.Time `json:"at"`
	Viewers int       `json:"viewers"`
}

func (a *api) statsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/rankings/viewers-24h", a.wrap(a.statsRanking))
	mux.Handle("GET /api/v1/channels/{name}/health", a.wrap(a.statsHealth))
	mux.Handle("GET /api/v1/channels/{name}/broadcasts", a.wrap(a.statsBroadcasts))
	mux.Handle("GET /api/v1/channels/{name}/broadcasts/{id}/viewers", a.wrap(a.statsBroadcastViewers))
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(r *http.Request, key string, def, lo, hi int, code, public string) (int, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &Error{Status: http.StatusBadRequest, Code: code, Public: public}
	}
	return n, nil
}

func (a *api) statsRanking(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", defaultRankingLimit, 1, stats.MaxRankingLimit,
		"invalid_limit", "limit must be a whole number from 1 to 100")
	if err != nil {
		return err
	}
	// Rank from the full cached list so that channels left out (unlisted,
	// disabled, deleted) do not shorten the answer below limit.
	ranked, err := a.d.Stats.TopViewers(r.Context(), stats.MaxRankingLimit)
	if err != nil {
		return err
	}
	var titles map[string]string
	if a.d.StatsTitles != nil && len(ranked) > 0 {
		names := make([]string, len(ranked))
		for i, c := range ranked {
			names[i] = c.Channel
		}
		if titles, err = a.d.StatsTitles(r.Context(), names); err != nil {
			return err
		}
	}
	out := make([]RankedChannel, 0, limit)
	for _, c := range ranked {
		if len(out) == limit {
			break
		}
		title, ok := titles[c.Channel]
		if a.d.StatsTitles != nil && !ok {
			continue
		}
		rc := RankedChannel{Name: c.Channel, Title: title, UniqueViewers: c.UniqueViewers}
		if a.d.Live != nil {
			st, ok := a.d.Live(c.Channel)
			rc.Live = ok && st.Live
		}
		out = append(out, rc)
	}
	writeJSON(w, http.StatusOK, map[string][]RankedChannel{"channels": out})
	return nil
}

// statsAuthorize lets the channel's owner and admins through: anonymous
// visitors get 401, other users 403, an unknown channel 404.
func (a *api) statsAuthorize(r *http.Request, name string) error {
	u := account.FromContext(r.Context())
	if u == nil {
		return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Public: "sign in first"}
	}
	if a.d.StatsCanManage == nil {
		if u.IsAdmin() {
			return nil
		}
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Public: "only the channel's owner or an admin may see its statistics"}
	}
	ok, err := a.d.StatsCanManage(r.Context(), u, name)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, channel.ErrNotFound), errors.Is(err, ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Public: "channel not found", Err: err}
	case err != nil:
		return err
	case !ok:
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Public: "only the channel's owner or an admin may see its statistics"}
	}
	return nil
}

func (a *api) statsHealth(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := a.statsAuthorize(r, name); err != nil {
		return err
	}
	seconds, err := queryInt(r, "seconds", defaultHealthSeconds, 1, defaultHealthSeconds,
		"invalid_seconds", "seconds must be a whole number from 1 to 600")
	if err != nil {
		return err
	}
	samples := a.d.Stats.Health(name, time.Duration(seconds)*time.Second)
	out := make([]HealthSample, len(samples))
	for i, h := range samples {
		out[i] = HealthSample{At: h.At.UTC(), Bitrate: h.Bitrate, FPS: h.FPS, KeyframeIntervalMS: h.KeyframeIntervalMS, Viewers: h.Viewers}
	}
	writeJSON(w, http.StatusOK, map[string][]HealthSample{"samples": out})
	return nil
}

func (a *api) statsBroadcasts(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := a.statsAuthorize(r, name); err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", defaultBroadcastLimit, 1, maxBroadcastLimit,
		"invalid_limit", "limit must be a whole number from 1 to 200")
	if err != nil {
		return err
	}
	bs, err := a.d.Stats.Broadcasts(r.Context(), name, limit)
	if err != nil {
		return err
	}
	out := make([]Broadcast, len(bs))
	for i, b := range bs {
		out[i] = Broadcast{ID: b.ID, StartedAt: b.StartedAt.UTC(), PeakViewers: b.PeakViewers, UniqueViewers: b.UniqueViewers}
		if !b.EndedAt.IsZero() {
			t := b.EndedAt.UTC()
			out[i].EndedAt = &t
		}
	}
	writeJSON(w, http.StatusOK, map[string][]Broadcast{"broadcasts": out})
	return nil
}

func (a *api) statsBroadcastViewers(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := a.statsAuthorize(r, name); err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_broadcast_id", Public: "the broadcast id must be a positive whole number"}
	}
	samples, err := a.d.Stats.BroadcastViewers(r.Context(), name, id)
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Code: "broadcast_not_found", Public: "this channel has no such broadcast", Err: err}
	}
	if err != nil {
		return err
	}
	out := make([]ViewerSample, len(samples))
	for i, s := range samples {
		out[i] = ViewerSample{At: s.At.UTC(), Viewers: s.Viewers}
	}
	writeJSON(w, http.StatusOK, map[string][]ViewerSample{"samples": out})
	return nil
}
