package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/easlocal/easlocal/internal/loadgen"
)

// gatewayResult holds one (target, clients) cell over all rounds.
type gatewayCell struct {
	RPS, P50, P99 []float64 // per round; latencies in ms
	Failed        []int
	// CPU is the proxy's CPU time per request, µs, per round: easlocal's
	// for direct (what it spends on the instances' request logs alone)
	// and gateway, nginx's master and workers for nginx.
	CPU []float64
}

type gatewayResult struct {
	Clients []int
	Targets []string
	// Cells[target][clients]
	Cells map[string]map[int]*gatewayCell
	// Per-round ratios, gateway over direct and over nginx, at 16 clients.
	RatioRPSDirect, RatioRPSNginx []float64
	RatioP99Nginx                 []float64
	// AddedP50 is gateway p50 minus direct p50 at 1 client, per round (ms).
	AddedP50 []float64
	// NginxAddedP50 is the same for nginx, for comparison.
	NginxAddedP50 []float64
	// RatioCPU16 and RatioCPU1 are gateway/nginx CPU per request, per
	// round, at 16 clients and at 1.
	RatioCPU16, RatioCPU1 []float64
	// WrkRatio is gateway/nginx req/s measured with wrk (16 connections),
	// per round, when wrk is installed.
	WrkRatio      []float64
	WrkGW, WrkNgx []float64
	Rounds        int
	Duration      time.Duration
}

const (
	tDirect  = "direct"
	tGateway = "gateway"
	tNginx   = "nginx"
)

func runGateway(ctx context.Context, e *easlocal, tmp string, rounds int, dur time.Duration, atRest func(ips []string)) (*gatewayResult, error) {
	const name = "bench_gw"
	file, err := writeService(tmp, name, 3)
	if err != nil {
		return nil, err
	}
	logf("gateway: easlocal up -d %s (3 instances)", file)
	if err := e.upDetached(ctx, file, 3, "127.0.0.1:19180"); err != nil {
		return nil, err
	}
	defer e.down(name)
	st, err := e.ps(ctx, name)
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, in := range st.Instances {
		ips = append(ips, in.IP+":8000")
	}
	if len(ips) != 3 {
		return nil, fmt.Errorf("ps --json lists %d instances, want 3", len(ips))
	}
	gw, err := e.gatewayAddr(name)
	if err != nil {
		return nil, err
	}
	if atRest != nil {
		var bare []string
		for _, in := range st.Instances {
			bare = append(bare, in.IP)
		}
		atRest(bare)
	}
	elPID, err := e.pid(name)
	if err != nil {
		return nil, err
	}
	ngx, err := startNginx(filepath.Join(tmp, "nginx"), "127.0.0.1:19181", ips)
	if err != nil {
		return nil, err
	}
	defer ngx.stop()

	targets := map[string]loadgen.Options{
		tDirect:  {Targets: ips, Path: "/"},
		tGateway: {Targets: []string{gw}, Path: "/api/predict/" + name + "/"},
		tNginx:   {Targets: []string{"127.0.0.1:19181"}, Path: "/"},
	}
	order := []string{tDirect, tGateway, tNginx}
	res := &gatewayResult{Clients: []int{16, 1}, Targets: order, Cells: map[string]map[int]*gatewayCell{}, Rounds: rounds, Duration: dur}
	for _, t := range order {
		res.Cells[t] = map[int]*gatewayCell{16: {}, 1: {}}
		// One request each first: every path answers 200.
		o := targets[t]
		o.Duration = 50 * time.Millisecond
		r, err := loadgen.Run(ctx, o)
		if err != nil || r.OK == 0 || r.Failed > 0 {
			return nil, fmt.Errorf("%s does not answer: %v (ok %d failed %d)", t, err, okOf(r), failedOf(r))
		}
	}
	for round := range rounds {
		for _, clients := range res.Clients {
			// Rotate the order so no target always runs first (warm) or
			// last (after the others heated the machine).
			rot := append(slices.Clone(order[round%3:]), order[:round%3]...)
			got := map[string]*loadgen.Result{}
			for _, t := range rot {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				o := targets[t]
				o.Clients, o.Warmup, o.Duration, o.Timeout = clients, time.Second, dur, 10*time.Second
				pids := []int{elPID}
				if t == tNginx {
					pids = ngx.pids()
				}
				var cpu0, cpu1 int64
				o.Mark = func(on bool) {
					if on {
						cpu0 = ticksOf(pids)
					} else {
						cpu1 = ticksOf(pids)
					}
				}
				r, err := loadgen.Run(ctx, o)
				if err != nil {
					return nil, err
				}
				got[t] = r
				c := res.Cells[t][clients]
				c.RPS = append(c.RPS, r.RPS)
				c.P50 = append(c.P50, ms(r.P50))
				c.P99 = append(c.P99, ms(r.P99))
				c.Failed = append(c.Failed, r.Failed)
				cpuPerReq := float64(cpu1-cpu0) / clkTck * 1e6 / float64(max(r.OK, 1))
				c.CPU = append(c.CPU, cpuPerReq)
				logf("gateway: round %d, %2d clients, %-7s %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms  failed %d  cpu %5.1f µs/req",
					round+1, clients, t, r.RPS, ms(r.P50), ms(r.P99), r.Failed, cpuPerReq)
			}
			if clients == 16 {
				res.RatioRPSDirect = append(res.RatioRPSDirect, got[tGateway].RPS/got[tDirect].RPS)
				res.RatioRPSNginx = append(res.RatioRPSNginx, got[tGateway].RPS/got[tNginx].RPS)
				res.RatioP99Nginx = append(res.RatioP99Nginx, ms(got[tGateway].P99)/ms(got[tNginx].P99))
				res.RatioCPU16 = append(res.RatioCPU16, lastCPU(res.Cells[tGateway][16])/lastCPU(res.Cells[tNginx][16]))
			} else {
				res.RatioCPU1 = append(res.RatioCPU1, lastCPU(res.Cells[tGateway][1])/lastCPU(res.Cells[tNginx][1]))
				res.AddedP50 = append(res.AddedP50, ms(got[tGateway].P50)-ms(got[tDirect].P50))
				res.NginxAddedP50 = append(res.NginxAddedP50, ms(got[tNginx].P50)-ms(got[tDirect].P50))
			}
		}
	}
	if _, err := exec.LookPath("wrk"); err == nil {
		for round := range rounds {
			var rps [2]float64
			urls := []string{"http://" + gw + "/api/predict/" + name + "/", "http://127.0.0.1:19181/"}
			for k := range 2 {
				i := (k + round) % 2 // alternate which goes first
				r, err := wrkRPS(ctx, urls[i], 16, dur)
				if err != nil {
					return res, err
				}
				rps[i] = r
			}
			res.WrkGW, res.WrkNgx = append(res.WrkGW, rps[0]), append(res.WrkNgx, rps[1])
			res.WrkRatio = append(res.WrkRatio, rps[0]/rps[1])
			logf("gateway: wrk round %d: gateway %.0f req/s, nginx %.0f req/s", round+1, rps[0], rps[1])
		}
	}
	return res, nil
}

// steadyLoad starts closed-loop load from clients through the gateway at
// gw to service name (1 s warm-up, 30 s per request) and returns what
// stops it: stop ends the load, waits for it and returns its result (nil
// when the load generator failed, which is logged under phase). Calling
// stop again returns the same result, so it can also be deferred.
func steadyLoad(ctx context.Context, phase, gw, name string, clients int) (stop func() *loadgen.Result) {
	done := make(chan struct{})
	result := make(chan *loadgen.Result, 1)
	go func() {
		r, err := loadgen.Run(ctx, loadgen.Options{Targets: []string{gw}, Path: "/api/predict/" + name + "/",
			Clients: clients, Stop: done, Timeout: 30 * time.Second, Warmup: time.Second})
		if err != nil {
			logf("%s: load: %v", phase, err)
		}
		result <- r
	}()
	var once sync.Once
	var r *loadgen.Result
	return func() *loadgen.Result {
		once.Do(func() { close(done); r = <-result })
		return r
	}
}

// lastCPU is the CPU per request of c's latest round.
func lastCPU(c *gatewayCell) float64 { return c.CPU[len(c.CPU)-1] }

func okOf(r *loadgen.Result) int {
	if r == nil {
		return 0
	}
	return r.OK
}

func failedOf(r *loadgen.Result) int {
	if r == nil {
		return 0
	}
	return r.Failed
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(xs []float64) string {
	if len(xs) == 0 {
		return ""
	}
	return fmt.Sprintf("%s–%s", strconv.FormatFloat(slices.Min(xs), 'f', 3, 64), strconv.FormatFloat(slices.Max(xs), 'f', 3, 64))
}

func (g *gatewayResult) markdown() string {
	var b []byte
	b = fmt.Appendf(b, "Medians over %d rounds of %v each (1 s warm-up), same load generator, order rotated per round.\n\n", g.Rounds, g.Duration)
	b = fmt.Appendf(b, "| target | clients | req/s | p50 ms | p99 ms | failed | proxy CPU µs/req |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, clients := range g.Clients {
		for _, t := range g.Targets {
			c := g.Cells[t][clients]
			failed := 0
			for _, f := range c.Failed {
				failed += f
			}
			b = fmt.Appendf(b, "| %s | %d | %.0f | %.3f | %.3f | %d | %.1f |\n", t, clients, median(c.RPS), median(c.P50), median(c.P99), failed, median(c.CPU))
		}
	}
	b = fmt.Appendf(b, "\nproxy CPU µs/req: CPU time (utime+stime) per successful request over the recording window, of easlocal for direct and gateway (for direct that is only what easlocal spends copying the instances' per-request log lines, which it also does in the other two rows) and of nginx's master and workers for nginx.\n")
	b = fmt.Appendf(b, "\n| ratio (median of per-round ratios) | value | range |\n|---|---:|---|\n")
	b = fmt.Appendf(b, "| gateway/direct req/s, 16 clients | %.2f | %s |\n", median(g.RatioRPSDirect), spread(g.RatioRPSDirect))
	b = fmt.Appendf(b, "| gateway/nginx req/s, 16 clients (goal ≥ 1) | %.2f | %s |\n", median(g.RatioRPSNginx), spread(g.RatioRPSNginx))
	b = fmt.Appendf(b, "| gateway/nginx p99, 16 clients (goal ≤ 1) | %.2f | %s |\n", median(g.RatioP99Nginx), spread(g.RatioP99Nginx))
	b = fmt.Appendf(b, "| p50 added by the gateway at 1 client, ms (goal < 1) | %.3f | %s |\n", median(g.AddedP50), spread(g.AddedP50))
	b = fmt.Appendf(b, "| p50 added by nginx at 1 client, ms (for comparison) | %.3f | %s |\n", median(g.NginxAddedP50), spread(g.NginxAddedP50))
	b = fmt.Appendf(b, "| gateway/nginx CPU per request, 16 clients (goal ≤ 1) | %.2f | %s |\n", median(g.RatioCPU16), spread(g.RatioCPU16))
	b = fmt.Appendf(b, "| gateway/nginx CPU per request, 1 client (goal ≤ 1) | %.2f | %s |\n", median(g.RatioCPU1), spread(g.RatioCPU1))
	if len(g.WrkRatio) > 0 {
		b = fmt.Appendf(b, "| gateway/nginx req/s with wrk -t2 -c16 (gateway %.0f, nginx %.0f req/s) | %.2f | %s |\n",
			median(g.WrkGW), median(g.WrkNgx), median(g.WrkRatio), spread(g.WrkRatio))
	}
	return string(b)
}
