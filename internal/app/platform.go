package app

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/chat"
	"github.com/huabian-live/huabian/internal/config"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/store"
	"github.com/huabian-live/huabian/internal/webui"
)

// The adapters below connect the domain packages without making them
// import each other: each takes what it needs as a small function.

// chatChannels resolves a chat room's channel; disabled channels have no
// chat.
func chatChannels(channels *channel.Service) func(ctx context.Context, name string) (chat.ChannelInfo, error) {
	return func(ctx context.Context, name string) (chat.ChannelInfo, error) {
		rec, err := channels.Record(ctx, name, 0)
		if errors.Is(err, store.ErrNotFound) {
			return chat.ChannelInfo{}, chat.ErrChannelNotFound
		}
		if err != nil {
			return chat.ChannelInfo{}, err
		}
		if rec.Disabled {
			return chat.ChannelInfo{}, chat.ErrChannelNotFound
		}
		info := chat.ChannelInfo{ID: rec.ID}
		if rec.Owner != nil {
			info.OwnerID = rec.Owner.ID
		}
		return info, nil
	}
}

// chatUsers resolves a user named by a moderator.
func chatUsers(accounts *account.Service) func(ctx context.Context, name string) (chat.UserInfo, error) {
	return func(ctx context.Context, name string) (chat.UserInfo, error) {
		u, err := accounts.UserByName(ctx, name)
		if errors.Is(err, account.ErrNotFound) || (err == nil && u == nil) {
			return chat.UserInfo{}, chat.ErrUserNotFound
		}
		if err != nil {
			return chat.UserInfo{}, err
		}
		return chat.UserInfo{ID: u.ID, Name: u.Name, DisplayName: u.DisplayName, IsAdmin: u.IsAdmin()}, nil
	}
}

// siteSettings gives the pages the operator's site name and legal footer.
func siteSettings(accounts *account.Service) func(ctx context.Context) (webui.SiteSettings, error) {
	return func(ctx context.Context) (webui.SiteSettings, error) {
		s, err := accounts.Settings(ctx)
		if err != nil {
			return webui.SiteSettings{}, err
		}
		return webui.SiteSettings{
			SiteName:   s.SiteName,
			SignupOpen: s.SignupOpen,
			Footer: webui.Footer{
				Operator: s.Footer.Operator, Copyright: s.Footer.Copyright,
				Licence: s.Footer.Licence, Registration: s.Footer.Registration,
			},
		}, nil
	}
}

// watchChannel gives the watch page a channel's profile and live state;
// disabled channels are not found except for admins.
func watchChannel(channels *channel.Service, h *hub.Hub) func(ctx context.Context, name string) (webui.WatchChannel, error) {
	return func(ctx context.Context, name string) (webui.WatchChannel, error) {
		u := account.FromContext(ctx)
		var uid int64
		if u != nil {
			uid = u.ID
		}
		rec, err := channels.Record(ctx, name, uid)
		if errors.Is(err, store.ErrNotFound) || (err == nil && rec.Disabled && !u.IsAdmin()) {
			return webui.WatchChannel{}, webui.ErrChannelNotFound
		}
		if err != nil {
			return webui.WatchChannel{}, err
		}
		wc := webui.WatchChannel{Name: rec.Name, Title: rec.Title, Description: rec.Description, LastLiveAt: rec.LastLiveAt}
		if rec.Owner != nil {
			wc.OwnerName, wc.OwnerDisplayName = rec.Owner.Name, rec.Owner.DisplayName
		}
		if rec.AvatarID != "" {
			wc.AvatarURL = "/media/" + rec.AvatarID
		}
		if rec.BannerID != "" {
			wc.BannerURL = "/media/" + rec.BannerID
		}
		if st, ok := h.Lookup(name); ok {
			wc.Live = st.Live
		}
		return wc, nil
	}
}

// canManage: a channel's health and broadcasts are for its owner and
// admins.
func canManage(channels *channel.Service) func(ctx context.Context, u *account.User, name string) (bool, error) {
	return func(ctx context.Context, u *account.User, name string) (bool, error) {
		rec, err := channels.Record(ctx, name, 0)
		if err != nil {
			return false, err
		}
		if u == nil || u.Disabled {
			return false, nil
		}
		return u.IsAdmin() || (rec.Owner != nil && rec.Owner.ID == u.ID), nil
	}
}

// publicTitles returns the titles of the listed (public, enabled) channels
// among names; the ranking leaves the others out.
func publicTitles(channels *channel.Service) func(ctx context.Context, names []string) (map[string]string, error) {
	return func(ctx context.Context, names []string) (map[string]string, error) {
		recs, err := channels.Records(ctx, store.ChannelFilter{Names: names, ListedOnly: true})
		if err != nil {
			return nil, err
		}
		out := make(map[string]string, len(recs))
		for _, r := range recs {
			t := r.Title
			if t == "" {
				t = r.Name
			}
			out[r.Name] = t
		}
		return out, nil
	}
}

// listenPort is the port of a listener (or of its configured address), 0
// when it is off.
func listenPort(addr string, ln net.Listener) int {
	if ln != nil {
		if ta, ok := ln.Addr().(*net.TCPAddr); ok {
			return ta.Port
		}
	}
	if !config.Enabled(addr) {
		return 0
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// setupURL is the one-time link that creates the first admin account.
func setupURL(publicURL string, addr net.Addr, token string) string {
	if publicURL != "" {
		return strings.TrimRight(publicURL, "/") + "/setup?token=" + token
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "/setup?token=" + token
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/setup?token=" + token
}
