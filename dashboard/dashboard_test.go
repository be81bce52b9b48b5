package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/testutil"
	"github.com/easlocal/easlocal/metrics"
)

// TestLoadRate: the generator sends its rate per second, and nothing
// once Stop returned.
func TestLoadRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		l := &loadGen{rate: 20, send: func(context.Context) error { n.Add(1); return nil }}
		l.Start(t.Context())
		if !l.On() {
			t.Fatal("On() = false after Start")
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if got := n.Load(); got != 20 {
			t.Errorf("%d requests in a second, want 20", got)
		}
		l.Stop()
		l.Stop() // idempotent
		before := n.Load()
		time.Sleep(5 * time.Second)
		if n.Load() != before || l.On() {
			t.Errorf("requests went on after Stop (%d → %d), On=%v", before, n.Load(), l.On())
		}
	})
}

// TestLoadBounded: a gateway that never answers gets at most
// maxInFlight open requests, not one per tick; each ends at its timeout.
func TestLoadBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var open, most atomic.Int64
		l := &loadGen{rate: 100, send: func(ctx context.Context) error {
			if v := open.Add(1); v > most.Load() {
				most.Store(v)
			}
			<-ctx.Done()
			open.Add(-1)
			return ctx.Err()
		}}
		l.Start(t.Context())
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if most.Load() != maxInFlight {
			t.Errorf("at most %d requests open, want %d", most.Load(), maxInFlight)
		}
		time.Sleep(3 * time.Second) // past the 5 s request timeout
		synctest.Wait()
		if f := l.failed.Load(); f == 0 {
			t.Error("requests that timed out were not counted as failed")
		}
		l.Stop()
		if open.Load() != 0 {
			t.Errorf("%d requests still open after Stop", open.Load())
		}
	})
}

// TestLoadEndsWithService: the load stops when the service's context
// ends, and the page then shows it off.
func TestLoadEndsWithService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		d := New(Options{Controller: admintest.New(admin.ServiceStatus{Name: "demo"}), LoadURL: "http://127.0.0.1:1/"})
		d.load.send = func(context.Context) error { n.Add(1); return nil }
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		synctest.Wait()
		d.load.Start(d.loadCtx())
		time.Sleep(time.Second)
		cancel()
		<-done
		synctest.Wait()
		sent := n.Load()
		time.Sleep(time.Second)
		if n.Load() != sent || d.load.On() {
			t.Errorf("load went on after the service stopped (on=%v)", d.load.On())
		}
	})
}

// TestSample: rates are per second over the real interval, per instance,
// and the history keeps only Window.
func TestSample(t *testing.T) {
	d := New(Options{Controller: admintest.New(admin.ServiceStatus{})})
	t0 := time.Unix(1000, 0)
	d.sample(t0, metrics.Totals{Requests: 100, Errors: 10, ByInstance: map[string]uint64{"a": 50}})
	d.sample(t0.Add(2*time.Second), metrics.Totals{Requests: 140, Errors: 14, ByInstance: map[string]uint64{"a": 60, "b": 8}})
	st := d.state()
	if len(st.Rates) != 1 {
		t.Fatalf("%d samples, want 1", len(st.Rates))
	}
	s := st.Rates[0]
	if s.Total != 20 || s.Errors != 2 || s.ByInstance["a"] != 5 || s.ByInstance["b"] != 4 {
		t.Errorf("sample = %+v, want total 20, errors 2, a 5, b 4", s)
	}
	for i := range 400 {
		d.sample(t0.Add(time.Duration(3+i)*time.Second), metrics.Totals{})
	}
	if n := len(d.state().Rates); n != int(Window/time.Second) {
		t.Errorf("history holds %d samples, want %d", n, int(Window/time.Second))
	}
}

// testToken is the control API token of newServer.
const testToken = "t0ken"

// newServer serves d on a control API with testToken, as the session does.
func newServer(t *testing.T, d *Dashboard) *httptest.Server {
	api := admin.NewServer(admintest.New(admin.ServiceStatus{}), admin.Options{Token: testToken})
	d.Register(api)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv
}

// do sends a request with the token and returns the answer, read.
func do(t *testing.T, method, url string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, hdr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func withToken() http.Header { return http.Header{admin.TokenHeader: {testToken}} }

// TestPage: the page, its script and its style are served from the
// binary without the token, are small, refer to the routes this package
// and the control API serve, and are sent with a strict
// Content-Security-Policy and no Referer.
func TestPage(t *testing.T) {
	srv := newServer(t, New(Options{Controller: admintest.New(admin.ServiceStatus{})}))
	total := 0
	var script string
	for path, ctype := range map[string]string{"/ui/": "text/html", "/ui/app.js": "text/javascript", "/ui/style.css": "text/css"} {
		resp, body := do(t, "GET", srv.URL+path, nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
			t.Errorf("GET %s: Content-Security-Policy %q, want %q", path, got, ContentSecurityPolicy)
		}
		if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("GET %s: Referrer-Policy %q", path, got)
		}
		total += len(body)
		if path == "/ui/app.js" {
			script = body
		}
		if path == "/ui/" && (strings.Contains(body, "<script>") || strings.Contains(body, "<style>") || strings.Contains(body, "style=")) {
			t.Errorf("the page has inline script or style, which its Content-Security-Policy blocks")
		}
	}
	for _, p := range []string{"script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"} {
		if !strings.Contains(ContentSecurityPolicy, p) {
			t.Errorf("the Content-Security-Policy lacks %s", p)
		}
	}
	if total > 30<<10 {
		t.Errorf("the page is %d bytes; keep it under 30 KiB", total)
	}
	for _, want := range []string{`"X-Easlocal-Token"`, `location.hash`, `history.replaceState`, `follow(() => "stream"`,
		`"../v1/events?follow=1&since="`, `../v1/instances/`, `../v1/scale?n=`, `"load?on="`} {
		if !strings.Contains(script, want) {
			t.Errorf("the page's script does not use %s", want)
		}
	}
	for _, bad := range []string{"new EventSource(", "token=", "document.cookie", `credentials: "include"`, `credentials: "same-origin"`} {
		if strings.Contains(script, bad) {
			t.Errorf("the page's script uses %s: the token must travel in a header only", bad)
		}
	}
}

// TestRoutesNeedToken: the stream and the load generator need the token
// in the header; a cookie or query token is not enough, and another
// origin is refused even with it.
func TestRoutesNeedToken(t *testing.T) {
	d := New(Options{Controller: admintest.New(admin.ServiceStatus{}), LoadURL: "http://127.0.0.1:1/"})
	srv := newServer(t, d)
	for _, c := range []struct {
		method, path string
		hdr          http.Header
		want         int
	}{
		{"POST", "/ui/load?on=1", nil, 401},
		{"POST", "/ui/load?on=1&token=" + testToken, nil, 401},
		{"POST", "/ui/load?on=1", http.Header{"Cookie": {"easlocal_token=" + testToken}}, 401},
		{"GET", "/ui/stream?token=" + testToken, nil, 401},
		{"POST", "/ui/load?on=1", http.Header{admin.TokenHeader: {testToken}, "Origin": {"http://127.0.0.1:1"}}, 403},
		{"POST", "/ui/", withToken(), 404}, // the page is GET only
	} {
		resp, body := do(t, c.method, srv.URL+c.path, c.hdr)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s %v: %d %s, want %d", c.method, c.path, c.hdr, resp.StatusCode, body, c.want)
		}
	}
	if d.load.On() {
		t.Error("a request without the token turned the load generator on")
	}
}

// TestURL: the token travels in the fragment, never in the query.
func TestURL(t *testing.T) {
	u, err := url.Parse(URL("http://127.0.0.1:4000", "ab+c"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/ui/" || u.RawQuery != "" || u.Fragment != "token=ab+c" {
		t.Errorf("URL = %s: want path /ui/, no query, fragment token=ab+c", u)
	}
}

// TestStream: the first server-sent event is the full state, and an
// event of the service pushes a new one at once (not after the tick).
func TestStream(t *testing.T) {
	fake := admintest.New(admin.ServiceStatus{Name: "demo", Desired: 1, Instances: []admin.InstanceStatus{{Name: "demo-0", IP: "10.213.0.2", Ready: true}}})
	fake.SetEndpoints([]admin.Endpoint{{Instance: "demo-0", IP: "10.213.0.2", Port: 8000}})
	srv := newServer(t, New(Options{Controller: fake, LoadURL: "http://127.0.0.1:1/"}))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/ui/stream", nil)
	req.Header.Set(admin.TokenHeader, testToken)
	resp := testutil.EventStream(t, req)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	next := func() State {
		t.Helper()
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var st State
				if err := json.Unmarshal([]byte(data), &st); err != nil {
					t.Fatal(err)
				}
				return st
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return State{}
	}
	st := next()
	if len(st.Status.Instances) != 1 || st.Status.Instances[0].IP != "10.213.0.2" || len(st.Endpoints) != 1 || !st.Load.Available {
		t.Errorf("first state = %+v", st)
	}
	fake.SetStatus(admin.ServiceStatus{Name: "demo", Desired: 1, Instances: []admin.InstanceStatus{{Name: "demo-0", Restarts: 1}}})
	fake.Publish(events.Event{Instance: "demo-0", Type: "Normal", Reason: "Started"})
	if st := next(); st.Status.Instances[0].Restarts != 1 {
		t.Errorf("state after the event = %+v, want restarts 1", st.Status)
	}
}

// TestLoadToggle: POST /ui/load turns the generator on and off and
// refuses anything else with a sentence.
func TestLoadToggle(t *testing.T) {
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	d := New(Options{Controller: admintest.New(admin.ServiceStatus{}), LoadURL: target.URL, LoadRate: 50})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	srv := newServer(t, d)
	post := func(q string) (int, string) {
		resp, body := do(t, "POST", srv.URL+"/ui/load"+q, withToken())
		return resp.StatusCode, body
	}
	if code, body := post("?on=maybe"); code != 400 || !strings.Contains(body, "on=1") {
		t.Errorf("on=maybe: %d %s", code, body)
	}
	if code, body := post("?on=1"); code != 200 || body != `{"on":true}` {
		t.Fatalf("on=1: %d %s", code, body)
	}
	for hits.Load() == 0 { // the first request arrives after one tick (20 ms)
		time.Sleep(5 * time.Millisecond)
	}
	if code, body := post("?on=0"); code != 200 || body != `{"on":false}` {
		t.Errorf("on=0: %d %s", code, body)
	}
	if d.load.On() {
		t.Error("the generator is still on after ?on=0")
	}
}
