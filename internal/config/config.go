// Package config holds the one configuration of a Huabian Live process.
//
// Values come from, in rising precedence: the defaults below, a YAML file
// (--config FILE or HUABIAN_CONFIG), environment variables HUABIAN_<PATH> and
// command-line flags --<path>. Names derive from the yaml path of each field
// (live.dead_after → HUABIAN_LIVE_DEAD_AFTER, --live.dead_after), so adding a
// field here is all it takes to make it configurable. docs/config.md is
// generated from the field comments (go generate ./internal/config).
//
// A Config is a value: it is not changed after Load. Each component receives
// only its own sub-struct.
package config

//go:generate go test -run ^TestConfigDoc$ -update .

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Off as an address disables that listener.
const Off = "off"

// Config is the whole configuration. Each field comment states the default.
type Config struct {
	// Data is the directory holding the database (huabian.db), the secret
	// that seals stream keys (secret.key) and recordings. Created with mode
	// 0700 if missing. Default "./data".
	Data string `yaml:"data"`

	HTTP   HTTP   `yaml:"http"`
	RTMP   RTMP   `yaml:"rtmp"`
	RTMPS  RTMPS  `yaml:"rtmps"`
	SRT    SRT    `yaml:"srt"`
	WebRTC WebRTC `yaml:"webrtc"`
	Log    Log    `yaml:"log"`
	NATS   NATS   `yaml:"nats"`
	Live   Live   `yaml:"live"`
	HLS    HLS    `yaml:"hls"`
	Limits Limits `yaml:"limits"`
	Debug  Debug  `yaml:"debug"`
}

// Debug configures diagnostics for operators.
type Debug struct {
	// Pprof is a TCP address serving Go's net/http/pprof profiles (CPU,
	// heap, goroutines); keep it on loopback. Empty disables it.
	// Default "".
	Pprof string `yaml:"pprof"`
}

// Validate checks the pprof address.
func (d Debug) Validate() error {
	if d.Pprof == "" {
		return nil
	}
	return checkListen("debug.pprof", d.Pprof)
}

// HTTP configures the web server: pages, JSON API, HTTP-FLV, LL-HLS,
// WHIP and WHEP.
type HTTP struct {
	// Listen is the TCP address of the web server; "off" disables it.
	// Default ":8080".
	Listen string `yaml:"listen" flag:"http"`
	// TrustedProxies is a comma-separated list of CIDRs (or single
	// addresses) of reverse proxies in front of the server. Only requests
	// from these peers have their X-Forwarded-For (client address, used by
	// rate limits) and X-Forwarded-Proto believed; empty trusts none.
	// Default "".
	TrustedProxies string `yaml:"trusted_proxies"`
	// PublicURL is the site's address as viewers reach it, e.g.
	// "https://live.example.com": used in QR codes, share and embed links
	// and the first-start setup link. Empty uses the address of each
	// request. Default "".
	PublicURL string `yaml:"public_url"`
	// TLSCert is a PEM file with the certificate chain (leaf first) for
	// HTTPS; with tls_key set too, the web server speaks HTTPS (HTTP/2 and
	// HTTP/1.1) instead of plain HTTP. The files are read again when they
	// change, so renewals need no restart. See docs/tls.md. Default "".
	TLSCert string `yaml:"tls_cert"`
	// TLSKey is the PEM file of the private key of tls_cert. Default "".
	TLSKey string `yaml:"tls_key"`
	// ACMEHost is the site's public host name (several: comma-separated)
	// for automatic certificates from Let's Encrypt (ACME), instead of
	// tls_cert and tls_key. The CA must reach this server on port 443
	// (listen ":443") or on port 80 (redirect_listen ":80"). Certificates
	// and the account key are kept in DATA/acme; using it accepts the CA's
	// terms of service. Default "".
	ACMEHost string `yaml:"acme_host"`
	// ACMEEmail is the contact address given to the ACME CA (expiry
	// notices); empty registers without one. Default "".
	ACMEEmail string `yaml:"acme_email"`
	// ACMEDirectory is the directory URL of the ACME CA; empty means
	// Let's Encrypt, e.g. set
	// https://acme-staging-v02.api.letsencrypt.org/directory to try the
	// setup without rate limits. Default "".
	ACMEDirectory string `yaml:"acme_directory"`
	// RedirectListen is a TCP address for plain HTTP that redirects every
	// request to HTTPS (e.g. ":80") and answers ACME http-01 challenges;
	// "off" disables it. Needs tls_cert or acme_host. Default "off".
	RedirectListen string `yaml:"redirect_listen"`
}

// TLS reports whether the web server speaks HTTPS (certificate files or
// ACME).
func (h HTTP) TLS() bool { return h.TLSCert != "" || h.ACMEHost != "" }

// ACMEHosts splits ACMEHost.
func (h HTTP) ACMEHosts() []string {
	var hosts []string
	for _, s := range strings.Split(h.ACMEHost, ",") {
		if s = strings.TrimSpace(s); s != "" {
			hosts = append(hosts, strings.ToLower(s))
		}
	}
	return hosts
}

// RTMP configures the RTMP listener (publish and play).
type RTMP struct {
	// Listen is the TCP address for RTMP publishers and players; "off"
	// disables it. Default ":1935".
	Listen string `yaml:"listen" flag:"rtmp"`
}

// RTMPS configures the RTMP-over-TLS listener (publish and play), e.g.
// rtmps://HOST:1936/live in OBS.
type RTMPS struct {
	// Listen is the TCP address for RTMPS; "off" disables it. Empty means
	// ":1936" when a certificate is configured (rtmps.tls_cert,
	// http.tls_cert or http.acme_host) and off otherwise. Default "".
	Listen string `yaml:"listen" flag:"rtmps"`
	// TLSCert is a PEM certificate chain for RTMPS only; empty uses the web
	// server's (http.tls_cert, or the ACME certificate of http.acme_host,
	// which needs clients to connect by that name). Default "".
	TLSCert string `yaml:"tls_cert"`
	// TLSKey is the PEM private key of rtmps.tls_cert. Default "".
	TLSKey string `yaml:"tls_key"`
}

// DefaultRTMPSListen is the RTMPS address used when rtmps.listen is empty
// and a certificate is configured.
const DefaultRTMPSListen = ":1936"

// RTMPSListen is the effective RTMPS address: rtmps.listen, or when that is
// empty DefaultRTMPSListen if a certificate is configured, else "off".
func (c Config) RTMPSListen() string {
	if c.RTMPS.Listen != "" {
		return c.RTMPS.Listen
	}
	if cert, _ := c.RTMPSCert(); cert != "" || c.HTTP.ACMEHost != "" {
		return DefaultRTMPSListen
	}
	return Off
}

// RTMPSCert returns the certificate and key files for RTMPS: its own, else
// the web server's ("" when neither is set: then RTMPS uses ACME, if
// http.acme_host is set).
func (c Config) RTMPSCert() (cert, key string) {
	if c.RTMPS.TLSCert != "" {
		return c.RTMPS.TLSCert, c.RTMPS.TLSKey
	}
	return c.HTTP.TLSCert, c.HTTP.TLSKey
}

// SRT configures the SRT listener (publish and play).
type SRT struct {
	// Listen is the UDP address for SRT publishers and players; "off"
	// disables it. Default ":9000".
	Listen string `yaml:"listen" flag:"srt"`
	// Passphrase, when set, is required of every SRT caller, publishers
	// and players alike (AES encryption; 10 to 80 characters); callers
	// without it, or with another one, are refused. Empty leaves SRT
	// unencrypted and refuses encrypted callers. Default "".
	Passphrase string `yaml:"passphrase"`
	// Latency is the server's SRT latency (receive buffer) in both
	// directions; each connection uses the larger of this and the
	// caller's own latency setting, as SRT negotiates it. At most 65s.
	// Default 200ms.
	Latency time.Duration `yaml:"latency"`
}

// WebRTC configures WHIP ingest and WHEP playback media transport.
type WebRTC struct {
	// UDP is the single UDP address all WebRTC media is multiplexed on;
	// "off" disables WebRTC. Default ":8189".
	UDP string `yaml:"udp" flag:"webrtc-udp"`
	// TCP is the single TCP address ICE-TCP is served on, for viewers and
	// publishers whose network blocks UDP (browsers use these candidates
	// only when UDP fails); "off" disables ICE-TCP. Unused while udp is
	// off. Default ":8189".
	TCP string `yaml:"tcp" flag:"webrtc-tcp"`
	// PublicIPs is a comma-separated list of IP addresses announced in ICE
	// candidates instead of the host's own (1:1 NAT, e.g. a cloud VM's
	// public IP in front of a private one); checked when WebRTC starts.
	// Empty means the local addresses. Default "".
	PublicIPs string `yaml:"public_ips"`
	// MaxSessions caps concurrent WHEP viewers plus WHIP publishers.
	// Default 1000.
	MaxSessions int `yaml:"max_sessions"`
	// MaxSessionsPerIP caps concurrent WebRTC sessions from one client IP.
	// Default 20.
	MaxSessionsPerIP int `yaml:"max_sessions_per_ip"`
	// FFmpeg is the ffmpeg binary that transcodes AAC to Opus for WHEP
	// viewers (one process per stream, only while it has WebRTC viewers);
	// "off" plays AAC streams as video only over WebRTC. Default "ffmpeg".
	FFmpeg string `yaml:"ffmpeg"`
	// OpusToAAC transcodes the Opus audio of a publish (WHIP, SRT or
	// Enhanced RTMP) to AAC-LC (128 kb/s, 48 kHz) with the ffmpeg above,
	// one process per publish session, for HTTP-FLV/WS-FLV/RTMP viewers;
	// false (or ffmpeg "off") plays Opus streams to them as video only.
	// Default true.
	OpusToAAC bool `yaml:"opus_to_aac"`
}

// PublicIPList returns PublicIPs split at commas, blanks dropped.
func (w WebRTC) PublicIPList() []string {
	var out []string
	for _, p := range strings.Split(w.PublicIPs, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Log configures the process logger.
type Log struct {
	// Level is the lowest level written: debug, info, warn or error.
	// Default "info".
	Level string `yaml:"level"`
	// Format is "text" (human readable) or "json" (one object per line).
	// Default "text".
	Format string `yaml:"format"`
}

// NATS configures the message bus.
type NATS struct {
	// URL of an external NATS cluster (comma-separated for several
	// servers). Empty runs an embedded in-process server. Default "".
	URL string `yaml:"url"`
	// Listen is the client address of the embedded server, for other nodes
	// to join. Empty means the embedded server has no network listener.
	// Only valid when url is empty. Default "".
	Listen string `yaml:"listen"`
}

// Live configures publish sessions and viewer backlogs.
type Live struct {
	// Grace is how long a stream stays open for its viewers after the
	// publisher disconnects, so that a reconnecting encoder resumes it.
	// Default 30s.
	Grace time.Duration `yaml:"grace"`
	// DeadAfter is how long a publisher may send nothing before a new
	// publisher with the same key may take its place. Default 5s.
	DeadAfter time.Duration `yaml:"dead_after"`
	// IdleTimeout drops a publisher that has sent nothing for this long.
	// Default 10s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxLag is how far a viewer may fall behind live before it skips to
	// the next keyframe. Default 3s.
	MaxLag time.Duration `yaml:"max_lag"`
	// SlowTimeout disconnects a viewer that stays behind for this long.
	// Default 10s.
	SlowTimeout time.Duration `yaml:"slow_timeout"`
	// WakeInterval batches deliveries to connection-based viewers
	// (HTTP-FLV, WS-FLV, RTMP): viewers are woken at most this often (and
	// on every keyframe), so each write carries a couple of frames. The
	// LL-HLS packager is always woken per frame. Larger
	// values save CPU per viewer and add up to one frame interval of
	// latency; 0 delivers every video frame at once. Default 50ms.
	WakeInterval time.Duration `yaml:"wake_interval"`
}

// HLS configures LL-HLS packaging.
type HLS struct {
	// SegmentDuration is the target duration of a segment; segments end on
	// keyframes so they can be longer. Default 1s.
	SegmentDuration time.Duration `yaml:"segment_duration"`
	// PartDuration is the target duration of an LL-HLS partial segment; at
	// most segment_duration. Default 200ms.
	PartDuration time.Duration `yaml:"part_duration"`
	// AlwaysOn muxes every live channel to LL-HLS from the moment it goes
	// live, so the first viewer gets segments at once; when false a
	// channel is muxed only while LL-HLS viewers ask for it (the first one
	// waits for a segment to be built). Default true.
	AlwaysOn bool `yaml:"always_on"`
}

// Limits configures abuse limits.
type Limits struct {
	// PublishFailuresPerMinute is how many failed publish attempts (bad
	// stream key) one IP address may make per minute before further
	// attempts are refused; 0 means no limit. Default 10.
	PublishFailuresPerMinute int `yaml:"publish_failures_per_minute"`
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Data:   "./data",
		HTTP:   HTTP{Listen: ":8080", RedirectListen: Off},
		RTMP:   RTMP{Listen: ":1935"},
		SRT:    SRT{Listen: ":9000", Latency: 200 * time.Millisecond},
		WebRTC: WebRTC{UDP: ":8189", TCP: ":8189", MaxSessions: 1000, MaxSessionsPerIP: 20, FFmpeg: "ffmpeg", OpusToAAC: true},
		Log:    Log{Level: "info", Format: "text"},
		NATS:   NATS{},
		Live: Live{
			Grace:        30 * time.Second,
			DeadAfter:    5 * time.Second,
			IdleTimeout:  10 * time.Second,
			MaxLag:       3 * time.Second,
			SlowTimeout:  10 * time.Second,
			WakeInterval: 50 * time.Millisecond,
		},
		HLS: HLS{
			SegmentDuration: time.Second,
			PartDuration:    200 * time.Millisecond,
			AlwaysOn:        true,
		},
		Limits: Limits{PublishFailuresPerMinute: 10},
	}
}

// Enabled reports whether a listener address is switched on: it is neither
// empty nor "off".
func Enabled(addr string) bool {
	return addr != "" && !strings.EqualFold(addr, Off)
}

// Validate checks every sub-struct and returns all problems found.
func (c Config) Validate() error {
	var errs []error
	if c.Data == "" {
		errs = append(errs, errors.New("data: must not be empty"))
	}
	for _, v := range []interface{ Validate() error }{
		c.HTTP, c.RTMP, c.SRT, c.WebRTC, c.Log, c.NATS, c.Live, c.HLS, c.Limits, c.Debug,
	} {
		if err := v.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.validateRTMPS(); err != nil {
		errs = append(errs, err)
	}
	return joinErrs(errs)
}

// Validate checks the listen address and the trusted proxies.
func (h HTTP) Validate() error {
	_, err := h.TrustedProxyPrefixes()
	var urlErr error
	if h.PublicURL != "" {
		u, perr := url.Parse(h.PublicURL)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			urlErr = fmt.Errorf("http.public_url %q: want an origin like https://live.example.com", h.PublicURL)
		}
	}
	errs := []error{checkListen("http.listen", h.Listen), err, urlErr,
		checkKeyPair("http.tls_cert", "http.tls_key", h.TLSCert, h.TLSKey),
		checkListen("http.redirect_listen", h.RedirectListen)}
	if Enabled(h.RedirectListen) && !h.TLS() {
		errs = append(errs, errors.New("http.redirect_listen: redirects to HTTPS, so it needs http.tls_cert and http.tls_key, or http.acme_host"))
	}
	if h.ACMEHost != "" && (h.TLSCert != "" || h.TLSKey != "") {
		errs = append(errs, errors.New("http.acme_host: set either acme_host or tls_cert and tls_key, not both"))
	}
	for _, host := range h.ACMEHosts() {
		if strings.ContainsAny(host, ":/ ") || !strings.Contains(host, ".") || net.ParseIP(host) != nil {
			errs = append(errs, fmt.Errorf("http.acme_host %q: want public DNS names like live.example.com", host))
		}
	}
	if h.ACMEHost == "" && (h.ACMEEmail != "" || h.ACMEDirectory != "") {
		errs = append(errs, errors.New("http.acme_email, http.acme_directory: only used with http.acme_host"))
	}
	if h.ACMEDirectory != "" {
		if u, err := url.Parse(h.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("http.acme_directory %q: want an https:// URL", h.ACMEDirectory))
		}
	}
	return joinErrs(errs)
}

// validateRTMPS checks the RTMPS address and certificate; it needs the
// HTTP certificate, which it may share.
func (c Config) validateRTMPS() error {
	r := c.RTMPS
	errs := []error{checkKeyPair("rtmps.tls_cert", "rtmps.tls_key", r.TLSCert, r.TLSKey)}
	if r.Listen != "" {
		errs = append(errs, checkListen("rtmps.listen", r.Listen))
	}
	if cert, _ := c.RTMPSCert(); cert == "" && c.HTTP.ACMEHost == "" && Enabled(r.Listen) {
		errs = append(errs, errors.New("rtmps.listen: needs a certificate (rtmps.tls_cert and rtmps.tls_key, http.tls_cert and http.tls_key, or http.acme_host)"))
	}
	return joinErrs(errs)
}

// checkKeyPair accepts neither file, or both as a loadable PEM certificate
// chain and matching private key.
func checkKeyPair(certPath, keyPath, cert, key string) error {
	switch {
	case cert == "" && key == "":
		return nil
	case cert == "":
		return fmt.Errorf("%s: empty while %s is set; set both", certPath, keyPath)
	case key == "":
		return fmt.Errorf("%s: empty while %s is set; set both", keyPath, certPath)
	}
	if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
		return fmt.Errorf("%s %q, %s %q: %w", certPath, cert, keyPath, key, err)
	}
	return nil
}

// TrustedProxyPrefixes parses TrustedProxies.
func (h HTTP) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, s := range strings.Split(h.TrustedProxies, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("http.trusted_proxies %q: want CIDRs like 10.0.0.0/8 or addresses", s)
			}
			ps = append(ps, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("http.trusted_proxies %q: want CIDRs like 10.0.0.0/8 or addresses", s)
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

// Validate checks the listen address.
func (r RTMP) Validate() error { return checkListen("rtmp.listen", r.Listen) }

// Validate checks the listen address, the passphrase and the latency.
func (s SRT) Validate() error {
	errs := []error{checkListen("srt.listen", s.Listen)}
	if n := len(s.Passphrase); n != 0 && (n < 10 || n > 80) {
		errs = append(errs, fmt.Errorf("srt.passphrase: %d characters; SRT needs 10 to 80 (or empty for none)", n))
	}
	if s.Latency < 0 || s.Latency > 65*time.Second {
		errs = append(errs, fmt.Errorf("srt.latency %s: must be between 0 and 65s", s.Latency))
	}
	return joinErrs(errs)
}

// Validate checks the UDP and TCP addresses and the session caps.
func (w WebRTC) Validate() error {
	errs := []error{checkListen("webrtc.udp", w.UDP), checkListen("webrtc.tcp", w.TCP)}
	if w.MaxSessions < 0 {
		errs = append(errs, fmt.Errorf("webrtc.max_sessions %d: must not be negative", w.MaxSessions))
	}
	if w.MaxSessionsPerIP < 0 {
		errs = append(errs, fmt.Errorf("webrtc.max_sessions_per_ip %d: must not be negative", w.MaxSessionsPerIP))
	}
	return joinErrs(errs)
}

// Validate checks level and format.
func (l Log) Validate() error {
	var errs []error
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: use debug, info, warn or error", l.Level))
	}
	switch l.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: use text or json", l.Format))
	}
	return joinErrs(errs)
}

// Validate checks the server URLs and the embedded listener.
func (n NATS) Validate() error {
	var errs []error
	if n.URL != "" {
		for _, s := range strings.Split(n.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || u.Host == "" {
				errs = append(errs, fmt.Errorf("nats.url %q: want URLs like nats://host:4222", n.URL))
				break
			}
		}
		if n.Listen != "" {
			errs = append(errs, errors.New("nats.listen: only valid for the embedded server (empty nats.url)"))
		}
	}
	if n.Listen != "" && !strings.EqualFold(n.Listen, Off) {
		if err := checkAddr(n.Listen); err != nil {
			errs = append(errs, fmt.Errorf("nats.listen %q: %w", n.Listen, err))
		}
	}
	return joinErrs(errs)
}

// Validate checks that every duration is usable.
func (l Live) Validate() error {
	var errs []error
	if l.Grace < 0 {
		errs = append(errs, fmt.Errorf("live.grace %s: must not be negative", l.Grace))
	}
	if l.WakeInterval < 0 || l.WakeInterval > time.Second {
		errs = append(errs, fmt.Errorf("live.wake_interval %s: must be between 0 and 1s", l.WakeInterval))
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"live.dead_after", l.DeadAfter},
		{"live.idle_timeout", l.IdleTimeout},
		{"live.max_lag", l.MaxLag},
		{"live.slow_timeout", l.SlowTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %s: must be positive", d.path, d.v))
		}
	}
	return joinErrs(errs)
}

// Validate checks that parts fit in segments.
func (h HLS) Validate() error {
	var errs []error
	if h.SegmentDuration <= 0 {
		errs = append(errs, fmt.Errorf("hls.segment_duration %s: must be positive", h.SegmentDuration))
	}
	if h.PartDuration <= 0 {
		errs = append(errs, fmt.Errorf("hls.part_duration %s: must be positive", h.PartDuration))
	} else if h.SegmentDuration > 0 && h.PartDuration > h.SegmentDuration {
		errs = append(errs, fmt.Errorf("hls.part_duration %s: must not exceed hls.segment_duration %s",
			h.PartDuration, h.SegmentDuration))
	}
	return joinErrs(errs)
}

// Validate checks the limits.
func (l Limits) Validate() error {
	if l.PublishFailuresPerMinute < 0 {
		return fmt.Errorf("limits.publish_failures_per_minute %d: must not be negative (0 = no limit)",
			l.PublishFailuresPerMinute)
	}
	return nil
}

// joinErrs is like errors.Join but keeps the message on one line, "; "
// between the parts, so a CLI can print it as a single line.
func joinErrs(errs []error) error {
	errs = slices.DeleteFunc(errs, func(e error) bool { return e == nil })
	if len(errs) == 0 {
		return nil
	}
	return errList(errs)
}

type errList []error

func (l errList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

func (l errList) Unwrap() []error { return l }

// checkListen accepts "off" or a host:port address.
func checkListen(path, addr string) error {
	if strings.EqualFold(addr, Off) {
		return nil
	}
	if addr == "" {
		return fmt.Errorf("%s: empty; use an address like :8080, or off to disable", path)
	}
	if err := checkAddr(addr); err != nil {
		return fmt.Errorf("%s %q: %w", path, addr, err)
	}
	return nil
}

func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port, e.g. :8080 or 127.0.0.1:8080")
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q: want a number from 0 to 65535", port)
	}
	return nil
}
