package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/store"
)

// ErrPasswordMismatch is what Deps.CheckPassword returns (possibly wrapped)
// for a wrong password, as does account.ErrInvalidCredentials; either
// becomes 401 invalid_credentials. An error with a RetryAfter()
// time.Duration method becomes 429 rate_limited with Retry-After.
var ErrPasswordMismatch = errors.New("password does not match")

// chanBodyLimit bounds JSON request bodies of the channel routes.
const chanBodyLimit = 64 << 10

// LiveFromHub returns a Deps.LiveChannels over the hub's list of streams:
// channels with a publisher attached, their start time and viewers on every
// protocol (hlsViewers, if set, adds LL-HLS viewers).
func LiveFromHub(list func() []hub.Status, hlsViewers func(name string) int) func() map[string]channel.LiveInfo {
	return func() map[string]channel.LiveInfo {
		m := map[string]channel.LiveInfo{}
		for _, s := range list() {
			if !s.Live {
				continue
			}
			n := 0
			for _, v := range s.Stream.Viewers() {
				n += v
			}
			if hlsViewers != nil {
				n += hlsViewers(s.Name)
			}
			m[s.Name] = channel.LiveInfo{StartedAt: s.StartedAt, Viewers: n}
		}
		return m
	}
}

// channelsRoutes mounts the channel routes. GET /api/v1/channels/{name}
// (live status) is always there; the rest needs Deps.Channels.
func (a *api) channelsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/channels/{name}", a.wrap(a.channel))
	if a.d.Channels == nil {
		return
	}
	mux.Handle("GET /api/v1/channels", a.wrap(a.chanDirectory))
	mux.Handle("POST /api/v1/channels", a.wrap(a.chanCreate))
	mux.Handle("PATCH /api/v1/channels/{name}", a.wrap(a.chanUpdate))
	mux.Handle("DELETE /api/v1/channels/{name}", a.wrap(a.chanDelete))
	mux.Handle("POST /api/v1/channels/{name}/key", a.wrap(a.chanKey(false)))
	mux.Handle("POST /api/v1/channels/{name}/key/rotate", a.wrap(a.chanKey(true)))
	for _, kind := range []store.ImageKind{store.ImageAvatar, store.ImageBanner} {
		mux.Handle("PUT /api/v1/channels/{name}/"+string(kind), a.wrap(a.chanPutImage(kind)))
		mux.Handle("DELETE /api/v1/channels/{name}/"+string(kind), a.wrap(a.chanDeleteImage(kind)))
	}
	mux.Handle("PUT /api/v1/channels/{name}/follow", a.wrap(a.chanFollow(true)))
	mux.Handle("DELETE /api/v1/channels/{name}/follow", a.wrap(a.chanFollow(false)))
	mux.Handle("GET /api/v1/me/channels", a.wrap(a.chanMine))
	mux.Handle("GET /api/v1/categories", a.wrap(a.chanCategories))
	mux.Handle("GET /api/v1/admin/channels", a.wrap(a.chanAdminList))
	mux.Handle("PATCH /api/v1/admin/channels/{name}", a.wrap(a.chanAdminUpdate))
	mux.Handle("POST /api/v1/admin/channels/{name}/takedown", a.wrap(a.chanTakedown))
	mux.Handle("GET /media/preview/{name}", a.wrap(a.chanPreview))
	if a.d.Media != nil {
		mux.Handle("GET /media/{id}", a.wrap(a.chanMedia))
	}
}

// ChannelStatus is the JSON body of GET /api/v1/channels/NAME: live status
// and, when profiles are available, the channel's profile.
type ChannelStatus struct {
	Name          string         `json:"name"`
	Live          bool           `json:"live"`
	StartedAt     *time.Time     `json:"started_at"`
	Video         *VideoStatus   `json:"video"`
	Audio         *AudioStatus   `json:"audio"`
	IngestBitrate int64          `json:"ingest_bitrate"` // bits per second, last complete second
	Viewers       map[string]int `json:"viewers"`        // by protocol, plus "total"
	// BFrames: the live publish sends B-frames, which WebRTC cannot play.
	BFrames bool `json:"b_frames"`

	Title       string        `json:"title"`
	Description string        `json:"description"`
	Owner       *ChannelOwner `json:"owner"`
	Category    *Category     `json:"category"`
	Tags        []string      `json:"tags"`
	Language    string        `json:"language"`
	Visibility  string        `json:"visibility"`
	AvatarURL   *string       `json:"avatar_url"`
	BannerURL   *string       `json:"banner_url"`
	PreviewURL  string        `json:"preview_url"`
	LastLiveAt  *time.Time    `json:"last_live_at"`
	Followers   int           `json:"followers"`
	Following   bool          `json:"following"`
	CanEdit     bool          `json:"can_edit"`
	CanModerate bool          `json:"can_moderate"`
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

// ChannelOwner is the owner of a channel in JSON.
type ChannelOwner struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
}

// CategoryRef is one breadcrumb of a category's path.
type CategoryRef struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// Category is a category in JSON, with its localised name.
type Category struct {
	Slug     string        `json:"slug"`
	Name     string        `json:"name"`
	Path     []CategoryRef `json:"path"`
	Children []Category    `json:"children"`
}

// ChannelSummary is a channel in the directory.
type ChannelSummary struct {
	Name       string        `json:"name"`
	Title      string        `json:"title"`
	Owner      *ChannelOwner `json:"owner"`
	Category   *Category     `json:"category"`
	Tags       []string      `json:"tags"`
	Language   string        `json:"language"`
	Live       bool          `json:"live"`
	StartedAt  *time.Time    `json:"started_at"`
	Viewers    int           `json:"viewers"`
	AvatarURL  *string       `json:"avatar_url"`
	BannerURL  *string       `json:"banner_url"`
	PreviewURL string        `json:"preview_url"`
	LastLiveAt *time.Time    `json:"last_live_at"`
	Followers  int           `json:"followers"`
}

// ManagedChannel is a channel as its owner (dashboard) or an admin sees it.
type ManagedChannel struct {
	ChannelSummary
	Description string    `json:"description"`
	Visibility  string    `json:"visibility"`
	Disabled    bool      `json:"disabled"`
	KeyHint     string    `json:"key_hint"`
	CreatedAt   time.Time `json:"created_at"`
}

func (a *api) channel(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := channel.ValidateName(name); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_name", Public: err.Error()}
	}
	st := ChannelStatus{Name: name, Tags: []string{}, Visibility: channel.VisibilityPublic,
		PreviewURL: chanPreviewURL(name)}
	if a.d.Channels != nil {
		u := account.FromContext(r.Context())
		rec, err := a.chanVisible(r.Context(), name, u)
		if err != nil {
			return err
		}
		a.chanFillStatus(r.Context(), &st, rec, u)
	} else {
		exists, err := a.d.ChannelExists(r.Context(), name)
		if err != nil {
			return err
		}
		if !exists {
			return chanNotFound()
		}
	}
	st.Viewers = map[string]int{
		observe.ProtoHTTPFLV: 0, observe.ProtoWSFLV: 0, observe.ProtoRTMP: 0, observe.ProtoRTMPS: 0,
		observe.ProtoSRT: 0, observe.ProtoLLHLS: 0, observe.ProtoWebRTC: 0,
	}
	if a.d.Live != nil {
		if ls, ok := a.d.Live(name); ok {
			s := ls.Stream
			st.Live = ls.Live
			if ls.Live {
				t := ls.StartedAt.UTC()
				st.StartedAt = &t
				st.BFrames = ls.BFrames
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

func (a *api) chanFillStatus(ctx context.Context, st *ChannelStatus, rec channel.Record, u *account.User) {
	sum := a.chanSummary(ctx, channel.Entry{Record: rec})
	st.Title, st.Owner, st.Category, st.Tags, st.Language = sum.Title, sum.Owner, sum.Category, sum.Tags, sum.Language
	st.AvatarURL, st.BannerURL, st.LastLiveAt, st.Followers = sum.AvatarURL, sum.BannerURL, sum.LastLiveAt, sum.Followers
	st.Description, st.Visibility, st.Following = rec.Description, rec.Visibility, rec.Following
	st.CanEdit = chanMayEdit(u, rec)
	// Chat moderators granted per channel are the chat package's; owners
	// and admins always moderate.
	st.CanModerate = st.CanEdit
}

// chanVisible returns the channel called name as u may see it: disabled
// channels exist only for admins.
func (a *api) chanVisible(ctx context.Context, name string, u *account.User) (channel.Record, error) {
	var uid int64
	if u != nil {
		uid = u.ID
	}
	rec, err := a.d.Channels.Record(ctx, name, uid)
	if err != nil {
		return rec, chanError(err)
	}
	if rec.Disabled && !u.IsAdmin() {
		return rec, chanNotFound()
	}
	return rec, nil
}

// chanEditable returns the channel called name if the signed-in user may
// manage it (its owner or an admin): 401 when anonymous, 403 otherwise.
func (a *api) chanEditable(r *http.Request) (*account.User, channel.Record, error) {
	u, err := chanSignedIn(r)
	if err != nil {
		return nil, channel.Record{}, err
	}
	name := r.PathValue("name")
	if err := channel.ValidateName(name); err != nil {
		return nil, channel.Record{}, chanError(err)
	}
	rec, err := a.chanVisible(r.Context(), name, u)
	if err != nil {
		return nil, rec, err
	}
	if !chanMayEdit(u, rec) {
		return nil, rec, &Error{Status: http.StatusForbidden, Code: "forbidden", Public: "only the channel's owner or an admin may do this"}
	}
	return u, rec, nil
}

func chanMayEdit(u *account.User, rec channel.Record) bool {
	if u == nil || u.Disabled {
		return false
	}
	return u.IsAdmin() || (rec.Owner != nil && rec.Owner.ID == u.ID)
}

func chanSignedIn(r *http.Request) (*account.User, error) {
	u := account.FromContext(r.Context())
	if u == nil {
		return nil, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Public: "sign in first"}
	}
	if u.Disabled {
		return nil, &Error{Status: http.StatusForbidden, Code: "forbidden", Public: "this account is disabled"}
	}
	return u, nil
}

func chanAdmin(r *http.Request) (*account.User, error) {
	u, err := chanSignedIn(r)
	if err != nil {
		return nil, err
	}
	if !u.IsAdmin() {
		return nil, &Error{Status: http.StatusForbidden, Code: "forbidden", Public: "admins only"}
	}
	return u, nil
}

func (a *api) chanDirectory(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	u := account.FromContext(r.Context())
	dq := channel.DirectoryQuery{Search: q.Get("q"), Category: q.Get("category"), LiveOnly: q.Get("live") == "true"}
	if u != nil {
		dq.ViewerID = u.ID
	}
	var err error
	if dq.Limit, err = chanIntParam(q.Get("limit"), "limit"); err != nil {
		return err
	}
	if dq.Offset, err = chanIntParam(q.Get("offset"), "offset"); err != nil {
		return err
	}
	if q.Get("followed") == "true" {
		if u == nil {
			return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Public: "sign in to see the channels you follow"}
		}
		dq.FollowedBy = u.ID
	}
	entries, total, err := a.d.Channels.Directory(r.Context(), dq, a.chanLive())
	if err != nil {
		return chanError(err)
	}
	out := make([]ChannelSummary, len(entries))
	for i, e := range entries {
		out[i] = a.chanSummary(r.Context(), e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": out, "total": total})
	return nil
}

func chanIntParam(s, name string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, &Error{Status: http.StatusBadRequest, Code: "invalid_" + name, Public: name + " must be a non-negative integer"}
	}
	return n, nil
}

func (a *api) chanLive() map[string]channel.LiveInfo {
	if a.d.LiveChannels == nil {
		return nil
	}
	return a.d.LiveChannels()
}

// chanProfileBody is the body of POST /channels and PATCH /channels/NAME.
type chanProfileBody struct {
	Name        *string   `json:"name"`
	Title       *string   `json:"title"`
	Description *string   `json:"description"`
	Category    *string   `json:"category"`
	Tags        *[]string `json:"tags"`
	Language    *string   `json:"language"`
	Visibility  *string   `json:"visibility"`
}

func (b chanProfileBody) update() channel.ProfileUpdate {
	return channel.ProfileUpdate{Title: b.Title, Description: b.Description, Category: b.Category,
		Tags: b.Tags, Language: b.Language, Visibility: b.Visibility}
}

func (a *api) chanCreate(w http.ResponseWriter, r *http.Request) error {
	u, err := chanSignedIn(r)
	if err != nil {
		return err
	}
	var body chanProfileBody
	if err := chanDecode(w, r, &body); err != nil {
		return err
	}
	if body.Name == nil {
		return chanError(channel.ValidateName(""))
	}
	p := body.update().Apply(channel.Profile{})
	rec, _, err := a.d.Channels.CreateOwned(r.Context(), u.ID, *body.Name, p)
	if err != nil {
		return chanError(err)
	}
	if u.Role == account.RoleViewer && a.d.OnFirstChannel != nil {
		// The channel exists either way; a failed promotion is retried at
		// the next creation and an admin can set the role by hand.
		if err := a.d.OnFirstChannel(r.Context(), u.ID); err != nil {
			a.log.Error("promote user to streamer", "user", u.ID, "err", err)
		}
	}
	writeJSON(w, http.StatusCreated, a.chanManaged(r.Context(), channel.Entry{Record: rec}))
	return nil
}

func (a *api) chanUpdate(w http.ResponseWriter, r *http.Request) error {
	u, rec, err := a.chanEditable(r)
	if err != nil {
		return err
	}
	var body chanProfileBody
	if err := chanDecode(w, r, &body); err != nil {
		return err
	}
	if body.Name != nil && *body.Name != rec.Name {
		return &Error{Status: http.StatusBadRequest, Code: "name_immutable", Public: "a channel's name cannot be changed"}
	}
	rec, err = a.d.Channels.UpdateProfile(r.Context(), rec.Name, body.update(), u.ID)
	if err != nil {
		return chanError(err)
	}
	writeJSON(w, http.StatusOK, a.chanManaged(r.Context(), a.chanWithLive(rec)))
	return nil
}

type chanPasswordBody struct {
	Password string `json:"password"`
}

// chanReauth checks the signed-in user's password in the body.
func (a *api) chanReauth(w http.ResponseWriter, r *http.Request, u *account.User) error {
	var body chanPasswordBody
	if err := chanDecode(w, r, &body); err != nil {
		return err
	}
	if a.d.CheckPassword == nil {
		return errors.New("no password check configured")
	}
	err := a.d.CheckPassword(r.Context(), u.ID, body.Password)
	if err == nil {
		return nil
	}
	var ra interface{ RetryAfter() time.Duration }
	var he *Error
	switch {
	case errors.As(err, &ra):
		secs := int(math.Ceil(ra.RetryAfter().Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
		return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Public: "too many attempts, try again later", Err: err}
	case errors.Is(err, ErrPasswordMismatch), errors.Is(err, account.ErrInvalidCredentials):
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_credentials", Public: "wrong password", Err: err}
	case errors.As(err, &he):
		return he
	}
	return fmt.Errorf("check password of user %d: %w", u.ID, err)
}

func (a *api) chanDelete(w http.ResponseWriter, r *http.Request) error {
	u, rec, err := a.chanEditable(r)
	if err != nil {
		return err
	}
	if err := a.chanReauth(w, r, u); err != nil {
		return err
	}
	if err := a.d.Channels.DeleteWithMedia(r.Context(), a.d.Media, rec.Name); err != nil {
		return chanError(err)
	}
	if a.d.EndLive != nil {
		a.d.EndLive(rec.Name) // the key check would end it within a second
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// chanKey reveals (or with rotate, replaces) a channel's stream key. A
// rotated key ends live publishes made with the old one at the next key
// check.
func (a *api) chanKey(rotate bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, rec, err := a.chanEditable(r)
		if err != nil {
			return err
		}
		if err := a.chanReauth(w, r, u); err != nil {
			return err
		}
		var key channel.StreamKey
		if rotate {
			key, err = a.d.Channels.Rotate(r.Context(), rec.Name)
		} else {
			key, err = a.d.Channels.Key(r.Context(), rec.Name)
		}
		if err != nil {
			return chanError(err)
		}
		writeJSON(w, http.StatusOK, map[string]string{"stream_key": string(key)})
		return nil
	}
}

func (a *api) chanPutImage(kind store.ImageKind) handlerFunc {
	limit := int64(channel.MaxAvatarBytes)
	if kind == store.ImageBanner {
		limit = channel.MaxBannerBytes
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		_, rec, err := a.chanEditable(r)
		if err != nil {
			return err
		}
		if r.ContentLength > limit {
			return chanError(channel.ErrImageTooLarge)
		}
		if a.d.Media == nil {
			return errors.New("no media store configured")
		}
		file, err := a.d.Channels.SetImage(r.Context(), a.d.Media, rec.Name, kind, http.MaxBytesReader(w, r.Body, limit+1))
		if err != nil {
			return chanError(err)
		}
		writeJSON(w, http.StatusOK, map[string]string{"url": chanMediaURL(file)})
		return nil
	}
}

func (a *api) chanDeleteImage(kind store.ImageKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		_, rec, err := a.chanEditable(r)
		if err != nil {
			return err
		}
		if a.d.Media == nil {
			return errors.New("no media store configured")
		}
		if err := a.d.Channels.RemoveImage(r.Context(), a.d.Media, rec.Name, kind); err != nil {
			return chanError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (a *api) chanFollow(follow bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := chanSignedIn(r)
		if err != nil {
			return err
		}
		name := r.PathValue("name")
		if _, err := a.chanVisible(r.Context(), name, u); err != nil {
			return err
		}
		n, err := a.d.Channels.Follow(r.Context(), u.ID, name, follow)
		if err != nil {
			return chanError(err)
		}
		writeJSON(w, http.StatusOK, map[string]any{"following": follow, "followers": n})
		return nil
	}
}

func (a *api) chanMine(w http.ResponseWriter, r *http.Request) error {
	u, err := chanSignedIn(r)
	if err != nil {
		return err
	}
	return a.chanWriteManaged(w, r, store.ChannelFilter{OwnerID: u.ID, ViewerID: u.ID})
}

func (a *api) chanAdminList(w http.ResponseWriter, r *http.Request) error {
	u, err := chanAdmin(r)
	if err != nil {
		return err
	}
	f := store.ChannelFilter{ViewerID: u.ID}
	if q := r.URL.Query().Get("q"); q != "" {
		f.Search = strings.ToLower(q)
	}
	return a.chanWriteManaged(w, r, f)
}

func (a *api) chanWriteManaged(w http.ResponseWriter, r *http.Request, f store.ChannelFilter) error {
	recs, err := a.d.Channels.Records(r.Context(), f)
	if err != nil {
		return err
	}
	entries := channel.WithLive(recs, a.chanLive())
	out := make([]ManagedChannel, len(entries))
	for i, e := range entries {
		out[i] = a.chanManaged(r.Context(), e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": out})
	return nil
}

func (a *api) chanAdminUpdate(w http.ResponseWriter, r *http.Request) error {
	u, err := chanAdmin(r)
	if err != nil {
		return err
	}
	var body struct {
		Disabled *bool `json:"disabled"`
	}
	if err := chanDecode(w, r, &body); err != nil {
		return err
	}
	name := r.PathValue("name")
	if body.Disabled != nil {
		if err := a.d.Channels.SetDisabled(r.Context(), name, *body.Disabled); err != nil {
			return chanError(err)
		}
		if *body.Disabled && a.d.EndLive != nil {
			a.d.EndLive(name)
		}
	}
	rec, err := a.d.Channels.Record(r.Context(), name, u.ID)
	if err != nil {
		return chanError(err)
	}
	writeJSON(w, http.StatusOK, a.chanManaged(r.Context(), a.chanWithLive(rec)))
	return nil
}

// chanTakedown ends the channel's live publish now. The key stays valid:
// to keep the channel off the air, disable it.
func (a *api) chanTakedown(w http.ResponseWriter, r *http.Request) error {
	if _, err := chanAdmin(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	if _, err := a.d.Channels.Record(r.Context(), name, 0); err != nil {
		return chanError(err)
	}
	if a.d.EndLive == nil {
		return errors.New("no live registry configured")
	}
	a.d.EndLive(name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) chanCategories(w http.ResponseWriter, r *http.Request) error {
	roots := channel.Categories()
	out := make([]Category, len(roots))
	for i, c := range roots {
		out[i] = a.chanCategory(r.Context(), c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"categories": out})
	return nil
}

// chanMedia serves a stored channel image. Names are generated, so a
// stored image never changes: it may be cached for good.
func (a *api) chanMedia(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !channel.ValidMediaName(id) {
		return chanNotFound()
	}
	f, err := a.d.Media.Open(id)
	if err != nil {
		return chanNotFound()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat media %s: %w", id, err)
	}
	h := w.Header()
	h.Set("Content-Type", channel.MediaContentType(id))
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}

// chanPreview serves a channel's preview image: a placeholder until live
// thumbnails exist, cached briefly so that they can replace it.
func (a *api) chanPreview(w http.ResponseWriter, r *http.Request) error {
	if channel.ValidateName(r.PathValue("name")) != nil {
		return chanNotFound()
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "public, max-age=60")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(channel.PlaceholderPreview())
	return nil
}

func (a *api) chanWithLive(rec channel.Record) channel.Entry {
	return channel.WithLive([]channel.Record{rec}, a.chanLive())[0]
}

func (a *api) chanSummary(ctx context.Context, e channel.Entry) ChannelSummary {
	s := ChannelSummary{
		Name: e.Name, Title: e.Title, Tags: e.Tags, Language: e.Language,
		Live: e.Live, Viewers: e.Viewers, Followers: e.Followers, PreviewURL: chanPreviewURL(e.Name),
	}
	if s.Title == "" {
		s.Title = e.Name
	}
	if s.Tags == nil {
		s.Tags = []string{}
	}
	if e.Owner != nil {
		s.Owner = &ChannelOwner{Name: e.Owner.Name, DisplayName: e.Owner.DisplayName}
	}
	if c, ok := channel.CategoryBySlug(e.Category); ok {
		cj := a.chanCategory(ctx, c)
		s.Category = &cj
	}
	if e.Live {
		t := e.StartedAt.UTC()
		s.StartedAt = &t
	}
	if !e.LastLiveAt.IsZero() {
		t := e.LastLiveAt.UTC()
		s.LastLiveAt = &t
	}
	if e.AvatarID != "" {
		u := chanMediaURL(e.AvatarID)
		s.AvatarURL = &u
	}
	if e.BannerID != "" {
		u := chanMediaURL(e.BannerID)
		s.BannerURL = &u
	}
	return s
}

func (a *api) chanManaged(ctx context.Context, e channel.Entry) ManagedChannel {
	return ManagedChannel{
		ChannelSummary: a.chanSummary(ctx, e),
		Description:    e.Description,
		Visibility:     e.Visibility,
		Disabled:       e.Disabled,
		KeyHint:        e.Key.Hint,
		CreatedAt:      e.CreatedAt.UTC(),
	}
}

func (a *api) chanCategory(ctx context.Context, c *channel.Category) Category {
	out := Category{Slug: c.Slug, Name: a.chanCategoryName(ctx, c), Children: []Category{}}
	for _, p := range c.Path() {
		out.Path = append(out.Path, CategoryRef{Slug: p.Slug, Name: a.chanCategoryName(ctx, p)})
	}
	for _, ch := range c.Children {
		out.Children = append(out.Children, a.chanCategory(ctx, ch))
	}
	return out
}

func (a *api) chanCategoryName(ctx context.Context, c *channel.Category) string {
	if a.d.Localize != nil {
		key := "channels.category." + c.Slug
		if s := a.d.Localize(ctx, key); s != "" && s != key {
			return s
		}
	}
	return c.Name
}

func chanMediaURL(file string) string   { return "/media/" + file }
func chanPreviewURL(name string) string { return "/media/preview/" + name }

// chanDecode reads a JSON body of at most chanBodyLimit bytes into v,
// refusing unknown fields and trailing data.
func chanDecode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, chanBodyLimit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("data after the JSON value")
	}
	if err == nil {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Public: "request body too large", Err: err}
	}
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Public: "invalid JSON body: " + chanTruncate(err.Error()), Err: err}
}

func chanTruncate(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

func chanNotFound() *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Public: "no such channel"}
}

// chanError turns the channel package's errors into HTTP errors.
func chanError(err error) error {
	var pe *channel.ProfileError
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return &Error{Status: http.StatusBadRequest, Code: pe.Code, Public: pe.Error(), Err: err}
	case errors.Is(err, channel.ErrBadName):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_name", Public: err.Error(), Err: err}
	case errors.Is(err, channel.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Public: "no such channel", Err: err}
	case errors.Is(err, channel.ErrExists):
		return &Error{Status: http.StatusConflict, Code: "channel_exists", Public: "a channel with this name exists already", Err: err}
	case errors.Is(err, channel.ErrLimit):
		return &Error{Status: http.StatusForbidden, Code: "channel_limit",
			Public: fmt.Sprintf("you own %d channels, the most allowed", channel.MaxChannelsPerUser), Err: err}
	case errors.Is(err, channel.ErrImageTooLarge), errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "image_too_large", Public: "image file too large", Err: err}
	case errors.Is(err, channel.ErrImageSize):
		return &Error{Status: http.StatusBadRequest, Code: "image_dimensions", Public: channel.ErrImageSize.Error(), Err: err}
	case errors.Is(err, channel.ErrImageType):
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_image", Public: "send a PNG, JPEG or GIF image", Err: err}
	case errors.Is(err, channel.ErrImageTrailing):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_image", Public: "the image has extra data after its end", Err: err}
	}
	return err
}
