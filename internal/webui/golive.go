package webui

import (
	"net/http"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/channel"
)

// GoLiveData is the page data of /dashboard/go-live/NAME: publishing from
// the browser's camera or screen over WHIP.
type GoLiveData struct {
	Name string
}

// I18nPrefixes gives the page its own strings.
func (GoLiveData) I18nPrefixes() []string { return []string{"golive."} }

func init() {
	routeHooks = append(routeHooks, (*UI).goLiveRoutes)
}

func (u *UI) goLiveRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /dashboard/go-live/{name}", u.goLive)
}

// goLive renders the page for a signed-in visitor. Ownership is checked
// where it matters: revealing the key (the API asks for the password and
// refuses other people's channels) and publishing (the key).
func (u *UI) goLive(w http.ResponseWriter, r *http.Request) {
	if account.FromContext(r.Context()) == nil {
		u.toLogin(w, r)
		return
	}
	name := r.PathValue("name")
	if channel.ValidateName(name) != nil {
		u.notFound(w, r)
		return
	}
	u.Render(w, r, "golive", GoLiveData{Name: name})
}
