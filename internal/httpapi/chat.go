package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/chat"
)

// chatRoutes mounts the chat socket and the chat moderation API.
func (a *api) chatRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/channels/{name}/chat", a.wrap(a.chatSocket))
	mux.Handle("GET /api/v1/channels/{name}/chat/messages", a.wrap(a.chatMessages))
	mux.Handle("DELETE /api/v1/channels/{name}/chat/messages/{id}", a.wrap(a.chatDeleteMessage))
	mux.Handle("GET /api/v1/channels/{name}/chat/bans", a.wrap(a.chatBans))
	mux.Handle("POST /api/v1/channels/{name}/chat/bans", a.wrap(a.chatBan))
	mux.Handle("DELETE /api/v1/channels/{name}/chat/bans/{user}", a.wrap(a.chatUnban))
	mux.Handle("GET /api/v1/channels/{name}/chat/settings", a.wrap(a.chatSettings))
	mux.Handle("PUT /api/v1/channels/{name}/chat/settings", a.wrap(a.chatPutSettings))
	mux.Handle("GET /api/v1/channels/{name}/moderators", a.wrap(a.chatModerators))
	mux.Handle("PUT /api/v1/channels/{name}/moderators/{user}", a.wrap(a.chatGrant))
	mux.Handle("DELETE /api/v1/channels/{name}/moderators/{user}", a.wrap(a.chatRevoke))
}

// chatStatus maps chat refusal codes to HTTP statuses.
var chatStatus = map[string]int{
	chat.CodeLoginRequired:   http.StatusUnauthorized,
	chat.CodeForbidden:       http.StatusForbidden,
	chat.CodeCrossOrigin:     http.StatusForbidden,
	chat.CodeCannotBan:       http.StatusForbidden,
	chat.CodeChannelNotFound: http.StatusNotFound,
	chat.CodeUserNotFound:    http.StatusNotFound,
	chat.CodeMessageNotFound: http.StatusNotFound,
	chat.CodeNotBanned:       http.StatusNotFound,
	chat.CodeNotModerator:    http.StatusNotFound,
	chat.CodeAlreadyGranted:  http.StatusConflict,
	chat.CodeBadDuration:     http.StatusBadRequest,
	chat.CodeBadSettings:     http.StatusBadRequest,
	chat.CodeRateLimited:     http.StatusTooManyRequests,
}

// chatError turns a chat error into an *Error; others pass through (500).
func chatError(err error) error {
	var ce *chat.Error
	if errors.As(err, &ce) {
		if st, ok := chatStatus[ce.Code]; ok {
			return &Error{Status: st, Code: ce.Code, Public: ce.Message(), Err: ce.Err}
		}
	}
	if errors.Is(err, chat.ErrClosed) {
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Public: "shutting down", Err: err}
	}
	return err
}

// chatName validates the {name} path value.
func (a *api) chatName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if a.d.ValidName != nil {
		if err := a.d.ValidName(name); err != nil {
			return "", &Error{Status: http.StatusNotFound, Code: chat.CodeChannelNotFound, Public: chat.ErrorText(chat.CodeChannelNotFound)}
		}
	}
	return name, nil
}

// chatDecode reads a small JSON body strictly into v.
func chatDecode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Public: "the request body is not valid JSON for this request", Err: err}
	}
	return nil
}

func (a *api) chatSocket(w http.ResponseWriter, r *http.Request) error {
	name, err := a.chatName(r)
	if err != nil {
		return err
	}
	return chatError(a.d.Chat.ServeSocket(w, r, name))
}

func (a *api) chatMessages(w http.ResponseWriter, r *http.Request) error {
	name, err := a.chatName(r)
	if err != nil {
		return err
	}
	ms, err := a.d.Chat.History(r.Context(), name)
	if err != nil {
		return chatError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": ms})
	return nil
}

func (a *api) chatDeleteMessage(w http.ResponseWriter, r *http.Request) error {
	name, err := a.chatName(r)
	if err != nil {
		return err
	}
	if err := a.d.Chat.DeleteMessage(r.Context(), account.FromContext(r.Context()), name, r.PathValue("id")); err != nil {
		return chatError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) chatBans(w http.ResponseWriter, r *http.Request) error {
	name, err := a.chatName(r)
	if err != nil {
		return err
	}
	bs, err := a.d.Chat.Bans(r.Context(), account.FromContext(r.Context()), name)
	if err != nil {
		return chatError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"bans": bs})
	return nil
}

func (a *api) chatBan(w http.ResponseWriter, r *http.Request) error {
	name, err := a.chatName(r)
	if err != nil {
		return err
	}
	var in struct {
		User            string `json:"user"`
		DurationSeconds int64  `json:"duration_seconds"`
	}
	if err := chatDecode(w, r, &in); err != nil {
		return err
	}
	if in.DurationSeconds < 0 || in.DurationSeconds > int64(chat.MaxTimeout/time.Second) {
		return chatError(&chat.Error{Code: chat.CodeBadDuration})
	}
	b, err := a.d.Chat.BanUser(r.Context(), account.FromContext(r.Context()), name, in.User,
		time.Duration(in.DurationSeconds)*time.Second)
	if err != nil {
		return chatError(err)
	}
	writeJSON(w, http.StatusCreated, b)
	return nil
}

func (a *api) chatUnban(w http.ResponseWriter, r *http.Request) error {
	name, err := a.chatName(r)
	if err != nil {
		return err
	}
	if err := a.d.Chat.Unban(r.Context(), account.FromContext(r.Context()), name, r.PathValue("user")); err != nil {
		return chatError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) chatSettings(w http.ResponseWriter, r *http.Request) error {
	name, err := a.chatName(r)
	if err != nil {
		return err
	}
	s, err := a.d.Chat.Settings(r.Context(), account.FromContext(r.Context()), name)
	if err != nil {
		return chatError(err)
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

func (a *api) chatPutSettings(w http.ResponseWriter, r *http.Request) error {
	name, err := a.chatName(r)
	if err != nil {
		return err
	}
	var in chat.Settings
	if err := chatDecode(w, r, &in); err != nil {
		return err
	}
	s, err := a.d.Chat.PutSettings(r.Context(), account.FromContext(r.Context()), name, in)
	if err != nil {
		return chatError(err)
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

func (a *api) chatModerators(w http.ResponseWriter, r *http.Request) error {
	name, err := a.chatName(r)
	if err != nil {
		return err
	}
	ms, err := a.d.Chat.Moderators(r.Context(), account.FromContext(r.Context()), name)
	if err != nil {
		return chatError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"moderators": ms})
	return nil
}

func (a *api) chatGrant(w http.ResponseWriter, r *http.Request) error {
	name, err := a.chatName(r)
	if err != nil {
		return err
	}
	m, err := a.d.Chat.Grant(r.Context(), account.FromContext(r.Context()), name, r.PathValue("user"))
	if err != nil {
		return chatError(err)
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (a *api) chatRevoke(w http.ResponseWriter, r *http.Request) error {
	name, err := a.chatName(r)
	if err != nil {
		return err
	}
	if err := a.d.Chat.Revoke(r.Context(), account.FromContext(r.Context()), name, r.PathValue("user")); err != nil {
		return chatError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
