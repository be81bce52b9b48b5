package metrics

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/prober"
	"github.com/easlocal/easlocal/proxy"
	"github.com/easlocal/easlocal/service"
)

func testSource() Source {
	return Source{
		Status: func() admin.ServiceStatus {
			return admin.ServiceStatus{Name: "demo", Desired: 2, Instances: []admin.InstanceStatus{
				{Name: "demo-0", Ready: true, Containers: []admin.ContainerStatus{{Name: "c0", Restarts: 2,
					Probes: map[string]admin.ProbeResult{"liveness": {Result: "success"}, "readiness": {Result: "success"}}}}},
				{Name: "demo-1", Ready: false, Containers: []admin.ContainerStatus{{Name: "c0",
					Probes: map[string]admin.ProbeResult{"readiness": {Result: "failure"}}}}},
			}}
		},
		Endpoints: func() int { return 1 },
		ProbeStats: func() prober.Stats {
			b := make([]uint64, len(prober.DurationBuckets))
			for i := range b {
				b[i] = 3 // all three runs took <= 5ms
			}
			return prober.Stats{{Kind: service.Readiness, Outcome: prober.OutcomeSuccessful}: {Count: 3, Sum: 6 * time.Millisecond, Buckets: b}}
		},
	}
}

// scrape parses what GET /metrics answers with the Prometheus text parser
// and fails on anything promtool check metrics would refuse: a parse
// error, a family without HELP or TYPE, or the same series twice.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	text := rec.Body.String()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v\n%s", err, text)
	}
	for name, f := range fams {
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
		if !strings.Contains(text, "# TYPE "+name+" ") {
			t.Errorf("%s has no TYPE line", name)
		}
		seen := map[string]bool{}
		for _, mt := range f.Metric {
			var ls []string
			for _, l := range mt.Label {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			k := strings.Join(ls, ",")
			if seen[k] {
				t.Errorf("%s{%s} appears twice", name, k)
			}
			seen[k] = true
		}
	}
	return fams
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, mt := range f.Metric {
		for k, v := range labels {
			found := false
			for _, l := range mt.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case mt.Counter != nil:
			return mt.Counter.GetValue()
		case mt.Gauge != nil:
			return mt.Gauge.GetValue()
		case mt.Histogram != nil:
			return float64(mt.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// TestScrape pins the metric names, types and values the issue asks for,
// and that the output is valid exposition format and lint-clean.
func TestScrape(t *testing.T) {
	m := New(testSource())
	gw := m.Gateway(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/predict/demo/fail":
			http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
		case "/api/predict/demo/abort":
			w.WriteHeader(http.StatusOK)
			panic(http.ErrAbortHandler)
		default:
			w.Write([]byte("ok")) // implicit 200
		}
	}))
	for _, p := range []string{"/api/predict/demo/", "/api/predict/demo/", "/api/predict/demo/fail", "/exported/apis/x"} {
		gw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	func() {
		defer func() {
			if recover() != http.ErrAbortHandler {
				t.Error("the middleware swallowed the gateway's abort")
			}
		}()
		gw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/predict/demo/abort", nil))
	}()
	m.ObserveUpstream("demo-0", 200, false)
	m.ObserveUpstream("demo-1", 200, true)

	fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"easlocal_gateway_requests_total", map[string]string{"code": "200"}, 3}, // two plain, one aborted
		{"easlocal_gateway_requests_total", map[string]string{"code": "503"}, 1},
		{"easlocal_gateway_request_duration_seconds", nil, 4}, // discovery not counted
		{"easlocal_gateway_upstream_requests_total", map[string]string{"instance": "demo-1", "code": "200"}, 1},
		{"easlocal_gateway_retries_total", nil, 1},
		{"easlocal_prober_probe_total", map[string]string{"probe_type": "readiness", "result": "successful"}, 3},
		{"easlocal_prober_probe_duration_seconds", map[string]string{"probe_type": "readiness"}, 3},
		{"easlocal_prober_probe_result", map[string]string{"instance": "demo-1", "probe_type": "readiness", "result": "failure"}, 1},
		{"easlocal_container_restarts_total", map[string]string{"instance": "demo-0", "container": "c0"}, 2},
		{"easlocal_instance_ready", map[string]string{"instance": "demo-0"}, 1},
		{"easlocal_instance_ready", map[string]string{"instance": "demo-1"}, 0},
		{"easlocal_instances_desired", nil, 2},
		{"easlocal_endpoints", nil, 1},
	} {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	types := map[string]dto.MetricType{
		"easlocal_gateway_requests_total":           dto.MetricType_COUNTER,
		"easlocal_gateway_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"easlocal_prober_probe_duration_seconds":    dto.MetricType_HISTOGRAM,
		"easlocal_container_restarts_total":         dto.MetricType_COUNTER,
		"easlocal_instance_ready":                   dto.MetricType_GAUGE,
	}
	for name, want := range types {
		if got := fams[name].GetType(); got != want {
			t.Errorf("%s is a %v, want %v", name, got, want)
		}
	}
	tot := m.Totals()
	if tot.Requests != 4 || tot.Errors != 1 || tot.ByInstance["demo-0"] != 1 {
		t.Errorf("Totals = %+v, want 4 requests, 1 error, 1 to demo-0", tot)
	}

	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestClientHangUp: a request whose client left before any answer is
// counted as nginx's 499, not as a 200 nobody saw.
func TestClientHangUp(t *testing.T) {
	m := New(Source{})
	gw := m.Gateway(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest("GET", "/api/predict/demo/", nil)
	ctx, cancel := contextWithCancel(r)
	cancel()
	gw.ServeHTTP(httptest.NewRecorder(), r.WithContext(ctx))
	if got := value(t, scrape(t, m), "easlocal_gateway_requests_total", map[string]string{"code": "499"}); got != 1 {
		t.Errorf("499 count = %v, want 1", got)
	}
}

// TestCodesOutsideTheTable: status codes the resolved table does not
// hold (a broken upstream may send any three digits) are still counted
// under their own code, per instance.
func TestCodesOutsideTheTable(t *testing.T) {
	m := New(Source{})
	for _, code := range []int{999, 999, 0, 200} {
		m.ObserveUpstream("a", code, false)
	}
	m.ObserveUpstream("b", 999, false)
	fams := scrape(t, m)
	for _, c := range []struct {
		instance, code string
		want           float64
	}{{"a", "999", 2}, {"a", "0", 1}, {"a", "200", 1}, {"b", "999", 1}} {
		if got := value(t, fams, "easlocal_gateway_upstream_requests_total", map[string]string{"instance": c.instance, "code": c.code}); got != c.want {
			t.Errorf("upstream{%s,%s} = %v, want %v", c.instance, c.code, got, c.want)
		}
	}
	if tot := m.Totals(); tot.ByInstance["a"] != 4 || tot.ByInstance["b"] != 1 {
		t.Errorf("Totals.ByInstance = %v, want a:4 b:1", tot.ByInstance)
	}
}

// Refusals by the gateway's limits are counted per limit, and 429 and
// 450 answers are errors in the dashboard's totals.
func TestLimitCounters(t *testing.T) {
	m := New(Source{})
	gw := m.Gateway(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := 200
		switch r.URL.Path {
		case "/api/predict/demo/rate":
			m.CountLimit("instance_rate")
			code = http.StatusTooManyRequests
		case "/api/predict/demo/queue":
			m.CountLimit("queue_full")
			code = 450
		}
		w.WriteHeader(code)
	}))
	for _, p := range []string{"rate", "rate", "queue", "ok"} {
		gw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/predict/demo/"+p, nil))
	}
	byName := scrape(t, m)
	if got := value(t, byName, "easlocal_gateway_limited_total", map[string]string{"limit": "instance_rate"}); got != 2 {
		t.Errorf("instance_rate refusals: got %v, want 2", got)
	}
	if got := value(t, byName, "easlocal_gateway_limited_total", map[string]string{"limit": "queue_full"}); got != 1 {
		t.Errorf("queue_full refusals: got %v, want 1", got)
	}
	if tot := m.Totals(); tot.Requests != 4 || tot.Errors != 3 {
		t.Errorf("Totals = %+v, want 4 requests of which 3 errors (429, 429, 450)", tot)
	}
}

// Around a gateway the middleware is a proxy.LoopGateway: the requests
// the server's event loops answer are counted as the middleware counts
// the others.
func TestGatewayMiddlewareCountsLoopRequests(t *testing.T) {
	m := New(Source{})
	gw := proxy.New(proxy.Options{Service: "demo"})
	lg, ok := m.Gateway(gw).(proxy.LoopGateway)
	if !ok {
		t.Fatal("the middleware around a gateway is not a proxy.LoopGateway: the event loops would not serve it")
	}
	g, served := lg.LoopGateway()
	if g != gw || served == nil {
		t.Fatalf("LoopGateway() = %p, %v; want the gateway and a counter", g, served != nil)
	}
	served(200, time.Millisecond)
	served(503, time.Millisecond)
	if got := m.Totals(); got.Requests != 2 || got.Errors != 1 {
		t.Errorf("after a 200 and a 503: %+v, want 2 requests and 1 error", got)
	}
	if _, ok := m.Gateway(http.NotFoundHandler()).(proxy.LoopGateway); ok {
		t.Error("the middleware around another handler claims a gateway")
	}
}
