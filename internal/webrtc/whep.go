// Package webrtc serves live streams to WebRTC players with WHEP
// (draft-ietf-wish-whep): POST /live/NAME/whep with an SDP offer returns an
// SDP answer (201, Location), DELETE on that Location ends the session.
// It also accepts WHIP publishers (RFC 9725, POST /whip with a Bearer
// stream key) whose H.264 and Opus become hub frames like any other publish.
//
// All peers share one UDP port (an ICE UDP mux) and, for networks that
// block UDP, one TCP port (an ICE TCP mux, RFC 6544 passive candidates).
// H.264 is passed through:
// every hub frame is turned into RTP packets once per stream (feed) and the
// same packets are written to each viewer's track, so per-viewer work is
// SRTP and the socket write. Each viewer has its own hub Reader, so it starts
// on the last keyframe of the GOP cache at once. SPS/PPS are re-inserted
// before every IDR. Picture-loss reports (PLI/FIR) from viewers are consumed
// and never reach the publisher: a viewer recovers at the stream's next
// keyframe. Opus audio is passed through; AAC audio is transcoded to Opus once
// per stream by an ffmpeg child process that runs only while the stream has
// WebRTC viewers.
package webrtc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/observe"
)

// Limits on untrusted SDP offers.
const (
	MaxSDPSize     = 64 << 10 // bytes
	MaxMediaLines  = 8
	rtpMTU         = 1200
	packetCacheLen = 1024 // frames whose RTP packets are kept for late readers
)

// nackHistory is how many sent packets each peer keeps for retransmission.
const nackHistory = 256

// Options configure the server. Zero values take the documented defaults.
type Options struct {
	// UDP is the address of the single UDP port all peers share, e.g.
	// ":8189". Required.
	UDP string
	// TCP is the address of the single TCP port all peers share for
	// ICE-TCP, e.g. ":8189"; "" or "off" disables ICE-TCP. Clients try
	// these candidates when UDP does not get through.
	TCP string
	// PublicIPs are addresses (IPs) announced as host candidates instead of
	// the local ones (1:1 NAT, e.g. a cloud VM's public IP). Empty: local
	// addresses.
	PublicIPs []string
	// LoopbackOnly restricts ICE to 127.0.0.1 with mDNS off (tests).
	LoopbackOnly bool
	// ConnectTimeout bounds ICE + DTLS; a peer not connected by then is
	// closed. Default 15 s.
	ConnectTimeout time.Duration
	// MaxSessions caps concurrent WHEP sessions (default 1000); MaxPerIP
	// caps them per client IP (default 20).
	MaxSessions, MaxPerIP int
	// FFmpeg is the ffmpeg binary used to transcode AAC audio to Opus (one
	// process per stream, only while it has WebRTC viewers). Default
	// "ffmpeg" from PATH; "off", or a binary that cannot be found, sends
	// AAC streams to WebRTC viewers as video only.
	FFmpeg string
	// ClientIP, when set, returns the client address of a request (e.g.
	// proxy-aware); default: the host of r.RemoteAddr. Used for the
	// per-IP session cap and the WHIP failure limiter.
	ClientIP func(r *http.Request) string
	// Sessions, when set, is told when a WHEP viewer connects (protocol
	// "whep", the "vid" query parameter, client IP, User-Agent); the func
	// it returns is called when the viewer leaves.
	Sessions ViewerSessions
	// Metrics, when set, counts WHEP viewers in huabian_viewers
	// (protocol "webrtc").
	Metrics *observe.Metrics
	// WHIP enables WHIP ingest on the same UDP port.
	WHIP WHIPOptions
	// BasePath is the prefix of session resources (Location); default
	// "/whep/session/".
	BasePath string
}

// ViewerSessions is told when viewer sessions start and end
// (stats.Service implements it).
type ViewerSessions interface {
	ViewerStarted(channel, protocol, vid, remote, userAgent string) (end func())
}

// Server is the WHEP handler. Create it with New, mount ServeOffer on
// POST /live/{name}/whep and ServeSession on the BasePath prefix.
type Server struct {
	src  func(name string) *hub.Stream
	log  *slog.Logger
	opts Options
	api  *pion.API
	mux  ice.UDPMux
	conn net.PacketConn
	// tcpMux serves ICE-TCP on tcpLn; both nil when ICE-TCP is off.
	tcpMux  ice.TCPMux
	tcpLn   net.Listener
	metrics *metrics
	// ffmpeg is the resolved transcoder binary; "" disables transcoding.
	ffmpeg string

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	sessions    map[string]*session
	perIP       map[string]int
	feeds       map[*hub.Stream]*feed
	transcoders map[*hub.Stream]*transcoder
	whips       map[string]*whipSession
	bframes     map[string]bool // channel → B-frames seen

	// FirstKeyframes counts viewers that were sent their first keyframe.
	FirstKeyframes atomic.Uint64
	// PLIs counts picture-loss reports received from viewers.
	PLIs atomic.Uint64
}

// New opens the shared UDP port (and TCP port, if set) and returns a server
// for streams found by src (nil: not live).
func New(src func(name string) *hub.Stream, log *slog.Logger, opts Options) (*Server, error) {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 15 * time.Second
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 1000
	}
	if opts.MaxPerIP <= 0 {
		opts.MaxPerIP = 20
	}
	if opts.BasePath == "" {
		opts.BasePath = "/whep/session/"
	}
	for _, ip := range opts.PublicIPs {
		if net.ParseIP(ip) == nil {
			return nil, fmt.Errorf("webrtc public IP %q: not an IP address", ip)
		}
	}
	conn, err := net.ListenPacket("udp", opts.UDP)
	if err != nil {
		return nil, fmt.Errorf("webrtc udp %s: %w", opts.UDP, err)
	}
	var tcpLn net.Listener
	if opts.TCP != "" && !strings.EqualFold(opts.TCP, "off") {
		ln, err := net.Listen("tcp", opts.TCP)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("webrtc tcp %s: %w", opts.TCP, err)
		}
		tcpLn = &closingListener{Listener: ln, conns: map[net.Conn]struct{}{}}
	}
	closeAll := func() {
		conn.Close()
		if tcpLn != nil {
			tcpLn.Close()
		}
	}
	m := newMetrics()
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		closeAll()
		return nil, fmt.Errorf("webrtc codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	// pion's defaults, except the NACK responder's history. 256 packets
	// (pion keeps 1024) is about a second of a 2.5 Mbit/s stream, plenty to
	// resend a loss on any link where sub-second playback makes sense. And
	// it keeps the packets without copying them: their payloads are the
	// feed's, shared by every viewer and never modified, and
	// retainHeaders gives each packet a header of its own. A copy was
	// ~1.5 KiB per packet per viewer (pion's buffers are MTU-sized).
	if err := pion.RegisterDefaultInterceptorsWithOptions(me, ir,
		pion.WithNackResponderOptions(nack.ResponderSize(nackHistory), nack.DisableCopy())); err != nil {
		closeAll()
		return nil, fmt.Errorf("webrtc interceptors: %w", err)
	}
	ir.Add(keyRequestFactory{m: m})
	// Registered last, so it is the first on the way out: the headers it
	// copies are what the NACK responder keeps.
	ir.Add(retainHeadersFactory{})
	mux := pion.NewICEUDPMux(nil, conn)
	se := pion.SettingEngine{}
	se.SetICEUDPMux(mux)
	networks := []pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6}
	var tcpMux ice.TCPMux
	if tcpLn != nil {
		// One listener for every peer: connections are matched to their
		// peer by the ICE username of their first STUN request. Each
		// connection buffers up to 8 inbound packets (pion's default).
		tcpMux = pion.NewICETCPMux(nil, tcpLn, 8)
		se.SetICETCPMux(tcpMux)
		networks = append(networks, pion.NetworkTypeTCP4, pion.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	se.SetICETimeouts(5*time.Second, 10*time.Second, 2*time.Second)
	if len(opts.PublicIPs) > 0 {
		se.SetNAT1To1IPs(opts.PublicIPs, pion.ICECandidateTypeHost)
	}
	// Bound to one address (e.g. 127.0.0.1:8189, or a host's public IP):
	// the mux receives only there, so that is the only candidate to offer.
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok && !ua.IP.IsUnspecified() && !opts.LoopbackOnly {
		bound := ua.IP
		se.SetIncludeLoopbackCandidate(bound.IsLoopback())
		se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(bound) })
		if bound.IsLoopback() {
			se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		}
	}
	if opts.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		src: src, log: log.With("component", "whep"), opts: opts,
		api:    pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se)),
		mux:    mux,
		conn:   conn,
		tcpMux: tcpMux, tcpLn: tcpLn,
		metrics: m,
		ctx:     ctx, cancel: cancel,
		sessions:    map[string]*session{},
		perIP:       map[string]int{},
		feeds:       map[*hub.Stream]*feed{},
		bframes:     map[string]bool{},
		transcoders: map[*hub.Stream]*transcoder{},
		whips:       map[string]*whipSession{},
	}
	if opts.FFmpeg == "" {
		opts.FFmpeg = "ffmpeg"
	}
	if opts.FFmpeg != "off" {
		if p, err := exec.LookPath(opts.FFmpeg); err == nil {
			s.ffmpeg = p
		} else {
			s.log.Warn("ffmpeg not found: AAC streams play without audio over WebRTC", "err", err)
		}
	}
	return s, nil
}

// Addr returns the shared UDP address.
func (s *Server) Addr() net.Addr { return s.conn.LocalAddr() }

// TCPAddr returns the shared ICE-TCP address, nil when ICE-TCP is off.
func (s *Server) TCPAddr() net.Addr {
	if s.tcpLn == nil {
		return nil
	}
	return s.tcpLn.Addr()
}

// Close ends every session and transcoder, waits for their goroutines and
// releases the UDP and TCP ports. Later calls return nil.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	sessions := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		if ss != nil {
			sessions = append(sessions, ss)
		}
	}
	whips := make([]*whipSession, 0, len(s.whips))
	for _, ws := range s.whips {
		whips = append(whips, ws)
	}
	s.mu.Unlock()
	s.cancel()
	for _, ss := range sessions {
		ss.close()
	}
	for _, ws := range whips {
		ws.close()
	}
	s.wg.Wait()
	err := s.mux.Close()
	if cerr := s.conn.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	if s.tcpMux != nil {
		// Closes the listener and waits for its accept goroutine.
		if cerr := s.tcpMux.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	return err
}

// Sessions returns the number of live WHEP sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// BFrames reports whether B-frames (PTS != DTS) were seen on channel's video
// by a WHEP viewer or offer; WebRTC players are refused for such streams.
func (s *Server) BFrames(channel string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bframes[channel]
}

type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiError{Error: msg})
}

func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
	h.Set("Access-Control-Expose-Headers", "Location")
}

// CheckOffer parses an SDP offer and refuses what we will not negotiate:
// more than MaxMediaLines media sections or no DTLS fingerprint.
func CheckOffer(body []byte) error {
	var d sdp.SessionDescription
	if err := d.Unmarshal(body); err != nil {
		return fmt.Errorf("parse sdp: %w", err)
	}
	if len(d.MediaDescriptions) == 0 {
		return errors.New("no media sections")
	}
	if len(d.MediaDescriptions) > MaxMediaLines {
		return fmt.Errorf("%d media sections (max %d)", len(d.MediaDescriptions), MaxMediaLines)
	}
	_, session := d.Attribute("fingerprint")
	for _, m := range d.MediaDescriptions {
		if _, ok := m.Attribute("fingerprint"); !ok && !session {
			return errors.New("missing DTLS fingerprint")
		}
	}
	return nil
}

// ServeOffer handles POST (and OPTIONS) on /live/{name}/whep for channel name.
func (s *Server) ServeOffer(w http.ResponseWriter, r *http.Request, name string) {
	cors(w)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	body, ok := readOffer(w, r)
	if !ok {
		s.refuse(RefusedBadOffer)
		return
	}
	stream := s.src(name)
	if stream == nil {
		s.refuse(RefusedNotLive)
		writeError(w, http.StatusNotFound, "channel not live")
		return
	}
	if bf := s.checkBFrames(name, stream); bf {
		s.refuse(RefusedBFrames)
		writeError(w, http.StatusUnprocessableEntity,
			"stream has B-frames, which WebRTC cannot play; publish without B-frames (x264 bframes=0 or -tune zerolatency) or use HLS/FLV")
		return
	}
	ip := s.clientIP(r)
	id, err := s.reserve(ip)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	answer, err := s.newSession(id, ip, name, stream, string(body), r.URL.Query().Get("vid"), r.UserAgent())
	if err != nil {
		s.release(id, ip)
		s.refuse(RefusedNegotiation)
		writeError(w, http.StatusBadRequest, "negotiation: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", s.opts.BasePath+id)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// ServeSession handles DELETE (and OPTIONS) on BasePath + ID.
func (s *Server) ServeSession(w http.ResponseWriter, r *http.Request) {
	cors(w)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, s.opts.BasePath)
	if !ok || id == "" {
		writeError(w, http.StatusNotFound, "no such session")
		return
	}
	if r.Method != http.MethodDelete {
		w.Header().Set("Allow", "DELETE, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil {
		writeError(w, http.StatusNotFound, "no such session")
		return
	}
	ss.close()
	w.WriteHeader(http.StatusOK)
}

func (s *Server) clientIP(r *http.Request) string {
	if s.opts.ClientIP != nil {
		return s.opts.ClientIP(r)
	}
	return remoteHost(r)
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// checkBFrames looks at the GOP cache for video frames with PTS != DTS.
func (s *Server) checkBFrames(name string, st *hub.Stream) bool {
	rd := st.Subscribe()
	defer rd.Close()
	frames, _ := rd.TryNext()
	found := false
	for _, f := range frames {
		if f.Video && f.PTS != f.DTS {
			found = true
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if found {
		s.bframes[name] = true
	}
	return found
}

func (s *Server) noteBFrames(name string) {
	s.mu.Lock()
	s.bframes[name] = true
	s.mu.Unlock()
}

func (s *Server) reserve(ip string) (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		s.refuse(RefusedShutdown)
		return "", errors.New("server shutting down")
	case len(s.sessions) >= s.opts.MaxSessions:
		s.refuse(RefusedLimit)
		return "", errors.New("too many WebRTC sessions")
	case s.perIP[ip] >= s.opts.MaxPerIP:
		s.refuse(RefusedLimit)
		return "", errors.New("too many WebRTC sessions from this address")
	}
	s.sessions[id] = nil // placeholder until the session exists
	s.perIP[ip]++
	return id, nil
}

func (s *Server) release(id, ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[id]; !ok {
		return
	}
	delete(s.sessions, id)
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

// feedFor returns the shared packetiser of st, creating it on first use.
func (s *Server) feedFor(st *hub.Stream) *feed {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.feeds[st]
	if f == nil {
		f = newFeed()
		s.feeds[st] = f
	}
	f.users++
	return f
}

func (s *Server) dropFeed(st *hub.Stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.feeds[st]; f != nil {
		if f.users--; f.users <= 0 {
			delete(s.feeds, st)
		}
	}
}

// readOffer reads and checks the SDP offer of a WHEP or WHIP POST; on a bad
// one it has answered the client and returns ok=false.
func readOffer(w http.ResponseWriter, r *http.Request) (offer []byte, ok bool) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/sdp") {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/sdp")
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxSDPSize+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "read offer")
		return nil, false
	}
	if len(body) > MaxSDPSize {
		writeError(w, http.StatusRequestEntityTooLarge, "offer too large")
		return nil, false
	}
	if err := CheckOffer(body); err != nil {
		writeError(w, http.StatusBadRequest, "bad offer: "+err.Error())
		return nil, false
	}
	return body, true
}

// answerOffer applies a remote offer and makes the local answer with every
// ICE candidate in it (WHIP/WHEP do not trickle), waiting at most 5 s for
// candidate gathering.
func answerOffer(pc *pion.PeerConnection, offer string) error {
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offer}); err != nil {
		return err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return err
	}
	select {
	case <-gathered:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("ICE gathering timed out")
	}
}

// closingListener closes the connections it accepted when it is closed.
// The ICE TCP mux closes the connections it has matched to a peer, but one
// still waiting for its first STUN request (up to 30 s) would otherwise hold
// up Close.
type closingListener struct {
	net.Listener
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func (l *closingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

func (l *closingListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for c := range conns {
		c.(*trackedConn).Conn.Close()
	}
	return err
}

// trackedConn leaves its listener's set when closed.
type trackedConn struct {
	net.Conn
	l *closingListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
