package prober

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/easlocal/easlocal/service"
)

// Cost of one real http_get against a loopback server (new connection
// each time).
func BenchmarkHTTPCheck(b *testing.B) {
	_, host, port := serve(b, func(w http.ResponseWriter, r *http.Request) {})
	m := NewManager(Options{})
	ctx := context.Background()
	for b.Loop() {
		if out, _, err := m.checkHTTP(ctx, host, port, "/", time.Second); out != outSuccess || err != nil {
			b.Fatal(out, err)
		}
	}
}

// Cost of one tcp_socket probe. Run it with -benchtime 2000x: a probe
// closes first, with a FIN (as the kubelet), so its side stays in
// TIME_WAIT for a minute, and a longer tight loop fills the machine's
// ephemeral ports and then measures connect(2)'s search for a free one.
func BenchmarkTCPCheck(b *testing.B) {
	_, host, port := serve(b, func(w http.ResponseWriter, r *http.Request) {})
	ctx := context.Background()
	for b.Loop() {
		if out, _, err := checkTCP(ctx, host, port, time.Second); out != outSuccess || err != nil {
			b.Fatal(out, err)
		}
	}
}

// Interval spread under load, in real time: 200 containers with a 1 s
// readiness http_get against one loopback server for 3 s. Reports the
// deviation of probe intervals from the period. All 200 tickers fire
// together (no jitter, as in the kubelet), so the spread is mostly the
// queue of 200 simultaneous probes on the machine's cores. Run with
// go test -run '^$' -bench IntervalSpread -benchtime 1x ./prober
func BenchmarkIntervalSpread(b *testing.B) {
	_, host, port := serve(b, func(w http.ResponseWriter, r *http.Request) {})
	for b.Loop() {
		var mu sync.Mutex
		starts := map[string][]time.Time{}
		m := NewManager(Options{})
		real := m.checkFn
		m.checkFn = func(ctx context.Context, p *service.Probe, t Target, timeout time.Duration) (outcome, string, error) {
			mu.Lock()
			starts[t.Instance] = append(starts[t.Instance], time.Now())
			mu.Unlock()
			return real(ctx, p, t, timeout)
		}
		var cs []*Container
		for i := range 200 {
			cs = append(cs, m.Start(context.Background(), Target{Instance: string(rune('A' + i)), Host: host, Started: time.Now()},
				Specs{Readiness: &service.Probe{HTTPGet: &service.HTTPGetAction{Path: "/", Port: port}, PeriodSeconds: 1, TimeoutSeconds: 1}}))
		}
		time.Sleep(3500 * time.Millisecond)
		for _, c := range cs {
			c.Stop()
		}
		var devs []time.Duration
		for _, ts := range starts {
			for i := 1; i < len(ts); i++ {
				d := ts[i].Sub(ts[i-1]) - time.Second
				devs = append(devs, d.Abs())
			}
		}
		slices.Sort(devs)
		b.ReportMetric(float64(devs[len(devs)-1].Microseconds())/1000, "max-dev-ms")
		b.ReportMetric(float64(devs[len(devs)*99/100].Microseconds())/1000, "p99-dev-ms")
		b.ReportMetric(float64(devs[len(devs)/2].Microseconds())/1000, "p50-dev-ms")
		b.ReportMetric(float64(len(devs)), "intervals")
	}
}
