package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// serveFast is the gateway's per-request minimum on fasthttp: route on
// /api/predict/<service>, check the raw token, strip the prefix, set
// X-Real-IP and X-Forwarded-For, pick an upstream round-robin and relay
// the buffered body and answer. It has none of the gateway's limits,
// retries, streaming or upgrades.
func serveFast(ctx context.Context, ln net.Listener, service, token string) error {
	prefix := []byte("/api/predict/" + service)
	var ups []*fasthttp.HostClient
	for i := range 3 {
		ups = append(ups, &fasthttp.HostClient{
			Addr:                          fmt.Sprintf("127.0.0.1:%d", firstUpstream+i),
			MaxConns:                      512,
			MaxIdleConnDuration:           90 * time.Second,
			NoDefaultUserAgentHeader:      true,
			DisableHeaderNamesNormalizing: true,
			DisablePathNormalizing:        true,
		})
	}
	var next atomic.Uint32
	h := func(c *fasthttp.RequestCtx) {
		uri := c.Request.Header.RequestURI()
		rest, ok := bytes.CutPrefix(uri, prefix)
		if !ok || len(rest) > 0 && rest[0] != '/' && rest[0] != '?' {
			c.Error("no such service\n", fasthttp.StatusNotFound)
			return
		}
		if token != "" && string(c.Request.Header.Peek("Authorization")) != token {
			c.Error("missing or wrong token\n", fasthttp.StatusUnauthorized)
			return
		}
		if len(rest) == 0 || rest[0] == '?' {
			rest = append([]byte{'/'}, rest...)
		}
		c.Request.SetRequestURIBytes(rest)
		ip := c.RemoteIP().String()
		c.Request.Header.Set("X-Real-IP", ip)
		if prior := c.Request.Header.Peek("X-Forwarded-For"); len(prior) > 0 {
			c.Request.Header.Set("X-Forwarded-For", string(prior)+", "+ip)
		} else {
			c.Request.Header.Set("X-Forwarded-For", ip)
		}
		up := ups[next.Add(1)%uint32(len(ups))]
		if err := up.Do(&c.Request, &c.Response); err != nil {
			c.Response.Reset()
			c.Error("upstream: "+err.Error()+"\n", fasthttp.StatusBadGateway)
		}
	}
	return serveFastHandler(ctx, ln, h)
}

// serveFastHandler serves h on a fasthttp.Server with the front loop's
// limits where fasthttp has one: 10 s for a request (fasthttp's covers
// the body too), 2 min idle. Header names and paths are passed as sent,
// as the gateway does.
func serveFastHandler(ctx context.Context, ln net.Listener, h fasthttp.RequestHandler) error {
	s := &fasthttp.Server{
		Handler:                       h,
		ReadTimeout:                   10 * time.Second,
		IdleTimeout:                   2 * time.Minute,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: true,
		DisablePreParseMultipartForm:  true,
	}
	go func() { <-ctx.Done(); s.Shutdown() }()
	return s.Serve(ln)
}

// serveFastAdapted serves the gateway's own http.Handler on fasthttp's
// server through fasthttpadaptor, the cheap way to switch: the handler
// runs in a goroutine of its own per request, on a converted request
// whose body was read whole.
func serveFastAdapted(ctx context.Context, ln net.Listener, h http.Handler) error {
	return serveFastHandler(ctx, ln, fasthttpadaptor.NewFastHTTPHandler(h))
}
