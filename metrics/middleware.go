package metrics

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/easlocal/easlocal/proxy"
)

// Gateway wraps the gateway's handler: every request to /api/predict/...
// is counted by the status code it was answered with, and its duration
// goes into the latency histogram. Discovery and other paths pass
// through uncounted, so an SDK polling discovery does not look like load.
//
// Around a *proxy.Gateway the handler is a proxy.LoopGateway: requests
// the server's event loops answer are counted the same way through
// served.
func (m *Metrics) Gateway(next http.Handler) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, proxy.PredictPrefix) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := statusWriters.Get().(*statusWriter)
		sw.ResponseWriter = w
		// Deferred so an answer the gateway aborts (it panics with
		// http.ErrAbortHandler) is still counted, with the status it began.
		defer func() {
			code := sw.code
			if code == 0 {
				code = http.StatusOK
				if r.Context().Err() != nil {
					code = proxy.StatusClientClosedRequest
				}
			}
			m.observe(code, time.Since(start))
			*sw = statusWriter{}
			statusWriters.Put(sw)
		}()
		next.ServeHTTP(sw, r)
	})
	if g, ok := next.(*proxy.Gateway); ok {
		return loopGateway{HandlerFunc: h, g: g, m: m}
	}
	return h
}

// loopGateway is the middleware around a gateway.
type loopGateway struct {
	http.HandlerFunc
	g *proxy.Gateway
	m *Metrics
}

func (h loopGateway) LoopGateway() (*proxy.Gateway, func(int, time.Duration)) {
	return h.g, h.m.observe
}

// statusWriters recycles the per-request wrappers. A handler must not
// use its ResponseWriter after ServeHTTP returns (net/http's rule), so
// once the deferred count has run the wrapper belongs to the pool.
var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

// statusWriter remembers the first status code written. Unwrap lets the
// gateway's http.ResponseController reach the real writer (flushes of
// streamed answers, deadlines).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
