package account

import (
	"context"
	"net/netip"
)

type ipKey struct{}

// WithClientIP returns ctx carrying the client address of a request, as
// resolved by the HTTP middleware (X-Forwarded-For only from trusted
// proxies). Per-address limits key on it.
func WithClientIP(ctx context.Context, ip netip.Addr) context.Context {
	return context.WithValue(ctx, ipKey{}, ip)
}

// ClientIP returns the client address of a request, or the zero Addr when
// unknown.
func ClientIP(ctx context.Context) netip.Addr {
	ip, _ := ctx.Value(ipKey{}).(netip.Addr)
	return ip
}
