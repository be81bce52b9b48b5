package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/endpoints"
)

// PredictPrefix starts every request path the gateway proxies.
const PredictPrefix = "/api/predict/"

// StatusClientClosedRequest is nginx's 499, logged (never sent) when the
// client hangs up before the answer.
const StatusClientClosedRequest = 499

// Options configure a Gateway (and the Sidecars, which take the same).
type Options struct {
	// Service is metadata.name: requests go to /api/predict/<Service>/...
	Service string
	// Token, when set, is required on every request (raw or EAS-signed).
	Token string
	// Keepalive is metadata.rpc.keepalive: how long the upstream has to
	// answer (response headers) before the gateway gives up with 408.
	// 0 = no limit.
	Keepalive time.Duration
	// NoRetry disables retrying a request that could not be delivered at
	// all (connection refused) on the next ready endpoint.
	NoRetry bool
	// Endpoints is the live set of ready instances (required).
	Endpoints *endpoints.Set
	// Logger receives errors (warn), 499s (info) and an access log (debug).
	Logger zerolog.Logger
	// Observe, when set, is called once per attempt to reach an instance
	// (on the request path: keep it quick): the instance's name, the
	// status it answered, or when it gave no answer 502 (connection
	// failed), 408 (rpc.keepalive expired, or the client's body stalled)
	// or 499 (the client left), and
	// whether the attempt retried an undelivered one.
	Observe func(instance string, status int, retried bool)
	// Discovery, when set, is served on the gateway's listener for its
	// paths (see Discovery), next to /api/predict/.
	Discovery *Discovery
	// ControlToken is easlocal's control-API token. The gateway never
	// passes it to an instance: an Authorization header carrying it and
	// a cookie holding it are removed (see doc.go, Headers).
	ControlToken string
	// BodyTimeout bounds the wait for each read of a request body, as
	// nginx's client_body_timeout: a client that sends nothing for this
	// long is cut off (408, see doc.go). Slow uploads that keep sending
	// are not cut. 0 = BodyTimeoutDefault; negative = no limit.
	BodyTimeout time.Duration

	// Limits (doc.go, Limits). Zero values are off.

	// RateLimit is metadata.rpc.rate_limit: requests a second each
	// instance is sent (a token bucket holding one second's worth);
	// requests over it get 429.
	RateLimit int
	// WorkerThreads and MaxQueueSize are metadata.rpc.worker_threads and
	// max_queue_size: with either set, at most WorkerThreads requests
	// (WorkerThreadsDefault when unset) are in flight to one instance and
	// at most MaxQueueSize (MaxQueueSizeDefault when unset) wait for a
	// slot; a request that finds the queue full gets 450, one that waits
	// past Keepalive gets 408.
	WorkerThreads int
	MaxQueueSize  int
	// GatewayRateLimit is networking.gateway_policy.rate_limit.limit
	// (when enabled): requests a second for the whole service (a token
	// bucket holding one second's worth); over it, 429. The gateway's
	// only: direct mode bypasses the gateway in EAS too.
	GatewayRateLimit int
	// ConcurrencyLimit is networking.gateway_policy.concurrency_limit.limit
	// (when enabled): requests in flight through the gateway; over it,
	// 429. The gateway's only.
	ConcurrencyLimit int
	// CountLimit, when set, is called for every request a limit refuses
	// (on the request path: keep it quick), with one of the Limit* kinds.
	CountLimit func(kind string)
	// OnLimit, when set, is called when a limit first refuses a request,
	// and again when it refuses one after a minute of refusing none (for
	// an event; on the request path: keep it quick).
	OnLimit func(kind string)

	// EnableGRPC is metadata.enable_grpc: gRPC calls are relayed to the
	// instances over h2c (doc.go, gRPC). The server must then speak h2c
	// too: Serve(..., WithH2C()) or NewServer(..., WithH2C()).
	EnableGRPC bool
	// Faults, when set, are injected into requests (faults.go).
	Faults *Faults
}

// BodyTimeoutDefault is nginx's client_body_timeout.
const BodyTimeoutDefault = 60 * time.Second

// Gateway is the EAS-style gateway: an http.Handler routing
// /api/predict/<service>/<path> to /<path> on the ready endpoints in
// round-robin order. All fields are immutable after New except next.
type Gateway struct {
	service   string
	prefix    string // "/api/predict/<service>"
	auth      *verifier
	keepalive time.Duration
	bodyWait  time.Duration // 0 = none
	control   string        // control-API token, never forwarded; "" = none
	noRetry   bool
	set       *endpoints.Set
	instance  string // sidecar mode: forward only to this instance
	pool      *pool  // keep-alive connections to the instances
	discovery *Discovery
	observe   func(instance string, status int, retried bool)
	faults    *Faults // nil = none
	log       zerolog.Logger
	lim       *limits
	grpc      *h2Relay      // nil unless EnableGRPC
	tunnels   tunnels       // WebSocket connections being relayed
	next      atomic.Uint64 // round-robin counter
	loopSets  loopSets      // event loops serving the gateway (loop.go)
}

// New returns a gateway for opts. A nil opts.Endpoints is treated as an
// empty set (every request answers 503).
func New(opts Options) *Gateway {
	g := &Gateway{
		service:   opts.Service,
		prefix:    strings.TrimSuffix(PredictPrefix+opts.Service, "/"),
		keepalive: opts.Keepalive,
		control:   opts.ControlToken,
		noRetry:   opts.NoRetry,
		set:       opts.Endpoints,
		pool:      newPool(),
		discovery: opts.Discovery,
		observe:   opts.Observe,
		faults:    opts.Faults,
		log:       opts.Logger,
		lim:       newLimits(opts, true),
	}
	if opts.EnableGRPC {
		g.grpc = newH2Relay()
	}
	if g.set == nil {
		g.set = endpoints.New()
	}
	switch {
	case opts.BodyTimeout == 0:
		g.bodyWait = BodyTimeoutDefault
	case opts.BodyTimeout > 0:
		g.bodyWait = opts.BodyTimeout
	}
	if opts.Token != "" {
		g.auth = newVerifier(opts.Token, opts.Service)
	}
	return g
}

// sendTimeoutDefault bounds each write of an answer to the client, as
// nginx's send_timeout (60 s) does: a client that stops reading (and
// stays connected) is cut off. Without it such a client holds the
// handler, the connection to the instance and the instance's own worker
// (blocked writing the answer) for as long as it likes.
const sendTimeoutDefault = 60 * time.Second

var sendTimeout = sendTimeoutDefault // tests shorten it

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// CloseIdle closes the gateway's idle keep-alive connections to the
// instances (call it after the server stopped; the gateway stays usable).
func (g *Gateway) CloseIdle() {
	g.pool.closeIdle()
	g.loopSets.closeIdle()
	if g.grpc != nil {
		g.grpc.closeIdle()
	}
}

// Close closes what the server's shutdown does not reach: WebSocket
// connections being relayed (taken over from the server) and idle
// connections to the instances. Call it after the server stopped.
func (g *Gateway) Close() {
	g.tunnels.closeAll()
	g.CloseIdle()
}

// CloseTunnels closes the WebSocket connections relayed to instance
// (call it when the instance is terminated, after its grace period).
func (g *Gateway) CloseTunnels(instance string) { g.tunnels.closeInstance(instance) }

// InFlight returns the requests the gateway has in flight to instance,
// WebSocket connections included.
func (g *Gateway) InFlight(instance string) int {
	if s, ok := g.lim.lookup(instance); ok {
		return int(s.inflight.Load())
	}
	return 0
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, PredictPrefix)
	if !ok && g.grpc != nil && isGRPC(r) {
		// gRPC clients cannot add a path prefix: in EAS the host name
		// says which service; here the gateway serves only one.
		g.authorized(w, r, r.URL.RequestURI())
		return
	}
	if !ok {
		if g.discovery != nil && g.discovery.Handles(r.URL.Path) {
			g.discovery.ServeHTTP(w, r)
			return
		}
		http.Error(w, fmt.Sprintf("easlocal: no route for %q: call the service at %s/<path>", r.URL.Path, g.prefix), http.StatusNotFound)
		return
	}
	svc, sub := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		svc, sub = rest[:i], rest[i:]
	}
	if svc != g.service {
		http.Error(w, fmt.Sprintf("easlocal: service %q not found: this gateway serves %q at %s/", svc, g.service, g.prefix), http.StatusNotFound)
		return
	}
	g.authorized(w, r, targetURI(r, svc, sub))
}

// isGRPC reports whether r is a gRPC call over HTTP/2.
func isGRPC(r *http.Request) bool {
	ct := r.Header["Content-Type"]
	return r.ProtoMajor == 2 && len(ct) > 0 && strings.HasPrefix(ct[0], "application/grpc")
}

// authorized checks the token and admits the request for uri, the
// target on the instance.
func (g *Gateway) authorized(w http.ResponseWriter, r *http.Request, uri string) {
	if r.ContentLength != 0 && g.bodyWait > 0 {
		r.Body = &timedBody{body: r.Body, rc: http.NewResponseController(w), wait: g.bodyWait}
	}
	var body []byte
	signed := false
	if g.auth != nil {
		var status int
		var err error
		body, signed, status, err = g.auth.check(r)
		if err != nil {
			if errors.Is(err, errBodyTimeout) {
				g.bodyTimedOut(w, r, "")
				return
			}
			g.log.Debug().Str("path", r.URL.Path).Int("status", status).Err(err).Msg("request refused")
			http.Error(w, err.Error(), status)
			return
		}
	}
	g.admit(w, r, uri, body, signed)
}

// admit applies the limits, picks the instance and hands the request to
// the relay for its protocol.
func (g *Gateway) admit(w http.ResponseWriter, r *http.Request, uri string, body []byte, signed bool) {
	lim := g.lim
	if kind := lim.admitService(); kind != "" {
		g.limited(w, r, kind, "")
		return
	}
	defer lim.leaveService()

	snap := g.set.Snapshot()
	n := snap.Len()
	var idx int
	if g.instance != "" {
		var ok bool
		if _, idx, ok = snap.Lookup(g.instance); !ok {
			n = 0
		}
	} else if n > 0 {
		idx = int((g.next.Add(1) - 1) % uint64(n))
	}
	if n == 0 {
		// The exact body EAS's gateway (Envoy) answers with.
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "no healthy upstream")
		return
	}
	instance := snap.Endpoints[idx].Instance
	st := lim.instance(instance)
	if st.rate != nil && !st.rate.allow(lim.now()) {
		g.limited(w, r, LimitInstanceRate, instance)
		return
	}
	keepalive := g.keepalive
	if st.queue != nil {
		start := time.Now()
		switch st.queue.acquire(r.Context(), keepalive) {
		case queueFull:
			g.limited(w, r, LimitQueueFull, instance)
			return
		case queueTimedOut:
			g.limited(w, r, LimitQueueKeepalive, instance)
			return
		case queueCanceled:
			g.log.Info().Str("path", r.URL.Path).Str("instance", instance).Int("status", StatusClientClosedRequest).Msg("client closed the connection while queued")
			return
		}
		defer st.queue.release()
		if keepalive > 0 {
			if keepalive -= time.Since(start); keepalive <= 0 {
				g.limited(w, r, LimitQueueKeepalive, instance)
				return
			}
		}
	}
	st.inflight.Add(1)
	defer st.inflight.Add(-1)
	if g.faults.intercept(w, r, instance) {
		return
	}
	switch {
	case isWebSocket(r):
		g.tunnel(w, r, uri, snap, idx, keepalive)
	case g.grpc != nil && isGRPC(r):
		g.forwardH2(w, r, uri, body, signed, snap, idx, keepalive)
	default:
		g.forward(w, r, uri, body, signed, snap, idx, keepalive)
	}
}

// limited answers a request a limit refused: 429 for the rates and the
// concurrency limit, 450 for a full queue, 408 for keepalive passing in
// the queue.
func (g *Gateway) limited(w http.ResponseWriter, r *http.Request, kind, instance string) {
	g.lim.refused(kind)
	status, msg := http.StatusTooManyRequests, ""
	switch kind {
	case LimitInstanceRate:
		msg = fmt.Sprintf("too many requests: instance %s is sent at most %d a second (metadata.rpc.rate_limit)", instance, g.lim.instRate)
	case LimitServiceRate:
		msg = fmt.Sprintf("too many requests: the service takes at most %d a second (networking.gateway_policy.rate_limit)", g.lim.serviceRate.rate)
	case LimitConcurrency:
		msg = fmt.Sprintf("too many requests: the service takes at most %d at a time (networking.gateway_policy.concurrency_limit)", g.lim.concurrency)
	case LimitQueueFull:
		status = StatusQueueFull
		q := g.lim.instance(instance).queue
		msg = fmt.Sprintf("queue full: instance %s has %d requests in flight and %d waiting (metadata.rpc.worker_threads, metadata.rpc.max_queue_size)", instance, q.workers, q.size)
	case LimitQueueKeepalive:
		status = http.StatusRequestTimeout
		msg = fmt.Sprintf("request timeout: waited in instance %s's queue for %s (metadata.rpc.keepalive counts the wait)", instance, g.keepalive)
	}
	g.log.Debug().Str("path", r.URL.Path).Str("instance", instance).Str("limit", kind).Int("status", status).Msg("request refused by a limit")
	http.Error(w, msg, status)
}

// targetURI is the request target sent upstream: the client's path after
// /api/predict/<service> (escaped as the client escaped it when possible),
// and its query.
func targetURI(r *http.Request, svc, sub string) string {
	path := sub
	if raw := r.URL.RawPath; raw != "" {
		if rest, ok := strings.CutPrefix(raw, PredictPrefix+svc); ok && (rest == "" || rest[0] == '/') {
			path = rest
			if path == "" {
				path = "/"
			}
		} else {
			path = (&url.URL{Path: sub}).EscapedPath()
		}
	} else if strings.ContainsAny(sub, " ?#%") || !isPrintableASCII(sub) {
		path = (&url.URL{Path: sub}).EscapedPath()
	}
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		return path + "?" + r.URL.RawQuery
	}
	return path
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// forward sends r (its target rewritten to uri) to endpoint idx of snap
// (retrying undelivered requests on the next ones) and streams the answer
// back. body is the buffered body of a signed request; keepalive is what
// is left of rpc.keepalive after any wait in the queue.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, uri string, body []byte, signed bool, snap *endpoints.Snapshot, idx int, keepalive time.Duration) {
	var start time.Time
	if g.log.Debug().Enabled() {
		start = time.Now()
	}
	o := outRequest{r: r, uri: uri, control: g.control}
	switch {
	case signed:
		o.buf, o.length = body, int64(len(body))
		if o.buf == nil {
			o.buf = []byte{}
		}
	case r.ContentLength != 0:
		o.body, o.length = r.Body, r.ContentLength
	}

	var ex *exchange
	upstream, err := g.tryInstances(r, snap, idx, func(addr string) (int, error) {
		var err error
		ex, err = g.pool.roundTrip(&o, addr, keepalive)
		if err == nil {
			return ex.resp.StatusCode, nil
		}
		return 0, err
	}, func(err error) bool { return undelivered(err) || lostBeforeAnswer(r, o.body != nil, err) })
	if err != nil {
		g.answerError(w, r, upstream, err)
		return
	}
	resp := ex.resp
	copyResponseHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	err = g.copyBody(w, resp)
	// The connection may serve another request once finished, and the
	// answer read in place (readSimpleAnswer) with it: keep what is used after.
	status, trailer := resp.StatusCode, resp.Trailer
	ex.finish(g.pool, err == nil)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			g.log.Info().Str("path", r.URL.Path).Str("upstream", upstream).Dur("send_timeout", sendTimeout).Msg("client stopped reading the answer: cut off")
			panic(http.ErrAbortHandler)
		}
		if tb, ok := r.Body.(*timedBody); ok && tb.timedOut.Load() {
			// The answer has started: all that is left is to close.
			g.log.Info().Str("path", r.URL.Path).Str("upstream", upstream).Dur("body_timeout", g.bodyWait).Msg("client stopped sending the request body during the answer: cut off")
			panic(http.ErrAbortHandler)
		}
		g.answerCut(r, upstream, err)
		return
	}
	relayTrailers(w, trailer)
	if e := g.log.Debug(); e.Enabled() {
		e.Str("method", r.Method).Str("path", r.URL.Path).Str("upstream", upstream).Int("status", status).Dur("took", time.Since(start)).Msg("proxied")
	}
}

// tryInstances runs attempt on endpoint idx of snap and, while it fails
// in a way retry accepts, on the next endpoints, each at most once (only
// idx without retries or in sidecar mode). Each attempt is reported to
// Observe. It returns the address tried last and its error.
func (g *Gateway) tryInstances(r *http.Request, snap *endpoints.Snapshot, idx int, attempt func(addr string) (status int, err error), retry func(error) bool) (string, error) {
	n := snap.Len()
	tries := 1
	if !g.noRetry && g.instance == "" {
		tries = n
	}
	cur := idx
	upstream := snap.Addr(cur)
	for i := 1; ; i++ {
		status, err := attempt(upstream)
		if g.observe != nil {
			g.observe(snap.Endpoints[cur].Instance, attemptStatus(r, status, err), i > 1)
		}
		if err == nil || i >= tries || r.Context().Err() != nil || !retry(err) {
			return upstream, err
		}
		cur = (idx + i) % n
		next := snap.Addr(cur)
		g.log.Info().Str("upstream", upstream).Str("next", next).Err(err).Msg("instance not reachable, retrying on the next one")
		upstream = next
	}
}

// answerCut ends an answer whose relay failed after it started: when the
// client left, with a 499 in the log; otherwise the client's connection
// is cut, so it sees the answer short rather than complete.
func (g *Gateway) answerCut(r *http.Request, upstream string, err error) {
	if r.Context().Err() != nil {
		g.log.Info().Str("path", r.URL.Path).Str("upstream", upstream).Int("status", StatusClientClosedRequest).Msg("client closed the connection during the answer")
		return
	}
	g.log.Warn().Str("path", r.URL.Path).Str("upstream", upstream).Err(err).Msg("answer cut short")
	panic(http.ErrAbortHandler)
}

// relayTrailers passes the trailers of an answer read to its end on.
func relayTrailers(w http.ResponseWriter, trailer http.Header) {
	for k, vv := range trailer {
		w.Header()[http.TrailerPrefix+k] = vv
	}
}

// attemptStatus is the status Observe reports for one attempt that
// answered status or failed with err.
func attemptStatus(r *http.Request, status int, err error) int {
	switch {
	case err == nil:
		return status
	case errors.Is(err, errDeadline), errors.Is(err, errBodyTimeout):
		return http.StatusRequestTimeout
	case r.Context().Err() != nil:
		return StatusClientClosedRequest
	}
	return http.StatusBadGateway
}

// answerError answers a request whose upstream call failed before any
// response: 408 past rpc.keepalive, nothing (499 logged) when the client
// left, 502 otherwise.
func (g *Gateway) answerError(w http.ResponseWriter, r *http.Request, upstream string, err error) {
	switch {
	case errors.Is(err, errBodyTimeout):
		g.bodyTimedOut(w, r, upstream)
	case errors.Is(err, errDeadline):
		g.log.Info().Str("path", r.URL.Path).Str("upstream", upstream).Dur("keepalive", g.keepalive).Msg("upstream did not answer within metadata.rpc.keepalive")
		http.Error(w, fmt.Sprintf("request timeout: the service did not answer within %s (metadata.rpc.keepalive)", g.keepalive), http.StatusRequestTimeout)
	case r.Context().Err() != nil:
		g.log.Info().Str("path", r.URL.Path).Str("upstream", upstream).Int("status", StatusClientClosedRequest).Msg("client closed the connection before the answer")
	default:
		g.log.Warn().Str("path", r.URL.Path).Str("upstream", upstream).Err(err).Msg("upstream failed")
		http.Error(w, "bad gateway: the service instance failed to answer", http.StatusBadGateway)
	}
}

// bodyTimedOut answers a request whose client sent no body bytes for
// bodyWait before any answer: 408, and the connection is closed (what is
// left of the body cannot be told from a next request).
func (g *Gateway) bodyTimedOut(w http.ResponseWriter, r *http.Request, upstream string) {
	g.log.Info().Str("path", r.URL.Path).Str("upstream", upstream).Dur("body_timeout", g.bodyWait).Msg("client stopped sending the request body: 408")
	w.Header().Set("Connection", "close")
	http.Error(w, fmt.Sprintf("request timeout: no request body bytes arrived for %s", g.bodyWait), http.StatusRequestTimeout)
}

// errBodyTimeout: the client sent no body bytes for bodyWait.
var errBodyTimeout = errors.New("the client sent no request body bytes in time")

// timedBody gives each read of a request body wait to return (nginx's
// client_body_timeout) and turns the expiry into errBodyTimeout. It is
// read by one goroutine at a time (the handler, or the body writer it
// then waits for); timedOut is read by the handler afterwards.
type timedBody struct {
	body     io.ReadCloser
	rc       *http.ResponseController
	wait     time.Duration
	timedOut atomic.Bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	if b.timedOut.Load() {
		return 0, errBodyTimeout
	}
	_ = b.rc.SetReadDeadline(time.Now().Add(b.wait)) // a writer without deadlines reads unbounded
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		// The server keeps reading the connection in the background
		// for the next request; it must not inherit this deadline.
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut.Store(true)
		return n, errBodyTimeout
	}
	return n, err
}

func (b *timedBody) Close() error { return b.body.Close() }

// undelivered reports whether err means the request never reached the
// upstream: the connection could not be made (refused, unreachable, dial
// timeout). Errors after connecting are not retried: the upstream may have
// seen the request.
func undelivered(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// lostBeforeAnswer reports whether an idempotent request with no streamed
// body lost its connection before any answer (reset, EOF), as when the
// instance is killed with the request in flight. nginx's default
// (proxy_next_upstream error) retries these on the next upstream, and so
// do we: the instance sent nothing, so the client cannot tell, and a
// killed instance then costs no failed requests. Bodies streamed from the
// client cannot be replayed and are never retried.
func lostBeforeAnswer(r *http.Request, streamedBody bool, err error) bool {
	if streamedBody || errors.Is(err, errDeadline) {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
	default:
		return false
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// copyBody streams resp.Body to w. Answers of unknown length (chunked,
// server-sent events) are flushed after every read so they arrive as the
// upstream writes them; event streams also get their headers at once.
//
// Each write gets sendTimeout (net/http clears the deadline after the
// request); the server's final flush of a small answer falls under the
// last one.
func (g *Gateway) copyBody(w http.ResponseWriter, resp *http.Response) error {
	// A ResponseController reaches the server's writer through wrappers
	// that Unwrap (the metrics middleware); flush errors end the copy.
	rc := http.NewResponseController(w)
	flush := resp.ContentLength < 0
	if flush && isEventStream(resp.Header) {
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	deadlines := true // until the writer turns out not to support them
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		nr, rerr := resp.Body.Read(buf)
		if nr > 0 {
			if deadlines {
				deadlines = setWriteDeadline(w, rc, time.Now().Add(sendTimeout))
			}
			if _, werr := w.Write(buf[:nr]); werr != nil {
				return werr
			}
			if flush {
				if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// setWriteDeadline sets the write deadline of w's connection: directly on
// net/http's writer, through rc on wrappers that Unwrap. It reports
// whether it could (other writers, such as test recorders, cannot; asking
// rc would cost an error allocation on every write).
func setWriteDeadline(w http.ResponseWriter, rc *http.ResponseController, t time.Time) bool {
	switch w := w.(type) {
	case interface{ SetWriteDeadline(time.Time) error }:
		return w.SetWriteDeadline(t) == nil
	case interface{ Unwrap() http.ResponseWriter }:
		return rc.SetWriteDeadline(t) == nil
	}
	return false
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	return len(ct) > 0 && strings.HasPrefix(ct[0], "text/event-stream")
}

// Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded in either direction.
var hopHeaders = [...]string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// copyResponseHeader copies src into dst minus hop-by-hop headers (and
// those src's Connection names). Headers already in dst that src does
// not carry are kept (the server's Connection: close). Value slices are
// shared: the response header is not used afterwards.
func copyResponseHeader(dst, src http.Header) {
	conn := src["Connection"]
	for k, vv := range src {
		if slices.Contains(hopHeaders[:], k) || (len(conn) > 0 && namedIn(conn, k)) {
			continue
		}
		dst[k] = vv
	}
}
