// Package app is the composition root: it builds every component from the
// configuration, starts them in order and stops them in reverse order.
// Nothing imports app.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/huabian-live/huabian/internal/account"
	"github.com/huabian-live/huabian/internal/bus"
	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/chat"
	"github.com/huabian-live/huabian/internal/config"
	"github.com/huabian-live/huabian/internal/httpapi"
	"github.com/huabian-live/huabian/internal/httppark"
	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/i18n"
	"github.com/huabian-live/huabian/internal/observe"
	"github.com/huabian-live/huabian/internal/play"
	"github.com/huabian-live/huabian/internal/play/httpflv"
	"github.com/huabian-live/huabian/internal/play/llhls"
	"github.com/huabian-live/huabian/internal/rtmp"
	"github.com/huabian-live/huabian/internal/srt"
	"github.com/huabian-live/huabian/internal/stats"
	"github.com/huabian-live/huabian/internal/tlsconf"
	"github.com/huabian-live/huabian/internal/webrtc"
	"github.com/huabian-live/huabian/internal/webui"
)

// ShutdownTimeout bounds the graceful stop after the context ends.
const ShutdownTimeout = 5 * time.Second

// Listeners lets tests pass pre-opened listeners (e.g. on 127.0.0.1:0);
// nil fields are opened from the configuration.
type Listeners struct {
	HTTP, RTMP net.Listener
	// Ready, if set, is called once everything is serving.
	Ready func(httpAddr, rtmpAddr net.Addr)
}

// Run runs the server until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, ls Listeners) error {
	if err := i18n.Err(); err != nil {
		return fmt.Errorf("language catalogues: %w", err)
	}
	st, channels, err := openStore(ctx, cfg.Data, log)
	if err != nil {
		return err
	}
	defer st.Close()
	media, err := channel.OpenMedia(cfg.Data)
	if err != nil {
		return err
	}
	defer media.Close()
	proxies, err := cfg.HTTP.TrustedProxyPrefixes()
	if err != nil {
		return err
	}
	accounts := account.NewService(st, account.Options{Log: log})

	b, err := bus.Open(bus.Options{URL: cfg.NATS.URL, Listen: cfg.NATS.Listen}, log)
	if err != nil {
		return err
	}
	defer b.Close()

	// hls and viewerStats are declared before the hub so the hub's OnLive
	// hook can use them; they are set right after the hub is built.
	var (
		hls         *llhls.Server
		viewerStats *stats.Service
	)
	h := hub.New(hub.HubOptions{
		Grace:     cfg.Live.Grace,
		DeadAfter: cfg.Live.DeadAfter,
		OnLive: func(name string, live bool) {
			ev := bus.Event{Type: "live.ended", Channel: name, At: time.Now().UTC()}
			if live {
				ev.Type = "live.started"
			}
			b.PublishEvent(ev)
			if viewerStats != nil {
				viewerStats.OnLive(name, live)
			}
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := channels.RecordLive(rctx, name, time.Now()); err != nil && !errors.Is(err, channel.ErrNotFound) {
				log.Warn("last live time not recorded", "channel", name, "err", err)
			}
			cancel()
			if live && cfg.HLS.AlwaysOn && hls != nil {
				if err := hls.Warm(name); err != nil {
					log.Warn("LL-HLS muxer not started", "channel", name, "err", err)
				}
			}
		},
		Stream: hub.Options{
			MaxLag:       cfg.Live.MaxLag,
			SlowTimeout:  cfg.Live.SlowTimeout,
			WakeInterval: cfg.Live.WakeInterval,
			Prepare:      play.PrepareFrame,
		},
	})
	if viewerStats, err = stats.New(ctx, stats.Options{Store: st, Streams: h.List, Log: log}); err != nil {
		return err
	}
	// LL-HLS requests that wait for a part are parked outside net/http
	// (internal/httppark); the HTTP server below serves this listener
	// beside its own to take their connections back.
	park := httppark.NewListener(log)
	defer park.Close() // also closed by the HTTP server's Shutdown
	hls = llhls.New(func(name string) *hub.Stream { return h.Stream(name, true) }, llhls.Options{
		SegmentDuration: cfg.HLS.SegmentDuration,
		PartDuration:    cfg.HLS.PartDuration,
		Log:             log,
		Sessions:        viewerStats,
		Park:            park,
	})
	metrics := observe.NewMetrics(liveSource{h: h, hls: hls})
	metrics.RegisterParkedRequests(park.Parked)
	flvServer := httpflv.New(func(name string) *hub.Stream { return h.Stream(name, false) }, metrics, log, httpflv.Options{Sessions: viewerStats})

	chatService, err := chat.New(chat.Options{
		Store: st, Conn: b.Conn, Log: log,
		Channels:            chatChannels(channels),
		UserByName:          chatUsers(accounts),
		TrustForwardedProto: len(proxies) > 0,
	})
	if err != nil {
		return err
	}
	defer chatService.Close()

	limiter := channel.NewFailureLimiter(cfg.Limits.PublishFailuresPerMinute)
	var rtc *webrtc.Server
	if config.Enabled(cfg.WebRTC.UDP) {
		rtc, err = webrtc.New(func(name string) *hub.Stream { return h.Stream(name, false) }, log, webrtc.Options{
			UDP: cfg.WebRTC.UDP, TCP: cfg.WebRTC.TCP, PublicIPs: cfg.WebRTC.PublicIPList(),
			MaxSessions: cfg.WebRTC.MaxSessions, MaxPerIP: cfg.WebRTC.MaxSessionsPerIP, FFmpeg: cfg.WebRTC.FFmpeg,
			ClientIP: func(r *http.Request) string { return account.ClientIP(r.Context()).String() },
			Sessions: viewerStats,
			Metrics:  metrics,
			WHIP:     webrtc.WHIPOptions{Hub: h, Auth: authenticator{channels}, Limiter: limiter, OpusToAAC: opusToAAC(cfg.WebRTC)},
		})
		if err != nil {
			return fmt.Errorf("webrtc: %w", err)
		}
		defer rtc.Close()
		metrics.Registry.MustRegister(rtc.Collector())
		tcp := config.Off
		if a := rtc.TCPAddr(); a != nil {
			tcp = a.String()
		}
		log.Info("WebRTC listening", "udp", rtc.Addr().String(), "tcp", tcp)
	}

	pages, err := webui.New(webui.Deps{
		Log:       log,
		Site:      siteSettings(accounts),
		CSRFToken: httpapi.CSRFToken,
		PublicURL: cfg.HTTP.PublicURL,
		Watch: webui.WatchDeps{
			RTMPPort: listenPort(cfg.RTMP.Listen, ls.RTMP),
			SRTPort:  listenPort(cfg.SRT.Listen, nil),
			Channel:  watchChannel(channels, h),
		},
	})
	if err != nil {
		return err
	}

	handler := i18n.Middleware(httpapi.New(httpapi.Deps{
		Log: log,
		ChannelExists: func(ctx context.Context, name string) (bool, error) {
			return channels.Exists(ctx, name)
		},
		Live:           h.Lookup,
		HLSViewers:     hls.Viewers,
		FLV:            flvServer,
		LLHLS:          hls,
		Registry:       metrics.Registry,
		ValidName:      channel.ValidateName,
		Channels:       channels,
		Media:          media,
		LiveChannels:   httpapi.LiveFromHub(h.List, hls.Viewers),
		CheckPassword:  accounts.CheckPassword,
		OnFirstChannel: accounts.PromoteToStreamer,
		EndLive:        func(name string) { h.Kick(name, true) },
		Localize:       func(ctx context.Context, key string) string { return i18n.FromContext(ctx).T(key) },
		Accounts:       accounts,
		TrustedProxies: proxies,
		Stats:          viewerStats,
		StatsCanManage: canManage(channels),
		StatsTitles:    publicTitles(channels),
		Chat:           chatService,
		Pages:          pages,
		WebRTC:         rtc,
	}))

	// TLS (docs/tls.md): HTTPS on the web listener and an RTMPS listener,
	// serving certificate files (re-read when they change) or ACME ones.
	var httpCert, rtmpsCert tlsconf.Source
	var acmeCerts *tlsconf.ACME
	switch {
	case cfg.HTTP.TLSCert != "":
		if httpCert, err = tlsconf.Load(cfg.HTTP.TLSCert, cfg.HTTP.TLSKey, log); err != nil {
			return err
		}
	case cfg.HTTP.ACMEHost != "":
		acmeCerts = tlsconf.NewACME(cfg.HTTP.ACMEHosts(), cfg.HTTP.ACMEEmail, cfg.HTTP.ACMEDirectory, filepath.Join(cfg.Data, "acme"))
		httpCert = acmeCerts
	}
	if httpCert != nil {
		handler = tlsconf.HSTS(handler, webui.HSTS)
	}
	rtmpsAddr := cfg.RTMPSListen()
	if config.Enabled(rtmpsAddr) {
		rtmpsCert = httpCert
		if cfg.RTMPS.TLSCert != "" {
			if rtmpsCert, err = tlsconf.Load(cfg.RTMPS.TLSCert, cfg.RTMPS.TLSKey, log); err != nil {
				return err
			}
		}
	}

	var httpLn, rtmpLn net.Listener = ls.HTTP, ls.RTMP
	if httpLn == nil && config.Enabled(cfg.HTTP.Listen) {
		if httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
			return fmt.Errorf("http listen %s: %w", cfg.HTTP.Listen, err)
		}
	}
	if rtmpLn == nil && config.Enabled(cfg.RTMP.Listen) {
		if rtmpLn, err = net.Listen("tcp", cfg.RTMP.Listen); err != nil {
			if httpLn != nil {
				httpLn.Close()
			}
			return fmt.Errorf("rtmp listen %s: %w", cfg.RTMP.Listen, err)
		}
	}
	// TLS listeners: RTMPS, and plain HTTP redirecting to HTTPS.
	var rtmpsLn, redirectLn net.Listener
	if rtmpsCert != nil {
		if rtmpsLn, err = net.Listen("tcp", rtmpsAddr); err != nil {
			closeListeners(httpLn, rtmpLn)
			return fmt.Errorf("rtmps listen %s: %w", rtmpsAddr, err)
		}
		rtmpsLn = tls.NewListener(rtmpsLn, tlsconf.ServerConfig(rtmpsCert))
	}
	if httpCert != nil && httpLn != nil && config.Enabled(cfg.HTTP.RedirectListen) {
		if redirectLn, err = net.Listen("tcp", cfg.HTTP.RedirectListen); err != nil {
			closeListeners(httpLn, rtmpLn, rtmpsLn)
			return fmt.Errorf("http redirect listen %s: %w", cfg.HTTP.RedirectListen, err)
		}
	}

	newRTMP := func(tls bool) *rtmp.Server {
		return rtmp.New(h, authenticator{channels}, limiter, metrics, log, rtmp.Options{IdleTimeout: cfg.Live.IdleTimeout, Sessions: viewerStats, TLS: tls, OpusToAAC: opusToAAC(cfg.WebRTC)})
	}
	rtmpServer := newRTMP(false)
	var srtServer *srt.Server
	if config.Enabled(cfg.SRT.Listen) {
		srtServer = srt.New(h, authenticator{channels}, limiter, metrics, log, srt.Options{
			Latency:     cfg.SRT.Latency,
			Passphrase:  cfg.SRT.Passphrase,
			IdleTimeout: cfg.Live.IdleTimeout,
			Sessions:    viewerStats,
			OpusToAAC:   opusToAAC(cfg.WebRTC),
		})
		if err := srtServer.Listen(cfg.SRT.Listen); err != nil {
			closeListeners(httpLn, rtmpLn, rtmpsLn, redirectLn)
			return fmt.Errorf("srt listen %s: %w", cfg.SRT.Listen, err)
		}
	}
	// RTMPS runs the same RTMP server code on the TLS listener; its own
	// Server value, because Serve owns (and at the end closes and waits
	// for) the connections of its listener, and its players are labelled
	// "rtmps" in metrics and viewer counts.
	rtmpsServer := newRTMP(true)

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	// After a parked LL-HLS request is answered, the viewer's next LL-HLS
	// requests on that connection are read by the park listener and served
	// by the same handler chain; anything else returns to srv.
	park.Keep(handler, llhls.IsRequest)
	park.IdleTimeout, park.ReadHeaderTimeout = srv.IdleTimeout, srv.ReadHeaderTimeout
	// http.Server.Shutdown does not close hijacked connections: close the
	// chat sockets when it starts.
	srv.RegisterOnShutdown(func() { chatService.Close() })
	var redirectSrv *http.Server
	if httpCert != nil {
		srv.TLSConfig = tlsconf.ServerConfig(httpCert)
		if redirectLn != nil {
			_, httpsPort, _ := net.SplitHostPort(httpLn.Addr().String())
			redirect := tlsconf.Redirect(httpsOrigin(cfg.HTTP.PublicURL), httpsPort)
			if acmeCerts != nil {
				redirect = acmeCerts.HTTPHandler(redirect) // http-01 challenges
			}
			redirectSrv = &http.Server{
				Handler:           redirect,
				ReadHeaderTimeout: 10 * time.Second,
				IdleTimeout:       30 * time.Second,
				ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
			}
		}
	}

	token, err := accounts.EnsureSetupToken(ctx)
	if err != nil {
		return fmt.Errorf("setup link: %w", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	if rtmpLn != nil {
		log.Info("RTMP listening", "addr", rtmpLn.Addr().String())
		g.Go(func() error { return rtmpServer.Serve(gctx, rtmpLn) })
	}
	if srtServer != nil {
		log.Info("SRT listening", "addr", srtServer.Addr().String())
		g.Go(func() error { return srtServer.Serve(gctx) })
	}
	if rtmpsLn != nil {
		log.Info("RTMPS listening", "addr", rtmpsLn.Addr().String())
		g.Go(func() error { return rtmpsServer.Serve(gctx, rtmpsLn) })
	}
	// Decided once, before any Serve: Serve itself sets srv.TLSConfig (for
	// HTTP/2) when it is nil, so it cannot be read afterwards.
	httpTLS := srv.TLSConfig != nil
	if httpLn != nil {
		log.Info("HTTP listening", "addr", httpLn.Addr().String(), "tls", httpTLS)
		g.Go(func() error {
			serve := srv.Serve
			if httpTLS {
				serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
			}
			if err := serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http serve: %w", err)
			}
			return nil
		})
	}
	if httpLn != nil && !httpTLS {
		g.Go(func() error {
			if err := srv.Serve(park); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http serve parked connections: %w", err)
			}
			return nil
		})
	} else {
		park.Close() // requests over TLS are not parked (HTTP/2 multiplexes them)
	}
	if redirectSrv != nil {
		log.Info("HTTP redirect to HTTPS listening", "addr", redirectLn.Addr().String())
		g.Go(func() error {
			if err := redirectSrv.Serve(redirectLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http redirect serve: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error { return hls.Run(gctx) })
	// Viewer statistics stop last, so that the sessions ended by the
	// shutdown are saved with their real end times.
	statsCtx, stopStats := context.WithCancel(context.Background())
	defer stopStats()
	statsDone := make(chan error, 1)
	go func() { statsDone <- viewerStats.Run(statsCtx) }()
	defer func() {
		stopStats()
		if err := <-statsDone; err != nil {
			log.Warn("viewer statistics not saved", "err", err)
		}
	}()
	if cfg.Debug.Pprof != "" {
		if err := servePprof(gctx, g, cfg.Debug.Pprof, log); err != nil {
			stop()
			_ = g.Wait()
			return err
		}
	}
	g.Go(func() error {
		// End publishes made with a key that has since been rotated, or for
		// a channel that was deleted, even when that happened in another
		// process (the CLI).
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				h.CheckKeys()
			}
		}
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down")
		// Publishers are told first (their connections close), then
		// viewers get end-of-stream, then the listeners stop.
		h.Close()
		if rtc != nil {
			rtc.Close()
		}
		fctx, fcancel := context.WithTimeout(context.Background(), 2*time.Second)
		flvServer.Shutdown(fctx)
		fcancel()
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		if redirectSrv != nil {
			if err := redirectSrv.Shutdown(sctx); err != nil {
				redirectSrv.Close()
			}
		}
		return nil
	})
	if ls.Ready != nil {
		var ha, ra net.Addr
		if httpLn != nil {
			ha = httpLn.Addr()
		}
		if rtmpLn != nil {
			ra = rtmpLn.Addr()
		}
		ls.Ready(ha, ra)
	}
	if token != "" && httpLn != nil {
		link := setupURL(cfg.HTTP.PublicURL, httpLn.Addr(), token)
		if httpCert != nil && cfg.HTTP.PublicURL == "" {
			link = "https" + strings.TrimPrefix(link, "http")
		}
		log.Warn("no admin account yet: open this link within 24 hours to create one", "url", link)
	}
	err = g.Wait()
	log.Info("stopped")
	return err
}

// closeListeners closes the listeners opened so far (nil ones are skipped).
func closeListeners(lns ...net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
}

// httpsOrigin returns publicURL when it is an https:// origin, else "".
func httpsOrigin(publicURL string) string {
	if strings.HasPrefix(strings.ToLower(publicURL), "https://") {
		return publicURL
	}
	return ""
}

// authenticator adapts the channel service to the RTMP server.
type authenticator struct{ s *channel.Service }

func (a authenticator) Authenticate(ctx context.Context, key string) (string, func() bool, error) {
	ch, err := a.s.Authenticate(ctx, key)
	if errors.Is(err, channel.ErrBadKey) || errors.Is(err, channel.ErrDisabled) {
		return "", nil, fmt.Errorf("%w: %w", rtmp.ErrUnknownKey, err)
	}
	if err != nil {
		return "", nil, err
	}
	still := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return a.s.KeyStillValid(ctx, ch.ID, ch.KeyHash)
	}
	return ch.Name, still, nil
}

// liveSource feeds the scrape-time gauges.
type liveSource struct {
	h   *hub.Hub
	hls *llhls.Server
}

func (l liveSource) Publishers() int {
	n := 0
	for _, s := range l.h.List() {
		if s.Live {
			n++
		}
	}
	return n
}

func (l liveSource) FrameDrops() uint64 {
	var n uint64
	for _, s := range l.h.List() {
		n += s.Stream.Counters.Drops.Load()
	}
	return n
}

func (l liveSource) HLSViewers() int {
	n := 0
	for _, s := range l.h.List() {
		n += l.hls.Viewers(s.Name)
	}
	return n
}

// opusToAAC is the ffmpeg binary for WHIP's Opus→AAC rendition, or "off".
func opusToAAC(w config.WebRTC) string {
	switch {
	case !w.OpusToAAC:
		return config.Off
	case w.FFmpeg == "":
		return "ffmpeg"
	}
	return w.FFmpeg
}
