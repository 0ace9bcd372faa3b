package bench

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	pion "github.com/pion/webrtc/v4"
)

// playWHEPStamps plays over WHEP with pion (recvonly video and audio, see
// dialWHEP) and looks for stamps in the RTP payloads of each video frame:
// the SEI NAL unit is small, so the packetiser sends it whole (single NAL
// unit or STAP-A), never split across FU-A fragments. A frame ends at a
// packet with the marker bit; it is recorded at that packet's arrival.
func playWHEPStamps(ctx context.Context, raw string, rec *stampRecorder) error {
	var (
		readers sync.WaitGroup
		mu      sync.Mutex // guards closed against the final Wait
		closed  bool
	)
	onTrack := func(tr *pion.TrackRemote) {
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			readers.Go(func() { readStampTrack(tr, rec) })
		}
	}
	stopReaders := func() {
		mu.Lock()
		closed = true
		mu.Unlock()
		readers.Wait()
	}
	s, err := dialWHEP(ctx, http.DefaultClient, raw, onTrack)
	if err != nil {
		stopReaders() // dialWHEP closed the peer
		return err
	}
	failed := make(chan struct{})
	var once sync.Once
	s.pc.OnConnectionStateChange(func(st pion.PeerConnectionState) {
		if st == pion.PeerConnectionStateFailed || st == pion.PeerConnectionStateClosed {
			once.Do(func() { close(failed) })
		}
	})
	select {
	case <-ctx.Done():
		err = ctx.Err()
	case <-failed:
		err = errors.New("WebRTC connection failed")
	}
	s.close() // ends ReadRTP in the readers
	stopReaders()
	return err
}

// readStampTrack reads one track until the peer closes, handing each video
// frame's payloads to rec.
func readStampTrack(tr *pion.TrackRemote, rec *stampRecorder) {
	video := tr.Kind() == pion.RTPCodecTypeVideo
	var frame [][]byte
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if !video {
			continue
		}
		if len(frame) < 4096 { // bounded: a frame is a few hundred packets
			frame = append(frame, p.Payload)
		}
		if p.Marker {
			rec.frame(time.Now(), frame...)
			frame = frame[:0]
		}
	}
}
