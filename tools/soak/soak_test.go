package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 79
easlocal_container_restarts_total{container="c0",instance="s-0"} 2
easlocal_container_restarts_total{container="c0",instance="s-1"} 3
# TYPE easlocal_gateway_requests_total counter
easlocal_gateway_requests_total{code="200"} 1.5e+06
easlocal_gateway_requests_total{code="502"} 4
easlocal_gateway_requests_total{path="code=\"2\"",code="503"} 1
odd{label="a } b"} 7 1700000000
# TYPE latency histogram
latency_bucket{le="+Inf"} 3
latency_sum 0.5
latency_count 3
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"go_goroutines", m.sum("go_goroutines"), 79},
		{"restarts", m.sum("easlocal_container_restarts_total"), 5},
		{"2xx, by the code label alone", m.sumLabelPrefix("easlocal_gateway_requests_total", "code", "2"), 1.5e6},
		{"all requests", m.sum("easlocal_gateway_requests_total"), 1.5e6 + 4 + 1},
		{"label with a brace and a timestamp", m.sum("odd"), 7},
		{"a histogram has no single value", m.sum("latency"), 0},
		{"absent", m.sum("nope"), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if g, ok := m.value("go_goroutines"); !ok || g != 79 {
		t.Errorf("unlabelled go_goroutines = %v, %v; want 79", g, ok)
	}
	if _, ok := m.value("easlocal_container_restarts_total"); ok {
		t.Error("a metric with only labelled series has no unlabelled value")
	}
}

// A malformed exposition is an error, not a partial reading that would
// make a sample look like a drop in goroutines or restarts.
func TestParseMetricsMalformed(t *testing.T) {
	for _, text := range []string{
		"go_goroutines 79\ngarbage line\n",
		"go_goroutines{instance=\"a\" 79\n",
		"go_goroutines seventy-nine\n",
	} {
		if m, err := parseMetrics(strings.NewReader(text)); err == nil {
			t.Errorf("%q parsed as %v; want an error", text, m)
		}
	}
}

func TestFlat(t *testing.T) {
	if _, _, ok := flat([]float64{1, 2, 3, 4, 5, 6, 7}); ok {
		t.Error("7 samples are too few to judge")
	}
	// Warm-up in the first quarter is ignored; quarters 2 and 4 compared.
	xs := []float64{10, 50, 50, 100, 101, 99, 100, 100, 120, 118, 119, 121}
	a, b, ok := flat(xs)
	if !ok || a != 100 || b != 119 {
		t.Errorf("flat = %v, %v, %v; want 100, 119, true", a, b, ok)
	}
	if m := median([]float64{3, 1, 2, 4}); m != 2.5 {
		t.Errorf("median of 1..4 = %v, want 2.5", m)
	}
}

func samples(rss []int64, gor []float64) []sample {
	var ss []sample
	for i := range rss {
		ss = append(ss, sample{At: time.Duration(i) * 10 * time.Second, RSSKB: rss[i], Goroutines: gor[i]})
	}
	return ss
}

func goodReport() *report {
	return &report{
		Desired: 5, Kills: 2, LiveFails: 1, MaxRSSGrowth: 0.10, MaxGoroutineGrowth: 20,
		Final:   final{Desired: 5, Instances: 5, Running: 5, Ready: 5, Endpoints: 5, Restarts: 3},
		Samples: samples([]int64{20000, 30000, 30000, 30000, 30000, 31000, 31000, 31000}, []float64{70, 79, 79, 79, 79, 80, 80, 80}),
		Cleanup: cleanupReport{SecondDown: "easlocal: service s is not running and left nothing behind"},
	}
}

func TestVerdicts(t *testing.T) {
	if r := goodReport(); !r.passed() {
		for _, v := range r.verdicts() {
			t.Logf("%v %s: %s", v.Pass, v.Name, v.Detail)
		}
		t.Fatal("a clean run must pass")
	}
	for name, spoil := range map[string]func(*report){
		"an instance missing":    func(r *report) { r.Final.Ready = 4 },
		"not settled":            func(r *report) { r.SettleErr = errNotSettled },
		"an unexplained restart": func(r *report) { r.Final.Restarts = 4 },
		"a restart missing":      func(r *report) { r.Final.Restarts = 2 },
		"memory grew 20%": func(r *report) {
			r.Samples = samples([]int64{1, 100, 100, 100, 100, 120, 120, 120}, []float64{1, 1, 1, 1, 1, 1, 1, 1})
		},
		"goroutines grew 30": func(r *report) {
			r.Samples = samples([]int64{1, 1, 1, 1, 1, 1, 1, 1}, []float64{70, 80, 80, 80, 80, 110, 110, 110})
		},
		"too few samples":          func(r *report) { r.Samples = r.Samples[:7] },
		"down failed":              func(r *report) { r.Cleanup.DownErr = errors.New("boom") },
		"second down found things": func(r *report) { r.Cleanup.SecondDown = "removed what an earlier run left behind" },
		"netns left":               func(r *report) { r.Cleanup.Netns = []string{"easlocal-s-0"} },
		"shim left":                func(r *report) { r.Cleanup.Shims = []int{42} },
		"easlocal still running":   func(r *report) { r.Cleanup.Alive = true },
	} {
		r := goodReport()
		spoil(r)
		if r.passed() {
			t.Errorf("%s: the soak passed", name)
		}
	}
}
