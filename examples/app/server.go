package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/easlocal/easlocal/examples/grpcapi"
	"github.com/easlocal/easlocal/examples/wsframe"
)

// config is what `app serve` is told by flags and environment.
type config struct {
	Port       int
	Name       string // POD_NAME
	StartDelay time.Duration
	Live       bool
	Ready      bool
	Startup    bool
	PeerURL    string
	// LogProbes logs successful /health, /ready and /startup requests too;
	// off by default so a probe every second does not drown the demo.
	LogProbes bool
}

// server holds the switches. Handlers run on many goroutines; mu guards
// every field below it.
type server struct {
	cfg      config
	hostname string
	log      zerolog.Logger
	now      func() time.Time // injected for start-delay tests
	exit     func(code int)   // os.Exit outside tests
	start    time.Time

	mu       sync.Mutex
	live     bool
	ready    bool
	startup  bool
	hang     chan struct{} // non-nil while hung; closed to release waiters
	hangAll  bool
	alloc    [][]byte
	requests int64

	grpc   *grpc.Server   // the example service and grpc.health.v1.Health
	health *health.Server // SERVING while /ready passes
}

func newServer(cfg config, log zerolog.Logger, now func() time.Time, exit func(int)) *server {
	host, _ := os.Hostname()
	s := &server{
		cfg: cfg, hostname: host, log: log, now: now, exit: exit, start: now(),
		live: cfg.Live, ready: cfg.Ready, startup: cfg.Startup,
		grpc: grpc.NewServer(), health: health.NewServer(),
	}
	grpcapi.Register(s.grpc, cfg.Name)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.syncHealth()
	if cfg.StartDelay > 0 {
		time.AfterFunc(cfg.StartDelay, s.syncHealth)
	}
	return s
}

// syncHealth makes the gRPC health service say what /ready says (for
// the whole server and for the example service).
func (s *server) syncHealth() {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if s.state().ReadyOK {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(grpcapi.ServiceName, st)
}

// state is the answer of /control/state and what `app probe` reads.
type state struct {
	Instance    string `json:"instance"`
	Hostname    string `json:"hostname"`
	Port        int    `json:"port"`
	PID         int    `json:"pid"`
	Uptime      string `json:"uptime"`
	StartDelay  string `json:"start_delay"`
	Started     bool   `json:"started"` // the start delay has passed
	Live        bool   `json:"live"`    // the switches
	Ready       bool   `json:"ready"`
	Startup     bool   `json:"startup"`
	Hung        bool   `json:"hung"`
	HangAll     bool   `json:"hang_all"`
	AllocatedMB int    `json:"allocated_mb"`
	Requests    int64  `json:"requests"`
	// The verdicts /health, /ready and /startup give (when not hung).
	LiveOK    bool `json:"live_ok"`
	ReadyOK   bool `json:"ready_ok"`
	StartupOK bool `json:"startup_ok"`
}

func (s *server) state() state {
	up := s.now().Sub(s.start)
	started := up >= s.cfg.StartDelay
	s.mu.Lock()
	defer s.mu.Unlock()
	return state{
		Instance: s.cfg.Name, Hostname: s.hostname, Port: s.cfg.Port, PID: os.Getpid(),
		Uptime: up.Round(time.Millisecond).String(), StartDelay: s.cfg.StartDelay.String(),
		Started: started, Live: s.live, Ready: s.ready, Startup: s.startup,
		Hung: s.hang != nil, HangAll: s.hangAll, AllocatedMB: len(s.alloc), Requests: s.requests,
		LiveOK: s.live, ReadyOK: s.ready && started, StartupOK: s.startup && started,
	}
}

// verdict says whether probe kind ("live", "ready", "startup") passes.
func (st state) verdict(kind string) (ok bool, known bool) {
	switch kind {
	case "live":
		return st.LiveOK, true
	case "ready":
		return st.ReadyOK, true
	case "startup":
		return st.StartupOK, true
	}
	return false, false
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", s.probe("live", http.StatusInternalServerError))
	mux.HandleFunc("/ready", s.probe("ready", http.StatusServiceUnavailable))
	mux.HandleFunc("/startup", s.probe("startup", http.StatusServiceUnavailable))
	mux.HandleFunc("/stream", s.hangable(s.stream))
	mux.HandleFunc("/slow", s.hangable(s.slow))
	mux.HandleFunc("/echo", s.hangable(s.echo))
	mux.HandleFunc("/big", s.hangable(s.big))
	mux.HandleFunc("/peer", s.hangable(s.peer))
	mux.Handle("/ws", s.hangable(websocket.Server{Handler: s.wsEcho}.ServeHTTP))
	mux.HandleFunc("/", s.hangable(s.hello))
	mux.HandleFunc("GET /control/state", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.state()) })
	mux.HandleFunc("POST /control/live", s.toggle(func(ok bool) { s.live = ok }))
	mux.HandleFunc("POST /control/ready", s.toggle(func(ok bool) { s.ready = ok }, s.syncHealth))
	mux.HandleFunc("POST /control/startup", s.toggle(func(ok bool) { s.startup = ok }))
	mux.HandleFunc("POST /control/hang", s.setHang)
	mux.HandleFunc("POST /control/crash", s.crash)
	mux.HandleFunc("POST /control/alloc", s.allocate)
	mux.HandleFunc("/control/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "unknown control %s %s; see GET /control/state and POST /control/{live,ready,startup,hang,crash,alloc}", r.Method, r.URL.Path)
	})
	web := s.logged(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			s.grpc.ServeHTTP(w, r) // gRPC over h2c on the same port
			return
		}
		web.ServeHTTP(w, r)
	})
}

// wsEcho sends every WebSocket message back as it came: text as text,
// binary as binary, until the client closes.
func (s *server) wsEcho(ws *websocket.Conn) {
	defer ws.Close()
	for {
		var f wsframe.Frame
		if err := wsframe.Codec.Receive(ws, &f); err != nil {
			return
		}
		if err := wsframe.Codec.Send(ws, f); err != nil {
			return
		}
	}
}

// waitHang blocks while the server is hung (for probes, or for every
// path when all is set). When the request ends first (client gone or
// server shutting down) the response is aborted: returning normally
// would send an empty 200, which a prober would count as a pass.
func (s *server) waitHang(r *http.Request, isProbe bool) {
	s.mu.Lock()
	ch := s.hang
	if ch != nil && !isProbe && !s.hangAll {
		ch = nil
	}
	s.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-r.Context().Done():
		panic(http.ErrAbortHandler)
	}
}

func (s *server) hangable(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.waitHang(r, false)
		h(w, r)
	}
}

func (s *server) probe(kind string, failCode int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.waitHang(r, true)
		st := s.state()
		ok, _ := st.verdict(kind)
		code := http.StatusOK
		if !ok {
			code = failCode
		}
		writeJSON(w, code, map[string]any{"instance": st.Instance, "probe": kind, "ok": ok, "started": st.Started})
	}
}

// query parameter helpers: a bad value is the client's mistake (400).
func boolParam(r *http.Request, name string, def bool) (bool, error) {
	return parseBool(name, r.URL.Query().Get(name), def)
}

// parseBool reads v, the value of name ("" for def), as a boolean.
func parseBool(name, v string, def bool) (bool, error) {
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q is not a boolean; use true or false", name, v)
	}
	return b, nil
}

func intParam(r *http.Request, name string, def, min, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s=%q must be a whole number from %d to %d", name, v, min, max)
	}
	return n, nil
}

func durationParam(r *http.Request, name string, def time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	d, err := parseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q must be a duration like 100ms or 2s", name, v)
	}
	return d, nil
}

// parseDuration takes a Go duration or a plain number of seconds.
func parseDuration(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(v)
}

func (s *server) toggle(set func(ok bool), after ...func()) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ok, err := boolParam(r, "ok", true)
		if err != nil {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
		s.mu.Lock()
		set(ok)
		s.mu.Unlock()
		for _, f := range after {
			f()
		}
		s.log.Info().Str("control", r.URL.Path).Bool("ok", ok).Msg("switch flipped")
		writeJSON(w, http.StatusOK, s.state())
	}
}

func (s *server) setHang(w http.ResponseWriter, r *http.Request) {
	on, err := boolParam(r, "on", true)
	if err == nil {
		var all bool
		all, err = boolParam(r, "all", false)
		s.mu.Lock()
		if err == nil {
			switch {
			case on && s.hang == nil:
				s.hang = make(chan struct{})
				s.hangAll = all
			case on:
				s.hangAll = all
			case s.hang != nil:
				close(s.hang)
				s.hang, s.hangAll = nil, false
			}
		}
		s.mu.Unlock()
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.log.Info().Bool("hung", on).Msg("hang switched")
	writeJSON(w, http.StatusOK, s.state())
}

func (s *server) crash(w http.ResponseWriter, r *http.Request) {
	code, err := intParam(r, "code", 1, 0, 255)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	s.log.Warn().Int("code", code).Msg("crashing on request")
	writeJSON(w, http.StatusOK, map[string]any{"instance": s.cfg.Name, "exiting": code})
	// Flush so the client sees the answer before the process is gone.
	_ = http.NewResponseController(w).Flush()
	s.exit(code)
}

func (s *server) allocate(w http.ResponseWriter, r *http.Request) {
	mb, err := intParam(r, "mb", 0, 0, 1<<20)
	var free bool
	if err == nil {
		free, err = boolParam(r, "free", false)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	// Allocate outside the lock: touching memory can be slow (and is
	// where the OOM killer strikes).
	var chunks [][]byte
	for range mb {
		c := make([]byte, 1<<20)
		for i := 0; i < len(c); i += 4096 {
			c[i] = 1 // touch every page so it is resident
		}
		chunks = append(chunks, c)
	}
	s.mu.Lock()
	if free {
		s.alloc = nil
	}
	s.alloc = append(s.alloc, chunks...)
	total := len(s.alloc)
	s.mu.Unlock()
	s.log.Info().Int("added_mb", mb).Int("total_mb", total).Msg("memory allocated")
	writeJSON(w, http.StatusOK, s.state())
}

func (s *server) hello(w http.ResponseWriter, r *http.Request) {
	n, _ := io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	seq := s.requests
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"instance": s.cfg.Name, "hostname": s.hostname, "port": s.cfg.Port,
		"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "host": r.Host,
		"remote_addr": r.RemoteAddr, "x_forwarded_for": r.Header.Get("X-Forwarded-For"),
		"headers": r.Header, "body_bytes": n, "request": seq,
	})
}

func (s *server) stream(w http.ResponseWriter, r *http.Request) {
	n, err := intParam(r, "n", 5, 0, 1_000_000)
	var interval time.Duration
	if err == nil {
		interval, err = durationParam(r, "interval", 100*time.Millisecond)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	for i := range n {
		if i > 0 && !wait(r.Context(), interval) {
			return
		}
		fmt.Fprintf(w, "id: %d\ndata: {\"seq\":%d,\"instance\":%q}\n\n", i, i, s.cfg.Name)
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func (s *server) slow(w http.ResponseWriter, r *http.Request) {
	d, err := durationParam(r, "delay", time.Second)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if !wait(r.Context(), d) {
		panic(http.ErrAbortHandler) // no answer rather than an empty 200
	}
	writeJSON(w, http.StatusOK, map[string]any{"instance": s.cfg.Name, "delayed": d.String()})
}

// wait sleeps for d; false when ctx ended first (the client left).
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *server) echo(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Instance", s.cfg.Name)
	w.Header().Set("X-Echo-Method", r.Method)
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, r.Body)
}

func (s *server) big(w http.ResponseWriter, r *http.Request) {
	kb, err := intParam(r, "kb", 1024, 0, 1<<22)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	line := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(kb*len(line)))
	for range kb {
		if _, err := w.Write(line); err != nil {
			return
		}
	}
}

func (s *server) peer(w http.ResponseWriter, r *http.Request) {
	if s.cfg.PeerURL == "" {
		writeError(w, http.StatusNotFound, "no peer configured; set PEER_URL (e.g. http://127.0.0.1:8001)")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(s.cfg.PeerURL, "/")+"/", nil)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "PEER_URL %q is not a URL: %v", s.cfg.PeerURL, err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		writeError(w, http.StatusBadGateway, "peer %s did not answer: %v", s.cfg.PeerURL, err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadGateway, "reading the peer's answer: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"instance": s.cfg.Name, "peer_url": s.cfg.PeerURL, "peer_status": resp.StatusCode, "peer": json.RawMessage(validJSON(body)),
	})
}

// validJSON returns b when it is JSON, else b as a JSON string.
func validJSON(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// statusWriter records the status for the log line. Unwrap lets
// http.ResponseController reach the real writer to flush.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a WebSocket (logged as 101).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

func (s *server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/control/") {
			s.mu.Lock()
			s.requests++
			s.mu.Unlock()
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		// Deferred so aborted requests (ErrAbortHandler panics) are logged too.
		defer func() {
			code := sw.code
			if code == 0 {
				code = 499 // no answer: client gone or aborted (nginx's code)
			}
			if code < 400 && !s.cfg.LogProbes && isProbePath(r.URL.Path) {
				return
			}
			s.log.Info().Str("method", r.Method).Str("path", r.URL.RequestURI()).Int("status", code).
				Int64("bytes", sw.bytes).Str("took", time.Since(start).Round(time.Microsecond).String()).
				Str("from", r.RemoteAddr).Str("xff", r.Header.Get("X-Forwarded-For")).Msg("request")
		}()
		next.ServeHTTP(sw, r)
	})
}

// isProbePath reports whether path is one of the probe targets.
func isProbePath(path string) bool {
	return path == "/health" || path == "/ready" || path == "/startup"
}
