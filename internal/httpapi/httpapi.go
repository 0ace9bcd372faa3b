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
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/chat"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/i18n"
	"github.com/huabian-live/huabian/internal/stats"
	"github.com/huabian-live/huabian/internal/webrtc"
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

	// Channels: profiles, directory, follows, images, admin (channels.go).
	// Without Channels only GET /api/v1/channels/{name} is served.
	Channels *channel.Service
	// Media stores channel images (DATA/media) and serves /media/{id}.
	Media *channel.Media
	// LiveChannels returns the channels on air (see LiveFromHub).
	LiveChannels func() map[string]channel.LiveInfo
	// CheckPassword re-authenticates a user for key reveal/rotate and
	// channel deletion: nil, account.ErrInvalidCredentials (or
	// ErrPasswordMismatch), or an error with a RetryAfter() time.Duration
	// method when rate limited.
	CheckPassword func(ctx context.Context, userID int64, password string) error
	// OnFirstChannel promotes a viewer who created a channel to streamer.
	OnFirstChannel func(ctx context.Context, userID int64) error
	// EndLive ends the live publish of a channel now (admin takedown).
	EndLive func(name string)
	// Localize returns the catalogue string of key in the request's
	// language (category names); nil or a miss gives English.
	Localize func(ctx context.Context, key string) string

	// Accounts: sign-up, sign-in, sessions, CSRF, API tokens, admin users
	// and site settings (account.go, admin_users.go, middleware.go). With
	// Accounts every request passes through the authentication middleware.
	Accounts *account.Service
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed (http.trusted_proxies).
	TrustedProxies []netip.Prefix
	// TLS says the site is served over HTTPS even when requests arrive
	// without TLS (cookies get Secure and the __Host- prefix).
	TLS bool

	// Stats: viewer rankings, stream health and broadcast history
	// (stats.go).
	Stats *stats.Service
	// StatsCanManage reports whether user may see a channel's health and
	// broadcasts (its owner or an admin); an unknown channel gives an
	// error wrapping store.ErrNotFound. Nil: admins only.
	StatsCanManage func(ctx context.Context, user *account.User, channel string) (bool, error)
	// StatsTitles returns the titles of those of names that may appear in
	// public rankings; names missing from the map are left out (unlisted,
	// disabled, deleted). Nil: every channel, without title.
	StatsTitles func(ctx context.Context, names []string) (map[string]string, error)

	// Chat serves the chat sockets and chat moderation (chat.go).
	Chat *chat.Service

	// WebRTC serves WHEP playback and WHIP ingest; nil when WebRTC is off.
	WebRTC *webrtc.Server

	// Pages serves everything else (the web pages, static files), behind
	// the same authentication middleware so pages know who is signed in.
	Pages http.Handler
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
	a.channelsRoutes(mux)
	if d.Stats != nil {
		a.statsRoutes(mux)
	}
	if d.FLV != nil {
		mux.Handle("/live/{file}", d.FLV)
	}
	if d.LLHLS != nil {
		mux.Handle("/live/{name}/{file}", d.LLHLS)
	}
	if d.Chat != nil {
		a.chatRoutes(mux)
	}
	if d.WebRTC != nil {
		// More specific than /live/{name}/{file}, so LL-HLS keeps every
		// other file name (and GET of this one).
		offer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { d.WebRTC.ServeOffer(w, r, r.PathValue("name")) })
		mux.Handle("POST /live/{name}/whep", offer)
		mux.Handle("OPTIONS /live/{name}/whep", offer)
		mux.Handle("/whep/session/", http.HandlerFunc(d.WebRTC.ServeSession))
		mux.Handle("/whip", http.HandlerFunc(d.WebRTC.ServeWHIP))
		mux.Handle("/whip/", http.HandlerFunc(d.WebRTC.ServeWHIPSession))
	}
	if d.Pages != nil {
		mux.Handle("/", d.Pages)
	}
	if d.Accounts != nil {
		a.accountRoutes(mux)
		return a.authenticate(mux)
	}
	return mux
}

// CSRFToken is the token the page's scripts must send as X-CSRF-Token, or
// "" when the visitor has no session or pre-session yet (scripts then get
// one from GET /api/v1/session).
func CSRFToken(r *http.Request) string {
	if id := accountState(r).sessionID; id != "" {
		return account.CSRFToken(id)
	}
	return ""
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
		writeJSON(w, he.Status, map[string]string{"error": he.Code, "message": publicMessage(r, he)})
	})
}

// publicMessage is he.Public in the visitor's edition when the catalogue
// has "error.<code>", else the English text of he. English visitors get
// he.Public itself: it is often more specific than the catalogue's text
// for the code (which field, which limit).
func publicMessage(r *http.Request, he *Error) string {
	if lz := i18n.FromContext(r.Context()); lz.Lang() != i18n.English && lz.Has("error."+he.Code) {
		return lz.T("error." + he.Code)
	}
	return he.Public
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
