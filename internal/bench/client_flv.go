package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

const (
	flvBufSize  = 32 << 10
	wsReadLimit = 16 << 20 // a keyframe tag can be large; WS-FLV may put one in a message
)

// newHTTPClient returns a client for many concurrent long-lived HTTP/1.1
// streams to one host: no per-host connection cap, no compression (FLV and
// fMP4 do not compress, and gzip would cost CPU the server needs), and no
// overall timeout (the run's context bounds every request).
func newHTTPClient(viewers int) *http.Client {
	d := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         d.DialContext,
		TLSHandshakeTimeout: connectTimeout,
		MaxIdleConns:        2 * viewers,
		MaxIdleConnsPerHost: 2 * viewers,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		// The default 4 KiB read buffer is enough: the viewers read in
		// larger blocks, which bypass it.
	}}
}

// get issues a GET whose response headers must arrive within headerTimeout;
// the body stays readable until ctx is done. The caller closes the body.
func get(ctx context.Context, c *http.Client, url string, headerTimeout time.Duration) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return do(ctx, c, req, headerTimeout)
}

// newRangeRequest is a GET for length bytes from start (length −1: to the
// end); start −1 asks for the whole resource.
func newRangeRequest(url string, start, length int64) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case start < 0:
	case length < 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", start))
	default:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", start, start+length-1))
	}
	return req, nil
}

// do sends req under ctx, as get does, and accepts only 200 and 206.
func do(ctx context.Context, c *http.Client, req *http.Request, headerTimeout time.Duration) (*http.Response, error) {
	reqCtx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(headerTimeout, func() {
		cancel(fmt.Errorf("no response within %s", headerTimeout))
	})
	resp, err := c.Do(req.WithContext(reqCtx))
	if !timer.Stop() { // fired: the request is cancelled, whatever Do returned
		if err == nil {
			resp.Body.Close()
		}
		return nil, context.Cause(reqCtx)
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		cancel(nil)
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel(nil)
	return err
}

// playHTTPFLV is one HTTP-FLV viewer.
func playHTTPFLV(ctx context.Context, r *run, v *viewer) error {
	resp, err := get(ctx, r.http, r.url, connectTimeout)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	v.setConnected(time.Now())
	return readFLV(v, resp.Body)
}

// playWSFLV is one WS-FLV viewer: the same byte stream as HTTP-FLV, carried
// in binary WebSocket messages that need not align with tags.
func playWSFLV(ctx context.Context, r *run, v *viewer) error {
	dialCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	c, _, err := websocket.Dial(dialCtx, r.url, &websocket.DialOptions{
		HTTPClient:      r.http,
		CompressionMode: websocket.CompressionDisabled,
	})
	cancel()
	if err != nil {
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(wsReadLimit)
	v.setConnected(time.Now())
	return readFLV(v, &wsStream{next: func() (io.Reader, error) {
		for {
			typ, msg, err := c.Reader(ctx)
			if err != nil {
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					return nil, fmt.Errorf("%w (%v)", errServerClosed, ce)
				}
				return nil, err
			}
			if typ == websocket.MessageBinary {
				return msg, nil
			}
			if _, err := io.Copy(io.Discard, msg); err != nil {
				return nil, err
			}
		}
	}})
}

// readFLV feeds an FLV byte stream to a viewer until it fails or ends.
func readFLV(v *viewer, r io.Reader) error {
	s := newFLVScanner(r, flvBufSize)
	if err := s.readHeader(); err != nil {
		return streamEnd(err)
	}
	v.setBytes(time.Now(), s.n)
	for {
		t, err := s.next()
		if err != nil {
			return streamEnd(err)
		}
		now := time.Now()
		v.setBytes(now, s.n)
		if f, ok := t.frame(); ok {
			v.frame(now, f)
		}
	}
}

// streamEnd names a clean EOF as the server ending the stream.
func streamEnd(err error) error {
	if errors.Is(err, io.EOF) {
		return errServerClosed
	}
	return err
}
