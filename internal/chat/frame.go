package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/huabian-live/huabian/internal/store"
)

// Error codes of error frames and of the moderation API. Each has an
// "error.<code>" entry in the chat catalogue of every language edition.
const (
	CodeLoginRequired   = "login_required"
	CodeForbidden       = "forbidden"
	CodeCrossOrigin     = "cross_origin"
	CodeRateLimited     = "rate_limited"
	CodeSlowMode        = "slow_mode"
	CodeBlockedWord     = "blocked_word"
	CodeTimedOut        = "timed_out"
	CodeBanned          = "banned"
	CodeMessageEmpty    = "message_empty"
	CodeMessageTooLong  = "message_too_long"
	CodeBadFrame        = "bad_frame"
	CodeInternal        = "internal"
	CodeChannelNotFound = "channel_not_found"
	CodeUserNotFound    = "user_not_found"
	CodeMessageNotFound = "message_not_found"
	CodeNotBanned       = "not_banned"
	CodeAlreadyGranted  = "already_moderator"
	CodeNotModerator    = "not_moderator"
	CodeCannotBan       = "cannot_ban"
	CodeBadDuration     = "invalid_duration"
	CodeBadSettings     = "invalid_settings"
)

// errorText is the English text of each code; clients localise by code.
var errorText = map[string]string{
	CodeLoginRequired:   "sign in to chat",
	CodeForbidden:       "you may not moderate this chat",
	CodeCrossOrigin:     "chat connections from other sites are refused",
	CodeRateLimited:     "you are sending messages too fast",
	CodeSlowMode:        "slow mode is on: wait before sending again",
	CodeBlockedWord:     "your message contains a blocked word",
	CodeTimedOut:        "you are timed out in this chat",
	CodeBanned:          "you are banned from this chat",
	CodeMessageEmpty:    "the message is empty",
	CodeMessageTooLong:  "the message is longer than 500 characters",
	CodeBadFrame:        "the frame is not understood",
	CodeInternal:        "internal error",
	CodeChannelNotFound: "no such channel",
	CodeUserNotFound:    "no such user",
	CodeMessageNotFound: "no such message",
	CodeNotBanned:       "the user is not banned",
	CodeAlreadyGranted:  "the user is already a moderator",
	CodeNotModerator:    "the user is not a moderator",
	CodeCannotBan:       "this user cannot be banned here",
	CodeBadDuration:     "the duration must be from 0 to 1209600 seconds",
	CodeBadSettings:     "slow mode must be 0 to 3600 seconds, with at most 200 blocked words of 1 to 64 characters",
}

// Error is a refusal with a code from the list above; the moderation API
// maps it to an HTTP status, the socket to an error frame.
type Error struct {
	Code string
	Err  error // cause, if any; logged, not shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Err.Error()
	}
	return e.Code
}

func (e *Error) Unwrap() error { return e.Err }

// Message returns the English text for the error's code.
func (e *Error) Message() string { return ErrorText(e.Code) }

// ErrorText returns the English text of a code.
func ErrorText(code string) string {
	if t, ok := errorText[code]; ok {
		return t
	}
	return code
}

func refuse(code string) error { return &Error{Code: code} }

// CodeOf returns the code of an *Error in err's chain, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Badges shown beside an author's name.
const (
	BadgeOwner     = "owner"
	BadgeModerator = "moderator"
	BadgeAdmin     = "admin"
)

// Author is who wrote a message, as shown to everyone.
type Author struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Badge       string `json:"badge"`
}

// Message is a chat message as clients see it.
type Message struct {
	ID   string    `json:"id"`
	User Author    `json:"user"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

func messageOf(m store.ChatMessage) Message {
	return Message{
		ID:   strconv.FormatInt(m.ID, 10),
		User: Author{ID: m.UserID, Name: m.UserName, DisplayName: m.DisplayName, Badge: m.Badge},
		Text: m.Text,
		At:   m.CreatedAt.UTC(),
	}
}

// PublicSettings are the settings every client sees.
type PublicSettings struct {
	SlowModeSeconds int `json:"slow_mode_seconds"`
}

// Me describes the connected user in the hello frame.
type Me struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	CanWrite    bool   `json:"can_write"`
	CanModerate bool   `json:"can_moderate"`
}

// Server → client frames.
type (
	helloFrame struct {
		Type     string         `json:"type"` // "hello"
		History  []Message      `json:"history"`
		Me       *Me            `json:"me"`
		Settings PublicSettings `json:"settings"`
	}
	messageFrame struct {
		Type    string  `json:"type"` // "message"
		Message Message `json:"message"`
	}
	deleteFrame struct {
		Type string `json:"type"` // "delete"
		ID   string `json:"id"`
	}
	purgeFrame struct {
		Type   string `json:"type"` // "purge"
		UserID int64  `json:"user_id"`
	}
	settingsFrame struct {
		Type     string         `json:"type"` // "settings"
		Settings PublicSettings `json:"settings"`
	}
	errorFrame struct {
		Type    string `json:"type"` // "error"
		Error   string `json:"error"`
		Message string `json:"message"`
	}
)

func encodeError(code string) []byte {
	b, _ := json.Marshal(errorFrame{Type: "error", Error: code, Message: ErrorText(code)})
	return b
}

// clientFrame is the one frame a client sends: {"type":"send","text":"…"}.
type clientFrame struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// maxFrameBytes bounds a client frame (and is the socket's read limit):
// 500 characters of up to 4 bytes, JSON-escaped, fit.
const maxFrameBytes = 4096

// decodeClientFrame parses one client frame strictly: a single JSON object
// with known fields only and type "send".
func decodeClientFrame(data []byte) (clientFrame, error) {
	var f clientFrame
	if len(data) > maxFrameBytes {
		return f, fmt.Errorf("frame of %d bytes exceeds %d", len(data), maxFrameBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return clientFrame{}, fmt.Errorf("decode frame: %w", err)
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 {
		return clientFrame{}, errors.New("decode frame: trailing data")
	}
	if f.Type != "send" {
		return clientFrame{}, fmt.Errorf("frame type %q not understood", f.Type)
	}
	return f, nil
}
