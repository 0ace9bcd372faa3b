package webrtc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/huabian-live/huabian/internal/hub"
	"github.com/huabian-live/huabian/internal/media"
)

// transcoder turns one stream's AAC into Opus with an ffmpeg child process
// (ADTS on stdin, Ogg/Opus on stdout). It runs while at least one WHEP
// viewer of the stream wants audio; its single track is added to every
// viewer's PeerConnection, so the Opus RTP is written once per stream.
type transcoder struct {
	track  *pion.TrackLocalStaticRTP
	users  int // guarded by Server.mu
	cancel context.CancelFunc

	base    atomic.Int64 // RTP timestamp (48 kHz) of the first AAC frame fed
	baseSet atomic.Bool
}

// ffmpegArgs is the argument vector (no shell) for AAC (ADTS) → Ogg/Opus,
// tuned for latency: no input buffering, 20 ms frames, one page per packet.
var ffmpegArgs = []string{
	"-hide_banner", "-loglevel", "error", "-nostdin",
	"-fflags", "nobuffer", "-probesize", "2048", "-analyzeduration", "0",
	"-f", "aac", "-i", "pipe:0",
	"-vn", "-c:a", "libopus", "-b:a", "96k", "-ar", "48000", "-ac", "2",
	"-application", "lowdelay", "-frame_duration", "20",
	"-f", "ogg", "-page_duration", "20000", "-flush_packets", "1", "pipe:1",
}

// transcoderFor returns the running transcoder of st, starting it for the
// first viewer. Call releaseTranscoder once per successful call.
func (s *Server) transcoderFor(st *hub.Stream) (*transcoder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("server shutting down")
	}
	if tc := s.transcoders[st]; tc != nil {
		tc.users++
		return tc, nil
	}
	track, err := pion.NewTrackLocalStaticRTP(opusCap, "audio", "huabian")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	cmd := exec.CommandContext(ctx, s.ffmpeg, ffmpegArgs...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start ffmpeg: %w", err)
	}
	tc := &transcoder{track: track, users: 1, cancel: cancel}
	s.transcoders[st] = tc
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var feed sync.WaitGroup
		feed.Go(func() {
			defer stdin.Close()
			tc.feed(ctx, st, stdin)
		})
		tc.readOpus(stdout)
		cancel()
		feed.Wait()
		_ = cmd.Wait() // killed by cancel when the last viewer leaves
		s.mu.Lock()
		if s.transcoders[st] == tc {
			delete(s.transcoders, st)
		}
		s.mu.Unlock()
	}()
	s.log.Info("AAC→Opus transcoder started", "channel", st.Name())
	return tc, nil
}

func (s *Server) releaseTranscoder(st *hub.Stream, tc *transcoder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tc.users--; tc.users <= 0 {
		if s.transcoders[st] == tc {
			delete(s.transcoders, st)
		}
		tc.cancel()
	}
}

// feed writes the stream's AAC frames to ffmpeg as ADTS.
func (tc *transcoder) feed(ctx context.Context, st *hub.Stream, w io.Writer) {
	// Unbatched: audio reaches the encoder as it arrives, so the Opus
	// leaves evenly and the browser's audio jitter buffer (which the video
	// is lip-synced to) stays small.
	rd := st.SubscribeUnbatched()
	defer rd.Close()
	var cfgFor *media.Tracks
	var cfg mpeg4audio.AudioSpecificConfig
	bw := bufio.NewWriter(w)
	for {
		frames, err := rd.Next(ctx)
		if err != nil {
			return
		}
		for _, f := range frames {
			if f.Video || f.Tracks == nil || f.Tracks.Audio == nil || f.Tracks.Audio.Codec != media.CodecAAC || len(f.AU) == 0 {
				continue
			}
			if cfgFor != f.Tracks {
				if err := cfg.Unmarshal(f.Tracks.Audio.Config); err != nil {
					continue
				}
				cfgFor = f.Tracks
			}
			pkt, err := mpeg4audio.ADTSPackets{{
				Type: cfg.Type, SampleRate: cfg.SampleRate, ChannelConfig: cfg.ChannelConfig, AU: f.AU[0],
			}}.Marshal()
			if err != nil {
				continue
			}
			if !tc.baseSet.Load() {
				tc.base.Store(int64(f.PTS * 48000 / time.Second))
				tc.baseSet.Store(true)
			}
			if _, err := bw.Write(pkt); err != nil {
				return
			}
		}
		if err := bw.Flush(); err != nil {
			return
		}
	}
}

// readOpus parses Ogg pages (RFC 3533) from ffmpeg and writes each Opus
// packet (RFC 7845; the two header packets skipped) as one RTP packet.
func (tc *transcoder) readOpus(r io.Reader) {
	br := bufio.NewReader(r)
	var hdr [27]byte
	var lace [255]byte
	var cur []byte
	n := 0
	var samples int64
	var seq uint16
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		if string(hdr[:4]) != "OggS" {
			return
		}
		nseg := int(hdr[26])
		if _, err := io.ReadFull(br, lace[:nseg]); err != nil {
			return
		}
		for _, l := range lace[:nseg] {
			start := len(cur)
			cur = append(cur, make([]byte, l)...)
			if _, err := io.ReadFull(br, cur[start:]); err != nil {
				return
			}
			if l == 255 {
				continue
			}
			pkt := cur
			cur = nil
			n++
			if n <= 2 {
				continue // OpusHead, OpusTags
			}
			seq++
			ts := uint32(tc.base.Load() + samples)
			samples += opus.PacketDuration2(pkt)
			_ = tc.track.WriteRTP(&rtp.Packet{
				Header:  rtp.Header{Version: 2, Marker: true, SequenceNumber: seq, Timestamp: ts},
				Payload: pkt,
			})
		}
	}
}
