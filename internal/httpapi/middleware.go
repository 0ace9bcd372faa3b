package httpapi

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/huabian-live/huabian/internal/account"
)

// Session cookie names: with TLS the __Host- prefix makes browsers refuse
// the cookie unless it is Secure, host-only and Path=/, so a sibling
// subdomain cannot plant or overwrite it.
const (
	sessionCookie       = "hb_session"
	secureSessionCookie = "__Host-hb_session"
	csrfHeader          = "X-CSRF-Token"
)

// accountRequest is what the authentication middleware learned about a
// request, for the account handlers.
type accountRequest struct {
	sessionID string // the session or pre-session ID from the cookie; "" when none or malformed
	secure    bool   // served over HTTPS (directly or via a trusted proxy)
	host      string // the host the browser addressed (Host, or X-Forwarded-Host from a trusted proxy)
	bearer    bool   // authenticated by an API token, not a cookie
}

type accountRequestKey struct{}

func accountState(r *http.Request) accountRequest {
	st, _ := r.Context().Value(accountRequestKey{}).(accountRequest)
	return st
}

// csrfExempt are paths whose unsafe requests do not come from our pages:
// playback, and WHIP publishing (authenticated by a bearer stream key).
func csrfExempt(path string) bool {
	return strings.HasPrefix(path, "/live/") || path == "/whip" || strings.HasPrefix(path, "/whip/")
}

func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// authenticate wraps the whole site. For every request it resolves the
// client address and the signed-in user (API token in Authorization:
// Bearer hbt_…, else the session cookie) into the context, so handlers only
// call account.FromContext. Unsafe API requests authenticated by cookie, or
// anonymous, must carry the session's CSRF token in X-CSRF-Token and, when
// the browser sends Origin, come from this site's own origin.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := peerAddr(r)
		fromProxy := a.trustedPeer(peer)
		ip := peer
		if fromProxy {
			ip = forwardedFor(r.Header.Values("X-Forwarded-For"), peer, a.trustedPeer)
		}
		st := accountRequest{
			secure: a.d.TLS || r.TLS != nil ||
				(fromProxy && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")),
			host: r.Host,
		}
		if h, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Host"), ","); fromProxy && strings.TrimSpace(h) != "" {
			st.host = strings.TrimSpace(h)
		}
		r = normalizeForwarded(r, fromProxy, ip, st.host)
		ctx := account.WithClientIP(r.Context(), ip)
		if csrfExempt(r.URL.Path) {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}

		var (
			user *account.User
			err  error
		)
		if token, ok := bearerToken(r); ok {
			st.bearer = true
			if user, err = a.d.Accounts.TokenUser(ctx, token); err == nil && user == nil {
				err = &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Public: "API token not recognised or revoked"}
			}
		} else {
			if c, cerr := r.Cookie(sessionCookieName(st.secure)); cerr == nil && account.ValidSessionID(c.Value) {
				st.sessionID = c.Value
				user, err = a.d.Accounts.SessionUser(ctx, c.Value)
			}
			if err == nil && unsafeMethod(r.Method) && strings.HasPrefix(r.URL.Path, "/api/") {
				err = checkCSRF(r, st)
			}
		}
		if err != nil {
			a.wrap(func(http.ResponseWriter, *http.Request) error { return err }).ServeHTTP(w, r)
			return
		}
		ctx = context.WithValue(ctx, accountRequestKey{}, st)
		if user != nil {
			ctx = account.WithUser(ctx, user)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// forwardedHeaders are what reverse proxies add; they are believed only
// from trusted proxies.
var forwardedHeaders = []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"}

// normalizeForwarded makes the request look, to every handler after this
// middleware, the way the browser made it: from a trusted proxy, RemoteAddr
// becomes the client's address and Host the host the browser addressed
// (so viewer statistics, chat's Origin check and logs agree with the rate
// limits); from anyone else the forwarding headers are removed, so no
// handler can be fooled by them.
func normalizeForwarded(r *http.Request, fromProxy bool, client netip.Addr, host string) *http.Request {
	if fromProxy {
		r2 := r.Clone(r.Context())
		if client.IsValid() {
			r2.RemoteAddr = net.JoinHostPort(client.String(), "0")
		}
		r2.Host = host
		return r2
	}
	present := false
	for _, h := range forwardedHeaders {
		if _, ok := r.Header[h]; ok {
			present = true
		}
	}
	if !present {
		return r
	}
	r2 := r.Clone(r.Context())
	for _, h := range forwardedHeaders {
		r2.Header.Del(h)
	}
	return r2
}

var errCSRF = &Error{Status: http.StatusForbidden, Code: "csrf_failed",
	Public: "request refused: reload the page and try again (missing or wrong CSRF token, or another site's origin)"}

// checkCSRF enforces the same-origin rule and the per-session token.
func checkCSRF(r *http.Request, st accountRequest) error {
	if origin := r.Header.Get("Origin"); origin != "" && origin != ownOrigin(st) {
		return errCSRF
	}
	got := r.Header.Get(csrfHeader)
	if st.sessionID == "" || got == "" ||
		subtle.ConstantTimeCompare([]byte(got), []byte(account.CSRFToken(st.sessionID))) != 1 {
		return errCSRF
	}
	return nil
}

// ownOrigin is scheme://host[:port] of the request as the browser sees it.
func ownOrigin(st accountRequest) string {
	scheme := "http"
	if st.secure {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(st.host)
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, strings.HasPrefix(token, account.APITokenPrefix)
}

func sessionCookieName(secure bool) string {
	if secure {
		return secureSessionCookie
	}
	return sessionCookie
}

// setSessionCookie sends the session (or pre-session) ID; maxAge 0 makes a
// browser-session cookie, negative deletes it.
func setSessionCookie(w http.ResponseWriter, st accountRequest, id string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     sessionCookieName(st.secure),
		Value:    id,
		Path:     "/",
		HttpOnly: true,
		Secure:   st.secure,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge != 0 {
		c.MaxAge = int(maxAge / time.Second)
		if maxAge < 0 {
			c.MaxAge = -1
		}
	}
	http.SetCookie(w, c)
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

func (a *api) trustedPeer(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range a.d.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// forwardedFor walks X-Forwarded-For from the right (the hop nearest us)
// past trusted proxies and returns the first address they vouch for; an
// unparsable entry stops the walk at the last good hop.
func forwardedFor(headers []string, peer netip.Addr, trusted func(netip.Addr) bool) netip.Addr {
	var hops []string
	for _, h := range headers {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return client
		}
		client = ip.Unmap()
		if !trusted(client) {
			return client
		}
	}
	return client
}
