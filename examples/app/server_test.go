package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/internal/testutil"
)

func defaultConfig() config {
	return config{Port: 8000, Name: "demo-0", Live: true, Ready: true, Startup: true}
}

// testServer returns a server whose exit is recorded instead of taken.
func testServer(cfg config) (*server, *[]int) {
	var mu sync.Mutex
	exits := []int{}
	s := newServer(cfg, zerolog.Nop(), time.Now, func(code int) {
		mu.Lock()
		defer mu.Unlock()
		exits = append(exits, code)
	})
	return s, &exits
}

// do sends one request straight to the handler (no network).
func do(t *testing.T, h http.Handler, method, target string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	var body map[string]any
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", method, target, rec.Body.String(), err)
		}
	}
	return rec.Code, body
}

func codes(t *testing.T, h http.Handler) [3]int {
	t.Helper()
	var c [3]int
	for i, p := range []string{"/health", "/ready", "/startup"} {
		c[i], _ = do(t, h, "GET", p)
	}
	return c
}

// Each switch moves exactly its own probe, with the probe's failure code,
// and switches back; /control/state reports the verdicts.
func TestSwitches(t *testing.T) {
	s, _ := testServer(defaultConfig())
	h := s.handler()
	if got := codes(t, h); got != [3]int{200, 200, 200} {
		t.Fatalf("fresh server: health/ready/startup = %v, want all 200", got)
	}
	steps := []struct {
		control string
		want    [3]int
	}{
		{"/control/live?ok=false", [3]int{500, 200, 200}},
		{"/control/live?ok=true", [3]int{200, 200, 200}},
		{"/control/ready?ok=false", [3]int{200, 503, 200}},
		{"/control/ready", [3]int{200, 200, 200}}, // ok defaults to true
		{"/control/startup?ok=false", [3]int{200, 200, 503}},
		{"/control/startup?ok=true", [3]int{200, 200, 200}},
	}
	for _, st := range steps {
		if code, _ := do(t, h, "POST", st.control); code != 200 {
			t.Fatalf("POST %s = %d, want 200", st.control, code)
		}
		if got := codes(t, h); got != st.want {
			t.Errorf("after %s: health/ready/startup = %v, want %v", st.control, got, st.want)
		}
	}
	do(t, h, "POST", "/control/ready?ok=false")
	_, state := do(t, h, "GET", "/control/state")
	if state["ready_ok"] != false || state["live_ok"] != true || state["instance"] != "demo-0" {
		t.Errorf("state = %v, want ready_ok false, live_ok true, instance demo-0", state)
	}
	if code, body := do(t, h, "POST", "/control/live?ok=maybe"); code != 400 || !strings.Contains(body["error"].(string), "ok=") {
		t.Errorf("bad ok value: %d %v, want 400 naming the parameter", code, body)
	}
	if code, _ := do(t, h, "GET", "/control/live?ok=false"); code == 200 {
		t.Error("GET on a switch flipped it; switches need POST")
	}
}

// START_DELAY holds /startup and /ready at 503 (liveness stays up) until
// the delay has passed.
func TestStartDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := defaultConfig()
		cfg.StartDelay = 5 * time.Second
		s, _ := testServer(cfg)
		h := s.handler()
		time.Sleep(4900 * time.Millisecond)
		if got := codes(t, h); got != [3]int{200, 503, 503} {
			t.Errorf("before the delay: health/ready/startup = %v, want [200 503 503]", got)
		}
		time.Sleep(100 * time.Millisecond)
		if got := codes(t, h); got != [3]int{200, 200, 200} {
			t.Errorf("after the delay: health/ready/startup = %v, want all 200", got)
		}
	})
}

// READY=false and LIVE=false start the server failing; bad values are
// reported, naming the variable.
func TestEnvStartStates(t *testing.T) {
	env := map[string]string{"READY": "false", "LIVE": "false", "POD_NAME": "x-1", "LISTENING_PORT": "8001", "START_DELAY": "2"}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 8001 || cfg.Name != "x-1" || cfg.StartDelay != 2*time.Second {
		t.Errorf("config = %+v, want port 8001, name x-1, start delay 2s", cfg)
	}
	s, _ := testServer(cfg)
	s.start = s.start.Add(-time.Minute) // past the start delay
	if got := codes(t, s.handler()); got != [3]int{500, 503, 200} {
		t.Errorf("health/ready/startup = %v, want [500 503 200]", got)
	}

	cfg, err = parseConfig([]string{"-ready=true", "-port", "9000"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || !cfg.Ready || cfg.Port != 9000 {
		t.Errorf("flags did not override the environment: %+v, %v", cfg, err)
	}

	for _, bad := range []map[string]string{
		{"READY": "nope"}, {"LISTENING_PORT": "70000"}, {"START_DELAY": "soon"},
	} {
		_, err := parseConfig(nil, func(k string) string { return bad[k] }, io.Discard)
		for k := range bad {
			if err == nil || !strings.Contains(err.Error(), k) {
				t.Errorf("%v: err = %v, want it to name %s", bad, err, k)
			}
		}
	}
}

// A hung server blocks probes until unhung; with all=true it blocks every
// non-control path; control endpoints keep answering.
func TestHang(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := testServer(defaultConfig())
		h := s.handler()
		do(t, h, "POST", "/control/hang")

		results := make(chan string, 4)
		get := func(path string) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			results <- path
		}
		go get("/ready")
		go get("/hello")
		synctest.Wait()
		if got := <-results; got != "/hello" {
			t.Fatalf("%s answered first; with a plain hang only probes block", got)
		}
		if len(results) != 0 {
			t.Fatal("/ready answered while hung")
		}
		_, st := do(t, h, "GET", "/control/state")
		if st["hung"] != true {
			t.Errorf("state hung = %v, want true", st["hung"])
		}

		do(t, h, "POST", "/control/hang?all=true")
		go get("/hello")
		synctest.Wait()
		if len(results) != 0 {
			t.Fatal("a request answered while hung with all=true")
		}
		do(t, h, "POST", "/control/hang?on=false")
		synctest.Wait()
		if len(results) != 2 {
			t.Fatalf("%d of 2 blocked requests answered after unhang", len(results))
		}
	})
}

// A hung probe whose request ends is aborted, never answered 200.
func TestHangAbortsWhenRequestEnds(t *testing.T) {
	s, _ := testServer(defaultConfig())
	h := s.handler()
	do(t, h, "POST", "/control/hang")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", r)
		}
		if rec.Code == 200 && rec.Body.Len() > 0 {
			t.Errorf("aborted probe wrote an answer: %d %q", rec.Code, rec.Body)
		}
	}()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil).WithContext(ctx))
	t.Error("handler returned normally")
}

func TestCrash(t *testing.T) {
	s, exits := testServer(defaultConfig())
	h := s.handler()
	code, body := do(t, h, "POST", "/control/crash?code=3")
	if code != 200 || body["exiting"] != float64(3) {
		t.Errorf("crash answer = %d %v, want 200 exiting 3", code, body)
	}
	if code, _ := do(t, h, "POST", "/control/crash?code=300"); code != 400 {
		t.Errorf("code=300: %d, want 400", code)
	}
	do(t, h, "POST", "/control/crash")
	if got := *exits; len(got) != 2 || got[0] != 3 || got[1] != 1 {
		t.Errorf("exits = %v, want [3 1]", got)
	}
}

func TestAlloc(t *testing.T) {
	s, _ := testServer(defaultConfig())
	h := s.handler()
	_, st := do(t, h, "POST", "/control/alloc?mb=3")
	_, st = do(t, h, "POST", "/control/alloc?mb=2")
	if st["allocated_mb"] != float64(5) {
		t.Errorf("allocated_mb = %v, want 5", st["allocated_mb"])
	}
	_, st = do(t, h, "POST", "/control/alloc?free=true&mb=1")
	if st["allocated_mb"] != float64(1) {
		t.Errorf("after free: allocated_mb = %v, want 1", st["allocated_mb"])
	}
	if code, _ := do(t, h, "POST", "/control/alloc?mb=-1"); code != 400 {
		t.Errorf("mb=-1: %d, want 400", code)
	}
}

// The default answer names the instance and echoes what the gateway sent.
func TestHelloEchoesRequest(t *testing.T) {
	s, _ := testServer(defaultConfig())
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/api/x?y=1", strings.NewReader("abc"))
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	s.handler().ServeHTTP(rec, req)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"instance": "demo-0", "method": "POST", "path": "/api/x", "query": "y=1",
		"x_forwarded_for": "10.1.2.3", "body_bytes": float64(3), "request": float64(1)}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
	if hs, _ := body["headers"].(map[string]any); hs == nil || hs["X-Forwarded-For"] == nil {
		t.Errorf("headers = %v, want X-Forwarded-For among them", body["headers"])
	}
}

// Each event is flushed as written: the first arrives while the second is
// still an hour away.
func TestStreamFlushesEachEvent(t *testing.T) {
	s, _ := testServer(defaultConfig())
	srv := httptest.NewServer(s.handler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/stream?n=2&interval=1h", nil)
	resp := testutil.EventStream(t, req)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	var event []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("first event did not arrive (not flushed?): %v", err)
		}
		if line == "\n" {
			break
		}
		event = append(event, strings.TrimSpace(line))
	}
	want := []string{"id: 0", `data: {"seq":0,"instance":"demo-0"}`}
	if strings.Join(event, "|") != strings.Join(want, "|") {
		t.Errorf("first event = %q, want %q", event, want)
	}
}

func TestStreamCountInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := testServer(defaultConfig())
		rec := httptest.NewRecorder()
		start := time.Now()
		s.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/stream?n=4&interval=250ms", nil))
		if n := strings.Count(rec.Body.String(), "data: "); n != 4 {
			t.Errorf("%d events, want 4", n)
		}
		if d := time.Since(start); d != 750*time.Millisecond {
			t.Errorf("stream took %v, want 3 intervals = 750ms", d)
		}
		if code, _ := do(t, s.handler(), "GET", "/stream?interval=fast"); code != 400 {
			t.Errorf("bad interval: %d, want 400", code)
		}
	})
}

func TestSlowEchoBig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := testServer(defaultConfig())
		h := s.handler()
		start := time.Now()
		if code, body := do(t, h, "GET", "/slow?delay=2s"); code != 200 || body["delayed"] != "2s" {
			t.Errorf("slow = %d %v", code, body)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("slow took %v, want 2s", d)
		}
	})
	s, _ := testServer(defaultConfig())
	h := s.handler()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/echo", bytes.NewReader([]byte("signed body")))
	req.Header.Set("Content-Type", "application/octet-stream")
	h.ServeHTTP(rec, req)
	if rec.Body.String() != "signed body" || rec.Header().Get("X-Echo-Method") != "POST" {
		t.Errorf("echo = %q (method %q)", rec.Body, rec.Header().Get("X-Echo-Method"))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/big?kb=3", nil))
	if rec.Body.Len() != 3072 || rec.Header().Get("Content-Length") != "3072" {
		t.Errorf("big: %d bytes, Content-Length %q; want 3072", rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}

// /peer reaches another server (a sidecar on 127.0.0.1 in an instance).
func TestPeer(t *testing.T) {
	peerSrv, _ := testServer(config{Name: "sidecar", Port: 8001, Live: true, Ready: true, Startup: true})
	peer := httptest.NewServer(peerSrv.handler())
	defer peer.Close()
	cfg := defaultConfig()
	cfg.PeerURL = peer.URL
	s, _ := testServer(cfg)
	srv := httptest.NewServer(s.handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/peer")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Instance string
		Peer     struct{ Instance string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || body.Instance != "demo-0" || body.Peer.Instance != "sidecar" {
		t.Errorf("peer = %d %+v, want demo-0 wrapping sidecar", resp.StatusCode, body)
	}
	noPeer, _ := testServer(defaultConfig())
	if code, _ := do(t, noPeer.handler(), "GET", "/peer"); code != 404 {
		t.Errorf("/peer without PEER_URL = %d, want 404", code)
	}
}

// `app probe` follows the server's verdicts and fails when nothing answers.
func TestProbeCommand(t *testing.T) {
	s, _ := testServer(defaultConfig())
	srv := httptest.NewServer(s.handler())
	defer srv.Close()
	ctx := context.Background()
	check := func(kind string, want int) {
		t.Helper()
		if got := probe(ctx, srv.URL, kind, io.Discard, io.Discard); got != want {
			t.Errorf("probe %s = %d, want %d", kind, got, want)
		}
	}
	check("ready", 0)
	check("live", 0)
	check("startup", 0)
	post(t, srv.URL+"/control/ready?ok=false")
	check("ready", 1)
	check("live", 0)
	post(t, srv.URL+"/control/live?ok=false")
	check("live", 1)

	// Hung: it waits for its limit (already passed here), then fails.
	post(t, srv.URL+"/control/live?ok=true")
	post(t, srv.URL+"/control/hang")
	short, cancel := context.WithCancel(ctx)
	cancel()
	if got := probe(short, srv.URL, "live", io.Discard, io.Discard); got != 1 {
		t.Errorf("probe on a hung server = %d, want 1", got)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if got := probe(ctx, "http://"+addr, "live", io.Discard, io.Discard); got != 1 {
		t.Errorf("probe with no server = %d, want 1", got)
	}
	var stderr bytes.Buffer
	if got := run([]string{"probe", "sideways"}, io.Discard, &stderr, func(string) string { return "" }); got != 2 || !strings.Contains(stderr.String(), "sideways") {
		t.Errorf("unknown probe kind: %d %q, want 2 naming it", got, stderr.String())
	}
}

// Cancelling serve's context (SIGTERM) ends in-flight hung and streaming
// requests at once and returns without error.
func TestServeShutsDownPromptly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := testServer(defaultConfig())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, s, ln) }()
	base := "http://" + ln.Addr().String()
	if resp, err := http.Post(base+"/control/hang", "", nil); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}

	type result struct {
		path string
		code int
		err  error
	}
	results := make(chan result, 2)
	for _, p := range []string{"/health", "/stream?n=100&interval=1h"} {
		go func() {
			resp, err := http.Get(base + p)
			if err != nil {
				results <- result{p, 0, err}
				return
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{p, resp.StatusCode, err}
		}()
	}
	// Both requests in flight: the stream has sent its headers.
	testutil.WaitFor(t, 5*time.Second, 5*time.Millisecond, "the server to count 2 requests", func() bool { _, st := stateOf(t, base); return st.Requests >= 2 })

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("shutdown took %v, want under 1s", d)
	}
	for range 2 {
		r := <-results
		if r.path == "/health" && r.err == nil && r.code == 200 {
			t.Errorf("hung /health was answered 200 at shutdown")
		}
	}
}

func post(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

func stateOf(t *testing.T, base string) (int, state) {
	t.Helper()
	st, err := fetchState(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	return 200, st
}

// Successful probe requests are not logged unless LogProbes is set (a
// probe a second per instance would drown a demo's output); failed probes
// and every other request are.
func TestProbeRequestsLoggedOnlyWhenAsked(t *testing.T) {
	for _, logProbes := range []bool{false, true} {
		var buf strings.Builder
		cfg := defaultConfig()
		cfg.LogProbes = logProbes
		s := newServer(cfg, zerolog.New(&buf), time.Now, func(int) {})
		h := s.handler()
		do(t, h, "GET", "/health")
		do(t, h, "GET", "/")
		s.mu.Lock()
		s.live = false
		s.mu.Unlock()
		do(t, h, "GET", "/health")
		out := buf.String()
		if got, want := strings.Count(out, `"path":"/health"`), map[bool]int{false: 1, true: 2}[logProbes]; got != want {
			t.Errorf("LogProbes=%v: %d /health lines, want %d:\n%s", logProbes, got, want, out)
		}
		if !strings.Contains(out, `"path":"/"`) {
			t.Errorf("LogProbes=%v: / not logged:\n%s", logProbes, out)
		}
	}
}
