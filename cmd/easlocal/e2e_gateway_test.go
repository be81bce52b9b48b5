package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/testutil"
)

// Three ready instances behind the gateway: round robin is even,
// streaming passes through, direct mode follows the discovery list, and
// an instance made unready leaves the rotation (no request reaches it,
// none fails) and comes back.
func TestE2EThreeInstances(t *testing.T) {
	s := upSvc(t, "e2e_three", "three")
	st := s.ps()
	if len(st.Instances) != 3 {
		t.Fatalf("ps after up -d: want 3 instances, got %+v", st)
	}
	ips := map[string]string{}
	for _, in := range st.Instances {
		if !in.Ready || in.IP == "" {
			t.Fatalf("instance %s not ready after up -d: %+v", in.Name, in)
		}
		ips[in.Name] = in.IP
	}

	// Round robin: 30 requests one after the other, 10 per instance.
	got := map[string]int{}
	for range 30 {
		code, body := get(t, s.predict("/"))
		if code != 200 {
			t.Fatalf("GET through the gateway: %d %s", code, body)
		}
		got[instanceOf(t, body)]++
	}
	for name := range ips {
		if got[name] != 10 {
			t.Errorf("round robin over 3 ready instances: want 10 answers each of 30, got %v", got)
			break
		}
	}

	// Pass-through: path, query, method, body and X-Forwarded-For.
	resp, err := httpc.Post(s.predict("/some/path?q=1"), "application/json", strings.NewReader(`{"x": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	var echo struct {
		Method string `json:"method"`
		Path   string `json:"path"`
		XFF    string `json:"x_forwarded_for"`
		Bytes  int    `json:"body_bytes"`
	}
	err = json.NewDecoder(resp.Body).Decode(&echo)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || echo.Method != "POST" || !strings.HasPrefix(echo.Path, "/some/path") ||
		echo.XFF != "127.0.0.1" || echo.Bytes != 8 {
		t.Errorf("POST /some/path?q=1 through the gateway: status %d, instance saw %+v (%v)", resp.StatusCode, echo, err)
	}

	// Streaming: the first server-sent event arrives before the stream
	// ends (the app writes one every 300ms).
	checkStreaming(t, s.predict("/stream?n=3&interval=300ms"))

	// Direct mode: the discovery list names one address per ready
	// instance, each of which answers with the prefix the SDKs send.
	direct := discover(t, s)
	if len(direct) != 3 {
		t.Fatalf("discovery: want 3 addresses, got %v", direct)
	}
	via := map[string]string{} // address -> instance
	for _, addr := range direct {
		code, body := get(t, "http://"+addr+"/api/predict/"+s.name+"/")
		if code != 200 {
			t.Fatalf("direct call to %s: %d %s", addr, code, body)
		}
		via[addr] = instanceOf(t, body)
	}
	if n := len(distinct(via)); n != 3 {
		t.Errorf("direct mode: the 3 listed addresses should reach 3 instances, got %v", via)
	}
	// The other discovery shapes list the same addresses.
	for _, path := range []string{"/api/v1/servicediscovery/upstreams/" + s.name,
		"/exported/apis/eas.alibaba-inc.k8s.io/v1/namespaces/" + strings.ReplaceAll(s.name, "_", "-") + "/easendpoints"} {
		code, body := get(t, s.gateway+path)
		for _, addr := range direct {
			ip, port, _ := strings.Cut(addr, ":")
			if code != 200 || !strings.Contains(body, `"`+ip+`"`) || !strings.Contains(body, port) {
				t.Errorf("GET %s: want %s listed, got %d %s", path, addr, code, body)
			}
		}
	}

	// Unready under load: the instance leaves the rotation and the
	// discovery list, no request is sent to it meanwhile, none fails.
	victim := s.name + "-1"
	l := s.load(2, 20)
	t0 := time.Now()
	post(t, "http://"+ips[victim]+":8000/control/ready?ok=false")
	took := testutil.WaitFor(t, 30*time.Second, e2ePoll, victim+" leaves the endpoints", func() bool {
		return !hasEndpoint(s.endpoints(), victim)
	})
	removed, ok := firstEvent(s.events(), victim, "EndpointRemoved", t0)
	if !ok {
		t.Fatalf("no EndpointRemoved event for %s after it was made unready: %v", victim, s.events())
	}
	t.Logf("readiness failure: endpoint removed %s after /control/ready?ok=false (seen by polling after %s; readiness period 1s, failure threshold 2)",
		removed.Time.Sub(t0).Round(time.Millisecond), took.Round(time.Millisecond))
	for range 30 {
		code, body := get(t, s.predict("/"))
		if code != 200 || instanceOf(t, body) == victim {
			t.Fatalf("after %s left the rotation: %d from %s", victim, code, body)
		}
	}
	testutil.WaitFor(t, 30*time.Second, e2ePoll, "the discovery list shrinks to 2", func() bool { return len(discover(t, s)) == 2 })
	for _, addr := range discover(t, s) {
		code, body := get(t, "http://"+addr+"/api/predict/"+s.name+"/")
		if code != 200 || instanceOf(t, body) == victim {
			t.Errorf("direct call to %s after %s became unready: %d %s", addr, victim, code, body)
		}
	}

	t1 := time.Now()
	post(t, "http://"+ips[victim]+":8000/control/ready?ok=true")
	testutil.WaitFor(t, 30*time.Second, e2ePoll, victim+" rejoins the endpoints", func() bool { return hasEndpoint(s.endpoints(), victim) })
	added, ok := firstEvent(s.events(), victim, "EndpointAdded", t1)
	if !ok {
		t.Fatalf("no EndpointAdded event for %s after it became ready again", victim)
	}
	testutil.WaitFor(t, 30*time.Second, e2ePoll, victim+" answers through the gateway again", func() bool {
		h, _ := l.snapshot()
		return h > 0 && count(l.since(added.Time))[victim] > 0
	})
	hits, fails := l.result()
	// A request routed while the instance was out is one sent after its
	// removal and answered before its return (the gateway routes it
	// somewhere in between).
	for _, h := range hits {
		if h.sent.After(removed.Time) && h.sent.Add(h.took).Before(added.Time) && h.instance == victim {
			t.Errorf("request sent at %s, while %s was out of the rotation (%s to %s), was answered by it",
				h.sent.Format("15:04:05.000000"), victim, removed.Time.Format("15:04:05.000000"), added.Time.Format("15:04:05.000000"))
			break
		}
	}
	t.Logf("readiness failure and recovery under load: %d requests, %d failed, per instance %v", len(hits)+len(fails), len(fails), count(hits))
	if len(fails) > 0 {
		t.Errorf("an instance leaving and rejoining the rotation must fail no request; failed: %v", fails)
	}
	if len(discover(t, s)) != 3 {
		t.Errorf("discovery after %s came back: want 3 addresses", victim)
	}
}

func hasEndpoint(eps []admin.Endpoint, instance string) bool {
	return slices.ContainsFunc(eps, func(e admin.Endpoint) bool { return e.Instance == instance })
}

func distinct(m map[string]string) map[string]bool {
	d := map[string]bool{}
	for _, v := range m {
		d[v] = true
	}
	return d
}

// discover asks the gateway's discovery URL (the Go SDK's) for the
// direct-mode addresses.
func discover(t *testing.T, s *svc) []string {
	t.Helper()
	code, body := get(t, s.gateway+"/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/"+s.name)
	if code != 200 {
		t.Fatalf("discovery: %d %s", code, body)
	}
	var v struct {
		Endpoints struct {
			Items []struct {
				IP     string  `json:"ip"`
				Port   int     `json:"port"`
				Weight float64 `json:"weight"`
			} `json:"items"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("discovery answer %q: %v", body, err)
	}
	var addrs []string
	for _, it := range v.Endpoints.Items {
		if it.Weight <= 0 {
			t.Errorf("discovery item %+v: weight must be a positive number", it)
		}
		addrs = append(addrs, fmt.Sprintf("%s:%d", it.IP, it.Port))
	}
	return addrs
}

// checkStreaming reads a server-sent event stream of 3 events 300ms apart
// and wants the first before the end.
func checkStreaming(t *testing.T, url string) {
	t.Helper()
	start := time.Now()
	resp, err := httpc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var first time.Duration
	events := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data:") {
			events++
			if events == 1 {
				first = time.Since(start)
			}
		}
	}
	total := time.Since(start)
	t.Logf("streaming: first event after %s, stream ended after %s", first.Round(time.Millisecond), total.Round(time.Millisecond))
	if events != 3 {
		t.Errorf("stream: want 3 events, got %d (%v)", events, sc.Err())
	}
	// The last two events come 600ms after the first: a buffered stream
	// would deliver the first at the end.
	if total-first < 400*time.Millisecond {
		t.Errorf("stream was buffered: first event after %s, end after %s", first, total)
	}
}

// The gateway's own answers: 401 for a missing or wrong token (raw and
// EAS-signed), 200 for right ones (both SDK resource forms), 404 for
// another service or path, 408 past metadata.rpc.keepalive, 503 with no
// ready instance.
func TestE2EGatewayAnswers(t *testing.T) {
	const token = "e2e-secret-token"
	s := upSvc(t, "e2e_gw", "gateway", "--token", token)
	// Any user can read a command line; the background easlocal gets the
	// token through its environment (the answers below prove it has it).
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.pid)); err != nil || bytes.Contains(b, []byte(token)) {
		t.Errorf("the background easlocal's command line holds the token (%v): %q", err, b)
	}

	try := func(what string, want int, req *http.Request) string {
		t.Helper()
		code, b := doReq(t, req)
		if code != want {
			t.Errorf("%s: want %d, got %d: %s", what, want, code, b)
		}
		return b
	}
	url := s.predict("/echo")
	body := []byte(`{"input": [1, 2, 3]}`)

	try("no token", 401, authReq(t, "GET", s.predict("/"), ""))
	try("raw token", 200, authReq(t, "GET", s.predict("/"), token))
	try("wrong raw token", 401, authReq(t, "GET", s.predict("/"), token+"x"))
	try("Bearer token (EAS takes it raw)", 401, authReq(t, "GET", s.predict("/"), "Bearer x"+token))
	if got := try("signed, Go SDK resource (with path)", 200, signed(t, url, token, "/api/predict/"+s.name+"/echo", body, body)); got != string(body) {
		t.Errorf("signed request: echo answered %q, want the body %q", got, body)
	}
	try("signed, Python SDK resource (no path)", 200, signed(t, url, token, "/api/predict/"+s.name, body, body))
	try("signed with a wrong token", 401, signed(t, url, token+"x", "/api/predict/"+s.name+"/echo", body, body))
	try("signed, body does not match Content-MD5", 401, signed(t, url, token, "/api/predict/"+s.name+"/echo", body, []byte(`{"input": [6, 6, 6]}`)))
	try("signed for another service", 401, signed(t, url, token, "/api/predict/other/echo", body, body))

	try("another service", 404, authReq(t, "GET", s.gateway+"/api/predict/other_svc/", token))
	try("a path outside /api/predict/", 404, authReq(t, "GET", s.gateway+"/v1/models", token))

	start := time.Now()
	try("past rpc.keepalive (500ms) with /slow?delay=3s", 408, authReq(t, "GET", s.predict("/slow?delay=3s"), token))
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("408 came after %s: the keepalive is 500ms", d)
	} else {
		t.Logf("408 after %s (rpc.keepalive 500ms)", d.Round(time.Millisecond))
	}

	// Direct mode checks the token too.
	direct := discover(t, s)
	if len(direct) != 1 {
		t.Fatalf("discovery: want 1 address, got %v", direct)
	}
	sidecar := "http://" + direct[0] + "/api/predict/" + s.name
	try("direct mode without a token", 401, authReq(t, "GET", sidecar+"/", ""))
	try("direct mode, raw token", 200, authReq(t, "GET", sidecar+"/", token))
	try("direct mode, signed (Go SDK)", 200, signed(t, sidecar+"/echo", token, "/api/predict/"+s.name+"/echo", body, body))
	try("direct mode, signed with a wrong token", 401, signed(t, sidecar+"/echo", "x"+token, "/api/predict/"+s.name+"/echo", body, body))

	s.mustCtl("scale", s.name, "0")
	s.waitEndpoints(0, time.Minute) // scale to 0 empties the endpoints
	if got := try("no ready instance", 503, authReq(t, "GET", s.predict("/"), token)); !strings.Contains(got, "no healthy upstream") {
		t.Errorf("503 body: want %q, got %q", "no healthy upstream", got)
	}
	if n := len(discover(t, s)); n != 0 {
		t.Errorf("discovery with no ready instance lists %d addresses", n)
	}
	s.mustCtl("scale", s.name, "1")
	s.waitEndpoints(1, time.Minute) // scale to 1 brings an endpoint back
	try("after scaling back to 1", 200, authReq(t, "GET", s.predict("/"), token))
}

// signed builds the request an EAS SDK sends with a token: POST, body
// sent, Content-MD5 of signedBody (they differ to test a tampered body),
// signature over resource. Written from ../shared/reference/eas-service.md.
func signed(t *testing.T, url, token, resource string, signedBody, sent []byte) *http.Request {
	t.Helper()
	sum := md5.Sum(signedBody)
	contentMD5 := hex.EncodeToString(sum[:])
	date := time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	const contentType = "application/octet-stream"
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte("POST\n" + contentMD5 + "\n" + contentType + "\n" + date + "\n" + resource))
	req, err := http.NewRequest("POST", url, bytes.NewReader(sent))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-MD5", contentMD5)
	req.Header.Set("Date", date)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "EAS "+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return req
}

// authReq is a request with the gateway token (none when token is "").
func authReq(t *testing.T, method, url, token string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	return req
}
