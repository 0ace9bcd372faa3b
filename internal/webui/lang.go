package webui

import (
	"net/http"
	"time"

	"github.com/huabian-live/huabian/internal/i18n"
)

// lang switches edition: GET /lang/CODE?next=/path sets the hb_lang cookie
// for a year and returns to next, which must be a path on this site.
func (u *UI) lang(w http.ResponseWriter, r *http.Request) {
	l, ok := i18n.Parse(r.PathValue("code"))
	if !ok {
		u.notFound(w, r)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     i18n.CookieName,
		Value:    string(l),
		Path:     "/",
		MaxAge:   int((365 * 24 * time.Hour).Seconds()),
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	SetSecurityHeaders(w, r, false)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, SafeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}
