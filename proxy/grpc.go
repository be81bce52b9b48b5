package proxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/easlocal/easlocal/endpoints"
)

// gRPC (metadata.enable_grpc): HTTP/2 requests arriving on the h2c front
// (WithH2C) are relayed to the instances over h2c, one call to the next
// instance in round-robin order, with net/http's HTTP/2 client (one
// multiplexed connection per instance). Bodies stream both ways, trailers
// (grpc-status, grpc-message) are relayed after the body.

// h2Relay is the HTTP/2 cleartext client to the instances.
type h2Relay struct {
	tr *http.Transport
}

func newH2Relay() *h2Relay {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true) // only: http:// URLs then speak h2c with prior knowledge
	return &h2Relay{tr: &http.Transport{
		Protocols:              &p,
		DialContext:            (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxResponseHeaderBytes: MaxAnswerHead,
		IdleConnTimeout:        idleTimeout,
		HTTP2:                  &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
	}}
}

func (h *h2Relay) closeIdle() { h.tr.CloseIdleConnections() }

// h2Header is the header sent to the instance: the client's minus
// hop-by-hop headers and easlocal's credentials, with X-Real-IP and
// X-Forwarded-For as for HTTP/1.1 (doc.go, Headers).
func h2Header(r *http.Request, control string) http.Header {
	h := make(http.Header, len(r.Header)+2)
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if k == "Cookie" {
			var kept []string
			for _, v := range vv {
				if v = keptCookies(v, control); v != "" {
					kept = append(kept, v)
				}
			}
			if len(kept) > 0 {
				h[k] = kept
			}
			continue
		}
		if forwarded(k, vv, conn, control) {
			h[k] = vv
		}
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil && ip != "" {
		h["X-Real-Ip"] = []string{ip}
		h["X-Forwarded-For"] = []string{strings.Join(append(append([]string(nil), r.Header["X-Forwarded-For"]...), ip), ", ")}
	} else if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
		h["X-Forwarded-For"] = []string{strings.Join(prior, ", ")}
	}
	return h
}

// forwardH2 relays an HTTP/2 request (a gRPC call) to endpoint idx of
// snap over h2c; a call that could not be delivered (no connection) is
// tried on the next endpoints, as for HTTP/1.1. keepalive bounds the wait
// for the answer's headers.
func (g *Gateway) forwardH2(w http.ResponseWriter, r *http.Request, uri string, body []byte, signed bool, snap *endpoints.Snapshot, idx int, keepalive time.Duration) {
	header := h2Header(r, g.control)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var resp *http.Response
	var expired atomic.Bool
	target, err := url.ParseRequestURI(uri)
	if err != nil {
		http.Error(w, "bad request: the path cannot be relayed", http.StatusBadRequest)
		return
	}
	target.Scheme = "http"
	upstream, err := g.tryInstances(r, snap, idx, func(addr string) (int, error) {
		u := *target
		u.Host = addr
		out := &http.Request{
			Method:        r.Method,
			URL:           &u,
			Proto:         "HTTP/2.0",
			ProtoMajor:    2,
			Header:        header,
			Host:          r.Host,
			ContentLength: r.ContentLength,
		}
		switch {
		case signed:
			out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		case r.ContentLength != 0:
			out.Body = r.Body
		}
		var timer *time.Timer
		if keepalive > 0 {
			timer = time.AfterFunc(keepalive, func() { expired.Store(true); cancel() })
		}
		var err error
		resp, err = g.grpc.tr.RoundTrip(out.WithContext(ctx))
		if timer != nil && !timer.Stop() && err == nil {
			// Expired just as the headers came: the context is gone.
			resp.Body.Close()
			err = errDeadline
		}
		if err != nil && expired.Load() {
			err = errDeadline
		}
		if tb, ok := r.Body.(*timedBody); ok && tb.timedOut.Load() && err != nil {
			err = errBodyTimeout
		}
		if err != nil {
			return 0, err
		}
		return resp.StatusCode, nil
	}, undelivered)
	if err != nil {
		g.answerError(w, r, upstream, err)
		return
	}
	defer resp.Body.Close()
	copyResponseHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	if err := g.copyBody(w, resp); err != nil {
		g.answerCut(r, upstream, err)
		return
	}
	relayTrailers(w, resp.Trailer)
}
