package httpapi

import (
	"net/http"
	"strconv"

	"github.com/huabian-live/huabian/internal/account"
)

// adminUserRoutes mounts user management and site settings (admins only).
func (a *api) adminUserRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/admin/users", a.wrap(a.adminListUsers))
	mux.Handle("PATCH /api/v1/admin/users/{id}", a.wrap(a.adminPatchUser))
	mux.Handle("GET /api/v1/admin/settings", a.wrap(a.adminGetSettings))
	mux.Handle("PUT /api/v1/admin/settings", a.wrap(a.adminPutSettings))
}

// UserList is the body of GET /api/v1/admin/users.
type UserList struct {
	Users []*account.User `json:"users"`
	Total int             `json:"total"`
}

// adminListLimit bounds one page of the user list.
const adminListLimit = 200

func (a *api) adminListUsers(w http.ResponseWriter, r *http.Request) error {
	if _, err := accountAdmin(r); err != nil {
		return err
	}
	q := r.URL.Query()
	limit, offset := 50, 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > adminListLimit {
			return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Public: "limit must be 1 to 200"}
		}
		limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Public: "offset must be 0 or more"}
		}
		offset = n
	}
	query := q.Get("q")
	if len(query) > 64 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Public: "search text is at most 64 bytes"}
	}
	users, total, err := a.d.Accounts.Users(r.Context(), query, limit, offset)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, UserList{Users: users, Total: total})
	return nil
}

func (a *api) adminPatchUser(w http.ResponseWriter, r *http.Request) error {
	if _, err := accountAdmin(r); err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Public: "no such user"}
	}
	var req struct {
		Disabled *bool         `json:"disabled"`
		Role     *account.Role `json:"role"`
	}
	if err := decodeAccountJSON(w, r, &req); err != nil {
		return err
	}
	if req.Disabled == nil && req.Role == nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Public: "nothing to change"}
	}
	u, err := a.d.Accounts.AdminUpdate(r.Context(), id, account.AdminChange{Disabled: req.Disabled, Role: req.Role})
	if err != nil {
		return accountError(w, err)
	}
	writeJSON(w, http.StatusOK, AccountUser{User: u})
	return nil
}

func (a *api) adminGetSettings(w http.ResponseWriter, r *http.Request) error {
	if _, err := accountAdmin(r); err != nil {
		return err
	}
	set, err := a.d.Accounts.Settings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

func (a *api) adminPutSettings(w http.ResponseWriter, r *http.Request) error {
	if _, err := accountAdmin(r); err != nil {
		return err
	}
	var req struct {
		SiteName   *string         `json:"site_name"`
		SignupOpen *bool           `json:"signup_open"`
		Footer     *account.Footer `json:"footer"`
	}
	if err := decodeAccountJSON(w, r, &req); err != nil {
		return err
	}
	if req.SiteName == nil || req.SignupOpen == nil || req.Footer == nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Public: "site_name, signup_open and footer are required"}
	}
	set, err := a.d.Accounts.PutSettings(r.Context(), account.Settings{SiteName: *req.SiteName, SignupOpen: *req.SignupOpen, Footer: *req.Footer})
	if err != nil {
		return accountError(w, err)
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}
