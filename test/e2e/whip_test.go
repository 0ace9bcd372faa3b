package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// A Go WebRTC client (pion) publishes H.264 640x360 + Opus over WHIP. While
// it publishes, HTTP-FLV viewers must get H.264 and AAC (the server
// transcodes the Opus once per stream, with one ffmpeg process) and LL-HLS
// viewers H.264 and the Opus itself; both decode without errors. DELETE
// ends the publish session, the channel goes offline and ffmpeg is reaped.
func TestWHIPPublishPlaysOverFLVAndLLHLS(t *testing.T) {
	requireTools(t)
	const seconds = 20 // fixture length: more than the probes below need
	video, audio := makeWHIPFixtures(t, seconds)

	srv := startServer(t, "--webrtc-udp", freeUDPAddr(t))
	key := srv.createChannel(t, "whip")

	pc, vTrack, aTrack := newWHIPPeer(t)
	defer pc.Close()
	start := time.Now()
	location := postWHIP(t, srv, key, pc)
	connected := make(chan struct{})
	var connOnce sync.Once
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateConnected {
			connOnce.Do(func() { close(connected) })
		}
	})
	select {
	case <-connected:
	case <-time.After(20 * time.Second):
		t.Fatalf("WHIP peer connection not connected within 20 s (state %s)", pc.ConnectionState())
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	sendErrs := make(chan error, 2)
	wg.Go(func() { sendErrs <- sendH264(ctx, vTrack, video) })
	wg.Go(func() { sendErrs <- sendOpus(ctx, aTrack, audio) })
	stopSending := func() {
		cancel()
		wg.Wait()
		close(sendErrs)
		for err := range sendErrs {
			if err != nil {
				t.Errorf("sending: %v", err)
			}
		}
	}
	defer func() {
		if ctx.Err() == nil {
			stopSending()
		}
	}()

	live := srv.waitLive(t, "whip", nil, true)
	t.Logf("live %.0f ms after connecting", float64(live)/1e6)

	// Exactly one ffmpeg runs for the stream, however many FLV viewers.
	var transcoder int
	if !poll(20*time.Second, 50*time.Millisecond, func() bool {
		kids := childProcs(srv.proc.cmd.Process.Pid, "ffmpeg")
		if len(kids) == 1 {
			transcoder = kids[0]
		}
		return len(kids) == 1
	}) {
		t.Fatalf("want one ffmpeg child of the server, have %v", childProcs(srv.proc.cmd.Process.Pid, "ffmpeg"))
	}
	t.Logf("Opus→AAC ffmpeg (pid %d) running %.0f ms after the WHIP POST", transcoder, float64(time.Since(start))/1e6)
	cpu0, at0 := procCPU(t, transcoder), time.Now()

	flv, flvErr := ffprobe(t, srv.url("/live/whip.flv"), 3)
	cpu1, at1 := procCPU(t, transcoder), time.Now()
	t.Logf("ffmpeg CPU while transcoding: %.1f%% of one core", 100*(cpu1-cpu0).Seconds()/at1.Sub(at0).Seconds())
	checkWHIPPlayback(t, "HTTP-FLV", flv, flvErr, "aac")
	if kids := childProcs(srv.proc.cmd.Process.Pid, "ffmpeg"); len(kids) != 1 {
		t.Errorf("after an FLV viewer: ffmpeg children %v, want one", kids)
	}

	hls, hlsErr := ffprobe(t, srv.url("/live/whip/index.m3u8"), 3)
	checkWHIPPlayback(t, "LL-HLS", hls, hlsErr, "opus")

	if el := time.Since(start); el < 6*time.Second {
		time.Sleep(6*time.Second - el) // publish for at least 6 s
	}
	stopSending()

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	del, _ := http.NewRequestWithContext(dctx, http.MethodDelete, srv.url(location), nil)
	dresp, err := httpClient.Do(del)
	if err != nil {
		t.Fatal(err)
	}
	dresp.Body.Close()
	if dresp.StatusCode/100 != 2 {
		t.Errorf("DELETE %s: %d", location, dresp.StatusCode)
	}
	if took, ok := srv.waitNotLive(t, "whip", 15*time.Second); !ok {
		t.Errorf("channel still live 15 s after DELETE")
	} else {
		t.Logf("offline %.0f ms after DELETE", float64(took)/1e6)
	}
	if !poll(15*time.Second, 50*time.Millisecond, func() bool {
		return len(childProcs(srv.proc.cmd.Process.Pid, "ffmpeg")) == 0
	}) {
		t.Errorf("ffmpeg still running after the publish ended: %v", childProcs(srv.proc.cmd.Process.Pid, "ffmpeg"))
	}
}

// checkWHIPPlayback asserts an H.264 640x360 stream with at least 2.5 s of
// decoded video, an audio stream in codec wantAudio with decoded frames,
// and no decoding errors.
func checkWHIPPlayback(t *testing.T, label string, res probeResult, stderr, wantAudio string) {
	t.Helper()
	videoIdx, audioIdx := -1, -1
	for _, s := range res.Streams {
		switch s.CodecType {
		case "video":
			videoIdx = s.Index
			if s.CodecName != "h264" || s.Width != 640 || s.Height != 360 {
				t.Errorf("%s: video is %s %dx%d, want h264 640x360", label, s.CodecName, s.Width, s.Height)
			}
		case "audio":
			audioIdx = s.Index
			if s.CodecName != wantAudio {
				t.Errorf("%s: audio is %s, want %s", label, s.CodecName, wantAudio)
			}
		}
	}
	if videoIdx < 0 || audioIdx < 0 {
		t.Fatalf("%s: want a video and an audio stream, got %+v", label, res.Streams)
	}
	first, last := map[int]float64{}, map[int]float64{}
	count := map[int]int{}
	for _, f := range res.Frames {
		dts, err := strconv.ParseFloat(f.PktDTSTime, 64)
		if err != nil {
			continue
		}
		if _, ok := first[f.StreamIndex]; !ok {
			first[f.StreamIndex] = dts
		}
		last[f.StreamIndex] = dts
		count[f.StreamIndex]++
	}
	vSpan := last[videoIdx] - first[videoIdx]
	aSpan := last[audioIdx] - first[audioIdx]
	t.Logf("%s: %d video frames over %.2f s, %d %s frames over %.2f s; first audio DTS - first video DTS = %.0f ms",
		label, count[videoIdx], vSpan, count[audioIdx], wantAudio, aSpan, 1000*(first[audioIdx]-first[videoIdx]))
	if count[videoIdx] < 60 || vSpan < 2.5 {
		t.Errorf("%s: %d video frames over %.2f s, want ≥ 60 over ≥ 2.5 s", label, count[videoIdx], vSpan)
	}
	if count[audioIdx] < 50 || aSpan < 2 {
		t.Errorf("%s: %d audio frames over %.2f s, want ≥ 50 over ≥ 2 s", label, count[audioIdx], aSpan)
	}
	for _, bad := range []string{"error while decoding", "concealing", "Invalid NAL", "non-existing PPS", "no frame!", "Error"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("%s: decoder reported %q:\n%s", label, bad, lastLines(stderr, 20))
		}
	}
}

// makeWHIPFixtures encodes seconds of test video (H.264 Annex-B, 640x360,
// 30 fps, IDR every second, no B-frames) and a sine tone (Ogg/Opus, 20 ms
// packets, one per page) as a browser would send them.
func makeWHIPFixtures(t *testing.T, seconds int) (h264, ogg string) {
	t.Helper()
	dir := t.TempDir()
	h264, ogg = filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.ogg")
	d := strconv.Itoa(seconds)
	if _, errOut, code := runCmd(t, 120*time.Second, "ffmpeg", "-hide_banner", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration="+d,
		"-c:v", "libx264", "-profile:v", "baseline", "-preset", "veryfast", "-tune", "zerolatency",
		"-bf", "0", "-g", "30", "-pix_fmt", "yuv420p", "-f", "h264", h264); code != 0 {
		t.Fatalf("encode video fixture: %s", errOut)
	}
	if _, errOut, code := runCmd(t, 120*time.Second, "ffmpeg", "-hide_banner", "-v", "error",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration="+d,
		"-ac", "2", "-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20",
		"-page_duration", "20000", "-f", "ogg", ogg); code != 0 {
		t.Fatalf("encode audio fixture: %s", errOut)
	}
	return h264, ogg
}

// newWHIPPeer returns a loopback-only send-only peer with an H.264 and an
// Opus track.
func newWHIPPeer(t *testing.T) (*pion.PeerConnection, *pion.TrackLocalStaticSample, *pion.TrackLocalStaticSample) {
	t.Helper()
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	api := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "whip-test")
	if err != nil {
		t.Fatal(err)
	}
	a, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "whip-test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []pion.TrackLocal{v, a} {
		if _, err := pc.AddTransceiverFromTrack(tr, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	return pc, v, a
}

// postWHIP sends the offer to POST /whip with the stream key, applies the
// answer and returns the session resource.
func postWHIP(t *testing.T, srv *server, key string, pc *pion.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(20 * time.Second):
		t.Fatal("ICE gathering did not complete")
	}
	req, _ := http.NewRequest(http.MethodPost, srv.url("/whip"), strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	location := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || location == "" {
		t.Fatalf("WHIP POST: %d %s", resp.StatusCode, answer)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}
	return location
}

// pace sleeps until at, or returns false when ctx ends first.
func pace(ctx context.Context, at time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(at)):
		return true
	}
}

// sendH264 sends the Annex-B file's access units at 30 fps until the file
// or ctx ends.
func sendH264(ctx context.Context, track *pion.TrackLocalStaticSample, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rd, err := h264reader.NewReader(f)
	if err != nil {
		return fmt.Errorf("h264 reader: %w", err)
	}
	const frame = time.Second / 30
	start := time.Now()
	var au []byte
	for i := 0; i < 100000; {
		nal, err := rd.NextNAL()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("h264: %w", err)
		}
		au = append(au, 0, 0, 0, 1)
		au = append(au, nal.Data...)
		// x264 writes one slice per picture: a VCL NAL unit ends the AU.
		if nal.UnitType != h264reader.NalUnitTypeCodedSliceIdr && nal.UnitType != h264reader.NalUnitTypeCodedSliceNonIdr {
			continue
		}
		if !pace(ctx, start.Add(time.Duration(i)*frame)) {
			return nil
		}
		if err := track.WriteSample(media.Sample{Data: au, Duration: frame}); err != nil {
			return fmt.Errorf("write video: %w", err)
		}
		au = nil
		i++
	}
	return nil
}

// sendOpus sends the Ogg file's packets in real time until the file or ctx
// ends.
func sendOpus(ctx context.Context, track *pion.TrackLocalStaticSample, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	rd, _, err := oggreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("ogg reader: %w", err)
	}
	const frame = 20 * time.Millisecond
	start := time.Now()
	for i := 0; i < 100000; {
		pkt, _, err := rd.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ogg: %w", err)
		}
		if bytes.HasPrefix(pkt, []byte("OpusTags")) {
			continue
		}
		if !pace(ctx, start.Add(time.Duration(i)*frame)) {
			return nil
		}
		if err := track.WriteSample(media.Sample{Data: pkt, Duration: frame}); err != nil {
			return fmt.Errorf("write audio: %w", err)
		}
		i++
	}
	return nil
}

// childProcs lists the PIDs of pid's child processes named comm (Linux).
func childProcs(pid int, comm string) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			kid, err := strconv.Atoi(s)
			if err != nil {
				continue
			}
			if c, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", kid)); err == nil && strings.TrimSpace(string(c)) == comm {
				out = append(out, kid)
			}
		}
	}
	return out
}

// procCPU returns the user+system CPU time pid has used (Linux, assumes
// 100 clock ticks per second).
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("read ffmpeg's CPU time: %v", err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
