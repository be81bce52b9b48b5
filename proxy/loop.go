package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The event loops (loop_linux.go) serve a Gateway's plain requests the
// way nginx does: a few threads, each with an epoll set holding its
// client and instance connections, no goroutine per connection. A
// request they do not serve whole — anything but a plain HTTP/1.1 request
// to /api/predict/<service> that needs none of the gateway's waits or
// buffering (signed tokens, limits, faults, WebSocket, bodies over
// inlineBody) — is handed over, with the bytes read so far, to the front
// loop or net/http's server, which serve that connection from then on.
// So every answer the gateway gives itself (401, 404, 429, ...) and every
// protocol corner stays where it was; the loops only have to be right
// about the plain exchange.

// LoopGateway is implemented by a handler wrapping a Gateway (the
// metrics middleware), so a Server can serve the gateway's plain requests
// on its event loops; served is called once per request the loops
// answer, with its status and duration, as the wrapper would have
// counted it (nil: not counted).
type LoopGateway interface {
	http.Handler
	LoopGateway() (g *Gateway, served func(status int, took time.Duration))
}

// WithoutEventLoop serves a Gateway on the front loop alone (a goroutine
// per connection), as other handlers are.
func WithoutEventLoop() ServerOption { return func(s *Server) { s.noLoop = true } }

// loopTarget returns the gateway behind h when the event loops may serve
// it: the service's gateway (not a sidecar) with none of the limits,
// which wait or count per request.
func loopTarget(h http.Handler) (*Gateway, func(int, time.Duration)) {
	var g *Gateway
	var served func(int, time.Duration)
	switch h := h.(type) {
	case *Gateway:
		g = h
	case LoopGateway:
		g, served = h.LoopGateway()
	}
	if g == nil || g.instance != "" || g.lim.any() {
		return nil, nil
	}
	return g, served
}

// any reports whether a limit is configured.
func (l *limits) any() bool {
	return l.serviceRate != nil || l.concurrency > 0 || l.instRate > 0 || l.workers > 0 || l.maxWait > 0
}

// loopRoute returns the target on the instance for r when the event loop
// can serve r whole: a path under /api/predict/<service>, no token or the
// raw token, no fault active. Everything else (and every refusal) goes to
// ServeHTTP.
func (g *Gateway) loopRoute(r *http.Request) (string, bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, PredictPrefix)
	if !ok {
		return "", false
	}
	svc, sub := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		svc, sub = rest[:i], rest[i:]
	}
	if svc != g.service {
		return "", false
	}
	if g.auth != nil && !g.auth.rawOK(r.Header["Authorization"]) {
		return "", false
	}
	if g.faults != nil && g.faults.set.Load() != nil {
		return "", false
	}
	return targetURI(r, svc, sub), true
}

// rawOK reports whether Authorization values vv are exactly one raw token
// (the check's first case, without its errors).
func (v *verifier) rawOK(vv []string) bool {
	if len(vv) == 0 || vv[0] == "" {
		return false
	}
	sum := sha256.Sum256([]byte(vv[0]))
	return subtle.ConstantTimeCompare(sum[:], v.tokenSum[:]) == 1
}

// loopSets are the event loops serving a gateway (a server each), so
// Gateway.CloseIdle reaches their connections to the instances too.
type loopSets struct {
	mu sync.Mutex
	m  map[*loops]struct{}
}

func (s *loopSets) add(ls *loops) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[*loops]struct{}{}
	}
	s.m[ls] = struct{}{}
}

func (s *loopSets) remove(ls *loops) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, ls)
}

func (s *loopSets) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ls := range s.m {
		ls.closeIdleUpstreams()
	}
}
