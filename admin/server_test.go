package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/testutil"
)

// demoStatus is a service of two instances, one with two containers.
func demoStatus() admin.ServiceStatus {
	at := time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)
	return admin.ServiceStatus{
		Name: "demo", GatewayURL: "http://127.0.0.1:8000", Desired: 2,
		Instances: []admin.InstanceStatus{
			{Name: "demo-0", IP: "10.77.0.2", State: "Running", Ready: true, Restarts: 1,
				Containers: []admin.ContainerStatus{
					{Name: "c0", State: "Running", Ready: true, Live: true, Started: true, StartedAt: at, Restarts: 1,
						LastExit: &admin.Exit{Code: 137, Signal: "SIGKILL", At: at},
						Probes: map[string]admin.ProbeResult{
							"readiness": {Result: "success", Output: "HTTP 200", At: at},
							"liveness":  {Result: "success", At: at},
						}},
					{Name: "sidecar", State: "Running", Ready: true, Live: true, Started: true},
				}},
			{Name: "demo-1", IP: "10.77.0.3", State: "Starting", Reason: "Unhealthy", Message: "readiness probe failed",
				Containers: []admin.ContainerStatus{
					{Name: "c0", State: "Running", Live: true, Started: true,
						Probes: map[string]admin.ProbeResult{"readiness": {Result: "failure", Output: "connection refused"}}},
				}},
		},
	}
}

// start serves ctrl on loopback for the test and returns a client for it.
func start(t *testing.T, ctrl admin.Controller, opts admin.Options) (*admin.Server, *admin.Client) {
	t.Helper()
	if opts.LogPollInterval == 0 {
		opts.LogPollInterval = 5 * time.Millisecond
	}
	srv := admin.NewServer(ctrl, opts)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Fatalf("server URL %q is not on loopback", srv.URL())
	}
	return srv, &admin.Client{BaseURL: srv.URL(), Token: opts.Token}
}

// The status snapshot crosses the API unchanged: the DTOs' JSON is stable.
func TestStatusAndEndpointsRoundTrip(t *testing.T) {
	f := admintest.New(demoStatus())
	f.SetEndpoints([]admin.Endpoint{{Instance: "demo-0", IP: "10.77.0.2", Port: 8000}})
	_, c := start(t, f, admin.Options{})
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, demoStatus()) {
		t.Errorf("status after the round trip:\n got %+v\nwant %+v", st, demoStatus())
	}
	eps, err := c.Endpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []admin.Endpoint{{Instance: "demo-0", IP: "10.77.0.2", Port: 8000}}; !reflect.DeepEqual(eps, want) {
		t.Errorf("endpoints = %+v, want %+v", eps, want)
	}
	f.SetEndpoints(nil)
	eps, err = c.Endpoints(ctx)
	if err != nil || eps == nil || len(eps) != 0 {
		t.Errorf("no endpoints should be an empty list, got %#v, %v", eps, err)
	}
}

// Empty lists are [] in JSON, never null.
func TestStatusEmptyLists(t *testing.T) {
	f := admintest.New(admin.ServiceStatus{Name: "demo"})
	srv, c := start(t, f, admin.Options{})
	resp, err := http.Get(srv.URL() + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"instances":[]`) {
		t.Errorf("status with no instances: %s", b)
	}
	f.SetStatus(admin.ServiceStatus{Name: "demo", Instances: []admin.InstanceStatus{{Name: "demo-0"}}})
	st, err := c.Status(context.Background())
	if err != nil || st.Instances[0].Containers == nil {
		t.Errorf("an instance without containers: %+v, %v", st, err)
	}
}

// Pin the JSON field names the dashboard and scripts read.
func TestStatusJSONFieldNames(t *testing.T) {
	b, err := json.Marshal(demoStatus())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"name":"demo"`, `"gateway_url"`, `"desired":2`, `"instances"`, `"ip":"10.77.0.2"`,
		`"state":"Running"`, `"ready":true`, `"restarts":1`, `"containers"`, `"live":true`, `"started":true`,
		`"last_exit":{"code":137,"signal":"SIGKILL"`, `"probes":{"liveness"`, `"output":"HTTP 200"`, `"reason":"Unhealthy"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("status JSON lacks %s: %s", key, b)
		}
	}
}

// Every action reaches the controller with normalised arguments.
func TestActionsReachController(t *testing.T) {
	f := admintest.New(demoStatus())
	_, c := start(t, f, admin.Options{})
	ctx := context.Background()
	for _, err := range []error{
		c.Kill(ctx, "demo-1", ""),
		c.Kill(ctx, "demo-0", "term"),
		c.Kill(ctx, "demo-0", "15"),
		c.Pause(ctx, "demo-1"),
		c.Unpause(ctx, "demo-1"),
		c.Scale(ctx, 3),
		c.Scale(ctx, 0),
		c.Down(ctx),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"kill demo-1 SIGKILL", "kill demo-0 SIGTERM", "kill demo-0 SIGTERM", "pause demo-1",
		"unpause demo-1", "scale 3", "scale 0", "shutdown"}
	if got := f.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("controller calls:\n got %q\nwant %q", got, want)
	}
}

// Bad input is a 400, unknown names a 404, each with a sentence, and
// nothing reaches the controller.
func TestErrorAnswers(t *testing.T) {
	f := admintest.New(demoStatus())
	srv, c := start(t, f, admin.Options{})
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
		code int
		msg  string
	}{
		{"kill unknown", c.Kill(ctx, "demo-7", ""), 404, `service demo has no instance "demo-7"; its instances are demo-0, demo-1`},
		{"pause unknown", c.Pause(ctx, "nope"), 404, `no instance "nope"`},
		{"bad signal", c.Kill(ctx, "demo-0", "SIGBOGUS"), 400, `"SIGBOGUS" is not a signal name`},
		{"bad signal number", c.Kill(ctx, "demo-0", "999"), 400, `signal 999 is not a signal`},
		{"negative scale", c.Scale(ctx, -1), 400, `must be a whole number, 0 or more`},
		{"controller refuses", c.Scale(ctx, 101), 400, `cannot scale to 101 instances: at most 100`},
		{"logs unknown instance", logsErr(c, "demo-9", ""), 404, `no instance "demo-9"`},
		{"logs unknown container", logsErr(c, "demo-0", "web"), 404, `instance demo-0 has no container "web"`},
		{"logs no instance", logsErr(c, "", ""), 400, `instance= is required`},
	}
	for _, tc := range cases {
		var ae *admin.APIError
		if !errors.As(tc.err, &ae) {
			t.Errorf("%s: error %v is not an API error", tc.name, tc.err)
			continue
		}
		if ae.StatusCode != tc.code || !strings.Contains(ae.Message, tc.msg) {
			t.Errorf("%s: got %d %q, want %d containing %q", tc.name, ae.StatusCode, ae.Message, tc.code, tc.msg)
		}
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("refused requests reached the controller: %q", calls)
	}
	if !errdefs.IsNotFound(cases[0].err) || !errdefs.IsInvalidArgument(cases[2].err) {
		t.Errorf("API errors do not map back to the error classes")
	}

	// Unknown routes and wrong methods answer JSON too.
	for _, req := range []struct{ method, path string }{{"GET", "/v1/nope"}, {"GET", "/v1/scale"}} {
		r, _ := http.NewRequest(req.method, srv.URL()+req.path, nil)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.Contains(body["error"], req.path) {
			t.Errorf("%s %s: %d %q, want a JSON 404 naming the path", req.method, req.path, resp.StatusCode, body)
		}
	}
}

func logsErr(c *admin.Client, inst, ctr string) error {
	rc, err := c.Logs(context.Background(), inst, ctr, false)
	if err == nil {
		rc.Close()
	}
	return err
}

// send makes one request to srv with the given headers (Host too) and
// returns the status and body.
func send(t *testing.T, method, url string, hdr http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vv := range hdr {
		if k == "Host" {
			req.Host = vv[0]
			continue
		}
		req.Header[k] = vv
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// With a token, requests without it are refused. It is accepted in the
// X-Easlocal-Token header and as a Bearer token, for extra handlers too,
// and nowhere else: not as a cookie (a browser sends that with requests
// other origins' pages make) nor in the query (URLs land in history).
func TestToken(t *testing.T) {
	f := admintest.New(demoStatus())
	srv, c := start(t, f, admin.Options{Token: "s3cret"})
	srv.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "up 1\n")
	}))
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatalf("with the bearer token: %v", err)
	}
	for _, tc := range []struct {
		path string
		hdr  http.Header
		want int
	}{
		{"/v1/status", nil, 401},
		{"/v1/status", http.Header{"X-Easlocal-Token": {"s3cret"}}, 200},
		{"/v1/status", http.Header{"X-Easlocal-Token": {"wrong"}}, 401},
		{"/v1/status", http.Header{"Authorization": {"bearer s3cret"}}, 200},
		{"/v1/status", http.Header{"Authorization": {"s3cret"}}, 401},
		{"/v1/status?token=s3cret", nil, 401},
		{"/v1/status", http.Header{"Cookie": {"easlocal_token=s3cret"}}, 401},
		{"/metrics", nil, 401},
		{"/metrics?token=s3cret", nil, 401},
		{"/metrics", http.Header{"X-Easlocal-Token": {"s3cret"}}, 200},
		{"/nothing", nil, 401},
	} {
		if code, body := send(t, "GET", srv.URL()+tc.path, tc.hdr); code != tc.want {
			t.Errorf("GET %s %v = %d %s, want %d", tc.path, tc.hdr, code, body, tc.want)
		}
	}
	// No answer hands out a credential.
	resp, err := http.Get(srv.URL() + "/v1/status?token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 0 {
		t.Errorf("the control API set cookies: %v", resp.Cookies())
	}

	// A cookie alone never acts, whatever a browser would send with it.
	for _, path := range []string{"/v1/instances/demo-0/kill", "/v1/scale?n=5", "/v1/down"} {
		code, _ := send(t, "POST", srv.URL()+path, http.Header{"Cookie": {"easlocal_token=s3cret"}})
		if code != 401 {
			t.Errorf("POST %s with the token as a cookie: %d, want 401", path, code)
		}
	}
	bad := &admin.Client{BaseURL: srv.URL(), Token: "wrong"}
	if err := bad.Kill(context.Background(), "demo-0", ""); !strings.Contains(fmt2(err), "token") {
		t.Errorf("kill with a wrong token: %v", err)
	}
	if len(f.Calls()) != 0 {
		t.Errorf("an unauthenticated request reached the controller: %q", f.Calls())
	}
}

// A request whose Host is not the server's own loopback address (a DNS
// name rebound to 127.0.0.1, another port) or whose Origin is another
// page's is refused with 403, with the token or without; the server's
// own forms pass.
func TestHostAndOrigin(t *testing.T) {
	f := admintest.New(demoStatus())
	srv, _ := start(t, f, admin.Options{Token: "s3cret"})
	srv.HandlePage("GET /page", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") }))
	port := strings.TrimPrefix(srv.URL(), "http://127.0.0.1:")
	tok := func(h http.Header) http.Header {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("X-Easlocal-Token", "s3cret")
		return h
	}
	for _, tc := range []struct {
		hdr  http.Header
		want int
	}{
		{http.Header{"Host": {"127.0.0.1:" + port}}, 200},
		{http.Header{"Host": {"localhost:" + port}}, 200},
		{http.Header{"Host": {"LocalHost:" + port}}, 200},
		{http.Header{"Host": {"[::1]:" + port}}, 200},
		{http.Header{"Origin": {"http://127.0.0.1:" + port}}, 200},
		{http.Header{"Origin": {"http://localhost:" + port}}, 200},
		{http.Header{"Sec-Fetch-Site": {"same-origin"}}, 200},
		{http.Header{"Sec-Fetch-Site": {"none"}}, 200},

		{http.Header{"Host": {"rebind.example:" + port}}, 403},
		{http.Header{"Host": {"127.0.0.1"}}, 403},
		{http.Header{"Host": {"127.0.0.1:1"}}, 403},
		{http.Header{"Host": {"127.0.0.2:" + port}}, 403},
		{http.Header{"Host": {"localhost.:" + port}}, 403},
		{http.Header{"Host": {"127.0.0.1:0" + port}}, 403},
		{http.Header{"Origin": {"http://127.0.0.1:1"}}, 403},
		{http.Header{"Origin": {"http://rebind.example:" + port}}, 403},
		{http.Header{"Origin": {"https://127.0.0.1:" + port}}, 403},
		{http.Header{"Origin": {"null"}}, 403},
		{http.Header{"Origin": {"http://127.0.0.1:" + port + "/"}}, 403},
		{http.Header{"Origin": {"http://127.0.0.1:" + port, "http://127.0.0.1:1"}}, 403},
		{http.Header{"Sec-Fetch-Site": {"same-site"}}, 403},
		{http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
	} {
		for _, path := range []string{"/v1/status", "/page"} {
			want := tc.want
			if path == "/page" && tc.hdr.Get("Sec-Fetch-Site") != "" {
				want = 200 // a link from another site may open the page; it holds nothing
			}
			if code, body := send(t, "GET", srv.URL()+path, tok(tc.hdr)); code != want {
				t.Errorf("GET %s %v = %d %s, want %d", path, tc.hdr, code, body, want)
			} else if code == 403 && !strings.Contains(body, "refuse") {
				t.Errorf("GET %s %v: 403 without a sentence: %s", path, tc.hdr, body)
			}
		}
		if tc.want == 403 {
			for _, path := range []string{"/v1/instances/demo-0/kill", "/v1/scale?n=5", "/v1/down"} {
				if code, _ := send(t, "POST", srv.URL()+path, tok(tc.hdr)); code != 403 {
					t.Errorf("POST %s %v = %d, want 403", path, tc.hdr, code)
				}
			}
		}
	}
	if len(f.Calls()) != 0 {
		t.Errorf("a refused request reached the controller: %q", f.Calls())
	}
	// A page needs no token, but is GET only and still checks Host.
	if code, body := send(t, "GET", srv.URL()+"/page", nil); code != 200 || body != "page" {
		t.Errorf("GET /page without the token: %d %s", code, body)
	}
	if code, _ := send(t, "GET", srv.URL()+"/page", http.Header{"Host": {"rebind.example:" + port}}); code != 403 {
		t.Errorf("GET /page with a foreign Host: %d, want 403", code)
	}
	if code, _ := send(t, "POST", srv.URL()+"/page", nil); code != 401 {
		t.Errorf("POST /page without the token: %d, want 401", code)
	}
}

// Refused requests do not flood the log: any web page can send many, so
// only the first is a warning.
func TestRefusalsLoggedOnce(t *testing.T) {
	var buf testutil.SyncBuffer
	srv, _ := start(t, admintest.New(demoStatus()), admin.Options{Token: "s3cret", Logger: zerolog.New(&buf).Level(zerolog.InfoLevel)})
	for range 50 {
		send(t, "POST", srv.URL()+"/v1/scale?n=5", http.Header{"Origin": {"http://127.0.0.1:1"}})
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 || !strings.Contains(buf.String(), "http://127.0.0.1:1") {
		t.Errorf("50 refused requests logged %d lines at info level and above, want 1 naming the origin:\n%s", n, buf.String())
	}
}

// Answers carry no CORS permission and tell browsers not to sniff, frame,
// cache or refer.
func TestBrowserHeaders(t *testing.T) {
	srv, _ := start(t, admintest.New(demoStatus()), admin.Options{Token: "s3cret"})
	req, _ := http.NewRequest("GET", srv.URL()+"/v1/status", nil)
	req.Header.Set("X-Easlocal-Token", "s3cret")
	req.Header.Set("Origin", srv.URL())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Access-Control-Allow-Origin": "", "Set-Cookie": ""} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
}

// The control API runs on the gateway's server (proxy.NewServer): a
// request with both Content-Length and Transfer-Encoding is answered and
// its connection closed, as that server does (it also closes idle
// keep-alive connections after two minutes, proxy.TestServerLimits).
func TestServerIsGatewayServer(t *testing.T) {
	srv, _ := start(t, admintest.New(demoStatus()), admin.Options{Token: "s3cret"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	host := strings.TrimPrefix(srv.URL(), "http://")
	fmt.Fprintf(conn, "POST /v1/scale?n=1 HTTP/1.1\r\nHost: %s\r\nX-Easlocal-Token: s3cret\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", host)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !resp.Close {
		t.Errorf("answer to an ambiguous request does not close the connection (Connection: %q)", resp.Header.Get("Connection"))
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("connection still open after an ambiguous request: %v", err)
	}
}

func fmt2(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// lines reads r line by line in the background.
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// expect fails unless the next line is want. The timeout only bounds a
// broken test; passing tests never wait for it.
func expect(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	select {
	case got, ok := <-ch:
		if !ok {
			t.Fatalf("stream ended, want line %q", want)
		}
		if got != want {
			t.Fatalf("line %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no line within 10s, want %q", want)
	}
}

func expectEnd(t *testing.T, ch <-chan string) {
	t.Helper()
	select {
	case got, ok := <-ch:
		if ok {
			t.Fatalf("extra line %q, want the end of the stream", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("stream still open after 10s")
	}
}

// Following events gives the backlog, then new events as they happen, and
// ends when the service closes its event log.
func TestFollowEvents(t *testing.T) {
	f := admintest.New(demoStatus())
	f.Publish(events.Event{Instance: "demo-0", Reason: "Started", Message: "one"})
	f.Publish(events.Event{Instance: "demo-1", Reason: "Started", Message: "two"})
	_, c := start(t, f, admin.Options{})

	evs, next, err := c.Events(context.Background(), 2)
	if err != nil || len(evs) != 1 || evs[0].Message != "two" || next != 3 {
		t.Fatalf("Events(since 2) = %+v, next %d, %v", evs, next, err)
	}

	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.FollowEvents(context.Background(), 0, func(e events.Event) error {
			got <- e.Message
			return nil
		})
	}()
	expect(t, got, "one")
	expect(t, got, "two")
	f.Publish(events.Event{Instance: "demo-0", Type: events.Warning, Reason: "Unhealthy", Message: "three"})
	expect(t, got, "three")
	f.Log.Close()
	if err := testutil.Recv(t, done, "follow did not end when the event log closed"); err != nil {
		t.Fatalf("FollowEvents at the end of the stream: %v", err)
	}
}

// lossy drops every other event from subscriptions, as a slow subscriber
// whose buffer overflowed would see it (a drop is always followed by a
// delivered event: it happens only while the buffer is full).
type lossy struct{ *admintest.Fake }

func (l lossy) Subscribe(ctx context.Context) <-chan events.Event {
	in := l.Fake.Subscribe(ctx)
	out := make(chan events.Event)
	go func() {
		defer close(out)
		for e := range in {
			if e.Seq%2 == 0 {
				continue
			}
			out <- e
		}
	}()
	return out
}

// A follower that missed events gets them back from the history, in order.
func TestFollowEventsRefillsGaps(t *testing.T) {
	f := admintest.New(demoStatus())
	_, c := start(t, lossy{f}, admin.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 10)
	opened := make(chan struct{})
	go c.FollowEvents(ctx, 0, func(e events.Event) error {
		if e.Reason == "Marker" {
			close(opened)
			return nil
		}
		got <- e.Message
		return nil
	})
	f.Publish(events.Event{Reason: "Marker"}) // seq 1, in the backlog or live
	<-opened
	for _, m := range []string{"a", "b", "c", "d", "e", "f"} { // seqs 2..7
		f.Publish(events.Event{Message: m})
	}
	for _, m := range []string{"a", "b", "c", "d", "e", "f"} {
		expect(t, got, m)
	}
}

// Browsers get server-sent events with the Seq as id, and resume after
// Last-Event-ID.
func TestEventsSSE(t *testing.T) {
	f := admintest.New(demoStatus())
	f.Publish(events.Event{Message: "one"})
	f.Publish(events.Event{Message: "two"})
	srv, _ := start(t, f, admin.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/v1/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", "1")
	resp := testutil.EventStream(t, req)
	defer resp.Body.Close()
	ch := lines(resp.Body)
	expect(t, ch, "id: 2")
	expect(t, ch, "event: event")
	if l := <-ch; !strings.HasPrefix(l, "data: {") || !strings.Contains(l, `"message":"two"`) {
		t.Fatalf("data line %q", l)
	}
	expect(t, ch, "")
	f.Publish(events.Event{Message: "three"})
	expect(t, ch, "id: 3")
}

// The log follower keeps reading across everything that happens to a log
// file: appends, a restart that moves the log to a new path (the rest of
// the old file comes first), rotation (a new file at the same path),
// truncation, and ends when the instance is scaled away.
func TestFollowLogsAcrossRestartAndRotation(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "c0-1.log")
	second := filepath.Join(dir, "c0-2.log")
	testutil.WriteFile(t, first, "a\n", false)
	f := admintest.New(demoStatus())
	f.SetLogPath("demo-0", "c0", first)
	_, c := start(t, f, admin.Options{})

	// Without follow: the file as it is, then the end.
	rc, err := c.Logs(context.Background(), "demo-0", "", false)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "a\n" {
		t.Fatalf("logs = %q, want %q", b, "a\n")
	}

	ch := followLog(t, c, "demo-0", "c0")
	expect(t, ch, "a")
	testutil.WriteFile(t, first, "b\n", true)
	expect(t, ch, "b")

	// Restart: the last words of the old container, then the new log.
	testutil.WriteFile(t, second, "c\n", false)
	testutil.WriteFile(t, first, "b2\n", true)
	f.SetLogPath("demo-0", "c0", second)
	expect(t, ch, "b2")
	expect(t, ch, "c")

	// Rotation: the file is renamed away and a new one takes its path.
	testutil.WriteFile(t, second, "c2\n", true)
	if err := os.Rename(second, second+".1"); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, second, "d-long-line\n", false)
	expect(t, ch, "c2")
	expect(t, ch, "d-long-line")

	// Truncation in place: reading restarts at the beginning.
	testutil.WriteFile(t, second, "e\n", false)
	expect(t, ch, "e")

	// Scaled away: the stream ends.
	f.SetLogPath("demo-0", "c0", "")
	expectEnd(t, ch)
}

// followLog follows the log of an instance's container ("" for its only
// one) and returns its lines; the stream is closed when the test ends.
func followLog(t *testing.T, c *admin.Client, instance, container string) <-chan string {
	t.Helper()
	rc, err := c.Logs(context.Background(), instance, container, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return lines(rc)
}

// A log that does not exist yet (container not started) is waited for.
func TestFollowLogNotYetWritten(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c0.log")
	f := admintest.New(demoStatus())
	f.SetLogPath("demo-1", "c0", p)
	_, c := start(t, f, admin.Options{})
	ch := followLog(t, c, "demo-1", "")
	testutil.WriteFile(t, p, "hello\n", false)
	expect(t, ch, "hello")
}

// Close ends follow streams instead of waiting for them forever.
func TestCloseEndsStreams(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c0.log")
	testutil.WriteFile(t, p, "x\n", false)
	f := admintest.New(demoStatus())
	f.SetLogPath("demo-0", "c0", p)
	srv, c := start(t, f, admin.Options{})
	ch := followLog(t, c, "demo-0", "")
	expect(t, ch, "x")
	evDone := make(chan error, 1)
	go func() { evDone <- c.FollowEvents(context.Background(), 0, func(events.Event) error { return nil }) }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	expectEnd(t, ch)
	if err := <-evDone; err != nil && !strings.Contains(err.Error(), "cannot reach") {
		// Either the stream ended cleanly or the connection was refused
		// because Close won the race with the request.
		t.Fatalf("event follower after Close: %v", err)
	}
	if err := srv.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// refusing answers every action with the error it holds.
type refusing struct {
	*admintest.Fake
	err error
}

func (r refusing) Pause(string) error { return r.err }

// A Controller's errdefs class picks the status code, the client maps it
// back to the class, and the sentence reaches the user unchanged; an
// error without a class is a 500.
func TestErrorClassesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		is   func(error) bool
	}{
		{errdefs.ErrNotFound.WithMessage("no such thing"), 404, errdefs.IsNotFound},
		{errdefs.ErrInvalidArgument.WithMessage("bad thing"), 400, errdefs.IsInvalidArgument},
		{errdefs.ErrFailedPrecondition.WithMessage("not now"), 412, errdefs.IsFailedPrecondition},
		{errdefs.ErrConflict.WithMessage("taken"), 409, errdefs.IsConflict},
		{fmt.Errorf("it broke"), 500, errdefs.IsInternal},
	} {
		_, c := start(t, refusing{admintest.New(demoStatus()), tc.err}, admin.Options{})
		err := c.Pause(context.Background(), "demo-0")
		var ae *admin.APIError
		if !errors.As(err, &ae) || ae.StatusCode != tc.code || ae.Message != tc.err.Error() || !tc.is(err) {
			t.Errorf("%v: got %v (%+v), want status %d with the same sentence and class", tc.err, err, ae, tc.code)
		}
	}
}
