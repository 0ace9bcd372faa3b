package webrtc

import (
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// retainHeadersFactory builds retainHeaders interceptors.
type retainHeadersFactory struct{}

func (retainHeadersFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &retainHeaders{}, nil
}

// retainHeaders gives every packet a viewer sends a header of its own.
// TrackLocalStaticRTP hands each packet down with a pooled header that it
// reuses for the next one, and the NACK responder keeps what it is given
// (nack.DisableCopy): without this, a retransmission would carry another
// packet's header. The payloads need no copy: they are the feed's, built
// once per frame, shared by every viewer and never modified.
type retainHeaders struct{ interceptor.NoOp }

func (*retainHeaders) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		own := *h
		if len(h.CSRC) > 0 {
			own.CSRC = append([]uint32(nil), h.CSRC...)
		}
		if len(h.Extensions) > 0 { // later interceptors (TWCC) set extensions in place
			own.Extensions = append([]rtp.Extension(nil), h.Extensions...)
		}
		return w.Write(&own, payload, a)
	})
}
