package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs/pkg/errhttp"
	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/proxy"
)

// Options configures a Server. Zero values mean the documented defaults.
type Options struct {
	// Addr to listen on (default 127.0.0.1:0: loopback, a free port).
	Addr string
	// Token, when set, is required on every request but those of
	// HandlePage: in the header X-Easlocal-Token (TokenHeader) or as
	// "Authorization: Bearer <token>". Never a cookie (a browser attaches
	// it to requests other origins' pages make) or the query (URLs land
	// in history and Referer). See NewToken.
	Token string
	// LogPollInterval is how often a followed log file is checked for new
	// data (default 100ms).
	LogPollInterval time.Duration
	Logger          zerolog.Logger
}

// Server is the control API of one running service. Create it with
// NewServer, add handlers with Handle, then Start; Close ends it.
type Server struct {
	ctrl Controller
	opts Options
	log  zerolog.Logger
	mux  *http.ServeMux

	// base is the parent of every request context; cancelling it on Close
	// ends the follow streams, which http.Server.Shutdown would wait for.
	base   context.Context
	cancel context.CancelFunc

	mu     sync.Mutex // guards the fields below
	srv    *proxy.Server
	ln     net.Listener
	closed bool

	// warned is set by the first refused request: any web page can send
	// many, so only the first is a warning and the rest are debug lines.
	warned atomic.Bool
}

// TokenHeader is the header that carries Options.Token. The gateway never
// forwards X-Easlocal-* headers to an instance.
const TokenHeader = "X-Easlocal-Token"

// NewServer builds the API around ctrl. Nothing listens until Start.
func NewServer(ctrl Controller, opts Options) *Server {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.LogPollInterval <= 0 {
		opts.LogPollInterval = 100 * time.Millisecond
	}
	s := &Server{ctrl: ctrl, opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.base, s.cancel = context.WithCancel(context.Background())
	for pattern, h := range map[string]http.HandlerFunc{
		"GET /v1/status":                    s.status,
		"GET /v1/endpoints":                 s.endpoints,
		"GET /v1/events":                    s.events,
		"GET /v1/logs":                      s.logs,
		"POST /v1/instances/{name}/kill":    s.kill,
		"POST /v1/instances/{name}/pause":   s.pause,
		"POST /v1/instances/{name}/unpause": s.unpause,
		"POST /v1/scale":                    s.scale,
		"POST /v1/down":                     s.down,
		"/v1/": func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no control API at %s %s; see `easlocal --help`", r.Method, r.URL.Path))
		},
	} {
		s.Handle(pattern, h)
	}
	s.registerFaults() // faults.go
	s.routeUpdates()   // update.go
	s.registerAdvice()
	// Anything no route claims: the mux's own 404 and 405 would answer
	// text; answer JSON like the rest, behind the token too.
	s.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("nothing at %s %s; the control API is under /v1/ and the dashboard at /ui/", r.Method, r.URL.Path))
	}))
	return s
}

// NewToken returns a random token for Options.Token.
func NewToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Handle adds a handler (e.g. /metrics, the dashboard's streams) behind
// the same token check as the API. Patterns are http.ServeMux patterns;
// "/v1/" is taken. Safe to call before or after Start.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.requireToken(h))
}

// HandlePage adds a handler served without the token, for GET and HEAD
// only: a page that holds no secret and acts on nothing by being loaded
// (the dashboard's HTML, which takes the token from its URL fragment).
// Host and Origin are checked as for every request.
func (s *Server) HandlePage(pattern string, h http.Handler) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s answers GET only", r.URL.Path))
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// Start listens on Options.Addr and serves in the background.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.srv != nil {
		return errors.New("admin server already started or closed")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("control API: cannot listen on %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	// The gateway's server: header timeout, header size limit, idle
	// keep-alive connections closed, ambiguous framing closed.
	s.srv = proxy.NewServer(s, s.log)
	srv := s.srv
	go func() {
		if err := srv.Serve(ln); err != nil {
			s.log.Error().Err(err).Msg("control API stopped")
		}
	}()
	s.log.Debug().Str("url", s.url()).Msg("control API listening")
	return nil
}

// URL is the API's base URL, e.g. http://127.0.0.1:41234 ("" before Start).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url()
}

func (s *Server) url() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close ends follow streams, then waits (until ctx is done) for requests
// in flight. Idempotent.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	if already || srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// ServeHTTP serves the API without a listener (tests, or embedding). The
// request's Host must still name the address it arrived on
// (http.LocalAddrContextKey; the listener's once started).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	if msg := s.checkOrigin(r); msg != "" {
		ev := s.log.Debug()
		if !s.warned.Swap(true) {
			ev = s.log.Warn().Str("note", "further refusals are logged at debug level")
		}
		ev.Str("host", r.Host).Str("origin", r.Header.Get("Origin")).Str("path", r.URL.Path).Str("reason", msg).Msg("control API refused a request")
		writeError(w, http.StatusForbidden, msg)
		return
	}
	// Follow streams end when the server closes, whoever serves it.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.base, cancel)
	defer stop()
	s.mux.ServeHTTP(w, r.WithContext(ctx))
}

// checkOrigin refuses, with a sentence, a request not addressed to this
// server by its loopback address (a page on a DNS name rebound to
// 127.0.0.1 sends that name as Host) or sent by a page of another origin
// (another port of 127.0.0.1 is another origin). "" means it may pass.
func (s *Server) checkOrigin(r *http.Request) string {
	hosts := s.ownHosts(r)
	if len(hosts) == 0 {
		return "the control API cannot tell which address this request arrived on, so it refuses it"
	}
	if !slices.Contains(hosts, strings.ToLower(r.Host)) {
		return fmt.Sprintf("the control API answers only requests addressed to %s (Host %q is refused, so a web page cannot reach it through a DNS name)", hosts[0], r.Host)
	}
	origins := r.Header.Values("Origin")
	if len(origins) == 0 {
		return "" // not sent by a page's script or form (curl, the CLI), or a plain navigation
	}
	if len(origins) == 1 {
		for _, h := range hosts {
			if origins[0] == "http://"+h {
				return ""
			}
		}
	}
	return fmt.Sprintf("the control API refuses requests from pages of other origins (Origin %q); only its own dashboard at http://%s/ui/ may call it", strings.Join(origins, ", "), hosts[0])
}

// ownHosts lists the Host values that name this server: its loopback
// address as 127.0.0.1, localhost or [::1] with its port, and the
// address itself when it is not loopback. The first is the address.
func (s *Server) ownHosts(r *http.Request) []string {
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if addr == nil {
		s.mu.Lock()
		if s.ln != nil {
			addr = s.ln.Addr()
		}
		s.mu.Unlock()
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.Port == 0 {
		return nil
	}
	port := strconv.Itoa(tcp.Port)
	own := net.JoinHostPort(tcp.IP.String(), port)
	hosts := []string{own}
	for _, h := range []string{"127.0.0.1", "localhost", "::1"} {
		if hp := net.JoinHostPort(h, port); hp != own {
			hosts = append(hosts, hp)
		}
	}
	if !tcp.IP.IsLoopback() {
		hosts = hosts[:1]
	}
	return hosts
}

// requireToken lets a request pass only with Options.Token in TokenHeader
// or as a Bearer token, and never one a browser sends for another site's
// page (Sec-Fetch-Site). Cookies and the query are not looked at.
func (s *Server) requireToken(next http.Handler) http.Handler {
	want := []byte(s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Browsers send Sec-Fetch-Site; "same-site" includes other ports
		// of 127.0.0.1, so only the page's own origin or the user's own
		// navigation ("none") pass.
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			writeError(w, http.StatusForbidden, fmt.Sprintf("the control API refuses requests a page of another origin started (Sec-Fetch-Site: %s)", site))
			return
		}
		if len(want) > 0 && !tokenIn(r.Header, want) {
			writeError(w, http.StatusUnauthorized, "the control API needs its token in the "+TokenHeader+" header (or Authorization: Bearer): use the easlocal CLI, or open the dashboard URL `easlocal up` printed, which hands the token to the page after the #")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenIn reports whether h carries want in TokenHeader or as a Bearer
// token (constant-time comparisons).
func tokenIn(h http.Header, want []byte) bool {
	ok := false
	for _, v := range h.Values(TokenHeader) {
		ok = subtle.ConstantTimeCompare([]byte(strings.TrimSpace(v)), want) == 1 || ok
	}
	for _, v := range h.Values("Authorization") {
		v = strings.TrimSpace(v)
		if len(v) > len("bearer ") && strings.EqualFold(v[:len("bearer ")], "bearer ") {
			ok = subtle.ConstantTimeCompare([]byte(strings.TrimSpace(v[len("bearer "):])), want) == 1 || ok
		}
	}
	return ok
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := s.ctrl.Status()
	// Lists are [] rather than null, so scripts and the dashboard can
	// iterate without checks.
	if st.Instances == nil {
		st.Instances = []InstanceStatus{}
	}
	for i := range st.Instances {
		if st.Instances[i].Containers == nil {
			st.Instances[i].Containers = []ContainerStatus{}
		}
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) endpoints(w http.ResponseWriter, r *http.Request) {
	eps := s.ctrl.Endpoints()
	if eps == nil {
		eps = []Endpoint{}
	}
	writeJSON(w, http.StatusOK, eps)
}

// logs answers a container's log, and with ?follow=1 keeps streaming it
// across restarts. ?container= defaults to the instance's first container.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	inst, ctr := q.Get("instance"), q.Get("container")
	if inst == "" {
		writeError(w, http.StatusBadRequest, "instance= is required: name an instance, see `easlocal ps`")
		return
	}
	resolve := func() (string, error) { return s.ctrl.LogPath(inst, ctr) }
	if _, err := resolve(); err != nil {
		s.writeErr(w, err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc.Flush() // the client sees the stream open before any log line
	t := &tailer{
		resolve: resolve,
		w:       w,
		flush:   func() { rc.Flush() },
		follow:  isTrue(q.Get("follow")),
		poll:    s.opts.LogPollInterval,
		wait:    sleepCtx,
	}
	if err := t.run(r.Context()); err != nil {
		s.log.Debug().Err(err).Str("instance", inst).Msg("log stream ended")
	}
}

func (s *Server) kill(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	raw := r.URL.Query().Get("signal")
	if raw == "" {
		raw = "SIGKILL"
	}
	sigName, sig, err := ParseSignal(raw)
	if err != nil {
		s.writeErr(w, err)
		return
	}
	if err := s.ctrl.Kill(name, sig); err != nil {
		s.writeErr(w, err)
		return
	}
	s.log.Info().Str("instance", name).Str("signal", sigName).Msg("kill requested")
	writeMessage(w, http.StatusOK, fmt.Sprintf("sent %s to instance %s", sigName, name))
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	s.instanceAction(w, r, "paused", s.ctrl.Pause)
}

func (s *Server) unpause(w http.ResponseWriter, r *http.Request) {
	s.instanceAction(w, r, "unpaused", s.ctrl.Unpause)
}

func (s *Server) instanceAction(w http.ResponseWriter, r *http.Request, done string, act func(string) error) {
	name := r.PathValue("name")
	if err := act(name); err != nil {
		s.writeErr(w, err)
		return
	}
	s.log.Info().Str("instance", name).Msg(done)
	writeMessage(w, http.StatusOK, fmt.Sprintf("instance %s %s", name, done))
}

func (s *Server) scale(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("n")
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("n=%q: the number of instances must be a whole number, 0 or more", raw))
		return
	}
	before := s.ctrl.Status().Desired
	if err := s.ctrl.Scale(n); err != nil {
		s.writeErr(w, err)
		return
	}
	s.log.Info().Int("from", before).Int("to", n).Msg("scale requested")
	writeMessage(w, http.StatusOK, fmt.Sprintf("scaling from %d to %d instances", before, n))
}

func (s *Server) down(w http.ResponseWriter, r *http.Request) {
	if err := s.ctrl.Shutdown(); err != nil {
		s.writeErr(w, err)
		return
	}
	s.log.Info().Msg("shutdown requested")
	writeMessage(w, http.StatusAccepted, "shutting down")
}

// writeErr answers an error with the HTTP status of its errdefs class
// (500 for an error without one, which is also logged).
func (s *Server) writeErr(w http.ResponseWriter, err error) {
	code := errhttp.ToHTTP(err)
	if code == http.StatusInternalServerError {
		s.log.Error().Err(err).Msg("control API request failed")
	}
	writeError(w, code, err.Error())
}

// errorBody is every error answer: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

// messageBody is every action's answer: {"message": "..."}.
type messageBody struct {
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

func writeMessage(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, messageBody{Message: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func intParam(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	return strconv.Atoi(s)
}

func isTrue(s string) bool {
	return slices.Contains([]string{"1", "true", "yes"}, strings.ToLower(s))
}
