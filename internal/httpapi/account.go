package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/huabian-live/huabian/internal/account"
)

// accountRoutes mounts sign-up, sign-in, the caller's own account and API
// tokens, and the admin's user and site-settings routes.
func (a *api) accountRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/session", a.wrap(a.getSession))
	mux.Handle("GET /api/v1/site", a.wrap(a.getSite))
	mux.Handle("POST /api/v1/signup", a.wrap(a.signup))
	mux.Handle("POST /api/v1/login", a.wrap(a.login))
	mux.Handle("POST /api/v1/logout", a.wrap(a.logout))
	mux.Handle("PATCH /api/v1/account", a.wrap(a.patchAccount))
	mux.Handle("DELETE /api/v1/account", a.wrap(a.deleteAccount))
	mux.Handle("PUT /api/v1/account/password", a.wrap(a.changePassword))
	mux.Handle("GET /api/v1/account/tokens", a.wrap(a.listAPITokens))
	mux.Handle("POST /api/v1/account/tokens", a.wrap(a.createAPIToken))
	mux.Handle("DELETE /api/v1/account/tokens/{id}", a.wrap(a.deleteAPIToken))
	a.adminUserRoutes(mux)
}

// accountBodyLimit bounds JSON request bodies of the account routes.
const accountBodyLimit = 64 << 10

// decodeAccountJSON reads one JSON object into v, refusing unknown fields,
// trailing data and bodies over accountBodyLimit.
func decodeAccountJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, accountBodyLimit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Public: "request body is not the expected JSON object", Err: err}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Public: "request body has data after the JSON object"}
	}
	return nil
}

var (
	errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Public: "sign in first"}
	errForbidden    = &Error{Status: http.StatusForbidden, Code: "forbidden", Public: "admins only"}
)

// accountSignedIn returns the caller, or 401.
func accountSignedIn(r *http.Request) (*account.User, error) {
	if u := account.FromContext(r.Context()); u != nil {
		return u, nil
	}
	return nil, errUnauthorized
}

// accountAdmin returns the caller if an admin: 401 when anonymous, 403
// otherwise.
func accountAdmin(r *http.Request) (*account.User, error) {
	u, err := accountSignedIn(r)
	if err != nil {
		return nil, err
	}
	if !u.IsAdmin() {
		return nil, errForbidden
	}
	return u, nil
}

// accountError maps the account service's errors to HTTP errors; for a
// rate limit it also sets Retry-After.
func accountError(w http.ResponseWriter, err error) error {
	var rl *account.RateLimitedError
	if errors.As(err, &rl) {
		secs := int(math.Ceil(rl.Wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Public: "too many attempts; try again later", Err: err}
	}
	for _, m := range []struct {
		err    error
		status int
		code   string
	}{
		{account.ErrBadName, http.StatusBadRequest, "invalid_name"},
		{account.ErrBadPassword, http.StatusBadRequest, "invalid_password"},
		{account.ErrBadDisplayName, http.StatusBadRequest, "invalid_display_name"},
		{account.ErrNameTaken, http.StatusConflict, "name_taken"},
		{account.ErrInvalidCredentials, http.StatusUnauthorized, "invalid_credentials"},
		{account.ErrDisabled, http.StatusForbidden, "account_disabled"},
		{account.ErrSignupClosed, http.StatusForbidden, "signup_closed"},
		{account.ErrBadSetupToken, http.StatusForbidden, "invalid_setup_token"},
		{account.ErrNotFound, http.StatusNotFound, "not_found"},
		{account.ErrTokenNotFound, http.StatusNotFound, "not_found"},
		{account.ErrLastAdmin, http.StatusConflict, "last_admin"},
		{account.ErrBadRole, http.StatusBadRequest, "invalid_role"},
		{account.ErrBadSetting, http.StatusBadRequest, "invalid_setting"},
		{account.ErrBadTokenName, http.StatusBadRequest, "invalid_token_name"},
		{account.ErrTooManyTokens, http.StatusConflict, "too_many_tokens"},
	} {
		if errors.Is(err, m.err) {
			public := err.Error()
			if errors.Is(err, account.ErrBadPassword) {
				public = fmt.Sprintf("passwords are %d to %d characters", account.MinPasswordLen, account.MaxPasswordLen)
			}
			return &Error{Status: m.status, Code: m.code, Public: public}
		}
	}
	return err
}

// errWrongPassword answers a failed re-authentication of a signed-in user:
// not 401, which would read as "signed out".
var errWrongPassword = &Error{Status: http.StatusForbidden, Code: "wrong_password", Public: "wrong password"}

func reauthError(w http.ResponseWriter, err error) error {
	if errors.Is(err, account.ErrInvalidCredentials) {
		return errWrongPassword
	}
	return accountError(w, err)
}

func clientIP(r *http.Request) string { return account.ClientIP(r.Context()).String() }

// SessionInfo is the body of GET /api/v1/session.
type SessionInfo struct {
	User       *account.User `json:"user"`
	CSRFToken  string        `json:"csrf_token"`
	SignupOpen bool          `json:"signup_open"`
}

func (a *api) getSession(w http.ResponseWriter, r *http.Request) error {
	st := accountState(r)
	if st.sessionID == "" && !st.bearer {
		st.sessionID = account.NewSessionID()
		setSessionCookie(w, st, st.sessionID, 0)
	}
	set, err := a.d.Accounts.Settings(r.Context())
	if err != nil {
		return err
	}
	info := SessionInfo{User: account.FromContext(r.Context()), SignupOpen: set.SignupOpen}
	if st.sessionID != "" {
		info.CSRFToken = account.CSRFToken(st.sessionID)
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (a *api) getSite(w http.ResponseWriter, r *http.Request) error {
	set, err := a.d.Accounts.Settings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

// SignedIn is the body answering sign-up and sign-in.
type SignedIn struct {
	User      *account.User `json:"user"`
	CSRFToken string        `json:"csrf_token"`
}

// startSession ends the caller's previous session, if any, and issues a
// brand-new session ID, so no ID known before sign-in survives it.
func (a *api) startSession(w http.ResponseWriter, r *http.Request, u *account.User, status int) error {
	st := accountState(r)
	if st.sessionID != "" {
		if err := a.d.Accounts.EndSession(r.Context(), st.sessionID); err != nil {
			return err
		}
	}
	id, err := a.d.Accounts.StartSession(r.Context(), u.ID)
	if err != nil {
		return err
	}
	setSessionCookie(w, st, id, a.d.Accounts.SessionLifetime())
	writeJSON(w, status, SignedIn{User: u, CSRFToken: account.CSRFToken(id)})
	return nil
}

func (a *api) signup(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string `json:"name"`
		Password    string `json:"password"`
		DisplayName string `json:"display_name"`
		SetupToken  string `json:"setup_token"`
	}
	if err := decodeAccountJSON(w, r, &req); err != nil {
		return err
	}
	u, err := a.d.Accounts.Signup(r.Context(), account.SignupRequest{
		Name: req.Name, Password: req.Password, DisplayName: req.DisplayName, SetupToken: req.SetupToken,
	}, clientIP(r))
	if err != nil {
		return accountError(w, err)
	}
	return a.startSession(w, r, u, http.StatusCreated)
}

func (a *api) login(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := decodeAccountJSON(w, r, &req); err != nil {
		return err
	}
	u, err := a.d.Accounts.Login(r.Context(), req.Name, req.Password, clientIP(r))
	if err != nil {
		return accountError(w, err)
	}
	return a.startSession(w, r, u, http.StatusOK)
}

// CSRFOnly is the body answering sign-out: the token of the new
// pre-session.
type CSRFOnly struct {
	CSRFToken string `json:"csrf_token"`
}

// endSession deletes the caller's session server-side and gives the
// browser a fresh anonymous pre-session.
func (a *api) endSession(w http.ResponseWriter, r *http.Request) error {
	st := accountState(r)
	if st.sessionID != "" {
		if err := a.d.Accounts.EndSession(r.Context(), st.sessionID); err != nil {
			return err
		}
	}
	if st.bearer {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	id := account.NewSessionID()
	setSessionCookie(w, st, id, 0)
	writeJSON(w, http.StatusOK, CSRFOnly{CSRFToken: account.CSRFToken(id)})
	return nil
}

func (a *api) logout(w http.ResponseWriter, r *http.Request) error {
	if accountState(r).bearer {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Public: "API tokens are revoked, not signed out"}
	}
	return a.endSession(w, r)
}

// AccountUser is the body answering PATCH /api/v1/account.
type AccountUser struct {
	User *account.User `json:"user"`
}

func (a *api) patchAccount(w http.ResponseWriter, r *http.Request) error {
	u, err := accountSignedIn(r)
	if err != nil {
		return err
	}
	var req struct {
		DisplayName *string `json:"display_name"`
	}
	if err := decodeAccountJSON(w, r, &req); err != nil {
		return err
	}
	if req.DisplayName == nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Public: "nothing to change"}
	}
	updated, err := a.d.Accounts.UpdateDisplayName(r.Context(), u.ID, *req.DisplayName)
	if err != nil {
		return accountError(w, err)
	}
	writeJSON(w, http.StatusOK, AccountUser{User: updated})
	return nil
}

func (a *api) changePassword(w http.ResponseWriter, r *http.Request) error {
	u, err := accountSignedIn(r)
	if err != nil {
		return err
	}
	var req struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := decodeAccountJSON(w, r, &req); err != nil {
		return err
	}
	err = a.d.Accounts.ChangePassword(r.Context(), u, req.Current, req.New, clientIP(r), accountState(r).sessionID)
	if err != nil {
		return reauthError(w, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) deleteAccount(w http.ResponseWriter, r *http.Request) error {
	u, err := accountSignedIn(r)
	if err != nil {
		return err
	}
	var req struct {
		Password string `json:"password"`
	}
	if err := decodeAccountJSON(w, r, &req); err != nil {
		return err
	}
	if err := a.d.Accounts.DeleteAccount(r.Context(), u, req.Password, clientIP(r)); err != nil {
		return reauthError(w, err)
	}
	return a.endSession(w, r)
}

// APITokenList is the body of GET /api/v1/account/tokens.
type APITokenList struct {
	Tokens []account.APIToken `json:"tokens"`
}

// NewAPIToken is the body answering POST /api/v1/account/tokens: the only
// time the token itself is shown.
type NewAPIToken struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Token     string    `json:"token"`
	Hint      string    `json:"hint"`
	CreatedAt time.Time `json:"created_at"`
}

func (a *api) listAPITokens(w http.ResponseWriter, r *http.Request) error {
	u, err := accountSignedIn(r)
	if err != nil {
		return err
	}
	ts, err := a.d.Accounts.APITokens(r.Context(), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, APITokenList{Tokens: ts})
	return nil
}

func (a *api) createAPIToken(w http.ResponseWriter, r *http.Request) error {
	u, err := accountSignedIn(r)
	if err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeAccountJSON(w, r, &req); err != nil {
		return err
	}
	secret, t, err := a.d.Accounts.CreateAPIToken(r.Context(), u.ID, req.Name)
	if err != nil {
		return accountError(w, err)
	}
	writeJSON(w, http.StatusCreated, NewAPIToken{ID: t.ID, Name: t.Name, Token: secret, Hint: t.Hint, CreatedAt: t.CreatedAt})
	return nil
}

func (a *api) deleteAPIToken(w http.ResponseWriter, r *http.Request) error {
	u, err := accountSignedIn(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Public: "no such API token"}
	}
	if err := a.d.Accounts.DeleteAPIToken(r.Context(), u.ID, id); err != nil {
		return accountError(w, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
