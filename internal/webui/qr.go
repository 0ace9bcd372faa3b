package webui

import (
	"net/http"

	qrcode "github.com/skip2/go-qrcode"
)

// qr serves GET /qr.png?path=/c/NAME: a QR code of this site's URL of that
// path, for phones to open it.
func (u *UI) qr(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	if p == "" {
		p = "/"
	}
	if !LocalPath(p) || len(p) > 512 {
		http.Error(w, "path must be a path on this site", http.StatusBadRequest)
		return
	}
	png, err := qrcode.Encode(u.origin(r)+p, qrcode.Medium, 320)
	if err != nil {
		u.log.Warn("qr encode", "err", err)
		http.Error(w, "cannot encode", http.StatusBadRequest)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(png)
}
