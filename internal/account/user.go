// Package account holds people: users, their roles, passwords, sessions
// and personal API tokens, and who may sign up.
package account

import (
	"context"
	"time"
)

// Role is a user's site-wide role. Moderators are granted per channel (see
// package chat), not here.
type Role string

// Roles, in rising order of power.
const (
	RoleViewer   Role = "viewer"   // watches, follows, chats
	RoleStreamer Role = "streamer" // owns one or more channels
	RoleAdmin    Role = "admin"    // runs the site
)

// User is an account as the rest of the program sees it; it carries no
// secret.
type User struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Role        Role      `json:"role"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
}

// IsAdmin reports whether u may run the site.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin && !u.Disabled }

type ctxKey struct{}

// WithUser returns ctx carrying the authenticated user of a request.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, ctxKey{}, u)
}

// FromContext returns the authenticated user of a request, or nil for an
// anonymous visitor.
func FromContext(ctx context.Context) *User {
	u, _ := ctx.Value(ctxKey{}).(*User)
	return u
}
