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
	"time"

	"github.com/containerd/errdefs/pkg/errhttp"
	"github.com/rs/zerolog"
)

// Options configures a Server. Zero values mean the documented defaults.
type Options struct {
	// Addr to listen on (default 127.0.0.1:0: loopback, a free port).
	Addr string
	// Token, when set, is required on every request: as
	// "Authorization: Bearer <token>", or for browsers as the query
	// parameter token=, which also sets an HttpOnly SameSite=Strict cookie
	// that authorises the page's later requests. See NewToken.
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
	srv    *http.Server
	ln     net.Listener
	closed bool
}

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
	s.mux.HandleFunc("GET /v1/status", s.status)
	s.mux.HandleFunc("GET /v1/endpoints", s.endpoints)
	s.mux.HandleFunc("GET /v1/events", s.events)
	s.mux.HandleFunc("GET /v1/logs", s.logs)
	s.mux.HandleFunc("POST /v1/instances/{name}/kill", s.kill)
	s.mux.HandleFunc("POST /v1/instances/{name}/pause", s.pause)
	s.mux.HandleFunc("POST /v1/instances/{name}/unpause", s.unpause)
	s.mux.HandleFunc("POST /v1/scale", s.scale)
	s.mux.HandleFunc("POST /v1/down", s.down)
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no control API at %s %s; see `easlocal --help`", r.Method, r.URL.Path))
	})
	return s
}

// NewToken returns a random token for Options.Token.
func NewToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Handle adds a handler (e.g. /metrics, the dashboard) behind the same
// token check as the API. Patterns are http.ServeMux patterns; "/v1/" is
// taken. Safe to call before or after Start.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
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
	s.srv = &http.Server{
		Handler:           s.auth(s.mux),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.base },
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
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

// ServeHTTP serves the API without a listener (tests, or embedding).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.auth(s.mux).ServeHTTP(w, r)
}

// tokenCookie lets a browser that opened the dashboard with ?token= load
// its assets and streams without repeating the token in every URL.
const tokenCookie = "easlocal_token"

func (s *Server) auth(next http.Handler) http.Handler {
	if s.opts.Token == "" {
		return next
	}
	want := []byte(s.opts.Token)
	ok := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), want) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found && ok(h) {
			next.ServeHTTP(w, r)
			return
		}
		if q := r.URL.Query().Get("token"); q != "" && ok(q) {
			// SameSite=Strict: other sites cannot ride on the cookie.
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(tokenCookie); err == nil && ok(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		writeError(w, http.StatusUnauthorized, "the control API needs the token from the service's registry file; use the easlocal CLI, or the dashboard URL `easlocal up` printed")
	})
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
