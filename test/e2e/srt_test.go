package e2e

import (
	"testing"
	"time"
)

// startSRTPublisher is startPublisher's encoder sending MPEG-TS over SRT.
func startSRTPublisher(t *testing.T, srtURL string) *publisher {
	t.Helper()
	return startSRTPublisherAudio(t, srtURL, "-c:a", "aac", "-b:a", "128k")
}

// startSRTPublisherAudio is startSRTPublisher with the given audio encoder
// arguments.
func startSRTPublisherAudio(t *testing.T, srtURL string, audio ...string) *publisher {
	t.Helper()
	pr := &progress{}
	args := []string{
		"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", "30", "-keyint_min", "30", "-pix_fmt", "yuv420p", "-b:v", "2500k",
	}
	args = append(args, audio...)
	args = append(args, "-progress", "pipe:1", "-f", "mpegts", srtURL)
	p := startProc(t, pr, "ffmpeg", args...)
	return &publisher{proc: p, progress: pr}
}

// An encoder publishing Opus over SRT: HTTP-FLV and RTMP players, whose
// formats do not carry Opus, get AAC re-encoded once for the stream.
func TestSRTOpusPublishPlaysAAC(t *testing.T) {
	requireTools(t)
	srv := startServer(t)
	key := srv.createChannel(t, "srtopus")
	pub := startSRTPublisherAudio(t, "srt://"+srv.srtAddr+"?streamid=publish:"+key,
		"-c:a", "libopus", "-ac", "2", "-b:a", "64k")
	srv.waitLive(t, "srtopus", pub.proc, true)
	for _, tc := range []struct{ name, url string }{
		{"httpflv", srv.url("/live/srtopus.flv")},
		{"rtmp", "rtmp://" + srv.rtmpAddr + "/live/srtopus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, stderr := ffprobe(t, tc.url, 4)
			rep := checkPlayback(t, tc.name, res, stderr, 3)
			t.Logf("%s: %d video and %d AAC frames", tc.name, rep.videoFrames, rep.audioFrames)
		})
	}
}

// An encoder publishes over SRT with the stream key in the streamid; the
// stream plays over HTTP-FLV, LL-HLS and SRT; a wrong key is refused.
func TestSRTPublishAndPlay(t *testing.T) {
	requireTools(t)
	srv := startServer(t)
	key := srv.createChannel(t, "srtdemo")

	bad := startSRTPublisher(t, "srt://"+srv.srtAddr+"?streamid=publish:sk_wrong")
	expectRefused(t, bad, "SRT publish with a wrong key")

	pub := startSRTPublisher(t, "srt://"+srv.srtAddr+"?streamid=publish:"+key)
	took := srv.waitLive(t, "srtdemo", pub.proc, true)
	t.Logf("SRT publisher live %.2fs after ffmpeg started", took.Seconds())
	for _, tc := range []struct{ name, url string }{
		{"httpflv", srv.url("/live/srtdemo.flv")},
		{"llhls", srv.url("/live/srtdemo/index.m3u8")},
		{"srt", "srt://" + srv.srtAddr + "?streamid=read:srtdemo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res, stderr := ffprobe(t, tc.url, 4)
			t.Logf("%s: ffprobe read 4 s of media in %.1fs", tc.name, time.Since(start).Seconds())
			checkPlayback(t, tc.name, res, stderr, 3)
		})
	}
}
