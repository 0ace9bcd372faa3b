package webui

import (
	"net/http"
	"strconv"

	"github.com/huabian-live/huabian/internal/account"
)

// DashboardData is the page data of /dashboard.
type DashboardData struct {
	RTMPPort int
	SRTPort  int
}

// I18nPrefixes gives the dashboard the watch page's player and chart strings.
func (DashboardData) I18nPrefixes() []string { return []string{"watch."} }

// dashboard renders the streamer dashboard for signed-in visitors.
func (u *UI) dashboard(w http.ResponseWriter, r *http.Request) {
	if account.FromContext(r.Context()) == nil {
		u.toLogin(w, r)
		return
	}
	u.Render(w, r, "dashboard", DashboardData{RTMPPort: u.d.Watch.RTMPPort, SRTPort: u.d.Watch.SRTPort})
}

// SRTPortAttr is the SRT port as the dashboard script reads it ("" when
// SRT is off).
func (d DashboardData) SRTPortAttr() string {
	if d.SRTPort <= 0 {
		return ""
	}
	return strconv.Itoa(d.SRTPort)
}

// RTMPPortAttr is the port as the dashboard script reads it.
func (d DashboardData) RTMPPortAttr() string {
	if d.RTMPPort <= 0 {
		return ""
	}
	return strconv.Itoa(d.RTMPPort)
}
