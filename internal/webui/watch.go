package webui

import (
	"context"
	"errors"
	"html"
	"net/http"
	"strings"
	"time"

	"github.com/huabian-live/huabian/internal/channel"
)

// ErrChannelNotFound is what WatchDeps.Channel returns for a channel that
// does not exist or that the visitor may not see (disabled by an admin).
var ErrChannelNotFound = errors.New("channel not found")

// WatchChannel is what the watch and embed pages render on the server:
// enough for the title, Open Graph cards and a page that reads well before
// its scripts run. Everything live comes from GET /api/v1/channels/NAME.
type WatchChannel struct {
	Name             string
	Title            string
	Description      string
	OwnerName        string // empty: no owner
	OwnerDisplayName string
	AvatarURL        string // empty: none
	BannerURL        string // empty: the default banner
	Live             bool
	LastLiveAt       time.Time // zero: never live
}

// WatchDeps are what the watch, embed and dashboard pages need.
type WatchDeps struct {
	// Channel looks a channel up for the visitor in ctx; unknown or
	// disabled channels give ErrChannelNotFound.
	Channel func(ctx context.Context, name string) (WatchChannel, error)
	// RTMPPort is the RTMP ingest port shown in the dashboard's OBS
	// settings; 0 means RTMP ingest is off.
	RTMPPort int
	// SRTPort is the SRT ingest port (UDP) shown there; 0 means SRT is off.
	SRTPort int
}

// WatchData is the page data of /c/NAME and /embed/NAME.
type WatchData struct {
	Channel      WatchChannel
	DisplayTitle string // the title, or the channel name when untitled
	Summary      string // description trimmed for meta tags
	PageURL      string // absolute URL of the watch page
	EmbedURL     string // absolute URL of the embed player
	ImageURL     string // absolute URL of the Open Graph image
	LastLiveISO  string // RFC 3339, empty when never live
	EmbedCode    string // the iframe snippet, attribute values escaped for pasting
}

// I18nPrefixes gives the embed player the watch page's strings.
func (WatchData) I18nPrefixes() []string { return []string{"watch."} }

func init() {
	routeHooks = append(routeHooks, (*UI).watchRoutes)
}

func (u *UI) watchRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /c/{name}", u.watchPage("watch"))
	mux.HandleFunc("GET /embed/{name}", u.watchPage("embed"))
	mux.HandleFunc("GET /dashboard", u.dashboard)
}

// watchPage renders page ("watch" or "embed") for the channel in the path.
func (u *UI) watchPage(page string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if channel.ValidateName(name) != nil || u.d.Watch.Channel == nil {
			u.notFound(w, r)
			return
		}
		ch, err := u.d.Watch.Channel(r.Context(), name)
		if errors.Is(err, ErrChannelNotFound) {
			u.notFound(w, r)
			return
		}
		if err != nil {
			u.log.Error("look up channel", "channel", name, "err", err)
			u.RenderStatus(w, r, http.StatusInternalServerError, "notfound", nil)
			return
		}
		u.Render(w, r, page, u.watchData(r, ch))
	}
}

func (u *UI) watchData(r *http.Request, ch WatchChannel) WatchData {
	origin := u.origin(r)
	d := WatchData{
		Channel:      ch,
		DisplayTitle: ch.Title,
		Summary:      truncateRunes(strings.Join(strings.Fields(ch.Description), " "), 200),
		PageURL:      origin + "/c/" + ch.Name,
		EmbedURL:     origin + "/embed/" + ch.Name,
	}
	if d.DisplayTitle == "" {
		d.DisplayTitle = ch.Name
	}
	// The snippet is pasted into other sites' pages: escape the title as
	// an attribute value there (the template escapes it again as text).
	d.EmbedCode = `<iframe src="` + html.EscapeString(d.EmbedURL) + `" width="640" height="360" ` +
		`allow="autoplay; fullscreen" allowfullscreen title="` + html.EscapeString(d.DisplayTitle) + `"></iframe>`
	switch {
	case ch.BannerURL != "":
		d.ImageURL = absoluteURL(origin, ch.BannerURL)
	case ch.AvatarURL != "":
		d.ImageURL = absoluteURL(origin, ch.AvatarURL)
	default:
		d.ImageURL = origin + u.assetURL("img/preview.svg")
	}
	if !ch.LastLiveAt.IsZero() {
		d.LastLiveISO = ch.LastLiveAt.UTC().Format(time.RFC3339)
	}
	return d
}

// origin is the configured public URL, else the request's own origin.
func (u *UI) origin(r *http.Request) string {
	if u.d.PublicURL != "" {
		return strings.TrimSuffix(u.d.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// absoluteURL keeps absolute http(s) URLs and roots local paths at origin.
func absoluteURL(origin, s string) string {
	if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		return s
	}
	if LocalPath(s) {
		return origin + s
	}
	return origin
}

func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return strings.TrimSpace(s[:j]) + "…"
		}
		i++
	}
	return s
}
